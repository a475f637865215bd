"""People in the loop (DESIGN §7): timed overrides and notices before a stop, through the real
handler over simulated runs against the local endpoint. 2026-03-27 is a Friday; OFFICE runs
08:00-18:00 UTC on weekdays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from offhours import runtime
from offhours.aws import Clients
from offhours.state import fingerprint_holds
from tests.fleet import Fleet
from tests.harness import scheduled_event

OFFICE = "Mon-Fri 08:00-18:00 UTC"
OVERRIDE = "Schedule:override"
PUT_EVENTS = "before-call.eventbridge.PutEvents"


def entries_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of a PutEvents request as botocore sends it (a JSON body)."""
    body = params["body"]
    entries: list[dict[str, Any]] = json.loads(body)["Entries"]
    return entries


def at(text: str) -> dict[str, Any]:
    return scheduled_event(time=f"{text}Z", id=f"run-{text}")


def override(fleet: Fleet, instance_id: str, value: str) -> None:
    fleet.ec2.create_tags(Resources=[instance_id], Tags=[{"Key": OVERRIDE, "Value": value}])


def box(fleet: Fleet, value: str = OFFICE, **kwargs: Any) -> str:
    kwargs.setdefault("handled", "2026-03-27T08:00:00Z")
    return fleet.one(value, name="box", fingerprinted=True, **kwargs)


# -- timed overrides ----------------------------------------------------------------------------


def test_an_override_holds_the_instance_past_the_schedule_then_the_schedule_applies(fleet, invoke):
    iid = box(fleet, f"{OFFICE} enforce")
    override(fleet, iid, "running until 21:00")
    run = invoke(at("2026-03-27T17:30:00"))
    line = run.decisions[iid]
    assert "override by tag until Fri 2026-03-27 21:00 UTC" in line["reason"]
    # The relative time is pinned, so that a later run does not read it as tomorrow's 21:00.
    assert fleet.tags(iid)[OVERRIDE] == "running until 2026-03-27T21:00+00:00"
    invoke(at("2026-03-27T18:05:00"))  # the schedule's stop: held off by the override
    assert fleet.state(iid) == "running"
    fleet.stop(iid)  # somebody stops it: the override keeps it running, even against enforce
    run = invoke(at("2026-03-27T19:05:00"))
    assert fleet.state(iid) == "running"
    assert run.decisions[iid]["action"] == "start"
    run = invoke(at("2026-03-27T21:05:00"))  # the override's end is an event
    assert fleet.state(iid) == "stopped"
    line = run.decisions[iid]
    assert (
        line["action"] == "stop"
        and "override by tag ended at 2026-03-27T21:00:00Z" in line["reason"]
    )
    assert OVERRIDE not in fleet.tags(iid)
    assert "its override tag is removed" in line["reason"]
    run = invoke(at("2026-03-27T21:10:00"))
    assert fleet.state(iid) == "stopped" and iid not in run.decisions


def test_stopped_until_a_day_and_time_stops_now_and_the_schedule_resumes_then(fleet, invoke):
    iid = box(fleet)
    override(fleet, iid, "stopped until Mon 08:00")
    invoke(at("2026-03-27T10:00:00"))
    assert fleet.state(iid) == "stopped"
    assert fleet.tags(iid)[OVERRIDE] == "stopped until 2026-03-30T08:00+00:00"
    invoke(at("2026-03-30T08:05:00"))
    assert fleet.state(iid) == "running"
    assert OVERRIDE not in fleet.tags(iid)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("running until teatime", "is not a time"),
        ("asleep until 22:00", "is not a state"),
        ("running until 2026-04-10T09:00", "more than 168 hours"),
        ("running until 25:00", "is not a time of day"),
        ("x" * 300, "longer than 256"),
    ],
)
def test_a_bad_or_too_long_override_is_a_warning_and_the_schedule_applies(
    fleet, invoke, value, words
):
    iid = box(fleet)
    override(fleet, iid, value[:256] if len(value) > 256 else value)
    run = invoke(at("2026-03-27T18:05:00"))
    assert fleet.state(iid) == "stopped"  # the schedule's stop
    line = run.decisions[iid]
    assert line["level"] == "WARNING"
    if len(value) <= 256:
        assert words in line["warning"]
    # Only the override beyond the limit loses its tag: it would apply by itself days later.
    assert (OVERRIDE not in fleet.tags(iid)) is (words == "more than 168 hours")


