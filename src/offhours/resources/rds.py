"""The RDS gateway: the only module that calls RDS (and the Resource Groups Tagging API for it).

It schedules RDS DB instances and Aurora (and Multi-AZ) DB clusters with the same tag, language
and rules as EC2 instances (DESIGN §8). A resource's id is its ARN.

- Listing: the Resource Groups Tagging API filters on the server (resource types `rds:db` and
  `rds:cluster`, a listing for the schedule tag and one for the state tag, whose resources lose
  it); DescribeDBInstances and DescribeDBClusters, filtered by ARN, give the states.
- States: `available` is running, `stopped` is stopped; any other status (`starting`,
  `stopping`, `backing-up`, `modifying`, `storage-full`...) waits for the next run.
- Never touched, with the reason: members of a DB cluster (they follow the cluster: tag the
  cluster), read replicas and instances that have read replicas (RDS cannot stop them), RDS for
  SQL Server in a Multi-AZ deployment, Aurora Serverless v1 and other cluster configurations
  that cannot be stopped (global databases, cross-Region replicas), and engines that are not
  RDS or Aurora (Neptune, DocumentDB).
- Acting: RDS has no batch call, so each start, stop and tag write is one call, a few at a time
  (`workers`), with botocore's standard retries (`offhours.aws`); `may_call` is asked before
  each wave, so a run near its time limit leaves the rest to the next.
- The seven-day restart: RDS starts a database that has been stopped for seven days, and says
  so in an event ("... is being started due to it exceeding the maximum allowed time being
  stopped": RDS-EVENT-0154 for an instance, RDS-EVENT-0153 for a cluster). DescribeEvents is
  read when a database that the schedule wants stopped may have been started so, and the
  restart time is given to the planner (`Instance.auto_started`), which stops it again. A stop
  of the database after the restart (by anyone) means that the restart is over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from offhours.instance import Instance
from offhours.override import override_tag_key
from offhours.resources import (
    CONNECTION_ERRORS,
    BatchResult,
    EndpointUnavailable,
    MayCall,
    OutOfTime,
    PartialBatch,
    TagSet,
    chunks,
    error_of,
    request_id_of,
)
from offhours.schedule import DesiredState
from offhours.state import fingerprint_tag_key, read_anchor, state_tag_key

if TYPE_CHECKING:
    from offhours.planner import Reading

log = logging.getLogger("offhours.rds")
DB = "rds:db"
CLUSTER = "rds:cluster"
STATES = {"available": "running", "stopped": "stopped"}
DEFAULT_BATCH_SIZE = 20
WORKERS = 4  # calls side by side: RDS has no batch call
DESCRIBE_BATCH = 100  # ARNs in one Describe call's filter
# RDS keeps its events for 14 days: a restart older than that cannot be recognised.
EVENT_HORIZON = timedelta(days=14)
AUTO_START = "exceeding the maximum allowed time being stopped"
SOURCE_TYPES = {"db-instance": DB, "db-cluster": CLUSTER}
MAX_EVENT_PAGES = 20  # a bound on what one run reads of a region's events

# Engines whose DB instances RDS can stop (RDS for ... ; Aurora instances belong to a cluster).
INSTANCE_ENGINES = (
    "mariadb",
    "mysql",
    "postgres",
    "oracle",
    "sqlserver",
    "db2",
    "custom-sqlserver",
)
# Engines of clusters that RDS can stop: Aurora, and Multi-AZ DB clusters.
CLUSTER_ENGINES = ("aurora", "mysql", "postgres")
# Aurora engine modes that cannot be stopped (Serverless v1, and older special modes).
UNSTOPPABLE_MODES = {
    "serverless": "an Aurora Serverless v1 cluster",
    "global": "a cluster in the old global engine mode",
    "multimaster": "a multi-master cluster",
    "parallelquery": "a cluster in the old parallel query engine mode",
}


def split_arn(arn: str) -> tuple[str, str]:
    """(resource type, identifier) of an RDS ARN, arn:aws:rds:REGION:ACCOUNT:db|cluster:NAME."""
    parts = arn.split(":", 6)
    if len(parts) == 7 and parts[5] == "cluster":
        return CLUSTER, parts[6]
    return DB, parts[6] if len(parts) == 7 else arn


def is_rds_arn(text: str) -> bool:
    parts = text.split(":", 6)
    return (
        len(parts) == 7
        and parts[0] == "arn"
        and parts[2] == "rds"
        and parts[5]
        in (
            "db",
            "cluster",
        )
    )


def instance_skip(item: Any) -> str | None:
    """Why offhours never touches this DB instance, or None."""
    cluster = item.get("DBClusterIdentifier")
    if cluster:
        return (
            f"member of DB cluster {cluster!r}: it starts and stops with its cluster, so "
            "offhours never touches it alone (schedule the cluster instead)"
        )
    source = item.get("ReadReplicaSourceDBInstanceIdentifier") or item.get(
        "ReadReplicaSourceDBClusterIdentifier"
    )
    if source:
        return (
            f"read replica of {source!r}: RDS cannot stop a read replica, so offhours never "
            "touches it"
        )
    replicas = (item.get("ReadReplicaDBInstanceIdentifiers") or []) + (
        item.get("ReadReplicaDBClusterIdentifiers") or []
    )
    if replicas:
        return (
            f"it has read replicas ({', '.join(map(str, replicas[:3]))}): RDS cannot stop a "
            "DB instance that has them, so offhours never touches it"
        )
    engine = str(item.get("Engine", "")).lower()
    if not engine.startswith(INSTANCE_ENGINES):
        return (
            f"engine {engine or '(none)'!r}: not a DB instance that RDS starts and stops on "
            "its own, so offhours leaves it alone"
        )
    if "sqlserver" in engine and item.get("MultiAZ"):
        return (
            "RDS for SQL Server in a Multi-AZ deployment: RDS cannot stop it, so offhours "
            "never touches it"
        )
    return None


def cluster_skip(item: Any) -> str | None:
    """Why offhours never touches this DB cluster, or None."""
    engine = str(item.get("Engine", "")).lower()
    if not engine.startswith(CLUSTER_ENGINES):
        return (
            f"engine {engine or '(none)'!r}: offhours schedules Aurora and RDS Multi-AZ DB "
            "clusters only (Neptune and DocumentDB are not scheduled yet)"
        )
    mode = str(item.get("EngineMode", "")).lower()
    if mode in UNSTOPPABLE_MODES:
        return f"{UNSTOPPABLE_MODES[mode]}: RDS cannot stop it, so offhours never touches it"
    if item.get("GlobalClusterIdentifier"):
        return (
            f"member of global database {item['GlobalClusterIdentifier']!r}: RDS cannot stop "
            "it, so offhours never touches it"
        )
    source = item.get("ReplicationSourceIdentifier")
    if source:
        return f"replica of {source!r}: RDS cannot stop it, so offhours never touches it"
    replicas = item.get("ReadReplicaIdentifiers") or []
    if replicas:
        return "it has cross-Region replicas: RDS cannot stop it, so offhours never touches it"
    return None


class RdsGateway:
    """RDS for one account and region. `client` is a boto3 RDS client, `tagging` a Resource
    Groups Tagging API client of the same account and region, both built by the caller."""

    kind = "rds"
    service = "RDS"
    tags_each_alone = True  # one AddTagsToResource per resource: A and its fingerprint together

    def __init__(
        self,
        client: Any,
        tagging: Any,
        *,
        tag_key: str,
        region: str = "",
        account: str = "",
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int = WORKERS,
    ) -> None:
        self.client = client
        self.tagging = tagging
        self.tag_key = tag_key
        self.state_key = state_tag_key(tag_key)
        self.fp_key = fingerprint_tag_key(tag_key)
        self.override_key = override_tag_key(tag_key)
        self.region = region or client.meta.region_name
        self.account = account
        self.batch_size = batch_size
        self.workers = workers
        self._listed: dict[str, TagSet] = {}
        self._auto: dict[tuple[str, str], datetime] = {}

    # -- reading -----------------------------------------------------------------------------

    def resource_type(self, resource_id: str) -> str:
        return split_arn(resource_id)[0]

    def tagged(self, may_call: MayCall = None) -> dict[str, TagSet]:
        """Every DB instance and cluster that carries the schedule tag or the state tag, with
        offhours' tags: two filtered listings of the Resource Groups Tagging API."""
        keys = {self.tag_key: 0, self.state_key: 1, self.fp_key: 2, self.override_key: 3}
        found: dict[str, TagSet] = {}
        paginator = self.tagging.get_paginator("get_resources")
        try:
            for key in (self.tag_key, self.state_key):
                pages = paginator.paginate(
                    TagFilters=[{"Key": key}],
                    ResourceTypeFilters=[DB, CLUSTER],
                    ResourcesPerPage=100,
                )
                for page in pages:
                    for item in page.get("ResourceTagMappingList", []):
                        arn = str(item.get("ResourceARN", ""))
                        if arn in found or not is_rds_arn(arn):
                            continue
                        entry: TagSet = [None, None, None, None, None]
                        for tag in item.get("Tags", []):
                            slot = keys.get(tag.get("Key", ""))
                            if slot is not None:
                                entry[slot] = str(tag.get("Value", ""))
                        found[arn] = entry
                    if may_call is not None and not may_call():
                        raise OutOfTime("the run's time ran out while listing the databases")
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc
        self._listed = found
        return found

    def amend(self, entries: list[tuple[Instance, Reading]], at: datetime) -> None:
        """Look for starts by RDS after seven days stopped, when a database that the schedule
        wants stopped and that offhours has handled since the last event may have had one (a
        DescribeEvents listing of that source type, since the oldest of their state tags)."""
        since: dict[str, datetime] = {}
        for instance, reading in entries:
            if reading.desired is not DesiredState.STOPPED or instance.untagged:
                continue
            anchor = read_anchor(instance.handled)[0] if instance.handled else None
            if anchor is None or anchor > at:
                continue
            if reading.event is not None and reading.event.at > anchor:
                continue  # the event applies anyway
            kind = split_arn(instance.id)[0]
            since[kind] = min(anchor, since.get(kind, anchor))
        if not since:
            return
        self._auto = self.auto_starts(since, at)
        for instance, _ in entries:
            instance.auto_started = self._auto.get(split_arn(instance.id))

    def auto_starts(
        self, since: dict[str, datetime], at: datetime
    ) -> dict[tuple[str, str], datetime]:
        """The databases that RDS started on its own after seven days stopped, between
        `since[kind]` and `at`, and not stopped since: (type, identifier) to the time of that
        start. The events only serve this rule: when they cannot be read, a warning says so
        and the run goes on (a restart is then taken for a person's start, which is safe)."""
        starts: dict[tuple[str, str], datetime] = {}
        stops: dict[tuple[str, str], datetime] = {}
        for source, kind in SOURCE_TYPES.items():
            if kind not in since:
                continue
            first = max(since[kind], at - EVENT_HORIZON)
            seen: dict[tuple[str, str], datetime] = {}  # this source's starts, kept if read whole
            try:
                for event in self._events(source, first, at):
                    when = event.get("Date")
                    if not isinstance(when, datetime):
                        continue
                    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
                    if not first < when <= at or SOURCE_TYPES.get(event.get("SourceType")) != kind:
                        continue
                    key = (kind, str(event.get("SourceIdentifier", "")))
                    message = str(event.get("Message", "")).lower()
                    if AUTO_START in message:
                        seen[key] = max(when, seen.get(key, when))
                    elif "stop" in message:  # anyone's stop since: the restart is over
                        stops[key] = max(when, stops.get(key, when))
            except (ClientError, BotoCoreError) as exc:
                log.warning(
                    f"RDS events of {self.account or 'this account'}/{self.region} cannot be "
                    f"read ({exc}): a start by RDS after seven days stopped is not recognised "
                    "in this run",
                    extra={"kind": "rds-events-error", "region": self.region},
                )
                continue  # a stop on an unread page could cancel a start read before it
            starts.update(seen)
        return {k: t for k, t in starts.items() if k not in stops or stops[k] < t}

    def _events(self, source: str, first: datetime, at: datetime) -> Iterator[Any]:
        """The events of one source type, at most MAX_EVENT_PAGES pages of them."""
        pages = self.client.get_paginator("describe_events").paginate(
            SourceType=source,
            StartTime=first,
            EndTime=at,
            PaginationConfig={"PageSize": 100, "MaxItems": 100 * MAX_EVENT_PAGES},
        )
        for page in pages:
            yield from page.get("Events", [])

    def details(self, ids: Sequence[str]) -> list[Instance]:
        """The DB instances and clusters of `ids` (ARNs) that still exist, read in full."""
        instances = [arn for arn in ids if split_arn(arn)[0] == DB]
        clusters = [arn for arn in ids if split_arn(arn)[0] == CLUSTER]
        out: list[Instance] = []
        try:
            for batch in chunks(instances, DESCRIBE_BATCH):
                pages = self.client.get_paginator("describe_db_instances").paginate(
                    Filters=[{"Name": "db-instance-id", "Values": batch}]
                )
                for page in pages:
                    out += [self._instance(item) for item in page.get("DBInstances", [])]
            for batch in chunks(clusters, DESCRIBE_BATCH):
                pages = self.client.get_paginator("describe_db_clusters").paginate(
                    Filters=[{"Name": "db-cluster-id", "Values": batch}]
                )
                for page in pages:
                    out += [self._cluster(item) for item in page.get("DBClusters", [])]
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc
        return out

    def pages(
        self, may_call: MayCall = None, at: datetime | None = None
    ) -> Iterator[list[Instance]]:
        """Every DB instance and cluster that carries the schedule tag or the state tag, read in
        full (with the restarts by RDS since their state tags, when `at` is given)."""
        listed = self.tagged(may_call)
        found = self.details(list(listed))
        if at is not None:
            anchors = [
                a
                for i in found
                if i.state == "running" and i.handled and not i.untagged
                for a in [read_anchor(i.handled)[0]]
                if a is not None and a <= at
            ]
            if anchors:
                first = min(anchors)
                self._auto = self.auto_starts({DB: first, CLUSTER: first}, at)
                for instance in found:
                    instance.auto_started = self._auto.get(split_arn(instance.id))
        yield from chunks(found, 1000)

    def _tags(self, arn: str, tag_list: Any) -> dict[str, str]:
        """The resource's tags as it was described; as it was listed, if the description has
        none (so that a missing TagList never reads as a removed schedule tag)."""
        if isinstance(tag_list, list):
            return {str(t.get("Key", "")): str(t.get("Value", "")) for t in tag_list}
        listed = self._listed.get(arn)
        if listed is None:
            return {}
        keys = (self.tag_key, self.state_key, self.fp_key, self.override_key)
        return {k: v for k, v in zip(keys, listed, strict=False) if v is not None}

    def _snapshot(
        self, arn: str, name: str, status: str, tags: dict[str, str], kind: str, skip: str | None
    ) -> Instance:
        return Instance(
            id=arn,
            state=STATES.get(status, status or "unknown"),
            schedule=tags.get(self.tag_key, ""),
            name=name,
            handled=tags.get(self.state_key),
            region=self.region,
            account=self.account,
            untagged=self.tag_key not in tags,
            fingerprint=tags.get(self.fp_key),
            override=tags.get(self.override_key),
            resource_type=kind,
            skip_reason=skip,
            auto_started=self._auto.get((kind, name)),
        )

    def _instance(self, item: Any) -> Instance:
        arn = str(item.get("DBInstanceArn", ""))
        return self._snapshot(
            arn,
            str(item.get("DBInstanceIdentifier", split_arn(arn)[1])),
            str(item.get("DBInstanceStatus", "")),
            self._tags(arn, item.get("TagList")),
            DB,
            instance_skip(item),
        )

    def _cluster(self, item: Any) -> Instance:
        arn = str(item.get("DBClusterArn", ""))
        return self._snapshot(
            arn,
            str(item.get("DBClusterIdentifier", split_arn(arn)[1])),
            str(item.get("Status", "")),
            self._tags(arn, item.get("TagList")),
            CLUSTER,
            cluster_skip(item),
        )

    # -- changing ----------------------------------------------------------------------------

    def start(self, ids: Sequence[str], may_call: MayCall = None) -> BatchResult:
        def call(arn: str) -> Any:
            kind, name = split_arn(arn)
            if kind == CLUSTER:
                return self.client.start_db_cluster(DBClusterIdentifier=name)
            return self.client.start_db_instance(DBInstanceIdentifier=name)

        return self._each(call, ids, may_call)

    def stop(
        self, ids: Sequence[str], *, hibernate: bool = False, may_call: MayCall = None
    ) -> BatchResult:
        del hibernate  # means nothing for RDS: the planner says so

        def call(arn: str) -> Any:
            kind, name = split_arn(arn)
            if kind == CLUSTER:
                return self.client.stop_db_cluster(DBClusterIdentifier=name)
            return self.client.stop_db_instance(DBInstanceIdentifier=name)

        return self._each(call, ids, may_call)

    def tag_each(self, tags: dict[str, dict[str, str]], may_call: MayCall = None) -> BatchResult:
        def call(arn: str) -> Any:
            pairs: Any = [{"Key": k, "Value": v} for k, v in tags[arn].items()]
            return self.client.add_tags_to_resource(ResourceName=arn, Tags=pairs)

        return self._each(call, list(tags), may_call)

    def untag(
        self, ids: Sequence[str], keys: Sequence[str], may_call: MayCall = None
    ) -> BatchResult:
        def call(arn: str) -> Any:
            return self.client.remove_tags_from_resource(ResourceName=arn, TagKeys=list(keys))

        return self._each(call, ids, may_call)

    def _each(
        self, call: Callable[[str], Any], ids: Sequence[str], may_call: MayCall
    ) -> BatchResult:
        """One call per resource, `workers` at a time. A refused call is that resource's
        failure (with RDS's error code), never the others'."""
        result = BatchResult()
        waves = list(chunks(list(ids), self.workers))

        def one(arn: str) -> tuple[str, str | None, tuple[str, str] | None, Exception | None]:
            try:
                response = call(arn)
            except ClientError as exc:
                return arn, request_id_of(exc.response), error_of(exc), None
            except CONNECTION_ERRORS as exc:
                return arn, None, ("EndpointUnavailable", str(exc)), exc
            except BotoCoreError as exc:
                return arn, None, (type(exc).__name__, str(exc)), None
            return arn, request_id_of(response), None, None

        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            for index, wave in enumerate(waves):
                if may_call is not None and not may_call():
                    for rest in waves[index:]:
                        result.not_attempted += rest
                    break
                lost: Exception | None = None
                for arn, request_id, failure, gone in pool.map(one, wave):
                    result.calls += 1
                    if request_id:
                        result.request_ids[arn] = request_id
                    if failure is None:
                        result.succeeded.append(arn)
                    else:
                        result.failed[arn] = failure
                    lost = lost or gone
                if lost is not None:
                    for rest in waves[index + 1 :]:
                        result.not_attempted += rest
                    raise PartialBatch(result, str(lost)) from lost
        return result
