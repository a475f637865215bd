"""Reconcile scenarios (DESIGN §3, §4) against the local EC2 endpoint.

Every scenario runs the real service with real boto3 clients against moto in server mode.
Faults (throttling, refused batches, a vanishing endpoint) are injected through botocore's event
hooks on the service's own client (see `tests.faults`); moto's instances are the fleet.
2026-03-27 is a Friday.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest

from offhours.aws import Clients
from offhours.catalog import default_catalog
from offhours.config import Config
from offhours.executor import Outcome
from offhours.local import IamLab, credentials_in_environment
from offhours.records import decision_record, level_of
from offhours.resources.ec2 import MAX_THROTTLES, Ec2Gateway
from offhours.service import RunReport, run
from offhours.state import fingerprint, fingerprint_holds
from tests.faults import Hooks, error_response, html_response
from tests.fleet import Fleet
from tests.iam import FUNCTION

OFFICE = "Mon-Fri 08:00-18:00 UTC"
FRIDAY_START = "2026-03-27T08:00:00Z"
FRIDAY_STOP = "2026-03-27T18:00:00Z"
THURSDAY_START = "2026-03-26T08:00:00Z"
THURSDAY_STOP = "2026-03-26T18:00:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def clients(iam_lab: IamLab) -> Clients:
    """The service's clients, shared by the module (a client costs ~0.3 s to build), with the
    credentials of the role that carries exactly the stack's policies (`tests.iam`)."""
    with credentials_in_environment(iam_lab.roles[FUNCTION]):
        session = boto3.Session()
        resolved = session.get_credentials()  # resolved now, and kept by the session
    assert resolved is not None and resolved.access_key == iam_lab.roles[FUNCTION].access_key_id
    return Clients(session)