def test_an_override_beyond_the_limit_never_applies_later_by_itself(fleet, invoke):
    iid = box(fleet)
    override(fleet, iid, "running until 2026-04-10T09:00")  # 13 days ahead
    run = invoke(at("2026-03-27T12:00:00"))
    line = run.decisions[iid]
    assert "is ignored and removed" in line["warning"]
    assert "its override tag is removed" in line["reason"]
    assert OVERRIDE not in fleet.tags(iid)
    invoke(at("2026-04-06T18:05:00"))  # the end would be within 168 hours now
    assert fleet.state(iid) == "stopped"  # the schedule's stop, not the forgotten override


def test_an_override_works_where_the_schedule_is_invalid_or_opts_out(fleet, invoke):
    invalid = box(fleet, "Mon-Fri 25:00-26:00", state="stopped")
    opted_out = box(fleet, "off", state="stopped", handled=None)
    for iid in (invalid, opted_out):
        override(fleet, iid, "running until 2026-03-27T21:00")
    run = invoke(at("2026-03-27T18:05:00"))
    assert fleet.state(invalid) == "running"
    # An opted-out instance keeps no state tags: offhours has no record of it, so the override
    # is recorded first (as one copied with a new instance would be) and held from the next run.
    assert fleet.state(opted_out) == "stopped"
    assert run.decisions[opted_out]["action"] == "adopt"
    assert fleet.handled(opted_out) == "2026-03-27T18:05:00Z fp held=2026-03-27T21:00:00Z"
    invoke(at("2026-03-27T18:10:00"))
    assert fleet.state(invalid) == fleet.state(opted_out) == "running"
    run = invoke(at("2026-03-27T21:05:00"))
    for iid in (invalid, opted_out):
        assert fleet.state(iid) == "running"  # no schedule to say otherwise: left as it is
        assert OVERRIDE not in fleet.tags(iid)
        assert "left as it is" in run.decisions[iid]["reason"]


def test_an_override_changes_nothing_in_a_dry_run(fleet, invoke, env):
    env.setenv("DRY_RUN", "true")
    iid = box(fleet, state="stopped")
    override(fleet, iid, "running until 21:00")
    run = invoke(at("2026-03-27T18:05:00"))
    assert fleet.state(iid) == "stopped"
    assert fleet.tags(iid)[OVERRIDE] == "running until 21:00"
    assert "would pin the override" in run.decisions[iid]["reason"]


# -- notices before a stop ----------------------------------------------------------------------


