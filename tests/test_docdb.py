"""DocumentDB and Neptune clusters through the RDS gateway, on the real handler and moto.

DocumentDB and Neptune clusters are RDS clusters underneath (DESIGN §9): the same API at the
same endpoint, the same ARN (arn:aws:rds:REGION:ACCOUNT:cluster:NAME), the same seven-day
restart. Only the cluster's `Engine` tells them apart, and the resource type follows it.

moto models a Neptune cluster (create, stop, start, tags, the tagging API) but refuses the
engine `docdb` (for a cluster and for an instance). A DocumentDB cluster is therefore created in
moto as an Aurora one, and what DescribeDBClusters (and DescribeDBInstances, for its members)
says of it is edited on the handler's own RDS client through botocore's `after-call` hook: its
engine is `docdb`, as RDS says of a DocumentDB cluster. Every call still goes to moto, which
stops, starts and tags the cluster. moto makes no event of a seven-day restart: it is put in at
the HTTP layer (`tests.test_rds.show_events`), as RDS sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from offhours import runtime, service
from offhours.config import Config
from offhours.resources.rds import (
    CLUSTER,
    DOCDB_CLUSTER,
    NEPTUNE_CLUSTER,
    cluster_skip,
    cluster_type,
    instance_skip,
    split_arn,
)
from offhours.state import fingerprint
from tests.faults import Hooks
from tests.test_rds import (
    HANDLED,
    MONTHLY,
    OFFICE,
    PASSWORD,
    Databases,
    at,
    decision,
    instant,
    restart_event,
    show_events,
)

# What RDS-EVENT-0153 says of a cluster (DocumentDB and Neptune use RDS's event definitions).
RESTART = "DB cluster is being started due to it exceeding the maximum allowed time being stopped."


class Clusters(Databases):
    """DocumentDB and Neptune clusters created through the RDS API, as a pipeline would.

    `docdb` names the clusters (and their instances) that RDS describes with the engine `docdb`
    (moto cannot hold that engine: see the module's docstring)."""

    def __init__(self, rds: Any) -> None:
        super().__init__(rds)
        self.docdb: set[str] = set()

    def documentdb(self, name: str, schedule: str | None = OFFICE, **args: Any) -> str:
        self.docdb.add(name)
        return self.cluster(name, schedule, Engine="aurora-postgresql", **args)

    def neptune(
        self, name: str, schedule: str | None = OFFICE, *, handled: str | None = None
    ) -> str:
        created = self.rds.create_db_cluster(
            DBClusterIdentifier=name, Engine="neptune", Tags=self._tags(schedule, handled)
        )
        arn: str = created["DBCluster"]["DBClusterArn"]
        return arn

    def instance_of(self, name: str, cluster: str, schedule: str | None = None) -> str:
        """A DB instance of the cluster (DocumentDB's or Neptune's), tagged if `schedule`."""
        engine = "neptune"
        if cluster in self.docdb:
            self.docdb.add(name)
            engine = "aurora-postgresql"
        created = self.rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier=cluster,
            Engine=engine,
            DBInstanceClass="db.r5.large",
            Tags=self._tags(schedule, None),
        )
        arn: str = created["DBInstance"]["DBInstanceArn"]
        return arn

    def engine(self, arn: str) -> str:
        found = self.rds.describe_db_clusters(DBClusterIdentifier=split_arn(arn)[1])
        return str(found["DBClusters"][0]["Engine"])

    def as_rds_says(self, parsed: dict[str, Any], **_: Any) -> None:
        """The `after-call` hook: RDS describes a DocumentDB cluster, and its instances, with
        the engine `docdb`."""
        for item in parsed.get("DBClusters", []):
            if item.get("DBClusterIdentifier") in self.docdb:
                item["Engine"], item["EngineVersion"] = "docdb", "5.0.0"
        for item in parsed.get("DBInstances", []):
            if item.get("DBInstanceIdentifier") in self.docdb:
                item["Engine"], item["EngineVersion"] = "docdb", "5.0.0"


@pytest.fixture(scope="module")
def rds_session_client(moto_endpoint: Any) -> Any:
    return boto3.client("rds", region_name="us-east-1", endpoint_url=moto_endpoint.url)


@pytest.fixture
def rds_hooks(moto_endpoint: Any) -> Iterator[Hooks]:
    """Hooks on the RDS client that the handler uses."""
    h = Hooks(runtime.clients.target("rds", "us-east-1"))
    yield h
    h.clear()


