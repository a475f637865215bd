"""Overrides obey the trust rules of the state tags (DESIGN §3, §7; issue 17, items 1 and 2):
an override acts only as offhours' own record says. Through the real handler against the
local endpoint, several simulated runs each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from offhours import runtime
from offhours.aws import Clients
from offhours.state import fingerprint_holds
from tests.faults import error_response
from tests.harness import scheduled_event

OFFICE = "Mon-Fri 08:00-18:00 UTC"
OVERRIDE = "Schedule:override"
PUT_EVENTS = "before-call.eventbridge.PutEvents"


def at(text: str) -> dict[str, Any]:
    return scheduled_event(time=f"{text}Z", id=f"run-{text}")


def entries_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    body = params.get("body") or b"{}"
    entries: list[dict[str, Any]] = json.loads(body)["Entries"]
    return entries


def known(fleet: Any, value: str = OFFICE, **kwargs: Any) -> str:
    """An instance that offhours handled up to Friday's 08:00 start."""
    kwargs.setdefault("handled", "2026-03-27T08:00:00Z")
    return fleet.one(value, name="box", fingerprinted=True, **kwargs)


@pytest.fixture
def notices(env: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    env.setenv("NOTICE_MINUTES", "15")
    seen: list[dict[str, Any]] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        seen.extend(entries_of(params))

    client = runtime.clients.client("events", "us-east-1")
    client.meta.events.register(PUT_EVENTS, watch)
    yield seen
    client.meta.events.unregister(PUT_EVENTS, watch)


def test_an_ended_override_copied_with_a_new_instance_is_removed_and_never_acts(fleet, invoke):
    """A launch template carries an override that ended long ago: the instance is adopted,
    exactly as without that tag, and the tag goes."""
    clone = fleet.one(OFFICE, name="clone", tags={OVERRIDE: "running until 2025-06-01T09:00+00:00"})
    plain = fleet.one(OFFICE, name="plain")
    run = invoke(at("2026-03-27T20:05:00"))  # after the 18:00 stop
    assert fleet.state(clone) == fleet.state(plain) == "running"
    line = run.decisions[clone]
    assert line["action"] == "adopt" and line["outcome"] == "adopted"
    assert "before offhours held it" in line["reason"] and "never acts" in line["reason"]
    assert OVERRIDE not in fleet.tags(clone)
    invoke(at("2026-03-30T18:05:00"))  # the schedule's next stop governs, as for the other
    assert fleet.state(clone) == fleet.state(plain) == "stopped"


def test_an_ended_override_whose_removal_failed_never_stops_a_later_manual_start(
    fleet, invoke, hooks
):
    """The end of a held override is applied once: when removing its tag fails, the state tag
    no longer says that offhours holds it, so the tag left behind never acts again."""
    iid = known(fleet)
    fleet.ec2.create_tags(
        Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": "running until 2026-03-27T21:00"}]
    )
    invoke(at("2026-03-27T17:30:00"))
    assert "held=2026-03-27T21:00:00Z" in (fleet.handled(iid) or "")
    hooks.refuse_batches_with("DeleteTags", iid, "UnauthorizedOperation")
    run = invoke(at("2026-03-27T21:05:00"))  # the end: stopped; the tag's removal fails
    assert fleet.state(iid) == "stopped" and run.decisions[iid]["action"] == "stop"
    assert OVERRIDE in fleet.tags(iid)
    assert "held=" not in (fleet.handled(iid) or "")
    hooks.clear()
    fleet.start(iid)  # a person starts it for the evening
    for when in ("2026-03-27T21:35:00", "2026-03-27T22:05:00", "2026-03-27T23:05:00"):
        run = invoke(at(when))
        assert fleet.state(iid) == "running"
    assert OVERRIDE not in fleet.tags(iid)  # removed at the first run after the failure
    invoke(at("2026-03-30T18:05:00"))  # Monday's stop: the schedule governs again
    assert fleet.state(iid) == "stopped"


def test_an_override_in_force_copied_with_a_new_instance_does_not_act_in_its_first_run(
    fleet, invoke
):
    clone = fleet.one(OFFICE, name="clone", tags={OVERRIDE: "stopped until 2026-03-30T08:00"})
    run = invoke(at("2026-03-27T10:05:00"))
    assert fleet.state(clone) == "running"
    assert run.decisions[clone]["action"] == "adopt"
    assert fleet.handled(clone) == "2026-03-27T10:05:00Z fp held=2026-03-30T08:00:00Z"
    assert fingerprint_holds(fleet.fingerprint(clone) or "", clone, OFFICE)


def test_an_override_found_at_first_sight_gets_one_notice_across_runs_and_a_cold_start(
    fleet, invoke, notices, env
):
    """An instance that carries `running until 19:00` when offhours first sees it (after the
    schedule's 18:00 stop): adopted with its override, one notice of the 19:00 stop at 18:45,
    none at 18:50 or, after a cold start, at 18:55; stopped at 19:00."""
    iid = fleet.one(OFFICE, name="late", tags={OVERRIDE: "running until 19:00"})
    run = invoke(at("2026-03-27T18:45:00"))
    assert run.decisions[iid]["action"] == "adopt" and fleet.state(iid) == "running"
    assert [json.loads(e["Detail"])["instance_id"] for e in notices] == [iid]
    assert json.loads(notices[0]["Detail"])["stop_time"] == "2026-03-27T19:00:00Z"
    assert fleet.handled(iid) == (
        "2026-03-27T18:45:00Z fp notice=2026-03-27T19:00:00Z held=2026-03-27T19:00:00Z"
    )
    assert fleet.tags(iid)[OVERRIDE] == "running until 2026-03-27T19:00+00:00"  # pinned
    invoke(at("2026-03-27T18:50:00"))
    env.setattr(runtime, "clients", Clients())  # a cold start: nothing in memory
    fresh = runtime.clients.client("events", "us-east-1")
    fresh.meta.events.register(PUT_EVENTS, lambda params, **_: notices.extend(entries_of(params)))
    invoke(at("2026-03-27T18:55:00"))
    assert len(notices) == 1
    run = invoke(at("2026-03-27T19:05:00"))  # offhours held it: its end acts
    assert fleet.state(iid) == "stopped" and run.decisions[iid]["action"] == "stop"
    assert OVERRIDE not in fleet.tags(iid)


def test_a_new_override_on_a_known_instance_acts_at_once_and_is_recorded(fleet, invoke):
    iid = known(fleet)
    fleet.ec2.create_tags(
        Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": "stopped until 2026-03-30T08:00"}]
    )
    run = invoke(at("2026-03-27T10:05:00"))
    assert fleet.state(iid) == "stopped" and run.decisions[iid]["action"] == "stop"
    assert fleet.handled(iid) == "2026-03-27T10:05:00Z fp held=2026-03-30T08:00:00Z off"
    invoke(at("2026-03-30T08:05:00"))
    assert fleet.state(iid) == "running"
    assert OVERRIDE not in fleet.tags(iid)
    assert fleet.handled(iid) == "2026-03-30T08:05:00Z fp"


def test_removing_an_ended_override_never_removes_a_newer_value_written_meanwhile(
    fleet, invoke, hooks
):
    """EC2's DeleteTags names the value that the run read: a person who writes a new override
    between the run's read and its removal keeps it, and the next run honours it."""
    iid = known(fleet)
    fleet.ec2.create_tags(
        Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": "running until 2026-03-27T21:00"}]
    )
    invoke(at("2026-03-27T17:30:00"))
    newer = "running until 2026-03-27T23:00"

    def person_writes(**_: Any) -> None:
        fleet.ec2.create_tags(Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": newer}])

    hooks.on("before-call.ec2.DeleteTags", person_writes)
    run = invoke(at("2026-03-27T21:05:00"))  # the end: stopped, and the old value removed
    hooks.clear()
    assert fleet.tags(iid)[OVERRIDE] == newer
    assert run.decisions[iid]["action"] == "stop"
    run = invoke(at("2026-03-27T21:10:00"))  # the new request: offhours holds it
    assert fleet.state(iid) == "running" and run.decisions[iid]["action"] == "start"


def test_pinning_an_override_never_overwrites_a_newer_value_written_meanwhile(fleet, invoke, hooks):
    """The instant of `running until 21:00` is pinned only where the tag still says so when it
    is written (re-read just before): a newer value that a person wrote is theirs."""
    iid = known(fleet)
    fleet.ec2.create_tags(Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": "running until 21:00"}])
    newer = "stopped until 2026-03-30T08:00"

    def person_writes(params: dict[str, Any], **_: Any) -> None:
        if "resource-id" in str(params.get("body")):  # the re-read before the pin
            fleet.ec2.create_tags(Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": newer}])

    hooks.on("before-call.ec2.DescribeTags", person_writes)
    run = invoke(at("2026-03-27T17:30:00"))
    hooks.clear()
    assert fleet.tags(iid)[OVERRIDE] == newer
    assert "changed since this run read it" in run.decisions[iid]["reason"]
    invoke(at("2026-03-27T17:35:00"))  # the newer request acts at the next run
    assert fleet.state(iid) == "stopped"


def test_a_bare_time_whose_instant_was_never_written_back_still_ends_at_that_time(
    fleet, invoke, hooks
):
    """`running until 22:00` is read anew at every run until its instant is written back; if
    that write never lands (refused here), the run after 22:00 reads it as the override that
    offhours held, over, not as tomorrow's 22:00."""
    iid = known(fleet)
    fleet.ec2.create_tags(Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": "running until 22:00"}])

    def refuse_pins(request: Any, **_: Any) -> Any:
        if OVERRIDE.replace(":", "%3A") in str(request.body) or OVERRIDE in str(request.body):
            return error_response(request, 400, "UnauthorizedOperation", "no pin today")
        return None

    hooks.on("before-send.ec2.CreateTags", refuse_pins)
    invoke(at("2026-03-27T21:05:00"))
    hooks.clear()
    assert fleet.tags(iid)[OVERRIDE] == "running until 22:00"  # never written back
    assert "held=2026-03-27T22:00:00Z" in (fleet.handled(iid) or "")
    run = invoke(at("2026-03-27T22:05:00"))
    assert fleet.state(iid) == "stopped" and run.decisions[iid]["action"] == "stop"
    assert OVERRIDE not in fleet.tags(iid)


def test_an_override_that_a_person_removes_or_shortens_ends_the_hold(fleet, invoke):
    removed, shortened = known(fleet), known(fleet)
    for iid in (removed, shortened):
        fleet.ec2.create_tags(
            Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": "running until 2026-03-27T22:00"}]
        )
    invoke(at("2026-03-27T19:05:00"))  # after the schedule's 18:00 stop: both held running
    assert fleet.state(removed) == fleet.state(shortened) == "running"
    fleet.ec2.delete_tags(Resources=[removed], Tags=[{"Key": OVERRIDE}])
    fleet.ec2.create_tags(
        Resources=[shortened], Tags=[{"Key": OVERRIDE, "Value": "running until 2026-03-27T20:00"}]
    )
    run = invoke(at("2026-03-27T20:05:00"))
    assert fleet.state(removed) == fleet.state(shortened) == "stopped"
    assert "was removed" in run.decisions[removed]["reason"]
    assert "offhours held it until 2026-03-27T22:00:00Z" in run.decisions[shortened]["reason"]
    assert all("held=" not in (fleet.handled(i) or "") for i in (removed, shortened))
    fleet.start(removed)  # a person's start after the end is respected
    invoke(at("2026-03-27T20:10:00"))
    assert fleet.state(removed) == "running"


def test_a_failed_re_read_before_a_pin_defers_the_pin_and_nothing_else(fleet, invoke, hooks):
    iid = known(fleet, state="stopped")
    fleet.ec2.create_tags(Resources=[iid], Tags=[{"Key": OVERRIDE, "Value": "running until 21:00"}])

    def refuse(request: Any, **_: Any) -> Any:
        if "resource-id" in str(request.body):
            return error_response(request, 400, "UnauthorizedOperation", "not today")
        return None

    hooks.on("before-send.ec2.DescribeTags", refuse)
    run = invoke(at("2026-03-27T19:05:00"))
    hooks.clear()
    assert run.error is None and run.result is not None
    assert fleet.state(iid) == "running" and run.decisions[iid]["action"] == "start"
    assert (
        "writing the override's instant failed (UnauthorizedOperation"
        in (run.decisions[iid]["reason"])
    )
    invoke(at("2026-03-27T19:10:00"))  # pinned at the next run
    assert fleet.tags(iid)[OVERRIDE] == "running until 2026-03-27T21:00+00:00"


def test_a_notice_word_copied_with_another_instances_state_does_not_silence_a_notice(
    fleet, invoke, notices
):
    clone = fleet.one(
        OFFICE,
        name="clone",
        tags={
            "Schedule:offhours-handled": "2026-03-27T08:00:00Z fp notice=2026-03-27T18:00:00Z",
            "Schedule:offhours-fingerprint": "AAAAAA",
        },
    )
    invoke(at("2026-03-27T17:50:00"))
    assert [json.loads(e["Detail"])["instance_id"] for e in notices] == [clone]
