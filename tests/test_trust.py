"""offhours acts only when a schedule or the deployment says so, and survives every bad input
(DESIGN §2, §3, §4): scenarios through the real handler, over several simulated runs, against
the local EC2 endpoint. 2026-03-26 is a Thursday; OFFICE runs 08:00-18:00 UTC on weekdays."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from offhours.state import fingerprint
from tests.fleet import Fleet
from tests.harness import EVENT_FILE, scheduled_event

OFFICE = "Mon-Fri 08:00-18:00 UTC"
STATE_KEY = "Schedule:offhours-handled"
FP_KEY = "Schedule:offhours-fingerprint"


def at(text: str) -> dict[str, Any]:
    """The scheduled event of a run at `text` (UTC); the harness sets the clock to it."""
    return scheduled_event(time=f"{text}Z", id=f"run-{text}")


def retag(fleet: Fleet, instance_id: str, value: str) -> None:
    fleet.ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "Schedule", "Value": value}])


# -- a tag write never acts on the spot --------------------------------------------------------


def test_a_value_restored_after_an_opt_out_is_adopted_not_acted_on(fleet, invoke):
    box = fleet.one(OFFICE, name="box")
    invoke(at("2026-03-26T10:00:00"))  # adopted on Thursday morning
    assert fleet.anchor(box) == "2026-03-26T10:00:00Z"
    retag(fleet, box, "off")
    run = invoke(at("2026-03-26T11:00:00"))
    assert fleet.handled(box) is None  # the opt-out removed the state tags
    assert fleet.fingerprint(box) is None
    assert run.decisions[box]["action"] == "forget"
    assert run.decisions[box]["state_tag_after"] == ""
    retag(fleet, box, OFFICE)  # Friday evening: the old value comes back
    run = invoke(at("2026-03-27T20:05:00"))
    assert fleet.state(box) == "running"  # Friday's 18:00 stop is not replayed on the spot
    assert run.decisions[box]["action"] == "adopt"
    invoke(at("2026-03-30T18:05:00"))  # its next event governs
    assert fleet.state(box) == "stopped"


def test_an_instance_launched_with_another_instances_state_tag_is_adopted(fleet, invoke):
    original = fleet.one(OFFICE, name="original")
    invoke(at("2026-03-26T10:00:00"))
    invoke(at("2026-03-26T18:05:00"))
    copied = {k: v for k, v in fleet.tags(original).items() if k != "Name"}
    assert copied[STATE_KEY] == "2026-03-26T18:00:00Z fp off"
    assert copied[FP_KEY] == fingerprint(original, OFFICE)
    # A launch template (or an AMI's tags, or a copy-paste) carries every tag to a new box,
    # started on Friday evening, after the schedule's 18:00 stop.
    clone = fleet.one(None, name="clone", tags=copied)
    run = invoke(at("2026-03-27T20:05:00"))
    assert fleet.state(clone) == "running"
    line = run.decisions[clone]
    assert line["action"] == "adopt"
    assert "another instance" in line["reason"]
    assert line["state_tag_before"] == f"2026-03-26T18:00:00Z fp={copied[FP_KEY]} off"
    assert fleet.fingerprint(clone) == fingerprint(clone, OFFICE)
    assert line["state_tag_after"] == f"2026-03-27T20:05:00Z fp={fingerprint(clone, OFFICE)}"


def test_a_clone_of_an_instance_adopted_with_others_is_adopted_too(fleet, invoke):
    """Instances adopted in the same run share one fingerprint value (42 entries side by
    side); a launch template that copies it to a new box carries entries that are not the
    box's own: the box is adopted, not stopped for another instance's history."""
    crew = fleet.launch(OFFICE, count=5)
    invoke(at("2026-03-26T10:00:00"))
    invoke(at("2026-03-26T18:05:00"))
    shared = fleet.fingerprint(crew[0])
    assert shared is not None and len(shared) == 30
    assert {fleet.fingerprint(i) for i in crew} == {shared}
    copied = {k: v for k, v in fleet.tags(crew[2]).items() if k != "Name"}
    clone = fleet.one(None, name="clone", tags=copied)
    run = invoke(at("2026-03-27T20:05:00"))
    assert fleet.state(clone) == "running"
    line = run.decisions[clone]
    assert line["action"] == "adopt" and "another instance" in line["reason"]
    assert fleet.fingerprint(clone) == fingerprint(clone, OFFICE)
    assert all(fleet.state(i) == "stopped" for i in crew)


def test_a_value_changed_in_the_middle_of_a_window_is_adopted(fleet, invoke):
    box = fleet.one(OFFICE, name="box")
    invoke(at("2026-03-27T07:00:00"))
    invoke(at("2026-03-27T08:05:00"))
    assert fleet.anchor(box) == "2026-03-27T08:00:00Z"
    retag(fleet, box, "Mon-Fri 08:00-11:00 UTC")  # at noon, a shorter day
    run = invoke(at("2026-03-27T12:05:00"))
    assert fleet.state(box) == "running"  # the new value's 11:00 stop is not applied at noon
    assert run.decisions[box]["action"] == "adopt"
    assert "another schedule value" in run.decisions[box]["reason"]
    invoke(at("2026-03-30T11:05:00"))  # Monday: the new value's stop
    assert fleet.state(box) == "stopped"


def test_state_tags_without_a_fingerprint_keep_working(fleet, invoke):
    box = fleet.one(OFFICE, name="box", handled="2026-03-27T08:00:00Z")  # an earlier version's
    run = invoke(at("2026-03-27T18:05:00"))
    assert fleet.state(box) == "stopped"
    assert run.decisions[box]["outcome"] == "done"
    assert fleet.handled(box) == "2026-03-27T18:00:00Z off"  # no "fp" before the fingerprint is on
    assert fleet.fingerprint(box) == fingerprint(box, OFFICE)
    invoke(at("2026-03-30T08:05:00"))
    assert fleet.state(box) == "running"
    assert fleet.handled(box) == "2026-03-30T08:00:00Z fp"  # now it says so


def test_a_state_tag_copied_without_its_fingerprint_tag_is_not_believed(fleet, invoke):
    """A launch template (or Terraform, or a hand) that copies the state tag but not the
    fingerprint tag, or a fingerprint tag removed: the state tag says "fp", so the instance is
    adopted with a warning, never stopped for another instance's history."""
    original = fleet.one(OFFICE, name="original")
    invoke(at("2026-03-26T10:00:00"))
    invoke(at("2026-03-26T18:05:00"))
    copied = {STATE_KEY: fleet.handled(original) or ""}
    assert copied[STATE_KEY] == "2026-03-26T18:00:00Z fp off"
    clone = fleet.one(OFFICE, name="clone", tags=copied)  # up on Friday evening
    run = invoke(at("2026-03-27T20:05:00"))
    assert fleet.state(clone) == "running"
    line = run.decisions[clone]
    assert line["action"] == "adopt" and line["level"] == "WARNING"
    assert "says a fingerprint tag goes with it, and there is none" in line["reason"]
    assert line["state_tag_before"] == "2026-03-26T18:00:00Z fp off"
    assert fleet.fingerprint(clone) == fingerprint(clone, OFFICE)
    invoke(at("2026-03-30T18:05:00"))  # its next event governs
    assert fleet.state(clone) == "stopped"


