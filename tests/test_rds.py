"""RDS databases and Aurora clusters on the same tags, through the real handler on moto.

The RDS calls go to moto in server mode like the EC2 ones; what moto does not do (the event of a
seven-day restart, a stop that RDS refuses) is put in through botocore's own hooks on the
handler's RDS client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from offhours import runtime, service
from offhours.config import Config
from offhours.resources.rds import (
    MAX_EVENT_PAGES,
    PER_DATABASE_LISTINGS,
    cluster_skip,
    instance_skip,
    split_arn,
)
from offhours.state import fingerprint
from tests.faults import Hooks, _Body, params_of, query_error_response
from tests.harness import Invocation, LambdaContext, scheduled_event

OFFICE = "Mon-Fri 08:00-18:00 UTC"
MONTHLY = "start=0 8 1 * *; stop=0 18 1 * *"  # up on the 1st only: stopped for weeks
HANDLED = "Schedule:offhours-handled"
OVERRIDE = "Schedule:override"
PASSWORD = "not-a-secret-1"
RESTART_MESSAGE = {
    "db-instance": (
        "DB instance is being started due to it exceeding the maximum allowed time being stopped."
    ),
    "db-cluster": (
        "DB cluster is being started due to it exceeding the maximum allowed time being stopped."
    ),
}


class Databases:
    """Creates databases through the RDS API, as a person or a pipeline would."""

    def __init__(self, rds: Any) -> None:
        self.rds = rds

    @staticmethod
    def _tags(schedule: str | None, handled: str | None) -> list[Any]:
        tags = {}
        if schedule is not None:
            tags["Schedule"] = schedule
        if handled is not None:
            tags[HANDLED] = handled
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def db(
        self,
        name: str,
        schedule: str | None = OFFICE,
        *,
        handled: str | None = None,
        engine: str = "postgres",
        **args: Any,
    ) -> str:
        created = self.rds.create_db_instance(
            DBInstanceIdentifier=name,
            Engine=engine,
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="admin1",
            MasterUserPassword=PASSWORD,
            Tags=self._tags(schedule, handled),
            **args,
        )
        arn: str = created["DBInstance"]["DBInstanceArn"]
        return arn

    def cluster(
        self, name: str, schedule: str | None = OFFICE, *, handled: str | None = None, **args: Any
    ) -> str:
        created = self.rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine=args.pop("Engine", "aurora-postgresql"),
            MasterUsername="admin1",
            MasterUserPassword=PASSWORD,
            Tags=self._tags(schedule, handled),
            **args,
        )
        arn: str = created["DBCluster"]["DBClusterArn"]
        return arn

    def member(self, name: str, cluster: str, schedule: str | None = None) -> str:
        created = self.rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier=cluster,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r5.large",
            Tags=self._tags(schedule, None),
        )
        arn: str = created["DBInstance"]["DBInstanceArn"]
        return arn

    def state(self, arn: str) -> str:
        kind, name = split_arn(arn)
        if kind == "rds:cluster":
            return str(
                self.rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["Status"]
            )
        found = self.rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        return str(found["DBInstanceStatus"])

    def tags(self, arn: str) -> dict[str, str]:
        listed = self.rds.list_tags_for_resource(ResourceName=arn)["TagList"]
        return {t["Key"]: t["Value"] for t in listed}

    def tag(self, arn: str, key: str, value: str) -> None:
        self.rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": key, "Value": value}])

    def start(self, arn: str) -> None:
        kind, name = split_arn(arn)
        if kind == "rds:cluster":
            self.rds.start_db_cluster(DBClusterIdentifier=name)
        else:
            self.rds.start_db_instance(DBInstanceIdentifier=name)

    def stop(self, arn: str) -> None:
        kind, name = split_arn(arn)
        if kind == "rds:cluster":
            self.rds.stop_db_cluster(DBClusterIdentifier=name)
        else:
            self.rds.stop_db_instance(DBInstanceIdentifier=name)


@pytest.fixture(scope="module")
def rds_session_client(moto_endpoint: Any) -> Any:
    return boto3.client("rds", region_name="us-east-1", endpoint_url=moto_endpoint.url)


@pytest.fixture
def dbs(fleet: Any, rds_session_client: Any) -> Databases:
    """An empty RDS (the `fleet` fixture resets the endpoint)."""
    del fleet
    return Databases(rds_session_client)


@pytest.fixture
def rds_hooks(moto_endpoint: Any) -> Iterator[Hooks]:
    """Hooks on the RDS client that the handler uses."""
    h = Hooks(runtime.clients.target("rds", "us-east-1"))
    yield h
    h.clear()


def at(text: str) -> dict[str, Any]:
    return scheduled_event(time=f"{text}Z", id=f"run-{text}")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def restart_event(arn: str, when: str) -> dict[str, Any]:
    """What DescribeEvents shows when RDS starts a database stopped for seven days
    (RDS-EVENT-0154 for an instance, RDS-EVENT-0153 for a cluster)."""
    kind, name = split_arn(arn)
    source = "db-cluster" if kind == "rds:cluster" else "db-instance"
    return {
        "SourceIdentifier": name,
        "SourceType": source,
        "Message": RESTART_MESSAGE[source],
        "EventCategories": ["notification"],
        "Date": instant(when),
        "SourceArn": arn,
    }


def events_xml(events: list[dict[str, Any]], marker: str | None = None) -> bytes:
    """RDS's DescribeEvents answer, as RDS sends it over HTTP (the query protocol's XML)."""
    from xml.sax.saxutils import escape

    items = []
    for e in events:
        categories = "".join(
            f"<EventCategory>{escape(c)}</EventCategory>" for c in e.get("EventCategories", [])
        )
        date = e["Date"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        items.append(
            f"<Event><SourceIdentifier>{escape(e['SourceIdentifier'])}</SourceIdentifier>"
            f"<SourceType>{escape(e['SourceType'])}</SourceType>"
            f"<Message>{escape(e['Message'])}</Message>"
            f"<EventCategories>{categories}</EventCategories><Date>{date}</Date>"
            f"<SourceArn>{escape(e.get('SourceArn', ''))}</SourceArn></Event>"
        )
    more = f"<Marker>{escape(marker)}</Marker>" if marker else ""
    return (
        '<DescribeEventsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        f"<DescribeEventsResult>{more}<Events>{''.join(items)}</Events></DescribeEventsResult>"
        "<ResponseMetadata><RequestId>offhours-test</RequestId></ResponseMetadata>"
        "</DescribeEventsResponse>"
    ).encode()


def show_events(
    hooks: Hooks, events: list[dict[str, Any]], *, fail_at_page: int | None = None
) -> list[dict[str, list[str]]]:
    """DescribeEvents answers with `events` (moto makes none of these), injected at the HTTP
    layer as RDS would send them: filtered on the source type, the source identifier, the
    event categories and the time span asked for, oldest first, MaxRecords a page, with a
    Marker while more remain. `fail_at_page` (1 for the first) is answered with an error, as a
    page that RDS fails to give. Returns the parameters of every request seen."""
    asked: list[dict[str, list[str]]] = []

    def when(params: dict[str, list[str]], name: str) -> datetime | None:
        value = params.get(name)
        return datetime.fromisoformat(value[0]) if value else None

    def answer(request: Any, **_: Any) -> AWSResponse:
        params = params_of(request)
        asked.append(params)
        sources = params.get("SourceType", [])
        names = params.get("SourceIdentifier", [])
        categories = [v[0] for k, v in params.items() if k.startswith("EventCategories.")]
        start, end = when(params, "StartTime"), when(params, "EndTime")
        shown = sorted(
            (
                e
                for e in events
                if (not sources or e["SourceType"] in sources)
                and (not names or e["SourceIdentifier"] in names)
                and (not categories or set(categories) & set(e.get("EventCategories", [])))
                and (start is None or e["Date"] >= start)
                and (end is None or e["Date"] <= end)
            ),
            key=lambda e: e["Date"],
        )
        offset = int(params.get("Marker", ["0"])[0])
        size = int(params.get("MaxRecords", ["100"])[0])
        if fail_at_page is not None and offset // size + 1 == fail_at_page:  # retries too
            return query_error_response(request, 400, "InternalFailure", "try again", "Receiver")
        page = shown[offset : offset + size]
        more = str(offset + size) if offset + size < len(shown) else None
        return AWSResponse(request.url, 200, {}, _Body(events_xml(page, more)))

    hooks.on("before-send.rds.DescribeEvents", answer)
    return asked


def notification(name: str, message: str, when: datetime, category: str = "notification") -> Any:
    """An event of another kind than a restart, of the DB instance `name`."""
    return {
        "SourceIdentifier": name,
        "SourceType": "db-instance",
        "Message": message,
        "EventCategories": [category],
        "Date": when,
    }


def others_stopping(count: int, start: str) -> list[dict[str, Any]]:
    """`count` other databases of the region (not offhours') stopping, a second apart from
    `start`: RDS-EVENT-0087, in the notification category like a restart."""
    first = instant(start)
    return [
        notification(f"other-{k}", "DB instance stopped", first + timedelta(seconds=k))
        for k in range(count)
    ]


def refuse(hooks: Hooks, operation: str, name: str, code: str) -> list[str]:
    """RDS refuses `operation` on the database `name` with `code`, as it does a database that
    is not available. Returns the refusals."""
    refused: list[str] = []

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        params = params_of(request)
        if name not in params.get("DBInstanceIdentifier", []) + params.get(
            "DBClusterIdentifier", []
        ):
            return None
        refused.append(name)
        message = f"DB instance {name} is not in available state."
        return query_error_response(request, 400, code, message)

    hooks.on(f"before-send.rds.{operation}", answer)
    return refused


def decision(run: Invocation, arn: str) -> dict[str, Any]:
    return run.decisions[arn]


# -- a week ------------------------------------------------------------------------------------


def test_a_database_and_an_aurora_cluster_follow_office_hours_through_a_week(dbs, invoke):
    db = dbs.db("dev-db")
    cluster = dbs.cluster("dev-aurora")
    dbs.member("dev-aurora-1", "dev-aurora")  # untagged: it follows its cluster
    first = invoke(at("2026-03-23T07:00:00"))  # Monday, before office hours: adopted, not stopped
    for arn in (db, cluster):
        line = decision(first, arn)
        assert line["action"] == "adopt" and dbs.state(arn) == "available"
    assert decision(first, db)["resource_type"] == "rds:db"
    assert decision(first, db)["instance_name"] == "dev-db"
    assert decision(first, cluster)["resource_type"] == "rds:cluster"
    # The fingerprint names the database by its DbiResourceId, which no restore gives again.
    resource_id = dbs.rds.describe_db_instances(DBInstanceIdentifier="dev-db")["DBInstances"][0][
        "DbiResourceId"
    ]
    assert dbs.tags(db)["Schedule:offhours-fingerprint"] == fingerprint(resource_id, OFFICE)

    seen: dict[str, list[tuple[str, str]]] = {db: [], cluster: []}
    days = ["2026-03-23", "2026-03-24", "2026-03-25", "2026-03-26", "2026-03-27"]
    runs = [f"{d}T{t}" for d in days for t in ("08:05:00", "18:05:00")]
    runs += ["2026-03-28T12:00:00", "2026-03-29T12:00:00", "2026-03-30T08:05:00"]
    for when in runs:
        run = invoke(at(when))
        assert run.error is None and run.result is not None and run.result["failed"] == 0
        for arn in seen:
            line = run.decisions.get(arn)
            if line is not None and line["action"] in ("start", "stop"):
                assert line["outcome"] == "done", line
                seen[arn].append((when, line["action"]))
            seen[arn].append((when, dbs.state(arn)))
    expected: list[tuple[str, str]] = [("2026-03-23T08:05:00", "available")]
    for when in runs[1:]:
        hour = when[11:13]
        weekend = when[:10] in ("2026-03-28", "2026-03-29")
        if weekend:
            expected.append((when, "stopped"))
        else:
            action, state = ("stop", "stopped") if hour == "18" else ("start", "available")
            expected += [(when, action), (when, state)]
    assert seen[db] == expected
    assert seen[cluster] == expected
    assert dbs.tags(db)[HANDLED] == "2026-03-30T08:00:00Z fp"


def test_the_stop_of_a_database_is_logged_counted_and_put_as_metrics_by_resource(
    dbs, fleet, invoke
):
    db = dbs.db("reports", handled="2026-03-27T08:00:00Z")
    box = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    line = decision(run, db)
    assert line["action"] == "stop" and line["outcome"] == "done"
    assert line["previous_state"] == "running" and line["desired_state"] == "stopped"
    assert line["reason"] == "the schedule's stop at 2026-03-27T18:00:00Z applies"
    assert line["state_tag_after"].startswith("2026-03-27T18:00:00Z fp=")
    assert line["request_id"]
    assert decision(run, box)["resource_type"] == "ec2:instance"
    assert run.result is not None and run.result["stopped"] == 2
    resources = run.summary["resources"]
    assert resources["rds"]["stopped"] == 1 and resources["ec2"]["stopped"] == 1
    assert resources["rds"]["evaluated"] == 1
    by_resource = {
        (blob["resource"], name): blob[name]
        for blob in run.emf_by_resource
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for name in [m["Name"] for m in directive["Metrics"]]
    }
    assert by_resource == {("rds", "stopped"): [1.0], ("ec2", "stopped"): [1.0]}
    assert run.emf["stopped"] in (2, [2], [2.0])


# -- what is never touched ----------------------------------------------------------------------


def test_cluster_members_and_read_replicas_are_skipped_with_the_reason(dbs, fleet):
    source = dbs.db("orders", handled="2026-03-27T08:00:00Z")
    replica = dbs.rds.create_db_instance_read_replica(
        DBInstanceIdentifier="orders-replica",
        SourceDBInstanceIdentifier="orders",
        Tags=[{"Key": "Schedule", "Value": OFFICE}],
    )["DBInstance"]["DBInstanceArn"]
    dbs.cluster("ledger", schedule=None)
    member = dbs.member("ledger-1", "ledger", schedule=OFFICE)
    config = Config(regions=("us-east-1",))
    report = service.run(
        config, instant("2026-03-27T18:05:00"), clients=runtime.clients, catalog=None
    )
    outcomes = {o.decision.instance.id: o for t in report.targets for o in t.outcomes}
    assert outcomes[member].outcome == "skipped"
    assert "member of DB cluster 'ledger'" in outcomes[member].reason
    assert "schedule the cluster instead" in outcomes[member].reason
    assert outcomes[replica].outcome == "skipped"
    assert "read replica of 'orders'" in outcomes[replica].reason
    assert outcomes[source].outcome == "skipped"
    assert "it has read replicas (orders-replica)" in outcomes[source].reason
    for arn in (source, replica, member):
        assert dbs.state(arn) == "available"
    del fleet


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"Engine": "postgres"}, None),
        ({"Engine": "mysql", "MultiAZ": True}, None),
        ({"Engine": "sqlserver-se", "MultiAZ": False}, None),
        ({"Engine": "sqlserver-se", "MultiAZ": True}, "SQL Server in a Multi-AZ deployment"),
        ({"Engine": "custom-sqlserver-ee", "MultiAZ": True}, "Multi-AZ"),
        ({"Engine": "oracle-ee"}, None),
        ({"Engine": "docdb"}, "engine 'docdb'"),
        ({"Engine": "neptune"}, "engine 'neptune'"),
        ({"Engine": "aurora-mysql", "DBClusterIdentifier": "c"}, "member of DB cluster 'c'"),
        ({"Engine": "mysql", "ReadReplicaSourceDBInstanceIdentifier": "m"}, "read replica"),
        ({"Engine": "mysql", "ReadReplicaDBInstanceIdentifiers": ["r"]}, "has read replicas"),
        ({"Engine": "mysql", "ReadReplicaDBClusterIdentifiers": ["c"]}, "has read replicas"),
    ],
)
def test_which_db_instances_rds_cannot_stop(item, words):
    reason = instance_skip(item)
    assert reason is None if words is None else (reason is not None and words in reason)


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"Engine": "aurora-postgresql", "EngineMode": "provisioned"}, None),
        ({"Engine": "aurora-mysql", "EngineMode": "serverless"}, "Aurora Serverless v1"),
        ({"Engine": "mysql"}, None),  # a Multi-AZ DB cluster
        ({"Engine": "neptune"}, None),  # scheduled as a cluster: tests/test_docdb.py
        ({"Engine": "docdb"}, None),
        ({"Engine": "cassandra"}, "engine 'cassandra'"),
        ({"Engine": "aurora-mysql", "GlobalClusterIdentifier": "g"}, "global database 'g'"),
        ({"Engine": "aurora-mysql", "ReplicationSourceIdentifier": "arn:x"}, "replica of"),
        ({"Engine": "aurora-mysql", "ReadReplicaIdentifiers": ["arn:y"]}, "cross-Region"),
    ],
)
def test_which_clusters_rds_cannot_stop(item, words):
    reason = cluster_skip(item)
    assert reason is None if words is None else (reason is not None and words in reason)


def test_a_serverless_v1_cluster_is_never_stopped(dbs, invoke):
    arn = dbs.cluster(
        "old-serverless",
        handled="2026-03-27T08:00:00Z",
        Engine="aurora-mysql",
        EngineMode="serverless",
    )
    invoke(at("2026-03-27T18:05:00"))
    assert dbs.state(arn) == "available"
    assert HANDLED in dbs.tags(arn) and dbs.tags(arn)[HANDLED] == "2026-03-27T08:00:00Z"


# -- the seven-day restart ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["db", "cluster"])
def test_a_restart_by_rds_after_seven_days_is_stopped_again_and_a_person_is_respected(
    dbs, invoke, rds_hooks, kind
):
    make: Callable[..., str] = dbs.db if kind == "db" else dbs.cluster
    arn = make("archive", MONTHLY, handled="2026-04-01T08:00:00Z")
    run = invoke(at("2026-04-01T18:05:00"))
    assert decision(run, arn)["action"] == "stop" and dbs.state(arn) == "stopped"
    # Eight days later RDS starts it, because it was stopped for seven; it says so in an event.
    dbs.start(arn)
    calls = show_events(rds_hooks, [restart_event(arn, "2026-04-08T18:01:00")])
    run = invoke(at("2026-04-08T18:15:00"))
    line = decision(run, arn)
    assert line["action"] == "stop" and line["outcome"] == "done"
    assert line["reason"] == (
        "RDS started it on its own at 2026-04-08T18:01:00Z, as it does to a "
        f"{'database' if kind == 'db' else 'database cluster'} stopped for seven days; stopped "
        "again, as the stop at 2026-04-01T18:00:00Z wants"
    )
    assert dbs.state(arn) == "stopped"
    assert dbs.tags(arn)[HANDLED] == "2026-04-08T18:15:00Z fp off"
    assert calls, "the events were read"
    for params in calls:  # one database: a listing of its own notifications only
        assert params["SourceType"] == ["db-instance" if kind == "db" else "db-cluster"]
        assert params["SourceIdentifier"] == ["archive"]
        assert params["EventCategories.EventCategory.1"] == ["notification"]
    # The event is still listed, but offhours has handled it: a person's start is respected.
    dbs.start(arn)
    run = invoke(at("2026-04-09T10:00:00"))
    assert arn not in run.decisions  # nothing to do, nothing to say
    assert dbs.state(arn) == "available"


def test_a_restart_that_somebody_stopped_since_is_not_the_reason_it_runs(dbs, invoke, rds_hooks):
    arn = dbs.db("archive", MONTHLY, handled="2026-04-01T18:00:00Z")
    stopped_by_hand = notification("archive", "DB instance stopped", instant("2026-04-08T18:20:00"))
    show_events(rds_hooks, [restart_event(arn, "2026-04-08T18:01:00"), stopped_by_hand])
    run = invoke(at("2026-04-08T18:45:00"))  # and a person started it again at 18:30
    assert arn not in run.decisions
    assert dbs.state(arn) == "available"


def test_events_that_cannot_be_read_never_stop_the_other_databases(dbs, invoke, rds_hooks):
    archive = dbs.db("archive", MONTHLY, handled="2026-03-01T18:00:00Z")  # asks for the events
    web = dbs.db("web", handled="2026-03-27T08:00:00Z")  # its stop is due
    refused: list[str] = []

    def deny(request: Any, **_: Any) -> AWSResponse:
        refused.append("DescribeEvents")
        message = "not authorized to perform: rds:DescribeEvents"
        return query_error_response(request, 403, "AccessDenied", message)

    rds_hooks.on("before-send.rds.DescribeEvents", deny)
    run = invoke(at("2026-03-27T18:05:00"))
    assert refused, "the events were asked for"
    assert decision(run, web)["outcome"] == "done" and dbs.state(web) == "stopped"
    assert dbs.state(archive) == "stopped" or archive not in run.decisions
    (warning,) = run.of_kind("rds-events-error")
    assert "AccessDenied" in warning["message"] and warning["level"] == "WARNING"
    assert run.result is not None and run.result["failed"] == 0


def test_a_restart_read_before_an_unreadable_page_is_not_acted_on(dbs, invoke, rds_hooks):
    """The page that failed may hold a person's stop after the restart: the restart is not
    trusted, and the database that a person started again keeps running."""
    arn = dbs.db("archive", MONTHLY, handled="2026-04-01T18:00:00Z")

    def pages(request: Any, **_: Any) -> AWSResponse:
        if "page-2" not in params_of(request).get("Marker", []):
            first = [restart_event(arn, "2026-04-08T18:01:00")]
            return AWSResponse(request.url, 200, {}, _Body(events_xml(first, "page-2")))
        return query_error_response(request, 400, "InternalFailure", "try again", "Receiver")

    rds_hooks.on("before-send.rds.DescribeEvents", pages)
    run = invoke(at("2026-04-08T18:45:00"))
    assert arn not in run.decisions
    assert dbs.state(arn) == "available"
    (warning,) = run.of_kind("rds-events-error")
    assert "InternalFailure" in warning["message"]


def archives(dbs: Databases, count: int) -> list[str]:
    """`count` databases up on the 1st only, stopped by offhours on April 1st at 18:00, now
    running: RDS or a person started them."""
    return [dbs.db(f"archive-{k}", MONTHLY, handled="2026-04-01T18:00:00Z") for k in range(count)]


def test_the_event_listing_asks_for_notifications_only_and_is_not_filled_by_backups(
    dbs, invoke, rds_hooks
):
    """The restarts (RDS-EVENT-0154, RDS-EVENT-0153) and the stops that end them are in the
    notification category: the daily backups of a region never fill the listing."""
    arns = archives(dbs, PER_DATABASE_LISTINGS + 1)  # one listing for all of them
    backups = [
        notification(f"db-{k}", "Finished DB Instance backup", when, "backup")
        for k in range(300)
        for day in range(2, 9)
        for when in [instant(f"2026-04-0{day}T03:00:00") + timedelta(seconds=k)]
    ]  # 2,100 backup events of 300 databases in the week: more than the page limit holds
    asked = show_events(rds_hooks, [*backups, restart_event(arns[0], "2026-04-08T18:01:00")])
    run = invoke(at("2026-04-08T18:15:00"))
    assert decision(run, arns[0])["action"] == "stop" and dbs.state(arns[0]) == "stopped"
    assert run.of_kind("rds-events-error") == []
    (params,) = asked  # one page: the backups are not listed
    categories = {k: v for k, v in params.items() if k.startswith("EventCategories.")}
    assert categories == {"EventCategories.EventCategory.1": ["notification"]}
    assert params["SourceType"] == ["db-instance"] and "SourceIdentifier" not in params
    assert params["StartTime"] == ["2026-04-01T18:00:00Z"]  # since the oldest state tag


def test_a_complete_event_listing_of_many_pages_still_stops_a_restarted_database(
    dbs, invoke, rds_hooks
):
    arns = archives(dbs, PER_DATABASE_LISTINGS + 1)  # one listing for all of them
    events = others_stopping(100 * (MAX_EVENT_PAGES - 1), "2026-04-05T18:00:00")
    asked = show_events(rds_hooks, [*events, restart_event(arns[0], "2026-04-08T18:01:00")])
    run = invoke(at("2026-04-08T18:15:00"))  # the restart is on the last page
    line = decision(run, arns[0])
    assert line["action"] == "stop" and line["outcome"] == "done"
    assert line["reason"].startswith("RDS started it on its own at 2026-04-08T18:01:00Z")
    assert dbs.state(arns[0]) == "stopped"
    assert len(asked) == MAX_EVENT_PAGES and all("SourceIdentifier" not in p for p in asked)
    assert run.of_kind("rds-events-error") == []
    for arn in arns[1:]:  # started by a person: respected
        assert arn not in run.decisions and dbs.state(arn) == "available"


def test_a_cut_event_listing_trusts_no_restart(dbs, invoke, rds_hooks):
    """A listing longer than the page limit: the restart read on its first page may have been
    ended by a stop on a page not read, so it is not trusted, and a person's start stays."""
    arns = archives(dbs, PER_DATABASE_LISTINGS + 1)
    restart = restart_event(arns[0], "2026-04-08T18:01:00")
    crowd = others_stopping(100 * MAX_EVENT_PAGES, "2026-04-08T18:02:00")  # a region at six
    by_hand = notification("archive-0", "DB instance stopped", instant("2026-04-08T18:40:00"))
    asked = show_events(rds_hooks, [restart, *crowd, by_hand])
    run = invoke(at("2026-04-08T18:45:00"))  # and the person started it again at 18:42
    assert arns[0] not in run.decisions
    assert dbs.state(arns[0]) == "available"
    assert len(asked) == MAX_EVENT_PAGES  # the limit holds
    (warning,) = run.of_kind("rds-events-error")
    assert warning["level"] == "WARNING"
    assert "were not read to the end" in warning["message"]
    assert (
        f"{MAX_EVENT_PAGES} pages ({100 * MAX_EVENT_PAGES} events, up to " in (warning["message"])
    )
    assert f"the limit of {MAX_EVENT_PAGES} pages was reached" in warning["message"]
    assert f"not recognised for the {len(arns)} databases concerned" in warning["message"]
    (listing,) = warning["listings"]
    assert listing["source_type"] == "db-instance" and listing["pages"] == MAX_EVENT_PAGES
    assert listing["since"] == "2026-04-01T18:00:00Z"
    assert run.result is not None and run.result["failed"] == 0


def test_a_cut_event_listing_trusts_no_restart_when_every_database_is_read_in_full(
    dbs, rds_hooks, caplog
):
    """The same rule where the run reads every database in full (the CLI, LogLevel DEBUG)."""
    arns = archives(dbs, PER_DATABASE_LISTINGS + 1)
    restart = restart_event(arns[0], "2026-04-08T18:01:00")
    crowd = others_stopping(100 * MAX_EVENT_PAGES, "2026-04-08T18:02:00")
    by_hand = notification("archive-0", "DB instance stopped", instant("2026-04-08T18:40:00"))
    show_events(rds_hooks, [restart, *crowd, by_hand])
    config = Config(regions=("us-east-1",), resources=("rds",))
    with caplog.at_level("WARNING", logger="offhours.rds"):
        report = service.run(
            config, instant("2026-04-08T18:45:00"), clients=runtime.clients, catalog=None
        )
    outcomes = {o.decision.instance.id: o for t in report.targets for o in t.outcomes}
    assert outcomes[arns[0]].decision.instance.auto_started is None
    assert outcomes[arns[0]].outcome != "done" and dbs.state(arns[0]) == "available"
    (warning,) = [r for r in caplog.records if getattr(r, "kind", "") == "rds-events-error"]
    assert f"the limit of {MAX_EVENT_PAGES} pages was reached" in warning.getMessage()


def test_an_event_page_that_fails_midway_trusts_no_restart(dbs, invoke, rds_hooks):
    arns = archives(dbs, PER_DATABASE_LISTINGS + 1)
    restart = restart_event(arns[0], "2026-04-08T18:01:00")
    crowd = others_stopping(250, "2026-04-08T18:02:00")
    by_hand = notification("archive-0", "DB instance stopped", instant("2026-04-08T18:40:00"))
    asked = show_events(rds_hooks, [restart, *crowd, by_hand], fail_at_page=2)
    run = invoke(at("2026-04-08T18:45:00"))
    assert arns[0] not in run.decisions and dbs.state(arns[0]) == "available"
    assert len(asked) >= 2
    (warning,) = run.of_kind("rds-events-error")
    assert "1 page (100 events, up to 2026-04-08T18:03:38Z) read" in warning["message"]
    assert "a page could not be read" in warning["message"]
    assert "InternalFailure" in warning["message"]
    assert [listing["pages"] for listing in warning["listings"]] == [1]


def test_time_running_out_while_listing_events_trusts_no_restart(dbs, invoke, rds_hooks):
    from offhours.runtime import RESERVE_MS

    arns = archives(dbs, PER_DATABASE_LISTINGS + 1)
    restart = restart_event(arns[0], "2026-04-08T18:01:00")
    crowd = others_stopping(250, "2026-04-08T18:02:00")
    context = LambdaContext()
    asked = show_events(rds_hooks, [restart, *crowd])

    def late(**_: Any) -> None:
        context.remaining_ms = RESERVE_MS - 1  # the first page took the last of the time

    rds_hooks.on("after-call.rds.DescribeEvents", late)
    run = invoke(at("2026-04-08T18:45:00"), context=context)
    assert len(asked) == 1
    assert arns[0] not in run.decisions and dbs.state(arns[0]) == "available"
    (warning,) = run.of_kind("rds-events-error")
    assert "1 page (100 events" in warning["message"]
    assert "the run's time ran out" in warning["message"]


def test_rds_lost_in_the_middle_of_the_stops_defers_the_rest_to_the_next_run(
    dbs, invoke, rds_hooks
):
    from botocore.exceptions import EndpointConnectionError

    arns = [dbs.db(f"db-{k}", handled="2026-03-27T08:00:00Z") for k in range(6)]

    def lose(request: Any, **_: Any) -> None:
        if "db-1" in params_of(request).get("DBInstanceIdentifier", []):
            raise EndpointConnectionError(endpoint_url=request.url)

    rds_hooks.on("before-send.rds.StopDBInstance", lose)
    run = invoke(at("2026-03-27T18:05:00"))
    outcomes = {arn: decision(run, arn)["outcome"] for arn in arns}
    assert outcomes[arns[1]] == "failed"
    assert "deferred" in outcomes.values(), outcomes  # the wave after it was not begun
    assert run.result is not None and run.result["failed"] >= 1
    rds_hooks.clear()
    invoke(at("2026-03-27T18:20:00"))
    for arn in arns:
        assert dbs.state(arn) == "stopped"
        assert dbs.tags(arn)[HANDLED] in (
            "2026-03-27T18:00:00Z fp off",  # stopped by the first run
            "2026-03-27T18:00:00Z fp off=2026-03-27T18:20:00Z",  # by the next: counted from then
        )


def test_no_event_is_read_while_no_database_could_have_been_restarted(dbs, invoke, rds_hooks):
    dbs.db("web-db", handled="2026-03-27T08:00:00Z")  # the schedule wants it running
    calls = show_events(rds_hooks, [])
    invoke(at("2026-03-27T12:00:00"))
    assert calls == []


# -- failures ------------------------------------------------------------------------------------


def test_a_refused_stop_fails_that_database_only_and_the_next_run_tries_again(
    dbs, invoke, rds_hooks
):
    busy = dbs.db("busy", handled="2026-03-27T08:00:00Z")
    calm = dbs.db("calm", handled="2026-03-27T08:00:00Z")
    refused = refuse(rds_hooks, "StopDBInstance", "busy", "InvalidDBInstanceState")
    run = invoke(at("2026-03-27T18:05:00"))
    line = decision(run, busy)
    assert line["outcome"] == "failed" and line["error_code"] == "InvalidDBInstanceState"
    assert (
        "stop failed (InvalidDBInstanceState: DB instance busy is not in available state.)"
        in (line["reason"])
    )
    assert line["level"] == "ERROR"
    assert decision(run, calm)["outcome"] == "done" and dbs.state(calm) == "stopped"
    assert run.result is not None and run.result["failed"] == 1 and run.result["stopped"] == 1
    assert dbs.tags(busy)[HANDLED] == "2026-03-27T08:00:00Z"  # A stays: the stop is owed
    assert refused == ["busy"]
    rds_hooks.clear()
    again = invoke(at("2026-03-27T18:20:00"))
    assert decision(again, busy)["outcome"] == "done"
    assert dbs.state(busy) == "stopped"
    assert (
        dbs.tags(busy)[HANDLED] == "2026-03-27T18:00:00Z fp off=2026-03-27T18:20:00Z"
    )  # a late stop


def test_rds_out_of_reach_fails_the_target_but_ec2_is_still_scheduled(
    fleet, dbs, invoke, rds_hooks
):
    from botocore.exceptions import EndpointConnectionError

    box = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    tagging = runtime.clients.target("resourcegroupstaggingapi", "us-east-1")
    gone = Hooks(tagging)

    def fail(request: Any, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url)

    gone.on("before-send.resource-groups-tagging-api.GetResources", fail)
    try:
        run = invoke(at("2026-03-27T18:05:00"))
    finally:
        gone.clear()
    assert fleet.state(box) == "stopped"
    assert run.result is not None and run.result["failed"] == 1 and run.result["stopped"] == 1
    (error,) = run.of_kind("target-error")
    assert "(RDS): RDS cannot be reached" in error["message"]
    assert run.summary["resources"]["rds"]["failed"] == 1  # the kind's failure, by kind too
    assert run.summary["resources"]["ec2"]["stopped"] == 1
    del dbs, rds_hooks


# -- the words and the settings ------------------------------------------------------------------


def test_hibernate_means_nothing_for_a_database_it_is_stopped_with_a_warning(dbs, invoke):
    arn = dbs.db("dev", f"{OFFICE} hibernate", handled="2026-03-27T08:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    line = decision(run, arn)
    assert line["action"] == "stop" and line["outcome"] == "done"
    assert "hibernate, which means nothing for a database" in line["warning"]
    assert dbs.state(arn) == "stopped"


def test_an_override_holds_a_database_up_and_enforce_works_as_for_ec2(dbs, invoke):
    held = dbs.db("demo-db", handled="2026-03-27T08:00:00Z")
    dbs.tag(held, OVERRIDE, "running until 2026-03-27T21:00+00:00")
    enforced = dbs.db("strict-db", f"{OFFICE} enforce", handled="2026-03-27T18:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    assert "override by tag until" in decision(run, held)["reason"]
    assert dbs.state(held) == "available"
    assert decision(run, enforced)["action"] == "stop"  # already handled, but enforced
    assert dbs.state(enforced) == "stopped"
    invoke(at("2026-03-27T21:05:00"))
    assert dbs.state(held) == "stopped" and OVERRIDE not in dbs.tags(held)


def test_a_notice_for_a_database_names_the_rds_command(dbs, invoke, env):
    import json

    env.setenv("NOTICE_MINUTES", "15")
    arn = dbs.db("notice-db", handled="2026-03-27T08:00:00Z")
    entries: list[Any] = []
    client = runtime.clients.client("events", "us-east-1")
    hooks = Hooks(client)
    hooks.on(
        "before-call.eventbridge.PutEvents",
        lambda params, **_: entries.extend(json.loads(params["body"])["Entries"]),
    )
    try:
        invoke(at("2026-03-27T17:50:00"))
    finally:
        hooks.clear()
    (entry,) = entries
    detail = json.loads(entry["Detail"])
    assert detail["instance_id"] == arn and detail["resource_type"] == "rds:db"
    assert detail["postpone"]["aws_cli"] == (
        f"aws rds add-tags-to-resource --resource-name {arn} --tags "
        "'Key=Schedule:override,Value=running until 20:00' --region us-east-1"
    )


def test_resources_ec2_leaves_databases_alone_and_never_calls_rds(dbs, invoke, env, rds_hooks):
    env.setenv("RESOURCES", "ec2")
    arn = dbs.db("kept", handled="2026-03-27T08:00:00Z")
    called: list[str] = []
    rds_hooks.on("before-call.rds", lambda model, **_: called.append(model.name))
    run = invoke(at("2026-03-27T18:05:00"))
    assert dbs.state(arn) == "available" and called == []
    assert set(run.summary["resources"]) == {"ec2"}


def test_a_removed_schedule_tag_removes_the_state_tags_of_a_database(dbs, invoke):
    arn = dbs.db("gone", handled="2026-03-27T08:00:00Z")
    dbs.rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["Schedule"])
    run = invoke(at("2026-03-27T12:00:00"))
    assert decision(run, arn)["action"] == "forget"
    assert HANDLED not in dbs.tags(arn)


# -- the command line ----------------------------------------------------------------------------


def test_plan_lists_databases_with_their_type(dbs, fleet, capsys, env):
    from offhours.cli import main

    db = dbs.db("plan-db", handled="2026-03-27T08:00:00Z")
    cluster = dbs.cluster("plan-aurora", handled="2026-03-27T08:00:00Z")
    fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    assert main(["plan", "--at", "2026-03-27T18:05:00Z", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("RESOURCE")
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:] if line.strip()}
    assert rows[db] == "rds:db" and rows[cluster] == "rds:cluster"
    assert "ec2:instance" in rows.values()
    assert "dry run, would stop: the schedule's stop at 2026-03-27T18:00:00Z applies" in out
    assert dbs.state(db) == "available"  # plan changes nothing
    del env


def test_override_and_check_take_a_database_arn(dbs, fleet, capsys, env):
    from offhours.cli import main

    arn = dbs.db("late-db", handled="2026-03-27T08:00:00Z")
    assert main(["override", arn, "--running", "--until", "2999-01-01T21:00"]) == 2
    assert "--until" in capsys.readouterr().err  # beyond MaxOverrideHours
    env.setattr("offhours.cli._now", lambda: instant("2026-03-27T17:00:00"))
    assert main(["override", arn, "--running", "--until", "21:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{arn}: Schedule:override = ")
    assert dbs.tags(arn)[OVERRIDE].startswith("running until")
    assert main(["check", "--instance", arn, "--at", "2026-03-27T18:00:00Z", "--json"]) == 0
    result = json_line(capsys.readouterr().out)
    assert result["instance"] == arn and result["override"]["state"] == "running"
    assert main(["override", arn, "--clear"]) == 0
    assert OVERRIDE not in dbs.tags(arn)
    missing = arn.replace("late-db", "no-such-db")
    assert main(["override", missing, "--clear"]) == 2
    assert "not found in us-east-1" in capsys.readouterr().out
    del fleet


def json_line(text: str) -> Any:
    import json

    return json.loads(text)


def test_rds_describes_wait_for_rds_bucket_and_stop_when_the_run_has_no_time_for_it():
    """RDS's reads are paced to its bucket like its writes: a describe listing whose next page
    the run's time cannot wait for raises OutOfTime (nothing is decided from a part)."""
    from offhours import pace
    from offhours.resources import OutOfTime
    from offhours.resources.rds import RdsGateway

    buckets = pace.Buckets("rds")
    request, _ = buckets.of("*")
    request.empty(pace.monotonic())
    gateway = RdsGateway(
        None, None, tag_key="Schedule", region="us-east-1", account="123456789012",
        pacer=pace.Pacer(buckets, lambda: 0.0),
    )  # fmt: skip
    pages = iter([{"DBInstances": [], "Marker": "m"}, {"DBInstances": []}])
    with pytest.raises(OutOfTime):
        list(gateway._paced(pages))
    waited = pace.Pacer(buckets, lambda: 60.0)  # a minute left: it waits for its token
    gateway.pacer = waited
    assert len(list(gateway._paced(iter([{"DBInstances": []}])))) == 1


def test_pinning_a_databases_override_reads_its_tags_again_first(dbs, invoke, rds_hooks):
    """RDS writes and removes tags whatever their value: the override's tags are read again
    just before, and a newer value that a person wrote in between is left as it is."""
    arn = dbs.db("pin-db", handled="2026-03-27T08:00:00Z")
    dbs.tag(arn, OVERRIDE, "running until 21:00")
    newer = "running until 2026-03-27T23:00"

    def person_writes(params: dict[str, Any], **_: Any) -> None:
        if "DBInstanceIdentifier" in str(params.get("body")):  # the read just before the pin
            dbs.tag(arn, OVERRIDE, newer)

    rds_hooks.on("before-call.rds.DescribeDBInstances", person_writes)
    run = invoke(at("2026-03-27T17:30:00"))
    rds_hooks.clear()
    assert dbs.tags(arn)[OVERRIDE] == newer
    assert "changed since this run read it" in decision(run, arn)["reason"]