@pytest.fixture
def dbs(fleet: Any, rds_session_client: Any, rds_hooks: Hooks) -> Clusters:
    """An empty RDS (the `fleet` fixture resets the endpoint), whose DocumentDB clusters the
    handler's RDS client sees as RDS describes them."""
    del fleet
    clusters = Clusters(rds_session_client)
    rds_hooks.on("after-call.rds.DescribeDBClusters", clusters.as_rds_says)
    rds_hooks.on("after-call.rds.DescribeDBInstances", clusters.as_rds_says)
    return clusters


def by_resource(run: Any) -> dict[tuple[str, str], Any]:
    return {
        (blob["resource"], name): blob[name]
        for blob in run.emf_by_resource
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for name in [m["Name"] for m in directive["Metrics"]]
    }


# -- the resource type follows the engine --------------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "kind"),
    [
        ("docdb", DOCDB_CLUSTER),
        ("neptune", NEPTUNE_CLUSTER),
        ("NEPTUNE", NEPTUNE_CLUSTER),
        ("aurora-postgresql", CLUSTER),
        ("aurora-mysql", CLUSTER),
        ("mysql", CLUSTER),  # a Multi-AZ DB cluster
        ("", CLUSTER),
        (None, CLUSTER),
    ],
)
def test_a_clusters_resource_type_follows_its_engine(engine, kind):
    assert cluster_type(engine) == kind


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"Engine": "docdb", "EngineVersion": "5.0.0"}, None),
        ({"Engine": "neptune", "EngineMode": "provisioned"}, None),
        ({"Engine": "neptune", "GlobalClusterIdentifier": "g"}, "global database 'g'"),
        ({"Engine": "docdb", "ReplicationSourceIdentifier": "arn:x"}, "replica of"),
        ({"Engine": "neptune", "ReadReplicaIdentifiers": ["arn:y"]}, "cross-Region"),
        ({"Engine": "cassandra"}, "engine 'cassandra'"),
    ],
)
def test_documentdb_and_neptune_clusters_are_stopped_by_the_rules_of_rds_clusters(item, words):
    reason = cluster_skip(item)
    assert reason is None if words is None else (reason is not None and words in reason)


@pytest.mark.parametrize("engine", ["docdb", "neptune"])
def test_an_instance_of_a_documentdb_or_neptune_cluster_follows_its_cluster(engine):
    reason = instance_skip({"Engine": engine, "DBClusterIdentifier": "graph"})
    assert reason is not None and "member of DB cluster 'graph'" in reason
    assert "schedule the cluster instead" in reason


# -- a week ---------------------------------------------------------------------------------------


def test_documentdb_and_neptune_clusters_follow_office_hours_through_a_week(dbs, invoke):
    docdb = dbs.documentdb("dev-docdb")
    neptune = dbs.neptune("dev-graph")
    dbs.instance_of("dev-docdb-1", "dev-docdb")  # untagged: it follows its cluster
    dbs.instance_of("dev-graph-1", "dev-graph")
    assert split_arn(docdb) == (CLUSTER, "dev-docdb")  # the ARN of any RDS cluster
    first = invoke(at("2026-03-23T07:00:00"))  # Monday, before office hours: adopted
    assert first.error is None
    for arn, kind in ((docdb, DOCDB_CLUSTER), (neptune, NEPTUNE_CLUSTER)):
        line = decision(first, arn)
        assert line["action"] == "adopt" and dbs.state(arn) == "available"
        assert line["resource_type"] == kind
    assert decision(first, docdb)["instance_name"] == "dev-docdb"
    # The fingerprint names each cluster by its DbClusterResourceId, as for Aurora.
    for arn in (docdb, neptune):
        found = dbs.rds.describe_db_clusters(DBClusterIdentifier=split_arn(arn)[1])
        resource_id = found["DBClusters"][0]["DbClusterResourceId"]
        assert dbs.tags(arn)["Schedule:offhours-fingerprint"] == fingerprint(resource_id, OFFICE)

    seen: dict[str, list[tuple[str, str]]] = {docdb: [], neptune: []}
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
                assert line["resource_type"] == (DOCDB_CLUSTER if arn == docdb else NEPTUNE_CLUSTER)
                seen[arn].append((when, line["action"]))
            seen[arn].append((when, dbs.state(arn)))
    expected: list[tuple[str, str]] = [("2026-03-23T08:05:00", "available")]
    for when in runs[1:]:
        if when[:10] in ("2026-03-28", "2026-03-29"):
            expected.append((when, "stopped"))
        else:
            action, state = ("stop", "stopped") if when[11:13] == "18" else ("start", "available")
            expected += [(when, action), (when, state)]
    assert seen[docdb] == expected
    assert seen[neptune] == expected
    for arn in (docdb, neptune):
        assert dbs.tags(arn)[HANDLED] == "2026-03-30T08:00:00Z fp"
    assert dbs.engine(neptune) == "neptune"  # moto's own