@pytest.mark.parametrize(
    ("value", "why"),
    [("off", "opted out"), ("Mon-Fri 08:00-18:00 Mars/Base", "invalid schedule")],
)
def test_opted_out_and_invalid_instances_lose_their_state_tag(fleet, invoke, value, why):
    box = fleet.one(value, handled="2026-03-27T08:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    assert fleet.state(box) == "running"
    assert fleet.handled(box) is None
    assert why in run.decisions[box]["reason"]
    assert "state tags are removed" in run.decisions[box]["reason"]


def test_an_instance_that_carries_only_the_state_tag_is_listed_and_loses_it(fleet, invoke):
    box = fleet.one(None, name="untagged", handled="2026-03-27T08:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    assert fleet.state(box) == "running"
    assert fleet.handled(box) is None
    assert "schedule tag is gone" in run.decisions[box]["reason"]
    retag(fleet, box, OFFICE)  # tagged again on Friday evening: adopted, not stopped
    invoke(at("2026-03-27T20:05:00"))
    assert fleet.state(box) == "running"


# -- state tags that lie --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handled", "words"),
    [
        ("last tuesday", "cannot be read"),
        ("0001-01-01T00:00:00+01:00", "edge of the calendar"),
        ("9999-12-31T23:59:59Z", "later than this run"),
        ("2026-03-28T00:00:00Z", "later than this run"),
        ("2026-03-27T08:00:00Z fp=12345678", "cannot be read"),
        ("2026-03-27T08:00:00Z" + "x" * 230, "cannot be read"),
    ],
    ids=["words", "year-1", "year-9999", "tomorrow", "two-words", "long"],
)
def test_a_state_tag_that_lies_is_a_warning_and_an_adoption(fleet, invoke, handled, words):
    good = fleet.one(OFFICE, name="good", handled="2026-03-27T08:00:00Z")
    liar = fleet.one(OFFICE, name="liar", handled=handled)
    run = invoke(at("2026-03-27T18:05:00"))
    assert run.error is None
    assert fleet.state(good) == "stopped"  # the rest of the target goes on
    assert fleet.state(liar) == "running"
    line = run.decisions[liar]
    assert line["level"] == "WARNING"
    assert line["action"] == "adopt" and line["outcome"] == "adopted"
    assert words in line["warning"]
    assert liar in line["message"]
    assert fleet.anchor(liar) == "2026-03-27T18:05:00Z"
    invoke(at("2026-03-30T18:05:00"))  # from then on, the schedule governs
    assert fleet.state(liar) == "stopped"


# -- event time sanity ------------------------------------------------------------------------


NOW = datetime(2026, 3, 27, 18, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "time",
    ["1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "2026-03-27T17:49:00Z", "2026-03-27T18:21Z"],
    ids=["1970", "2100", "16-minutes-late", "16-minutes-early"],
)
def test_an_event_far_from_the_clock_changes_nothing(fleet, invoke, time):
    box = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    run = invoke(scheduled_event(time=time), now=NOW)
    assert run.error is None  # returns: a retry would carry the same time
    assert run.result is not None and run.result["failed"] == 1
    assert fleet.state(box) == "running"
    assert fleet.anchor(box) == "2026-03-27T08:00:00Z"
    (line,) = run.of_kind("event-rejected")
    assert line["level"] == "ERROR"
    assert "not acted on" in line["message"]
    assert run.emf["failed"] in (1, [1], [1.0])
    assert not run.of_kind("decision")


def test_an_event_within_fifteen_minutes_of_the_clock_is_acted_on(fleet, invoke):
    box = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    run = invoke(scheduled_event(time="2026-03-27T18:00:00Z"), now=NOW)  # five minutes late
    assert fleet.state(box) == "stopped"
    assert run.summary["run_time"] == "2026-03-27T18:00:00Z"


def test_the_sample_event_sent_to_a_real_account_changes_nothing(fleet, invoke):
    sample = json.loads(EVENT_FILE.read_text())
    box = fleet.one("Mon-Fri 08:00-15:00 UTC", handled="2026-03-27T08:00:00Z")
    run = invoke(sample, now=datetime(2026, 11, 28, 9, 0, tzinfo=UTC))  # months later
    assert fleet.state(box) == "running"
    assert run.result is not None and run.result["failed"] == 1


@pytest.mark.parametrize("time", ["yesterday", 12, "0001-01-01T00:00:00+01:00", "9" * 500])
def test_an_event_whose_time_cannot_be_read_changes_nothing(fleet, invoke, time):
    box = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    run = invoke(scheduled_event(time=time), now=NOW)
    assert run.error is None
    assert fleet.state(box) == "running"
    assert run.result is not None and run.result["failed"] == 1


def test_an_event_without_a_time_runs_at_the_handlers_clock(fleet, invoke):
    box = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    event = scheduled_event()
    del event["time"]
    run = invoke(event, now=NOW)
    assert run.summary["run_time"] == "2026-03-27T18:05:00Z"
    assert fleet.state(box) == "stopped"


# -- the catalogue is bounded -----------------------------------------------------------------

ALIAS_BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "office-hours: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
)


@pytest.mark.parametrize(
    "document",
    [ALIAS_BOMB, "office-hours: " + "[" * 3000 + "]" * 3000, "office-hours: {value: [1, 2]"],
    ids=["alias-bomb", "deep", "broken"],
)
def test_a_bad_catalogue_invalidates_named_schedules_only(fleet, invoke, env, document):
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/offhours/test/catalog", Value=document, Type="String", Overwrite=True)
    env.setenv("CATALOG_PARAMETER", "/offhours/test/catalog")
    parameters.clear_caches()
    named = fleet.one("office-hours", handled="2026-03-27T08:00:00Z")
    plain = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    parameters.clear_caches()
    assert run.error is None
    assert fleet.state(plain) == "stopped"
    assert fleet.state(named) == "running"
    assert run.decisions[named]["outcome"] == "invalid"
    assert "catalogue" in run.decisions[named]["reason"]
    # The outage is the catalogue's, not the value's: the state tag stays.
    assert fleet.anchor(named) == "2026-03-27T08:00:00Z"
    (error,) = run.of_kind("catalog-error")
    assert error["level"] == "ERROR"


def test_a_fingerprint_that_is_not_the_instances_own_is_an_adoption(fleet, invoke):
    box = fleet.one(OFFICE, name="box", handled="2026-03-27T08:00:00Z")
    fleet.ec2.create_tags(Resources=[box], Tags=[{"Key": FP_KEY, "Value": "garbage!"}])
    run = invoke(at("2026-03-27T18:05:00"))
    assert fleet.state(box) == "running"
    assert run.decisions[box]["action"] == "adopt"
    assert "'garbage!'" in run.decisions[box]["reason"]
    assert fleet.fingerprint(box) == fingerprint(box, OFFICE)


def test_an_instance_with_only_a_fingerprint_tag_loses_it(fleet, invoke):
    box = fleet.one(None, name="leftover", tags={FP_KEY: "0badcafe"})
    invoke(at("2026-03-27T18:05:00"))
    assert fleet.fingerprint(box) is None


def test_a_run_whose_values_name_no_schedule_never_reads_the_catalogue(fleet, invoke, env):
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(
        Name="/offhours/test/catalog", Value=ALIAS_BOMB, Type="String", Overwrite=True
    )
    env.setenv("CATALOG_PARAMETER", "/offhours/test/catalog")
    parameters.clear_caches()
    box = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    parameters.clear_caches()
    assert fleet.state(box) == "stopped"
    assert run.of_kind("catalog-error") == []  # the broken catalogue was never read


def test_state_and_override_words_take_ascii_digits_only():
    from offhours.override import OverrideError, parse_override
    from offhours.state import read_anchor

    assert read_anchor("٢٠٢٦-03-27T12:00:00Z")[0] is None
    assert read_anchor("2026-03-27T12:00:00Z")[0] == datetime(2026, 3, 27, 12, tzinfo=UTC)
    at = datetime(2026, 3, 27, 12, tzinfo=UTC)
    for value in ("running until ٢١:00", "running until 2026-03-27T２１:00Z"):
        with pytest.raises(OverrideError, match="is not a time"):
            parse_override(value, "UTC", at)


@pytest.mark.parametrize(
    ("value", "readable", "marked", "notice"),
    [
        ("2026-03-27T17:00:00Z", True, False, None),
        ("2026-03-27T17:00:00Z fp", True, True, None),
        ("2026-03-27T17:00:00Z fp notice=2026-03-27T18:00:00Z", True, True, "2026-03-27T18:00:00Z"),
        ("2026-03-27T17:00:00Z notice=2026-03-27T18:00:00Z", True, False, "2026-03-27T18:00:00Z"),
        ("2026-03-27T17:00:00Z fp fp", False, True, None),
        ("2026-03-27T17:00:00Z notice=a notice=b", False, False, None),
        ("2026-03-27T17:00:00Z fingerprint", False, False, None),
        ("fp 2026-03-27T17:00:00Z", False, False, None),
    ],
)
def test_the_words_of_the_state_tag(value, readable, marked, notice):
    from offhours.state import read_anchor, read_notice, says_fingerprinted

    assert (read_anchor(value)[0] is not None) is readable
    assert says_fingerprinted(value) is marked
    assert read_notice(value) == notice
