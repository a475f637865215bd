"""Identity is never a name (DESIGN §3; issue 17, item 3): a state tag that came with tags
copied from another resource, and that no fingerprint of today's kind binds, is judged by the
resource's creation time. Through the real handler against the local endpoint, at the real
clock's time (moto stamps creation with it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from offhours.instance import Instance
from offhours.resources.rds import _since
from offhours.schedule import iso
from offhours.state import fingerprint, fingerprint_holds
from tests.harness import scheduled_event

HANDLED = "Schedule:offhours-handled"
FP = "Schedule:offhours-fingerprint"
PASSWORD = "not-a-secret-1"


def now_and_value(ahead: timedelta = timedelta(0)) -> tuple[datetime, str]:
    """The run's time (the clock, to the second, `ahead` of it) and a value whose stop was two
    minutes before."""
    now = datetime.now(UTC).replace(microsecond=0) + ahead
    stop = (now - timedelta(minutes=2)).replace(second=0)
    return now, f"stop={stop.minute} {stop.hour} * * *; tz=UTC"


def event(now: datetime) -> dict[str, Any]:
    return scheduled_event(time=iso(now), id=f"run-{iso(now)}")


@pytest.fixture
def rds(fleet: Any, moto_endpoint: Any) -> Any:
    del fleet  # resets the endpoint
    return boto3.client("rds", region_name="us-east-1", endpoint_url=moto_endpoint.url)


def database(rds: Any, name: str, tags: dict[str, str]) -> tuple[str, str]:
    created = rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin1",
        MasterUserPassword=PASSWORD,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["DBInstance"]
    return created["DBInstanceArn"], created["DbiResourceId"]


def status(rds: Any, name: str) -> str:
    found = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return str(found["DBInstanceStatus"])


def test_a_database_restored_under_its_old_name_is_adopted_not_stopped(rds, invoke, env):
    """AWS's "replace by restore": the old database is deleted and a snapshot restored under
    its name, with its tags. Its state tag (two days old) and its fingerprint, made by an
    earlier version from the ARN (the same ARN, made of the name), came with it: the database
    was created after that state was written, so it is adopted, never stopped on the spot."""
    env.setenv("RESOURCES", "rds")
    now, value = now_and_value()
    arn = "arn:aws:rds:us-east-1:123456789012:db:orders"
    old = iso(now - timedelta(days=2))
    restored, resource_id = database(
        rds, "orders", {"Schedule": value, HANDLED: f"{old} fp", FP: fingerprint(arn, value)}
    )
    assert restored == arn
    run = invoke(event(now))
    line = run.decisions[arn]
    assert status(rds, "orders") == "available"
    assert line["action"] == "adopt"
    assert "before it was created" in line["reason"]
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}
    assert fingerprint_holds(tags[FP], resource_id, value)  # bound to what no restore repeats
    assert tags[HANDLED].startswith(iso(now))


def test_an_earlier_versions_arn_fingerprint_written_since_creation_keeps_working(rds, invoke, env):
    """The same fingerprint on a database created before its state was written: its own,
    read as an earlier version's; the stop applies, and the fingerprint is rewritten on the
    resource id."""
    env.setenv("RESOURCES", "rds")
    now, value = now_and_value(ahead=timedelta(minutes=5))  # the stop: after the creation
    arn = "arn:aws:rds:us-east-1:123456789012:db:orders"
    _, resource_id = database(rds, "orders", {"Schedule": value})
    created = rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0][
        "InstanceCreateTime"
    ]
    # Written by an earlier version after the database was created, and before the stop.
    handled = iso(created.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1))
    rds.add_tags_to_resource(
        ResourceName=arn,
        Tags=[
            {"Key": HANDLED, "Value": f"{handled} fp"},
            {"Key": FP, "Value": fingerprint(arn, value)},
        ],
    )
    run = invoke(event(now))
    assert run.decisions[arn]["action"] == "stop"
    assert status(rds, "orders") == "stopped"
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}
    assert fingerprint_holds(tags[FP], resource_id, value)


def test_an_earlier_versions_state_tag_copied_onto_a_new_instance_is_not_believed(fleet, invoke):
    """A state tag without fingerprint (an earlier version's, read as matching) that a launch
    template carries to a new instance: it was written before the instance existed."""
    now, value = now_and_value()
    old = iso(now - timedelta(days=2))
    clone = fleet.one(value, name="clone", tags={HANDLED: old})
    run = invoke(event(now))
    assert fleet.state(clone) == "running"
    line = run.decisions[clone]
    assert line["action"] == "adopt" and "before it was created" in line["reason"]
    assert fingerprint_holds(fleet.fingerprint(clone) or "", clone, value)


def test_rds_events_before_a_databases_creation_are_not_its_own():
    created = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    run = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    db = Instance(id="arn:aws:rds:us-east-1:1:db:x", state="running", schedule="", created=created)
    assert _since(datetime(2026, 3, 10, tzinfo=UTC), db, run) == created
    assert _since(datetime(2026, 3, 25, tzinfo=UTC), db, run) == datetime(2026, 3, 25, tzinfo=UTC)
    # A creation time after the run's time says nothing (a simulation of the past).
    assert _since(datetime(2026, 3, 10, tzinfo=UTC), db, created - timedelta(days=1)) == datetime(
        2026, 3, 10, tzinfo=UTC
    )