@pytest.fixture
def hooks(clients: Clients) -> Iterator[Hooks]:
    """Event hooks on the service's own EC2 client; the fleet's client is left alone."""
    h = Hooks(clients.ec2("us-east-1"))
    yield h
    h.clear()


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays botocore's retry mode asks for, recorded instead of slept (throttling backs
    off for seconds; the retry logic itself runs unchanged)."""
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=delays.append))
    return delays


@pytest.fixture
def reconcile(fleet: Fleet, clients: Clients, iam_lab: IamLab) -> Callable[..., RunReport]:
    """A run of the service as the function's role, moto's IAM authorization on (the scene is
    set by the admin)."""

    def go(
        when: str,
        *,
        dry: bool = False,
        converge: bool = False,
        may_call: Callable[[], bool] | None = None,
        may_record: Callable[[], bool] | None = None,
        regions: tuple[str, ...] = ("us-east-1",),
        **config: Any,
    ) -> RunReport:
        cfg = Config(regions=regions, **config)
        with iam_lab.enforced():
            return run(
                cfg,
                at(when),
                clients=clients,
                catalog=default_catalog(),
                dry=dry,
                converge=converge,
                may_call=may_call,
                may_record=may_record,
            )

    return go


def outcome_of(report: RunReport, instance_id: str) -> Outcome:
    for target in report.targets:
        for o in target.outcomes:
            if o.decision.instance.id == instance_id:
                return o
    raise AssertionError(f"{instance_id} not in the report")


def evaluated_ids(report: RunReport) -> set[str]:
    return {o.decision.instance.id for t in report.targets for o in t.outcomes}


def total_attempts(clients: Clients) -> int:
    return int(clients.ec2("us-east-1").meta.config.retries["total_max_attempts"])


def instance_ids(call: dict[str, Any]) -> set[str]:
    return {v for k, v in call.items() if k.startswith(("InstanceId.", "ResourceId."))}


# -- adoption ---------------------------------------------------------------------------------


def test_a_newly_tagged_instance_is_adopted_and_waits_for_its_next_event(fleet, reconcile):
    iid = fleet.one(OFFICE)  # running at night: tagging it must not stop it
    report = reconcile("2026-03-26T22:00:00")
    assert fleet.state(iid) == "running"
    assert fleet.anchor(iid) == "2026-03-26T22:00:00Z"
    assert outcome_of(report, iid).outcome == "adopted"
    reconcile("2026-03-26T23:00:00")
    assert fleet.state(iid) == "running"
    reconcile("2026-03-27T08:05:00")  # the start event: already running
    assert fleet.state(iid) == "running"
    assert fleet.anchor(iid) == FRIDAY_START
    reconcile("2026-03-27T18:05:00")
    assert fleet.state(iid) == "stopped"
    assert fleet.anchor(iid) == FRIDAY_STOP


def test_a_stopped_instance_tagged_during_working_hours_is_not_started_on_the_spot(
    fleet, reconcile, hooks
):
    iid = fleet.one(OFFICE, state="stopped")
    starts = hooks.calls("StartInstances")
    report = reconcile("2026-03-27T10:00:00")
    assert fleet.state(iid) == "stopped"
    assert starts == []
    assert outcome_of(report, iid).outcome == "adopted"
    assert report.counts()["started"] == 0
    reconcile("2026-03-30T08:05:00")  # Monday's start is the schedule's first word on it
    assert fleet.state(iid) == "running"


# -- people are respected between events --------------------------------------------------------


def test_a_manual_start_after_a_stop_is_respected_until_the_next_event(fleet, reconcile):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    reconcile("2026-03-27T18:05:00")
    assert fleet.state(iid) == "stopped"
    fleet.start(iid)  # a person works late
    report = reconcile("2026-03-27T20:00:00")
    assert fleet.state(iid) == "running"
    assert "manual" in outcome_of(report, iid).reason
    reconcile("2026-03-30T07:55:00")
    assert fleet.state(iid) == "running"
    reconcile("2026-03-30T18:00:00")
    assert fleet.state(iid) == "stopped"


def test_a_manual_stop_inside_a_window_is_respected_until_the_next_event(fleet, reconcile):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    fleet.stop(iid)  # a person stops it at ten on Friday morning
    report = reconcile("2026-03-27T10:05:00")
    assert fleet.state(iid) == "stopped"
    assert "respected a manual change" in outcome_of(report, iid).reason
    assert fleet.anchor(iid) == FRIDAY_START
    reconcile("2026-03-27T17:55:00")
    assert fleet.state(iid) == "stopped"
    reconcile("2026-03-27T18:05:00")  # the stop: already there, so only A moves
    assert fleet.anchor(iid) == FRIDAY_STOP
    reconcile("2026-03-30T08:05:00")  # Monday's start is the next event
    assert fleet.state(iid) == "running"
    assert fleet.anchor(iid) == "2026-03-30T08:00:00Z"


# -- missed runs ------------------------------------------------------------------------------


def test_missed_runs_apply_only_the_latest_event(fleet, reconcile, hooks):
    # No run between Thursday 08:00 and Friday 09:00: Thursday's stop is never applied late.
    iid = fleet.one(OFFICE, handled=THURSDAY_START)
    stops = hooks.calls("StopInstances")
    starts = hooks.calls("StartInstances")
    report = reconcile("2026-03-27T09:00:00")
    assert fleet.state(iid) == "running"
    assert stops == [] and starts == []
    assert fleet.anchor(iid) == FRIDAY_START
    assert outcome_of(report, iid).decision.event.at == at(FRIDAY_START)


def test_missed_runs_across_a_start_and_a_stop_apply_only_the_stop(fleet, reconcile, hooks):
    iid = fleet.one(OFFICE, state="stopped", handled=THURSDAY_STOP)
    starts = hooks.calls("StartInstances")
    reconcile("2026-03-27T20:00:00")
    assert starts == []
    assert fleet.state(iid) == "stopped"
    assert fleet.anchor(iid) == FRIDAY_STOP


# -- enforce and converge -----------------------------------------------------------------------


def test_enforce_acts_at_once_on_a_newly_tagged_instance(fleet, reconcile):
    iid = fleet.one(f"{OFFICE} enforce")
    report = reconcile("2026-03-27T20:00:00")
    assert fleet.state(iid) == "stopped"
    assert fleet.anchor(iid) == FRIDAY_STOP
    assert outcome_of(report, iid).outcome == "done"


def test_enforce_undoes_manual_changes_at_every_run(fleet, reconcile):
    iid = fleet.one(f"{OFFICE} enforce", handled=FRIDAY_STOP, state="stopped")
    for minute in ("20:00", "20:15", "20:30"):
        fleet.start(iid)  # someone keeps starting it
        report = reconcile(f"2026-03-27T{minute}:00")
        assert fleet.state(iid) == "stopped"
        assert "enforce" in outcome_of(report, iid).reason
    reconcile("2026-03-30T10:00:00")  # inside the window enforce starts it again
    assert fleet.state(iid) == "running"
    fleet.stop(iid)
    reconcile("2026-03-30T10:05:00")
    assert fleet.state(iid) == "running"


def test_converge_brings_every_instance_to_its_desired_state_once(fleet, reconcile):
    new_running = fleet.one(OFFICE)
    started_by_hand = fleet.one(OFFICE, handled=FRIDAY_STOP)
    new_stopped = fleet.one(OFFICE, state="stopped")
    wants_running = fleet.one("Fri 19:00-23:00 UTC", state="stopped", handled=THURSDAY_STOP)
    report = reconcile("2026-03-27T20:00:00", converge=True)
    assert fleet.state(new_running) == "stopped"
    assert fleet.state(started_by_hand) == "stopped"
    assert fleet.state(new_stopped) == "stopped"
    assert fleet.state(wants_running) == "running"
    assert report.counts()["stopped"] == 2
    assert report.counts()["started"] == 1
    assert fleet.anchor(new_stopped) == FRIDAY_STOP
    assert fleet.anchor(wants_running) == "2026-03-27T19:00:00Z"
    # Once: the next ordinary run respects people again.
    fleet.start(started_by_hand)
    reconcile("2026-03-27T20:30:00")
    assert fleet.state(started_by_hand) == "running"


# -- changed tags -----------------------------------------------------------------------------


def test_a_changed_tag_value_on_an_earlier_versions_state_tag_is_judged_by_its_own_events(
    fleet, reconcile
):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)  # no fingerprint: an earlier version's
    fleet.ec2.create_tags(
        Resources=[iid], Tags=[{"Key": "Schedule", "Value": "Mon-Fri 08:00-11:00 UTC"}]
    )
    report = reconcile("2026-03-27T12:00:00")  # the new value's stop at 11:00 is later than A
    assert fleet.state(iid) == "stopped"
    assert fleet.anchor(iid) == "2026-03-27T11:00:00Z"
    assert outcome_of(report, iid).decision.event.at == at("2026-03-27T11:00:00")


def test_an_earlier_versions_state_tag_gets_its_fingerprint_then_a_changed_value_is_adopted(
    fleet, reconcile
):
    """A run with nothing to do writes the fingerprint an earlier version did not (background
    work, A as it was); from then on a changed value is adopted like a new one (DESIGN §3)."""
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    reconcile("2026-03-27T10:00:00")
    assert fleet.state(iid) == "running"
    assert fleet.tags(iid)["Schedule:offhours-fingerprint"] == fingerprint(iid, OFFICE)
    assert fleet.handled(iid) == FRIDAY_START  # A as it was, not rewritten
    fleet.ec2.create_tags(
        Resources=[iid], Tags=[{"Key": "Schedule", "Value": "Mon-Fri 08:00-11:00 UTC"}]
    )
    report = reconcile("2026-03-27T12:00:00")
    assert fleet.state(iid) == "running"
    assert outcome_of(report, iid).outcome == "adopted"


def test_a_changed_tag_value_whose_events_are_older_than_a_changes_nothing(fleet, reconcile):
    iid = fleet.one(OFFICE, handled="2026-03-27T12:00:00Z")
    fleet.ec2.create_tags(
        Resources=[iid], Tags=[{"Key": "Schedule", "Value": "Mon-Fri 08:00-11:00 UTC"}]
    )
    reconcile("2026-03-27T12:30:00")
    assert fleet.state(iid) == "running"
    reconcile("2026-03-30T11:05:00")
    assert fleet.state(iid) == "stopped"


# -- the state tag A ----------------------------------------------------------------------------


def test_the_state_tag_is_written_only_after_the_instance_reached_its_state(
    fleet, reconcile, hooks
):
    iid = fleet.one(OFFICE, handled=FRIDAY_START, fingerprinted=True)
    order: list[str] = []
    hooks.on("before-call.ec2.StopInstances", lambda **_: order.append("stop"))
    hooks.on("after-call.ec2.StopInstances", lambda **_: order.append("stopped"))
    hooks.on("before-call.ec2.CreateTags", lambda **_: order.append("tag"))
    reconcile("2026-03-27T18:05:00")
    assert order == ["stop", "stopped", "tag"]
    assert fleet.anchor(iid) == FRIDAY_STOP


def test_a_failed_stop_leaves_the_state_tag_so_the_next_run_retries(fleet, reconcile, hooks):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    hooks.refuse_batches_with("StopInstances", iid, "UnauthorizedOperation")
    report = reconcile("2026-03-27T18:05:00")
    assert fleet.state(iid) == "running"
    assert fleet.anchor(iid) == FRIDAY_START
    assert outcome_of(report, iid).outcome == "failed"
    assert outcome_of(report, iid).error_code == "UnauthorizedOperation"
    hooks.clear()
    report = reconcile("2026-03-27T18:15:00")
    assert fleet.state(iid) == "stopped"
    assert fleet.anchor(iid) == FRIDAY_STOP
    assert outcome_of(report, iid).outcome == "done"


# -- states that wait or do not count ---------------------------------------------------------


@pytest.mark.parametrize("state", ["pending", "stopping", "shutting-down"])
def test_instances_in_transition_wait_for_the_next_run(fleet, reconcile, hooks, state):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    codes = {"pending": 0, "stopping": 64, "shutting-down": 32}
    hooks.describe_as(iid, State={"Name": state, "Code": codes[state]})  # moto is instant
    stops = hooks.calls("StopInstances")
    tags = hooks.calls("CreateTags")
    report = reconcile("2026-03-27T20:00:00")
    assert stops == [] and tags == []
    assert outcome_of(report, iid).outcome == "skipped"
    assert "waits for the next run" in outcome_of(report, iid).reason
    hooks.clear()
    reconcile("2026-03-27T20:05:00")
    assert fleet.state(iid) == "stopped"


def test_terminated_instances_are_ignored(fleet, reconcile, hooks):
    gone = fleet.one(OFFICE, handled=FRIDAY_START)
    live = fleet.one(OFFICE, handled=FRIDAY_START)
    fleet.terminate(gone)
    tags = hooks.calls("CreateTags")
    report = reconcile("2026-03-27T20:00:00")
    assert evaluated_ids(report) == {live}
    assert report.counts()["evaluated"] == 1
    assert all(gone not in instance_ids(c) for c in tags)


def test_untagged_instances_are_not_listed(fleet, reconcile, hooks):
    fleet.one(None)
    tagged = fleet.one(OFFICE)
    describes = hooks.calls("DescribeInstances")
    report = reconcile("2026-03-27T20:00:00")
    assert evaluated_ids(report) == {tagged}
    server_side_filter = {"Filter.1.Name": "tag-key", "Filter.1.Value.1": "Schedule"}
    assert server_side_filter.items() <= describes[0].items()


# -- batches, failures, throttling ------------------------------------------------------------


def test_one_failing_instance_does_not_block_its_batch(fleet, reconcile, hooks):
    ids = fleet.launch(OFFICE, handled=FRIDAY_START, count=5)
    vanished = ids[3]
    # EC2 refuses the whole batch because of one id, as it does for an instance that vanished
    # between DescribeInstances and StopInstances. (Terminating it in moto would not do: moto
    # "stops" a terminated instance without complaint.)
    hooks.refuse_batches_with("StopInstances", vanished, "InvalidInstanceID.NotFound")
    report = reconcile("2026-03-27T20:00:00")
    for iid in ids:
        if iid == vanished:
            assert fleet.state(iid) == "running"
            assert fleet.anchor(iid) == FRIDAY_START
        else:
            assert fleet.state(iid) == "stopped"
            assert fleet.anchor(iid) == FRIDAY_STOP
    failed = outcome_of(report, vanished)
    assert failed.outcome == "failed"
    assert failed.error_code == "InvalidInstanceID.NotFound"
    assert "InvalidInstanceID.NotFound" in failed.reason
    assert decision_record(failed)["error_code"] == "InvalidInstanceID.NotFound"
    assert report.counts()["stopped"] == 4
    assert report.counts()["failed"] == 1


def test_instances_are_stopped_and_tagged_with_one_call_per_batch(fleet, reconcile, hooks):
    ids = fleet.launch(OFFICE, handled=FRIDAY_START, count=6, fingerprinted=True)
    stops = hooks.calls("StopInstances")
    tags = hooks.calls("CreateTags")
    reconcile("2026-03-27T20:00:00")
    assert len(stops) == 1 and instance_ids(stops[0]) == set(ids)
    assert len(tags) == 1 and instance_ids(tags[0]) == set(ids)
    assert all(fleet.anchor(i) == FRIDAY_STOP for i in ids)


def test_a_state_without_fingerprint_gets_its_own_once_after_the_actions(fleet, reconcile, hooks):
    ids = fleet.launch(OFFICE, handled=FRIDAY_START, count=3)  # as an earlier version left it
    order: list[str] = []
    hooks.on("before-call.ec2.StopInstances", lambda **_: order.append("stop"))
    tags = hooks.calls("CreateTags")
    hooks.on("before-call.ec2.CreateTags", lambda **_: order.append("tag"))
    reconcile("2026-03-27T20:00:00")
    # The stops and their A in one batch each; then the fingerprints, side by side in one value
    # written by one call, once.
    assert order == ["stop", "tag", "tag"]
    assert instance_ids(tags[0]) == set(ids) and instance_ids(tags[1]) == set(ids)
    assert len({fleet.fingerprint(i) for i in ids}) == 1
    assert all(fingerprint_holds(fleet.fingerprint(i) or "", i, OFFICE) for i in ids)
    reconcile("2026-03-30T08:05:00")  # Monday's start: the fingerprints are there, one batch
    assert len(tags) == 3 and instance_ids(tags[-1]) == set(ids)


def test_with_no_time_left_for_fingerprints_the_actions_are_still_done(fleet, reconcile):
    ids = fleet.launch(OFFICE, handled=FRIDAY_START, count=2)
    budget = iter([True, True])  # the target, the stop batch; then no new work (A is a record)
    report = reconcile(
        "2026-03-27T20:00:00", may_call=lambda: next(budget, False), may_record=lambda: True
    )
    for iid in ids:
        assert fleet.state(iid) == "stopped" and fleet.anchor(iid) == FRIDAY_STOP
        assert fleet.fingerprint(iid) is None  # read as matching; written at a later record
        assert outcome_of(report, iid).outcome == "done"


@pytest.mark.parametrize(("count", "batch_size"), [(5, 2), (6, 3), (1, 100)])
def test_the_gateway_splits_ids_into_batches_of_its_size(fleet, clients, hooks, count, batch_size):
    ids = fleet.launch(OFFICE, count=count)
    stops = hooks.calls("StopInstances")
    gateway = Ec2Gateway(clients.ec2("us-east-1"), tag_key="Schedule", batch_size=batch_size)
    result = gateway.stop(ids)
    assert len(stops) == math.ceil(count / batch_size) == result.calls
    assert all(len(instance_ids(c)) <= batch_size for c in stops)
    assert sorted(result.succeeded) == sorted(ids)
    assert all(fleet.state(i) == "stopped" for i in ids)


def test_throttling_is_retried_with_backoff(fleet, reconcile, hooks, backoff):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    refused = hooks.throttle("StopInstances", times=2)
    report = reconcile("2026-03-27T20:00:00")
    assert refused == [1, 2]
    assert len(backoff) == 2 and all(d > 0 for d in backoff)
    assert fleet.state(iid) == "stopped"
    assert fleet.anchor(iid) == FRIDAY_STOP
    assert report.counts()["failed"] == 0
    assert report.counts()["stopped"] == 1


def test_throttling_that_never_ends_is_deferred_without_a_state_tag_never_failed(
    fleet, reconcile, hooks, backoff, clients
):
    """Throttling is not a fault of the instance (DESIGN §4): botocore retries with backoff,
    then offhours waits for the bucket and tries again a few times, then leaves the stop to
    the next run: `deferred`, not `failed`, and the failed-actions alarm stays quiet."""
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    other = fleet.one("Fri 19:00-23:00 UTC", state="stopped", handled=THURSDAY_STOP)
    refused = hooks.throttle("StopInstances", times=None)
    report = reconcile("2026-03-27T20:00:00")
    rounds = MAX_THROTTLES + 1  # botocore's attempts, then a wait for the bucket, and again
    assert len(refused) == rounds * total_attempts(clients)
    assert fleet.state(iid) == "running"
    assert fleet.anchor(iid) == FRIDAY_START
    throttled = outcome_of(report, iid)
    assert throttled.outcome == "deferred"
    assert "rate limit" in throttled.reason and "not a fault of the instance" in throttled.reason
    assert fleet.state(other) == "running"  # the starts still went through
    assert report.counts()["failed"] == 0


# -- dry run ----------------------------------------------------------------------------------


def test_dry_run_changes_nothing(fleet, reconcile, hooks):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    new = fleet.one(OFFICE)
    changing = [hooks.calls(op) for op in ("StartInstances", "StopInstances", "CreateTags")]
    report = reconcile("2026-03-27T18:05:00", dry=True)
    assert changing == [[], [], []]
    assert fleet.state(iid) == "running"
    assert fleet.anchor(iid) == FRIDAY_START
    assert fleet.anchor(new) is None
    assert outcome_of(report, iid).outcome == "dry-run"
    assert outcome_of(report, new).outcome == "dry-run"
    assert report.counts()["stopped"] == 0
    assert report.details()["would_stop"] == 1


def test_the_dry_run_setting_of_the_deployment_is_honoured(fleet, clients):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    report = run(
        Config(regions=("us-east-1",), dry_run=True),
        at("2026-03-27T18:05:00"),
        clients=clients,
        catalog=None,
    )
    assert report.dry_run
    assert fleet.state(iid) == "running"


# -- instances that are never touched -----------------------------------------------------------


def test_auto_scaling_members_one_time_spot_and_instance_store_roots_are_never_stopped(
    fleet, reconcile, hooks
):
    value = f"{OFFICE} enforce"  # not even enforce touches them
    asg = fleet.one(value, tags={"aws:autoscaling:groupName": "web"})
    spot = fleet.one(value, InstanceMarketOptions={"MarketType": "spot"})
    store = fleet.one(value)
    # moto does not carry an AMI's instance-store root device type over to its instances.
    hooks.describe_as(store, RootDeviceType="instance-store")
    plain = fleet.one(value)
    stops = hooks.calls("StopInstances")
    report = reconcile("2026-03-27T20:00:00")
    assert [instance_ids(c) for c in stops] == [{plain}]
    for iid, words in (
        (asg, "Auto Scaling group 'web'"),
        (spot, "Spot"),
        (store, "instance store"),
    ):
        assert fleet.state(iid) == "running"
        assert outcome_of(report, iid).outcome == "skipped"
        assert words in outcome_of(report, iid).reason
    assert report.counts()["skipped"] == 3


@pytest.mark.parametrize("value", ["off", "None", ""])
def test_an_opted_out_instance_is_left_alone(fleet, reconcile, hooks, value):
    iid = fleet.one(value)
    tags = hooks.calls("CreateTags")
    report = reconcile("2026-03-27T20:00:00", converge=True)
    assert fleet.state(iid) == "running"
    assert tags == []
    assert outcome_of(report, iid).outcome == "skipped"
    assert "opted out" in outcome_of(report, iid).reason


def test_one_invalid_value_does_not_stop_the_others(fleet, reconcile):
    good = fleet.launch(OFFICE, handled=FRIDAY_START, count=2)
    bad = fleet.one("Mon-Fri 08:00-18:00 Mars/Olympus_Mons", handled=FRIDAY_START)
    report = reconcile("2026-03-27T20:00:00")
    assert all(fleet.state(i) == "stopped" for i in good)
    assert fleet.state(bad) == "running"
    assert fleet.anchor(bad) is None  # removed: a value fixed later is adopted
    outcome = outcome_of(report, bad)
    assert outcome.outcome == "invalid"
    assert "Mars/Olympus_Mons" in outcome.reason
    assert "zone" in outcome.reason
    assert level_of(outcome) == "WARNING"
    assert report.counts() == {
        "evaluated": 3, "started": 0, "stopped": 2, "skipped": 0, "invalid": 1, "failed": 0
    }  # fmt: skip


def test_a_256_character_noise_value_is_invalid_and_the_others_proceed(fleet, reconcile):
    rng = random.Random(256)
    noise = "".join(
        rng.choice(string.ascii_letters + string.digits + " +-=._:/@") for _ in range(256)
    )
    good = fleet.one(OFFICE, handled=FRIDAY_START)
    bad = fleet.one(noise, handled=FRIDAY_START)
    assert fleet.tags(bad)["Schedule"] == noise
    report = reconcile("2026-03-27T20:00:00")
    assert fleet.state(good) == "stopped"
    assert fleet.state(bad) == "running"
    assert outcome_of(report, bad).outcome == "invalid"
    assert outcome_of(report, bad).reason.startswith("invalid schedule")
    assert report.counts()["invalid"] == 1


# -- hibernate --------------------------------------------------------------------------------


def test_hibernate_hibernates_where_configured_and_stops_plainly_otherwise(fleet, reconcile, hooks):
    ready = fleet.one(
        f"{OFFICE} hibernate", handled=FRIDAY_START, HibernationOptions={"Configured": True}
    )
    plain = fleet.one(f"{OFFICE} hibernate", handled=FRIDAY_START)
    stops = hooks.calls("StopInstances")
    report = reconcile("2026-03-27T20:00:00")
    by_ids = {frozenset(instance_ids(c)): c for c in stops}
    assert set(by_ids) == {frozenset({ready}), frozenset({plain})}
    assert by_ids[frozenset({ready})].get("Hibernate") == "true"
    assert "Hibernate" not in by_ids[frozenset({plain})]
    assert fleet.state(ready) == fleet.state(plain) == "stopped"
    assert outcome_of(report, ready).decision.action == "hibernate"
    assert outcome_of(report, ready).decision.warning is None
    warned = outcome_of(report, plain)
    assert warned.decision.action == "stop"
    assert "not configured for hibernation" in (warned.decision.warning or "")
    assert level_of(warned) == "WARNING"
    assert report.counts()["stopped"] == 2


# -- limits and outages -------------------------------------------------------------------------


def test_a_run_near_its_time_limit_defers_the_rest_without_state_tags(fleet, reconcile, hooks):
    to_start = fleet.one("Fri 19:00-23:00 UTC", state="stopped", handled=THURSDAY_STOP)
    to_stop = fleet.launch(OFFICE, handled=FRIDAY_START, count=2)
    new = fleet.one(OFFICE)
    budget = iter([True, True])  # the target is begun, one call is made, then time is up
    tags = hooks.calls("CreateTags")
    report = reconcile("2026-03-27T20:00:00", may_call=lambda: next(budget, False))
    assert fleet.state(to_start) == "running"
    # Started, but its state tag could not be written: never reported done without it.
    started = outcome_of(report, to_start)
    assert started.outcome == "deferred" and started.changed
    assert "start done, but its state tag was not written" in started.reason
    assert tags == []
    assert fleet.anchor(to_start) == THURSDAY_STOP  # the next run records it
    for iid in to_stop:
        assert fleet.state(iid) == "running"
        assert fleet.anchor(iid) == FRIDAY_START
        assert outcome_of(report, iid).outcome == "deferred"
    assert fleet.anchor(new) is None
    assert outcome_of(report, new).outcome == "deferred"
    assert report.counts()["started"] == 1
    assert report.counts()["failed"] == 0
    reconcile("2026-03-27T20:05:00")  # the next run finishes the work
    assert all(fleet.state(i) == "stopped" for i in to_stop)
    assert fleet.anchor(to_start) == "2026-03-27T19:00:00Z"
    assert fleet.anchor(new) == "2026-03-27T20:05:00Z"


def test_the_state_tags_of_a_batch_just_acted_on_are_written_in_the_same_slice(fleet, reconcile):
    to_start = fleet.one("Fri 19:00-23:00 UTC", state="stopped", handled=THURSDAY_STOP)
    to_stop = fleet.launch(OFFICE, handled=FRIDAY_START, count=2)
    budget = iter([True, True])  # the target is begun, one call is made, then no new work...
    report = reconcile(
        "2026-03-27T20:00:00",
        may_call=lambda: next(budget, False),
        may_record=lambda: True,  # ...but the record of what was done still fits
    )
    assert fleet.state(to_start) == "running"
    assert fleet.anchor(to_start) == "2026-03-27T19:00:00Z"
    assert outcome_of(report, to_start).outcome == "done"
    for iid in to_stop:
        assert fleet.state(iid) == "running"
        assert fleet.anchor(iid) == FRIDAY_START
        assert outcome_of(report, iid).outcome == "deferred"


def test_an_endpoint_that_goes_away_mid_run_leaves_nothing_recorded_that_did_not_happen(
    fleet, reconcile, hooks, backoff, clients
):
    to_start = fleet.one("Fri 19:00-23:00 UTC", state="stopped", handled=THURSDAY_STOP)
    to_stop = fleet.one(OFFICE, handled=FRIDAY_START)
    new = fleet.one(OFFICE)
    attempts = hooks.unreachable("StopInstances")
    tags = hooks.calls("CreateTags")
    report = reconcile("2026-03-27T20:00:00")
    assert len(attempts) == total_attempts(clients)  # connection errors are retried too
    # The start, and its state tag, happened before the outage; nothing else is recorded.
    assert [instance_ids(c) for c in tags] == [{to_start}]
    assert fleet.state(to_start) == "running"
    assert fleet.anchor(to_start) == "2026-03-27T19:00:00Z"
    assert outcome_of(report, to_start).outcome == "done"
    assert fleet.state(to_stop) == "running"
    assert fleet.anchor(to_stop) == FRIDAY_START
    assert fleet.anchor(new) is None
    assert outcome_of(report, to_stop).outcome == "failed"
    assert outcome_of(report, to_stop).error_code == "EndpointUnavailable"
    assert outcome_of(report, new).outcome == "deferred"
    (target,) = report.targets
    assert target.error is not None and "went away" in target.error
    assert report.counts()["failed"] == 2  # the instance and the target


def test_an_unknown_region_fails_its_target_while_the_good_region_proceeds(fleet, reconcile):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    report = reconcile("2026-03-27T20:00:00", regions=("us-east-1", "eu-nowhere-1"))
    assert fleet.state(iid) == "stopped"
    by_region = {t.target.region: t for t in report.targets}  # the order turns from run to run
    good, bad = by_region["us-east-1"], by_region["eu-nowhere-1"]
    assert good.error is None
    assert bad.error is not None
    assert "eu-nowhere-1" in bad.error and "region" in bad.error
    assert report.counts()["stopped"] == 1
    assert report.counts()["failed"] == 1
    assert not report.all_targets_failed


def test_a_target_whose_endpoint_answers_garbage_fails_alone(fleet, reconcile, clients, backoff):
    iid = fleet.one(OFFICE, handled=FRIDAY_START)
    west = Hooks(clients.ec2("us-west-2"))
    # What moto itself answers for a region it has no backend for: an HTML error page.
    page = "<!doctype html><html><title>500 Internal Server Error</title></html>"
    west.on("before-send.ec2.DescribeInstances", lambda request, **_: html_response(request, page))
    try:
        report = reconcile("2026-03-27T20:00:00", regions=("us-west-2", "us-east-1"))
    finally:
        west.clear()
    assert fleet.state(iid) == "stopped"
    by_region = {t.target.region: t for t in report.targets}
    bad, good = by_region["us-west-2"], by_region["us-east-1"]
    assert good.error is None
    assert bad.error is not None and "us-west-2" in bad.error
    assert report.counts()["failed"] == 1


def test_a_start_that_did_not_hold_is_reported_failed_with_the_kms_hint(fleet, reconcile, hooks):
    iid = fleet.one(OFFICE, state="stopped", handled=THURSDAY_STOP)
    reconcile("2026-03-27T08:05:00")
    assert fleet.anchor(iid) == FRIDAY_START
    fleet.stop(iid)  # EC2 stops it again: an encrypted volume whose key it may not use
    # moto does not produce this state reason on its own.
    reason = {"Code": "Client.InternalError", "Message": "Client error on launch"}
    hooks.describe_as(iid, StateReason=reason)
    starts = hooks.calls("StartInstances")
    report = reconcile("2026-03-27T08:10:00")
    outcome = outcome_of(report, iid)
    assert outcome.outcome == "failed"
    assert outcome.error_code == "Client.InternalError"
    assert "kms:CreateGrant" in outcome.reason
    assert starts == []  # the same start is not tried again and again
    assert report.counts()["failed"] == 1


def _spot_requests(fleet: Fleet) -> dict[str, tuple[str, str]]:
    """Persistent and one-time Spot instances, as EC2 lists them: with their request ids."""
    made: dict[str, tuple[str, str]] = {}
    for kind in ("persistent", "one-time"):
        request = fleet.ec2.request_spot_instances(
            Type=kind,
            InstanceCount=1,
            LaunchSpecification={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
        )["SpotInstanceRequests"][0]
        iid = request["InstanceId"]
        fleet.ec2.create_tags(
            Resources=[iid],
            Tags=[
                {"Key": "Schedule", "Value": OFFICE},
                {"Key": "Schedule:offhours-handled", "Value": FRIDAY_START},
            ],
        )
        made[kind] = (iid, request["SpotInstanceRequestId"])
    return made


def test_a_persistent_spot_instance_is_scheduled_and_a_one_time_one_never(fleet, reconcile, hooks):
    spot = _spot_requests(fleet)
    for iid, request_id in spot.values():  # moto leaves the request id out of the listing
        hooks.describe_as(iid, SpotInstanceRequestId=request_id)
    report = reconcile("2026-03-27T18:05:00")
    persistent, one_time = spot["persistent"][0], spot["one-time"][0]
    assert fleet.state(persistent) == "stopped"
    assert fleet.state(one_time) == "running"
    assert "one-time Spot instance" in outcome_of(report, one_time).reason


def test_one_unreadable_spot_request_does_not_hide_the_others(fleet, reconcile, hooks):
    spot = _spot_requests(fleet)
    for iid, request_id in spot.values():
        hooks.describe_as(iid, SpotInstanceRequestId=request_id)
    ghost = fleet.one(OFFICE, handled=FRIDAY_START)
    hooks.describe_as(ghost, InstanceLifecycle="spot", SpotInstanceRequestId="sir-expired0")

    def refuse_unknown(request: Any, **_: Any) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        if "sir-expired0" in body:
            return error_response(request, 400, "InvalidSpotInstanceRequestID.NotFound", "gone")
        return None

    hooks.on("before-send.ec2.DescribeSpotInstanceRequests", refuse_unknown)
    report = reconcile("2026-03-27T18:05:00")
    assert fleet.state(spot["persistent"][0]) == "stopped"
    assert fleet.state(ghost) == "running"
    assert "could not be read" in outcome_of(report, ghost).reason


def test_enforce_on_a_schedule_that_always_runs_records_its_state_tag_once(fleet, reconcile, hooks):
    always = fleet.one("00:00-24:00 enforce", state="stopped")
    reconcile("2026-03-27T20:00:00")
    assert fleet.state(always) == "running"
    assert fleet.anchor(always) == "2026-03-27T20:00:00Z"
    tags = hooks.calls("CreateTags")
    reconcile("2026-03-27T20:05:00")
    assert tags == []  # already running and recorded: no call at all
    assert fleet.anchor(always) == "2026-03-27T20:00:00Z"