def test_the_stops_are_logged_with_their_type_counted_and_put_as_metrics(dbs, fleet, invoke):
    docdb = dbs.documentdb("reports-docdb", handled="2026-03-27T08:00:00Z")
    neptune = dbs.neptune("reports-graph", handled="2026-03-27T08:00:00Z")
    aurora = dbs.cluster("reports-aurora", handled="2026-03-27T08:00:00Z")
    box = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    types = {arn: decision(run, arn)["resource_type"] for arn in (docdb, neptune, aurora, box)}
    assert types == {
        docdb: DOCDB_CLUSTER,
        neptune: NEPTUNE_CLUSTER,
        aurora: CLUSTER,
        box: "ec2:instance",
    }
    for arn in (docdb, neptune):
        line = decision(run, arn)
        assert line["action"] == "stop" and line["outcome"] == "done"
        assert line["reason"] == "the schedule's stop at 2026-03-27T18:00:00Z applies"
        assert line["state_tag_after"].startswith("2026-03-27T18:00:00Z fp=")
        assert line["request_id"]
        assert dbs.state(arn) == "stopped"
    assert run.result is not None and run.result["stopped"] == 4
    # The counts and the metrics by resource are by family of resource type: DocumentDB's and
    # Neptune's clusters are counted as themselves, though the RDS gateway acts on them.
    resources = run.summary["resources"]
    assert {name: counts["stopped"] for name, counts in resources.items()} == {
        "rds": 1,
        "docdb": 1,
        "neptune": 1,
        "ec2": 1,
    }
    assert by_resource(run) == {
        ("rds", "stopped"): [1.0],
        ("docdb", "stopped"): [1.0],
        ("neptune", "stopped"): [1.0],
        ("ec2", "stopped"): [1.0],
    }
    assert run.emf["stopped"] in (4, [4], [4.0])


def test_hibernate_means_nothing_for_a_documentdb_cluster(dbs, invoke):
    arn = dbs.documentdb("dev", f"{OFFICE} hibernate", handled="2026-03-27T08:00:00Z")
    run = invoke(at("2026-03-27T18:05:00"))
    line = decision(run, arn)
    assert line["action"] == "stop" and line["outcome"] == "done"
    assert "hibernate, which means nothing for a DocumentDB cluster" in line["warning"]
    assert dbs.state(arn) == "stopped"


# -- what is never touched -------------------------------------------------------------------------


def test_instances_of_documentdb_and_neptune_clusters_are_skipped_with_the_reason(dbs):
    docdb = dbs.documentdb("ledger", handled="2026-03-27T08:00:00Z")
    neptune = dbs.neptune("graph", handled="2026-03-27T08:00:00Z")
    members = {
        dbs.instance_of("ledger-1", "ledger", schedule=OFFICE): "ledger",
        dbs.instance_of("graph-1", "graph", schedule=OFFICE): "graph",
    }
    config = Config(regions=("us-east-1",), resources=("rds",))
    report = service.run(
        config, instant("2026-03-27T18:05:00"), clients=runtime.clients, catalog=None, dry=True
    )  # every resource read in full (the CLI's way)
    outcomes = {o.decision.instance.id: o for t in report.targets for o in t.outcomes}
    for member, cluster in members.items():
        assert outcomes[member].outcome == "skipped"
        assert f"member of DB cluster {cluster!r}" in outcomes[member].reason
        assert outcomes[member].decision.instance.resource_type == "rds:db"
        assert dbs.state(member) == "available"
    assert outcomes[docdb].decision.instance.resource_type == DOCDB_CLUSTER
    assert outcomes[neptune].decision.instance.resource_type == NEPTUNE_CLUSTER
    for arn in (docdb, neptune):
        assert outcomes[arn].outcome == "dry-run" and outcomes[arn].decision.action == "stop"


