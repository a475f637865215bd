"""The hours of offhours' stops and their price (`offhours.savings`), from the state tag's
`off` word to the instant the stop ended."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from offhours.savings import Saving, Tally, stop_ended
from offhours.state import handled_value, read_anchor, read_off


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


STOP = t("2026-03-23T18:00:00")
START = t("2026-03-24T08:00:00")
OFF = handled_value(STOP, off=True)


def test_the_state_tag_says_off_and_reads_as_before():
    assert OFF == "2026-03-23T18:00:00Z fp off"
    assert read_off(OFF) and read_anchor(OFF) == (STOP, None)
    assert not read_off(handled_value(STOP)) and not read_off(None) and not read_off("")
    assert not read_off("off")  # the instant's place is not a word
    # One `off` is offhours' word; two are somebody else's tag, which is not trusted.
    assert read_anchor(f"{OFF} off")[0] is None


@pytest.mark.parametrize(
    ("state", "started", "expected"),
    [
        ("stopped", None, (STOP, START)),  # kept stopped up to the start event
        ("running", t("2026-03-24T01:30:00"), (STOP, t("2026-03-24T01:30:00"))),  # a person
        ("stopped", t("2026-03-24T01:30:00"), (STOP, t("2026-03-24T01:30:00"))),  # and again
        ("running", t("2026-03-24T08:02:00"), (STOP, START)),  # started after the event
        ("running", t("2026-03-23T07:00:00"), None),  # running since before: never stopped
        ("running", None, None),  # running since AWS does not say when: nothing counted
    ],
)
def test_a_stop_ends_at_the_next_event_or_when_aws_says_it_was_started(state, started, expected):
    assert stop_ended(OFF, START, state, started) == expected


def test_a_stop_made_later_than_its_event_counts_from_when_it_was_made():
    late = t("2026-03-30T07:00:00")  # Friday's stop, made on Monday morning
    state = handled_value(t("2026-03-27T18:00:00"), off=late)
    assert state == "2026-03-27T18:00:00Z fp off=2026-03-30T07:00:00Z"
    assert read_anchor(state)[0] == t("2026-03-27T18:00:00") and read_off(state)
    assert stop_ended(state, t("2026-03-30T08:00:00"), "stopped", None) == (
        late,
        t("2026-03-30T08:00:00"),
    )
    assert read_anchor(f"{state} off")[0] is None  # two of them: not offhours' tag


def test_no_stop_counts_from_before_the_resource_was_created():
    created = t("2026-03-24T06:00:00")
    assert stop_ended(OFF, START, "stopped", None, created) == (created, START)
    # A creation after the stop's end cannot be: a clock's error, not believed.
    assert stop_ended(OFF, START, "stopped", None, t("2026-03-24T09:00:00")) == (STOP, START)


def test_no_stop_ends_where_a_did_not_move_or_the_state_never_said_off():
    assert stop_ended(OFF, STOP, "stopped", None) is None  # A stays: the stop goes on
    assert stop_ended(OFF, None, "stopped", None) is None  # nothing written
    assert stop_ended(handled_value(STOP), START, "stopped", None) is None  # a start's A
    assert stop_ended("not an instant off", START, "stopped", None) is None
    assert stop_ended(handled_value(START, off=True), STOP, "stopped", None) is None  # earlier


def test_a_saving_is_hours_times_the_price_and_unknown_where_the_price_is():
    priced = Saving(STOP, START, 0.096)
    assert priced.hours == 14.0 and priced.usd == pytest.approx(1.344)
    unpriced = Saving(STOP, START, None)
    assert unpriced.hours == 14.0 and unpriced.usd is None
    tally = Tally()
    tally.add("ec2", priced)
    tally.add("ec2", unpriced)
    tally.add("rds", Saving(STOP, START, 0.13))
    assert tally.summary() == {
        "ec2": {"stopped_hours": 28.0, "saved_usd": 1.344, "unpriced": 1},
        "rds": {"stopped_hours": 14.0, "saved_usd": 1.82, "unpriced": 0},
    }


# -- through the real handler: the metrics' sums are hours x price of the true history --------

LINUX = "ami-760aaa0f"  # one of moto's Amazon Linux images (priced as Linux/UNIX)
OFFICE = "Mon-Fri 08:00-18:00 UTC"
# The runs: at the instants of the events of a week and a weekend (so that the true history,
# read from the states after each run, changes at the events, as offhours counts), and quiet
# ones between.
RUNS = [
    "2026-03-23T12:00:00",  # adopts: nothing counted
    "2026-03-23T18:00:00",  # stops
    "2026-03-23T23:00:00",  # quiet
    "2026-03-24T08:00:00",  # starts: Monday night counted (14 h)
    "2026-03-24T18:00:00",
    "2026-03-25T08:00:00",
    "2026-03-27T18:00:00",  # Friday's stop (Wednesday's and Thursday's events missed: caught up)
    "2026-03-28T12:00:00",  # quiet, a Saturday
    "2026-03-30T08:00:00",  # Monday's start: the weekend counted (62 h)
]


def test_a_weeks_saved_dollars_are_the_hours_offhours_kept_them_stopped_times_their_price(
    fleet, invoke, hooks, moto_endpoint
):
    import boto3

    from offhours import pricing, runtime
    from tests.faults import Hooks
    from tests.harness import scheduled_event

    pricing.clear_cache()
    asked: list[str] = []
    price_list = Hooks(runtime.clients.client("pricing", "us-east-1"))
    price_list.on("before-call.pricing.GetProducts", lambda **_: asked.append("GetProducts"))
    # The prices of a kind's ended stops are asked after its actions (background work).
    hooks.on("before-call.ec2.StartInstances", lambda **_: asked.append("StartInstances"))
    rds = boto3.client("rds", region_name="us-east-1", endpoint_url=moto_endpoint.url)
    box = _box(fleet)
    pair = rds.create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        MultiAZ=True,
        AllocatedStorage=20,
        MasterUsername="admin1",
        MasterUserPassword="not-a-secret-1",
        Tags=[{"Key": "Schedule", "Value": OFFICE}],
    )["DBInstance"]["DBInstanceArn"]
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="reports",
        Engine="aurora-postgresql",
        MasterUsername="admin1",
        MasterUserPassword="not-a-secret-1",
        Tags=[{"Key": "Schedule", "Value": OFFICE}],
    )["DBCluster"]["DBClusterArn"]
    for n in (1, 2):
        rds.create_db_instance(
            DBInstanceIdentifier=f"reports-{n}",
            DBClusterIdentifier="reports",
            Engine="aurora-postgresql",
            DBInstanceClass="db.t4g.medium",
        )
    prices = {box: 0.0416, pair: 2 * 0.016, cluster: 2 * 0.073}
    families = {box: "ec2", pair: "rds", cluster: "rds"}
    # A person starts the box on Tuesday at 23:00; EC2 says so in its launch time.
    person = t("2026-03-24T23:00:00")
    runs = [t(text) for text in RUNS]
    runs.insert(5, person)
    truth = {arn: 0.0 for arn in prices}  # hours stopped by offhours, from the states seen
    stopped_since: dict[str, datetime] = {}
    hours: dict[str, float] = {}
    dollars: dict[str, float] = {}
    lines: list[dict[str, object]] = []
    calls_made: list[int] = []

    def state(arn: str) -> str:
        if arn == box:
            return fleet.state(box)
        if arn == cluster:
            return str(
                rds.describe_db_clusters(DBClusterIdentifier="reports")["DBClusters"][0]["Status"]
            )
        return str(
            rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0][
                "DBInstanceStatus"
            ]
        )

    for at in runs:
        if at == person:
            for arn, since in list(stopped_since.items()):
                if arn == box:
                    truth[box] += (person - since).total_seconds() / 3600
                    del stopped_since[box]
            fleet.ec2.start_instances(InstanceIds=[box])
            hooks.describe_as(box, LaunchTime=person)
            continue
        before = {arn: state(arn) for arn in prices}
        asked.clear()
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        run = invoke(scheduled_event(time=stamp, id=f"run-{stamp}"))
        assert run.result is not None and run.result["failed"] == 0
        for arn in prices:
            after = state(arn)
            if before[arn] != "stopped" and after == "stopped":
                stopped_since[arn] = at
            elif arn in stopped_since and after != "stopped":
                truth[arn] += (at - stopped_since.pop(arn)).total_seconds() / 3600
        for blob in run.emf_by_resource:
            for name, into in (("stopped_hours", hours), ("saved_usd", dollars)):
                if name in blob:
                    value = blob[name]
                    into[blob["resource"]] = into.get(blob["resource"], 0.0) + float(
                        value[0] if isinstance(value, list) else value
                    )
        ended = [line for line in run.decisions.values() if "stopped_hours" in line]
        lines += ended
        if not ended:  # a quiet run, or one whose stops began: never a price asked
            assert "GetProducts" not in asked, at
        if "StartInstances" in asked and "GetProducts" in asked:
            assert asked[-1] == "GetProducts" and asked.index("StartInstances") < len(asked) - 1
        calls_made.append(asked.count("GetProducts"))
    assert truth[box] == pytest.approx(14 + 5 + 62)  # Monday night; Tuesday to the person
    assert truth[pair] == truth[cluster] == pytest.approx(14 + 14 + 62)
    expected_hours = {"ec2": truth[box], "rds": truth[pair] + truth[cluster]}
    expected_usd = {
        family: sum(truth[arn] * prices[arn] for arn in prices if families[arn] == family)
        for family in ("ec2", "rds")
    }
    # One GetProducts a price (the box, the pair, the cluster's members' class), once a day.
    assert sum(calls_made) == 3
    price_list.clear()
    assert hours == pytest.approx(expected_hours)
    assert dollars == pytest.approx(expected_usd, abs=1e-4)
    by_resource = {(line["instance_id"], line["stopped_from"]): line for line in lines}
    night = by_resource[(box, "2026-03-24T18:00:00Z")]
    assert night["stopped_until"] == "2026-03-24T23:00:00Z"  # when the person started it
    assert night["hourly_usd"] == 0.0416 and night["saved_usd"] == pytest.approx(5 * 0.0416)
    weekend = by_resource[(cluster, "2026-03-27T18:00:00Z")]
    assert weekend["stopped_hours"] == 62.0 and weekend["hourly_usd"] == pytest.approx(0.146)


def _box(fleet, **launch: object) -> str:
    """A t3.medium of office hours on Linux (priced at $0.0416 an hour)."""
    return str(fleet.one(OFFICE, ImageId=LINUX, InstanceType="t3.medium", **launch))


def _at(text: str) -> dict[str, object]:
    from tests.harness import scheduled_event

    return scheduled_event(time=f"{text}Z", id=f"run-{text}")


def test_a_copied_or_forged_off_word_claims_no_hours(fleet, invoke):
    """A state tag not the resource's own (no fingerprint: an earlier version's, or forged; or
    copied with its "fp" but without the fingerprint tag) never counts a stop."""
    legacy = _box(
        fleet,
        state="stopped",
        handled="2025-01-03T18:00:00Z off",
    )
    copied = _box(
        fleet,
        state="stopped",
        handled="2026-03-20T18:00:00Z fp off",
    )
    run = invoke(_at("2026-03-23T08:00:00"))
    for iid in (legacy, copied):
        assert "stopped_hours" not in run.decisions[iid]
    assert "savings" not in run.summary


def test_a_stop_made_late_counts_from_when_it_was_made(fleet, invoke):
    box = _box(
        fleet,
        handled="2026-03-27T08:00:00Z",
        fingerprinted=True,
    )
    invoke(_at("2026-03-30T07:00:00"))  # Friday's 18:00 stop, made on Monday at 07:00
    assert fleet.handled(box) == "2026-03-27T18:00:00Z fp off=2026-03-30T07:00:00Z"
    run = invoke(_at("2026-03-30T08:00:00"))
    line = run.decisions[box]
    assert line["action"] == "start" and line["stopped_hours"] == 1.0
    assert line["stopped_from"] == "2026-03-30T07:00:00Z"
    assert line["saved_usd"] == pytest.approx(0.0416)


def test_hours_a_person_kept_an_instance_stopped_are_said_apart_from_offhours(fleet, invoke, hooks):
    box = _box(
        fleet,
        handled="2026-03-24T08:00:00Z",
        fingerprinted=True,
    )
    fleet.ec2.stop_instances(InstanceIds=[box])  # a person, at 10:00 (as EC2 will say)
    hooks.describe_as(box, StateTransitionReason="User initiated (2026-03-24 10:00:00 GMT)")
    run = invoke(_at("2026-03-24T18:00:00"))
    line = run.decisions[box]
    assert line["people_stopped_hours"] == 8.0
    assert line["people_stopped_from"] == "2026-03-24T10:00:00Z"
    assert "stopped_hours" not in line  # not offhours' stop
    assert fleet.handled(box) == "2026-03-24T18:00:00Z fp off"  # offhours' from the event on
    # A stop offhours made itself is never a person's, though EC2 says "User initiated" too.
    hooks.describe_as(box, StateTransitionReason="User initiated (2026-03-24 18:00:00 GMT)")
    run = invoke(_at("2026-03-25T08:00:00"))
    line = run.decisions[box]
    assert line["stopped_hours"] == 14.0 and "people_stopped_hours" not in line
