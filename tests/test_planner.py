"""The planner's decision table (DESIGN §3), pure: `Instance` values in, decisions out, no AWS.

E is the schedule's latest event at or before the run's time, A the instance's state tag.
2026-03-27 is a Friday; OFFICE starts at 08:00 and stops at 18:00 UTC on weekdays.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from offhours.catalog import default_catalog
from offhours.instance import Instance
from offhours.planner import (
    Decision,
    Settings,
    Step,
    Verdict,
    decide,
    decide_all,
    is_quiet,
    needs_details,
    plan,
    plan_groups,
    read_value,
)
from offhours.resources.ec2 import KMS_HINT, ec2_skip
from offhours.schedule import DesiredState, iso
from offhours.state import fingerprint, read_anchor

OFFICE = "Mon-Fri 08:00-18:00 UTC"
THU_START, THU_STOP = "2026-03-26T08:00:00Z", "2026-03-26T18:00:00Z"
FRI_START, FRI_STOP = "2026-03-27T08:00:00Z", "2026-03-27T18:00:00Z"
FRI_10, FRI_20 = "2026-03-27T10:00:00Z", "2026-03-27T20:00:00Z"
FRI_0830 = "2026-03-27T08:30:00Z"  # within the hour after Friday's start
SETTINGS = Settings(catalog=default_catalog())


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# What the EC2 gateway says of an instance that EC2 stopped again right after a start.
UNDONE = {"state_reason": "Client.InternalError", "start_undone": KMS_HINT}


def case(
    label: str,
    schedule: str,
    state: str,
    handled: str | None,
    at: str,
    step: Step,
    verdict: Verdict,
    anchor: str | None = None,
    *,
    converge: bool = False,
    **instance: Any,
) -> Any:
    return pytest.param(
        Instance("i-0123456789abcdef0", state, schedule, handled=handled, **instance),
        at,
        converge,
        step,
        verdict,
        anchor,
        id=label,
    )


TABLE = [
    # -- adoption: no A -----------------------------------------------------------------------
    case("new running instance after hours is adopted, not stopped", OFFICE, "running", None,
         FRI_20, Step.MARK, Verdict.ADOPT, FRI_20),
    case("new stopped instance in hours is adopted, not started", OFFICE, "stopped", None,
         FRI_10, Step.MARK, Verdict.ADOPT, FRI_10),
    case("an unreadable state tag counts as no A", OFFICE, "running", "last tuesday",
         FRI_20, Step.MARK, Verdict.ADOPT, FRI_20),
    # -- E later than A: bring the instance to E's state --------------------------------------
    case("stop later than A stops", OFFICE, "running", FRI_START,
         FRI_20, Step.STOP, Verdict.ACT, FRI_STOP),
    case("start later than A starts", OFFICE, "stopped", THU_STOP,
         FRI_10, Step.START, Verdict.ACT, FRI_START),
    case("a run exactly at the event applies it", OFFICE, "running", FRI_START,
         FRI_STOP, Step.STOP, Verdict.ACT, FRI_STOP),
    case("already in E's state: only A moves", OFFICE, "stopped", FRI_START,
         FRI_20, Step.MARK, Verdict.UNCHANGED, FRI_STOP),
    case("missed runs: only the latest event applies", OFFICE, "running", THU_START,
         FRI_10, Step.MARK, Verdict.UNCHANGED, FRI_START),
    case("missed runs across a start and a stop: only the stop", OFFICE, "stopped", THU_STOP,
         FRI_20, Step.MARK, Verdict.UNCHANGED, FRI_STOP),
    case("only-stop cron schedule stops at its event", "stop=0 19 * * *", "running",
         "2026-03-26T19:00:00Z", FRI_20, Step.STOP, Verdict.ACT, "2026-03-27T19:00:00Z"),
    # -- E not later than A: people are respected -----------------------------------------------
    case("manual start after the stop is respected", OFFICE, "running", FRI_STOP,
         FRI_20, Step.NONE, Verdict.UNCHANGED),
    case("manual stop inside the window is respected", OFFICE, "stopped", FRI_START,
         FRI_10, Step.NONE, Verdict.UNCHANGED),
    case("as E wants: nothing to do", OFFICE, "stopped", FRI_STOP,
         FRI_20, Step.NONE, Verdict.UNCHANGED),
    case("adopted after E: E is not applied late", OFFICE, "running", "2026-03-27T19:00:00Z",
         FRI_20, Step.NONE, Verdict.UNCHANGED),
    case("only-stop schedule never starts: a morning start by hand stays", "stop=0 19 * * *",
         "running", "2026-03-26T19:00:00Z", FRI_10, Step.NONE, Verdict.UNCHANGED),
    case("no event in the year before the run: nothing", "start=0 9 29 2 *; stop=0 17 29 2 *",
         "running", THU_STOP, FRI_20, Step.NONE, Verdict.UNCHANGED),
    # -- enforce and converge -------------------------------------------------------------------
    case("enforce undoes a manual start", f"{OFFICE} enforce", "running", FRI_STOP,
         FRI_20, Step.STOP, Verdict.ACT, FRI_STOP),
    case("enforce undoes a manual stop", f"{OFFICE} enforce", "stopped", FRI_START,
         FRI_10, Step.START, Verdict.ACT, FRI_START),
    case("enforce acts at once on adoption", f"{OFFICE} enforce", "running", None,
         FRI_20, Step.STOP, Verdict.ACT, FRI_STOP),
    case("enforce, as wanted, A current: nothing", f"{OFFICE} enforce", "stopped", FRI_STOP,
         FRI_20, Step.NONE, Verdict.UNCHANGED),
    case("enforce, as wanted, A behind: only A moves", f"{OFFICE} enforce", "stopped",
         FRI_START, FRI_20, Step.MARK, Verdict.UNCHANGED, FRI_STOP),
    case("converge stops a new instance after hours", OFFICE, "running", None,
         FRI_20, Step.STOP, Verdict.ACT, FRI_STOP, converge=True),
    case("converge undoes a manual start", OFFICE, "running", FRI_STOP,
         FRI_20, Step.STOP, Verdict.ACT, FRI_STOP, converge=True),
    case("converge records A of a new instance already as wanted", OFFICE, "stopped", None,
         FRI_20, Step.MARK, Verdict.UNCHANGED, FRI_STOP, converge=True),
    case("converge without a desired state adopts", "start=0 9 29 2 *; stop=0 17 29 2 *",
         "running", None, FRI_20, Step.MARK, Verdict.ADOPT, FRI_20, converge=True),
    # -- states that wait ---------------------------------------------------------------------
    case("pending waits", OFFICE, "pending", FRI_START, FRI_20, Step.NONE, Verdict.SKIPPED),
    case("stopping waits", OFFICE, "stopping", THU_STOP, FRI_10, Step.NONE, Verdict.SKIPPED),
    case("shutting-down waits", OFFICE, "shutting-down", FRI_START, FRI_20, Step.NONE,
         Verdict.SKIPPED),
    case("stopping waits even under enforce", f"{OFFICE} enforce", "stopping", FRI_STOP,
         FRI_10, Step.NONE, Verdict.SKIPPED),
    # -- a start that did not hold --------------------------------------------------------------
    case("stopped again by EC2 after offhours' start: failed", OFFICE, "stopped", FRI_START,
         FRI_0830, Step.NONE, Verdict.FAILED, **UNDONE),
    case("an hour after the start, a stopped instance reads as stopped by hand", OFFICE,
         "stopped", FRI_START, FRI_10, Step.NONE, Verdict.UNCHANGED,
         **UNDONE),
    case("stopped by a person after offhours' start: respected", OFFICE, "stopped", FRI_START,
         FRI_10, Step.NONE, Verdict.UNCHANGED, state_reason="Client.UserInitiatedShutdown"),
    # -- instances that are never touched -------------------------------------------------------
    case("Auto Scaling member", f"{OFFICE} enforce", "running", FRI_START, FRI_20, Step.NONE,
         Verdict.SKIPPED, skip_reason=ec2_skip("web")),
    case("one-time Spot", f"{OFFICE} enforce", "running", FRI_START, FRI_20, Step.NONE,
         Verdict.SKIPPED, skip_reason=ec2_skip(None, "one-time")),
    case("Spot of unknown request type", OFFICE, "running", FRI_START, FRI_20, Step.NONE,
         Verdict.SKIPPED, skip_reason=ec2_skip(None, "unknown")),
    case("persistent Spot can stop", OFFICE, "running", FRI_START, FRI_20, Step.STOP,
         Verdict.ACT, FRI_STOP, skip_reason=ec2_skip(None, "persistent")),
    case("instance-store root", f"{OFFICE} enforce", "running", FRI_START, FRI_20, Step.NONE,
         Verdict.SKIPPED, skip_reason=ec2_skip(None, None, "instance-store")),
    case("opted out with off: its state tag goes", "off", "running", FRI_START, FRI_20,
         Step.FORGET, Verdict.SKIPPED),
    case("opted out without a state tag: nothing to do", "off", "running", None, FRI_20,
         Step.NONE, Verdict.SKIPPED),
    case("opted out with an empty value", "", "running", None, FRI_20, Step.NONE,
         Verdict.SKIPPED, converge=True),
    case("invalid value: its state tag goes", "Mon-Fri 08:00-18:00 Nowhere/City", "running",
         FRI_START, FRI_20, Step.FORGET, Verdict.INVALID),
    case("invalid value without a state tag", "Mon-Fri 08:00-18:00 Nowhere/City", "running",
         None, FRI_20, Step.NONE, Verdict.INVALID),
    case("the schedule tag is gone: the state tag goes", "", "stopped", FRI_START, FRI_20,
         Step.FORGET, Verdict.SKIPPED, untagged=True),
    # -- hibernate ------------------------------------------------------------------------------
    case("hibernate where configured", f"{OFFICE} hibernate", "running", FRI_START, FRI_20,
         Step.HIBERNATE, Verdict.ACT, FRI_STOP, hibernation_configured=True),
    case("hibernate not configured: plain stop", f"{OFFICE} hibernate", "running", FRI_START,
         FRI_20, Step.STOP, Verdict.ACT, FRI_STOP),
    case("hibernate starts plainly", f"{OFFICE} hibernate", "stopped", THU_STOP, FRI_10,
         Step.START, Verdict.ACT, FRI_START, hibernation_configured=True),
    case("named schedule from the catalogue", "office-hours", "running", FRI_START, FRI_20,
         Step.STOP, Verdict.ACT, FRI_STOP),
]  # fmt: skip


@pytest.mark.parametrize(("instance", "at", "converge", "step", "verdict", "anchor"), TABLE)
def test_decision_table(instance, at, converge, step, verdict, anchor):
    decision = first_fingerprint_aside(
        decide(instance, instant(at), replace(SETTINGS, converge=converge))
    )
    assert (decision.step, decision.verdict) == (step, verdict), decision.reason
    written = decision.anchor if decision.step is not Step.NONE else None  # A to be written
    assert written == (instant(anchor) if anchor is not None else None)
    assert decision.reason


def first_fingerprint_aside(decision: Decision) -> Decision:
    """The table's instances carry state tags as an earlier version wrote them (no fingerprint
    tag): where nothing else is to be done, the decision records A as it is so that the
    fingerprint is written (background work). The table is about the schedule: that is
    nothing to do there."""
    own = read_anchor(decision.instance.handled)[0] if decision.instance.handled else None
    if (
        decision.step is Step.MARK
        and decision.verdict is Verdict.UNCHANGED
        and decision.instance.fingerprint is None
        and decision.anchor == own
    ):
        return replace(decision, step=Step.NONE, anchor=None)
    return decision


def test_a_state_tag_without_its_fingerprint_gets_one_as_background_work():
    """A plain state tag from an earlier version, or one whose fingerprint a run could not
    write in time: with nothing else to do, A is recorded as it is (it holds already, so no
    call) and the fingerprint follows; a tag with a remembered notice, or one that says a
    fingerprint goes with it, is left for its next event."""
    plain = Instance("i-1", "running", OFFICE, handled=FRI_START)
    decision = decide(plain, instant(FRI_0830), SETTINGS)
    assert (decision.step, decision.verdict) == (Step.MARK, Verdict.UNCHANGED)
    assert decision.anchor == instant(FRI_START)
    assert decision.fingerprint_after is not None
    with_fp = Instance("i-1", "running", OFFICE, handled=FRI_START,
                       fingerprint=decision.fingerprint_after)  # fmt: skip
    assert decide(with_fp, instant(FRI_0830), SETTINGS).step is Step.NONE
    noticed = Instance("i-1", "running", OFFICE, handled=f"{FRI_START} notice=2026-03-27T18:00:00Z")
    assert decide(noticed, instant(FRI_0830), SETTINGS).step is Step.NONE


def test_a_start_that_did_not_hold_names_the_kms_fix():
    instance = Instance("i-1", "stopped", OFFICE, handled=FRI_START, **UNDONE)  # fmt: skip
    decision = decide(instance, instant(FRI_0830), SETTINGS)
    assert decision.verdict is Verdict.FAILED
    assert decision.error_code == "Client.InternalError"
    assert KMS_HINT in decision.reason
    assert "kms:CreateGrant" in decision.reason


def test_a_manual_change_is_named_with_the_next_event():
    decision = decide(Instance("i-1", "running", OFFICE, handled=FRI_STOP), instant(FRI_20),
                      SETTINGS)  # fmt: skip
    assert "respected a manual change" in decision.reason
    assert "2026-03-30T08:00:00Z" in decision.reason


def test_hibernate_without_configuration_warns():
    decision = decide(Instance("i-1", "running", f"{OFFICE} hibernate", handled=FRI_START),
                      instant(FRI_20), SETTINGS)  # fmt: skip
    assert decision.step is Step.STOP
    assert decision.warning and "not configured for hibernation" in decision.warning


@pytest.mark.parametrize(
    ("instance", "words"),
    [
        (
            Instance("i-1", "running", OFFICE, skip_reason=ec2_skip("web")),
            "Auto Scaling group 'web'",
        ),
        (
            Instance("i-1", "running", OFFICE, skip_reason=ec2_skip(None, "one-time")),
            "one-time Spot",
        ),
        (
            Instance("i-1", "running", OFFICE, skip_reason=ec2_skip(None, None, "instance-store")),
            "instance store",
        ),
        (Instance("i-1", "running", "off"), "opted out"),
        (Instance("i-1", "running", "Mon-Fri 08:00-18:00 Nowhere/City"), "Nowhere/City"),
        (Instance("i-1", "running", "Mon-Fri 08:00-08:00"), "08:00-08:00"),
        (Instance("i-1", "running", "no-such-schedule"), "no-such-schedule"),
    ],
)
def test_skips_and_invalid_values_say_why(instance, words):
    decision = decide(instance, instant(FRI_20), SETTINGS)
    assert decision.step is Step.NONE
    assert words in decision.reason


def test_one_bad_value_among_good_ones_leaves_the_others_decided():
    instances = [
        Instance("i-1", "running", OFFICE, handled=FRI_START),
        Instance("i-2", "running", "x" * 256, handled=FRI_START),
        Instance("i-3", "running", OFFICE, handled=FRI_START),
    ]
    decisions = plan(instances, instant(FRI_20), SETTINGS).decisions
    assert [d.verdict for d in decisions] == [Verdict.ACT, Verdict.INVALID, Verdict.ACT]


# -- properties -------------------------------------------------------------------------------

VALUES = [
    OFFICE,
    f"{OFFICE} enforce",
    f"{OFFICE} hibernate",
    "Mon-Fri 08:00-12:00 13:00-18:00 Sat 09:00-13:00 America/New_York",
    "Fri 22:00-02:00 Europe/Berlin",
    "start=0 8 * * 1-5; stop=30 18 * * 1-5; tz=America/New_York",
    "stop=0 19 * * *",
    "start=0 7 * * *",
    "office-hours",
    "off",
    "Mon-Fri 25:00-18:00",
]
STATES = ["running", "stopped", "pending", "stopping", "shutting-down", "backing-up"]
RESOURCE_TYPES = ["ec2:instance", "rds:db", "rds:cluster"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=60 * 24 * 365)


@st.composite
def situations(draw: Any) -> tuple[Instance, datetime, bool]:
    at = BASE + timedelta(minutes=draw(minutes))
    handled = draw(
        st.one_of(
            st.none(),
            st.just("garbage"),
            st.integers(min_value=0, max_value=60 * 24 * 14).map(
                lambda m: iso(at - timedelta(minutes=m))
            ),
            # a little later than the run (a newer run's) and well later (a lie)
            st.integers(min_value=1, max_value=120).map(lambda m: iso(at + timedelta(minutes=m))),
        )
    )
    instance = Instance(
        "i-1",
        draw(st.sampled_from(STATES)),
        draw(st.sampled_from(VALUES)),
        handled=handled,
        hibernation_configured=draw(st.booleans()),
        state_reason=draw(st.sampled_from([None, "Client.InternalError"])),
        resource_type=draw(st.sampled_from(RESOURCE_TYPES)),
        skip_reason=draw(st.sampled_from([None, None, None, "read replica of 'db'"])),
        # when RDS started it on its own after seven days stopped, if it did
        auto_started=draw(
            st.one_of(
                st.none(),
                st.integers(min_value=0, max_value=60 * 24 * 14).map(
                    lambda m: at - timedelta(minutes=m)
                ),
            )
        ),
    )
    return instance, at, draw(st.booleans())


def _acts(step: Step) -> bool:
    return step in (Step.START, Step.STOP, Step.HIBERNATE)


@settings(max_examples=150, deadline=None)
@given(situations())
def test_a_decision_acts_only_at_an_event_later_than_a_unless_enforced(situation):
    instance, at, converge = situation
    decision = decide(instance, at, replace(SETTINGS, converge=converge))
    if not _acts(decision.step):
        return
    assert instance.state in ("running", "stopped")
    target = DesiredState.RUNNING if decision.step is Step.START else DesiredState.STOPPED
    assert target.value != instance.state
    assert decision.anchor is not None and decision.anchor <= at
    if not converge and "enforce" not in instance.schedule:
        handled = read_anchor(instance.handled)[0] if instance.handled else None
        assert handled is not None, "an instance without A is never started or stopped"
        assert instance.skip_reason is None
        event_due = decision.event is not None and decision.event.at > handled
        if instance.auto_started is not None and instance.auto_started > handled and not event_due:
            # RDS started it after seven days stopped: the schedule's stop is owed again.
            assert decision.step is Step.STOP and decision.anchor == at
            assert decision.desired is DesiredState.STOPPED
            return
        assert decision.event is not None and decision.event.at > handled
        assert decision.event.action.state is target
        assert decision.anchor == decision.event.at


@settings(max_examples=150, deadline=None)
@given(situations())
def test_once_applied_a_decision_is_not_repeated_at_the_same_time(situation):
    instance, at, converge = situation
    s = replace(SETTINGS, converge=converge)
    first = decide(instance, at, s)
    if first.step in (Step.NONE, Step.FORGET):
        return
    state = instance.state
    if first.step is Step.START:
        state = "running"
    elif first.step in (Step.STOP, Step.HIBERNATE):
        state = "stopped"
    assert first.anchor is not None
    after = replace(
        instance,
        state=state,
        handled=iso(first.anchor),
        fingerprint=first.fingerprint_after or instance.fingerprint,
        state_reason=None,
    )
    second = decide(after, at, s)
    assert second.step is Step.NONE, second.reason


# -- whatever a state tag says, and whenever the run is, the others are decided ---------------

EDGE_TAGS = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "2026-03-27T08:00:00Z fp=",
    "2026-03-27T08:00:00",
    "2026-02-30T08:00:00Z",
    "",
    " ",
    "\x00",
]
state_tags = st.one_of(
    st.none(),
    st.sampled_from(EDGE_TAGS),
    st.text(max_size=300),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.just(UTC)).map(iso),
)
fingerprints = st.one_of(
    st.none(), st.text(max_size=20), st.text("0123456789abcdef", min_size=8, max_size=8)
)
run_times = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(state_tags, fingerprints), min_size=1, max_size=4),
    run_times,
    st.sampled_from(VALUES),
)
def test_no_state_tag_and_no_run_time_stops_the_others_from_being_decided(tags, at, value):
    instances = [
        Instance(f"i-{k}", "running", value, handled=tag, fingerprint=fp)
        for k, (tag, fp) in enumerate(tags)
    ] + [Instance("i-good", "running", OFFICE, handled=FRI_START)]
    decisions = plan(instances, at, SETTINGS).decisions
    assert [d.instance.id for d in decisions] == [i.id for i in instances]
    for d in decisions:
        assert d.reason
        assert d.error_code != "InternalError", d.reason  # decided, not caught by the net
        if d.step in (Step.START, Step.STOP, Step.HIBERNATE, Step.MARK):
            assert d.anchor is not None and d.anchor <= at  # nothing is recorded from the future
        if d.verdict is Verdict.ACT and not converge_or_enforce(d):
            # Acting needs a believable A for this very instance and value.
            assert d.instance.handled is not None
            anchor, _ = read_anchor(d.instance.handled)
            assert anchor is not None and anchor <= at
            assert d.instance.fingerprint in (None, fingerprint(d.instance.id, value))
    good = decisions[-1]
    if datetime(2026, 3, 27, 18, tzinfo=UTC) <= at < datetime(2026, 3, 30, 8, tzinfo=UTC):
        assert good.step is Step.STOP  # the good instance is decided as if alone


def converge_or_enforce(decision: Any) -> bool:
    return "enforce" in decision.instance.schedule


# -- what the tags alone settle (the Lambda's reading path) -------------------------------------


@st.composite
def tagged_situations(draw: Any) -> tuple[Instance, datetime, bool]:
    instance, at, converge = draw(situations())
    instance = replace(
        instance,
        fingerprint=draw(st.sampled_from([None, fingerprint("i-1", instance.schedule), "0"])),
        untagged=draw(st.booleans()) and instance.schedule == "off",
        skip_reason=ec2_skip(
            draw(st.sampled_from([None, "web"])),
            draw(st.sampled_from([None, "one-time", "persistent", "unknown"])),
            draw(st.sampled_from(["ebs", "instance-store"])),
        ),
        override=draw(
            st.sampled_from([None, None, "running until 22:00", "stopped until Mon 08:00", "x"])
        ),
    )
    return instance, at, converge


@settings(max_examples=400, deadline=None)
@given(tagged_situations(), st.sampled_from([0, 15, 120]))
def test_what_needs_no_details_is_decided_quietly_whatever_the_details(situation, notice):
    instance, at, converge = situation
    s = replace(SETTINGS, converge=converge, notice_minutes=notice)
    reading = read_value(instance.schedule, at, s)
    # What the service knows of it from its tags alone (and from the listing of the starts
    # that EC2 undid: stopped instances whose state reason is Client.InternalError).
    undone = instance.state == "stopped" and instance.state_reason == "Client.InternalError"
    tags_only = Instance(
        instance.id,
        "unknown",
        instance.schedule,
        handled=instance.handled,
        fingerprint=instance.fingerprint,
        override=instance.override,
        untagged=instance.untagged,
        # an Auto Scaling member is known from its tags; the other EC2 rules need its details
        skip_reason=instance.skip_reason
        if "Auto Scaling" in (instance.skip_reason or "")
        else None,
        state_reason="Client.InternalError" if undone else None,
        start_undone=KMS_HINT if undone else None,
        resource_type=instance.resource_type,
        # what DescribeEvents tells of it (the RDS gateway reads them before this decision)
        auto_started=instance.auto_started,
    )
    if needs_details(tags_only, at, s, reading):
        return
    decision = decide(instance, at, s, reading)
    assert decision.step is Step.NONE, decision.reason
    assert decision.verdict in (Verdict.UNCHANGED, Verdict.SKIPPED), decision.reason
    assert decision.warning is None
    assert decision.notice is None  # a notice due needs the instance read: it is logged
    assert is_quiet(decision), decision


def test_a_state_a_little_later_than_the_run_was_written_by_a_newer_run_and_is_left_alone():
    instance = Instance("i-1", "running", OFFICE, handled=FRI_STOP)  # a newer run stopped...
    decision = decide(instance, instant("2026-03-27T17:55:00Z"), SETTINGS)  # ...this older one
    assert decision.step is Step.NONE and decision.verdict is Verdict.UNCHANGED
    assert decision.warning is None
    assert "a newer run has handled it already" in decision.reason
    far = Instance("i-1", "running", OFFICE, handled="2026-03-27T19:00:00Z")
    lie = decide(far, instant("2026-03-27T17:55:00Z"), SETTINGS)
    assert lie.verdict is Verdict.ADOPT and lie.warning and "not trusted" in lie.warning


@settings(max_examples=150, deadline=None)
@given(st.lists(tagged_situations(), min_size=1, max_size=12), st.integers(0, 60 * 24 * 7))
def test_deciding_once_per_group_decides_as_each_instance_alone(situations, minutes):
    at = BASE + timedelta(minutes=minutes)
    fleet = [
        replace(instance, id=f"i-{k}", fingerprint=fingerprint(f"i-{k}", instance.schedule))
        if instance.fingerprint is not None and k % 2
        else replace(instance, id=f"i-{k}")
        for k, (instance, _, _) in enumerate(situations)
    ]
    alone = [decide(instance, at, SETTINGS) for instance in fleet]
    grouped = list(decide_all(fleet, at, SETTINGS))
    assert grouped == alone
    groups = plan_groups(fleet, at, SETTINGS)
    assert sum(g.count for g in groups) == len(fleet)
    kept = [d for g in groups for d in g.decisions()]
    assert sorted(kept, key=lambda d: d.instance.id) == sorted(
        (d for d in alone if not is_quiet(d)), key=lambda d: d.instance.id
    )


@pytest.mark.parametrize(
    ("schedule", "past_limit", "removed"),
    [
        (OFFICE, timedelta(minutes=20), True),
        (OFFICE, timedelta(minutes=10), False),  # within the run's 15 minutes of skew: kept
        ("off", timedelta(minutes=20), True),  # opted out: the default zone is the right one
        ("Mon-Fri 25:00-26:00", timedelta(minutes=20), False),  # unreadable: the zone may not be
        (f"{OFFICE}", timedelta(days=3), True),
    ],
)
def test_an_override_beyond_the_limit_is_removed_only_when_surely_beyond(
    schedule, past_limit, removed
):
    at = instant("2026-03-27T12:00:00Z")
    until = at + timedelta(hours=SETTINGS.max_override_hours) + past_limit
    value = f"stopped until {until:%Y-%m-%dT%H:%M}Z"
    decision = decide(Instance("i-1", "running", schedule, override=value), at, SETTINGS)
    assert decision.warning is not None and "MaxOverrideHours" in decision.warning
    assert decision.override_clear is removed


def test_an_override_beyond_the_limit_on_an_instance_never_touched_keeps_its_tag():
    at = instant("2026-03-27T12:00:00Z")
    asg = Instance(
        "i-1",
        "running",
        OFFICE,
        override="stopped until 2026-04-20T08:00Z",
        skip_reason=ec2_skip("w"),
    )
    decision = decide(asg, at, SETTINGS)
    assert decision.verdict is Verdict.SKIPPED and not decision.override_clear