@pytest.fixture
def notices(env: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The notice events as the function puts them (a hook on its own events client)."""
    env.setenv("NOTICE_MINUTES", "15")
    seen: list[dict[str, Any]] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        seen.extend(entries_of(params))

    client = runtime.clients.client("events", "us-east-1")
    client.meta.events.register(PUT_EVENTS, watch)
    yield seen
    client.meta.events.unregister(PUT_EVENTS, watch)


def test_a_notice_is_put_once_before_a_stop_even_across_runs_and_a_cold_start(
    fleet, invoke, notices, env
):
    iid = box(fleet)
    quiet = box(fleet, "Mon-Fri 08:00-20:00 UTC")  # its stop is not near
    invoke(at("2026-03-27T17:30:00"))
    assert notices == []  # 30 minutes before: not yet
    run = invoke(at("2026-03-27T17:50:00"))
    (entry,) = notices
    assert entry["Source"] == "offhours" and entry["DetailType"] == "Instance Stop Pending"
    detail = json.loads(entry["Detail"])
    assert detail["instance_id"] == iid and detail["instance_name"] == "box"
    assert detail["stop_time"] == "2026-03-27T18:00:00Z"
    assert detail["region"] == "us-east-1" and detail["schedule"] == OFFICE
    assert detail["postpone"]["offhours"] == (
        f"offhours override {iid} --running --until 20:00 --region us-east-1"
    )
    assert detail["postpone"]["aws_cli"] == (
        f"aws ec2 create-tags --resources {iid} --tags "
        "'Key=Schedule:override,Value=running until 20:00' --region us-east-1"
    )
    assert "notice of the stop at 2026-03-27T18:00:00Z was put" in run.decisions[iid]["reason"]
    assert fleet.handled(iid) == "2026-03-27T08:00:00Z fp notice=2026-03-27T18:00:00Z"
    invoke(at("2026-03-27T17:55:00"))
    env.setattr(runtime, "clients", Clients())  # a cold start: nothing in memory
    fresh = runtime.clients.client("events", "us-east-1")
    fresh.meta.events.register(PUT_EVENTS, lambda params, **_: notices.extend(entries_of(params)))
    invoke(at("2026-03-27T17:58:00"))
    assert len(notices) == 1  # the fact is kept on the instance
    invoke(at("2026-03-27T18:05:00"))
    assert fleet.state(iid) == "stopped"
    assert fleet.handled(iid) == "2026-03-27T18:00:00Z fp off"
    assert quiet not in [json.loads(e["Detail"])["instance_id"] for e in notices]


def test_no_notice_for_what_offhours_never_stops(fleet, invoke, notices):
    """An Auto Scaling member, a one-time Spot instance, an opted-out box: no stop is pending,
    so no notice, at no run (there is no state tag to remember one either)."""
    asg = box(fleet, tags={"aws:autoscaling:groupName": "web"})
    spot = box(fleet, InstanceMarketOptions={"MarketType": "spot"})  # moto: one-time
    opted_out = fleet.one("off", name="off")
    due = box(fleet)
    for when in ("2026-03-27T17:50:00", "2026-03-27T17:55:00"):
        run = invoke(at(when))
        assert asg not in run.decisions and opted_out not in run.decisions
    sent = [json.loads(e["Detail"])["instance_id"] for e in notices]
    assert sent == [due]
    assert spot not in sent
    for iid in (asg, spot, opted_out):
        assert fleet.state(iid) == "running"


def test_an_enforced_instance_gets_its_notice_once(fleet, invoke, notices):
    iid = box(fleet, f"{OFFICE} enforce")
    for when in ("2026-03-27T17:50:00", "2026-03-27T17:55:00", "2026-03-27T17:58:00"):
        invoke(at(when))
    assert [json.loads(e["Detail"])["instance_id"] for e in notices] == [iid]
    assert fleet.handled(iid) == "2026-03-27T08:00:00Z fp notice=2026-03-27T18:00:00Z"


def test_a_state_tag_copied_alone_with_an_override_is_adopted_and_its_notice_kept(
    fleet, invoke, notices
):
    """A state tag copied alone says "fp" and is not believed: the instance is adopted with its
    override (held from the next run), its own fingerprint written, and the notice of the
    override's end remembered with them, so it is put once."""
    clone = fleet.one(OFFICE, name="clone", handled="2026-03-20T18:00:00Z fp")
    override(fleet, clone, "running until 2026-03-27T18:00")
    invoke(at("2026-03-27T17:50:00"))
    assert [json.loads(e["Detail"])["instance_id"] for e in notices] == [clone]
    assert fleet.handled(clone) == (
        "2026-03-27T17:50:00Z fp notice=2026-03-27T18:00:00Z held=2026-03-27T18:00:00Z"
    )
    assert fingerprint_holds(fleet.fingerprint(clone) or "", clone, OFFICE)
    invoke(at("2026-03-27T17:55:00"))
    assert len(notices) == 1
    invoke(at("2026-03-27T18:05:00"))  # the override's end: offhours held it, so it acts
    assert fleet.state(clone) == "stopped"


def test_a_notice_names_the_end_of_a_running_override(fleet, invoke, notices):
    iid = box(fleet)
    override(fleet, iid, "running until 2026-03-27T21:00")
    invoke(at("2026-03-27T17:50:00"))
    assert notices == []  # the schedule's 18:00 stop does not happen: the override holds
    invoke(at("2026-03-27T20:50:00"))
    (entry,) = notices
    assert json.loads(entry["Detail"])["stop_time"] == "2026-03-27T21:00:00Z"


def test_no_notice_is_put_in_a_dry_run(fleet, invoke, notices, env):
    env.setenv("DRY_RUN", "true")
    iid = box(fleet)
    run = invoke(at("2026-03-27T17:50:00"))
    assert notices == []
    assert "would put the notice" in run.decisions[iid]["reason"]


def test_notices_are_put_ten_to_a_call(fleet, invoke, env):
    env.setenv("NOTICE_MINUTES", "15")
    calls: list[int] = []
    client = runtime.clients.client("events", "us-east-1")

    def watch(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(entries_of(params)))

    client.meta.events.register(PUT_EVENTS, watch)
    try:
        fleet.launch(OFFICE, handled="2026-03-27T08:00:00Z", count=23, fingerprinted=True)
        invoke(at("2026-03-27T17:50:00"))
    finally:
        client.meta.events.unregister(PUT_EVENTS, watch)
    assert sorted(calls) == [3, 10, 10]


def test_the_notice_and_the_state_tag_survive_a_run_at_the_same_time(fleet, invoke, notices):
    when = datetime(2026, 3, 27, 17, 50, tzinfo=UTC)
    iid = box(fleet)
    invoke(at("2026-03-27T17:50:00"), now=when)
    invoke(at("2026-03-27T17:50:00"), now=when)  # the same run again (a retry)
    assert len(notices) == 1
    assert fleet.handled(iid) == "2026-03-27T08:00:00Z fp notice=2026-03-27T18:00:00Z"