# -- the seven-day restart ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [DOCDB_CLUSTER, NEPTUNE_CLUSTER])
def test_a_restart_after_seven_days_is_stopped_again_and_a_person_is_respected(
    dbs, invoke, rds_hooks, kind
):
    if kind == DOCDB_CLUSTER:
        arn = dbs.documentdb("archive", MONTHLY, handled="2026-04-01T08:00:00Z")
        words = "DocumentDB cluster"
    else:
        arn = dbs.neptune("archive", MONTHLY, handled="2026-04-01T08:00:00Z")
        words = "Neptune cluster"
    run = invoke(at("2026-04-01T18:05:00"))
    assert decision(run, arn)["action"] == "stop" and dbs.state(arn) == "stopped"
    # Eight days later RDS starts it, because it was stopped for seven; it says so in an event
    # of the source type db-cluster, as of an Aurora cluster (RDS-EVENT-0153).
    dbs.start(arn)
    restart = {**restart_event(arn, "2026-04-08T18:01:00"), "Message": RESTART}
    assert restart["SourceType"] == "db-cluster"
    calls = show_events(rds_hooks, [restart])
    run = invoke(at("2026-04-08T18:15:00"))
    line = decision(run, arn)
    assert line["resource_type"] == kind
    assert line["action"] == "stop" and line["outcome"] == "done"
    assert line["reason"] == (
        f"RDS started it on its own at 2026-04-08T18:01:00Z, as it does to a {words} stopped "
        "for seven days; stopped again, as the stop at 2026-04-01T18:00:00Z wants"
    )
    assert dbs.state(arn) == "stopped"
    assert dbs.tags(arn)[HANDLED] == "2026-04-08T18:15:00Z fp off"
    assert calls, "the events were read"
    for params in calls:  # one cluster: a listing of its own notifications only
        assert params["SourceType"] == ["db-cluster"]
        assert params["SourceIdentifier"] == ["archive"]
        assert params["EventCategories.EventCategory.1"] == ["notification"]
    # The event is still listed, but offhours has handled it: a person's start is respected.
    dbs.start(arn)
    run = invoke(at("2026-04-09T10:00:00"))
    assert arn not in run.decisions
    assert dbs.state(arn) == "available"


def test_a_documentdb_restart_that_somebody_stopped_since_is_not_the_reason_it_runs(
    dbs, invoke, rds_hooks
):
    arn = dbs.documentdb("archive", MONTHLY, handled="2026-04-01T18:00:00Z")
    stopped_by_hand = {
        **restart_event(arn, "2026-04-08T18:20:00"),
        "Message": "DB cluster stopped.",  # RDS-EVENT-0150
    }
    show_events(rds_hooks, [restart_event(arn, "2026-04-08T18:01:00"), stopped_by_hand])
    run = invoke(at("2026-04-08T18:45:00"))  # and a person started it again at 18:30
    assert arn not in run.decisions
    assert dbs.state(arn) == "available"


def test_a_neptune_cluster_is_created_by_moto_itself_with_its_engine(dbs):
    """What moto models (the others' premise): a Neptune cluster with its own engine, stopped
    and started; a DocumentDB one it refuses, so the tests describe it as RDS would."""
    from botocore.exceptions import ClientError

    arn = dbs.neptune("graph")
    assert dbs.engine(arn) == "neptune"
    dbs.stop(arn)
    assert dbs.state(arn) == "stopped"
    dbs.start(arn)
    assert dbs.state(arn) == "available"
    with pytest.raises(ClientError, match="docdb"):
        dbs.rds.create_db_cluster(
            DBClusterIdentifier="mongo",
            Engine="docdb",
            MasterUsername="admin1",
            MasterUserPassword=PASSWORD,
        )


@pytest.mark.parametrize("kind", [DOCDB_CLUSTER, NEPTUNE_CLUSTER])
def test_a_notice_for_a_documentdb_or_neptune_cluster_names_the_rds_command(dbs, invoke, env, kind):
    import json

    env.setenv("NOTICE_MINUTES", "15")
    if kind == DOCDB_CLUSTER:
        arn = dbs.documentdb("notice-docdb", handled="2026-03-27T08:00:00Z")
    else:
        arn = dbs.neptune("notice-graph", handled="2026-03-27T08:00:00Z")
    entries: list[Any] = []
    hooks = Hooks(runtime.clients.client("events", "us-east-1"))
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
    assert detail["instance_id"] == arn and detail["resource_type"] == kind
    assert detail["postpone"]["aws_cli"] == (
        f"aws rds add-tags-to-resource --resource-name {arn} --tags "
        "'Key=Schedule:override,Value=running until 20:00' --region us-east-1"
    )
