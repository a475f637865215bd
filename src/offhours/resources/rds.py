"""The RDS gateway: the only module that calls RDS (and the Resource Groups Tagging API for it).

It schedules RDS DB instances, Aurora (and Multi-AZ) DB clusters, and DocumentDB and Neptune
clusters with the same tag, language and rules as EC2 instances (DESIGN §8, §9). A resource's id
is its ARN.

- DocumentDB and Neptune clusters are RDS's clusters underneath: the same API at the same
  endpoint (StopDBCluster, StartDBCluster, DescribeDBClusters, DescribeEvents, the tag calls),
  the same ARN (arn:aws:rds:REGION:ACCOUNT:cluster:NAME), the same IAM actions (`rds:`), the
  same seven-day restart. Only the cluster's `Engine` tells them apart, so the resource type
  follows it: `docdb` is `docdb:cluster`, `neptune` is `neptune:cluster`, any other is
  `rds:cluster` (Aurora, Multi-AZ). Known from the ARN alone (the tags, before a describe), a
  cluster is `rds:cluster`; `resource_type` gives the engine's type once it has been described.
  Calls and events go by the ARN's own type (`split_arn`), never by the engine's.
- Listing: the Resource Groups Tagging API filters on the server (resource types `rds:db` and
  `rds:cluster`, which hold DocumentDB's and Neptune's clusters too, a listing for the schedule
  tag and one for the state tag, whose resources lose it); DescribeDBInstances and
  DescribeDBClusters, filtered by ARN, give the states.
- States: `available` is running, `stopped` is stopped; any other status (`starting`,
  `stopping`, `backing-up`, `modifying`, `storage-full`...) waits for the next run.
- Never touched, with the reason: members of a DB cluster (Aurora's, DocumentDB's and
  Neptune's instances follow their cluster: tag the cluster), read replicas and instances that
  have read replicas (RDS cannot stop them), RDS for SQL Server in a Multi-AZ deployment, Aurora
  Serverless v1 and other cluster configurations that cannot be stopped (global databases,
  cross-Region replicas), and cluster engines that RDS does not stop.
- Acting: RDS has no batch call, so each start, stop and tag write is one call, a few at a time
  (`workers`), with botocore's standard retries (`offhours.aws`); `may_call` is asked before
  each wave, so a run near its time limit leaves the rest to the next.
- The seven-day restart: RDS starts a database that has been stopped for seven days, and says
  so in an event ("... is being started due to it exceeding the maximum allowed time being
  stopped": RDS-EVENT-0154 for an instance, RDS-EVENT-0153 for a cluster; DocumentDB and
  Neptune use RDS's event definitions and IDs, and their clusters' events, of the source type
  `db-cluster`, are in the same listing as Aurora's). DescribeEvents is read when a database
  that the schedule wants stopped may have been started so, and the restart time is given to
  the planner (`Instance.auto_started`), which stops it again. A stop of the database after the
  restart (by anyone) means that the restart is over.
- Listings that are cut short are not trusted (DESIGN §3). The tagging and Describe listings
  are read to the end or raise (a page that fails, `OutOfTime`), so nothing is decided from
  part of them. An events listing asks only for the `notification` category (the restarts,
  and the stops RDS-EVENT-0087 / RDS-EVENT-0150, are all in it), one listing per source type,
  or one per database where few are concerned; one that is cut (MAX_EVENT_PAGES pages read
  with more to come, a page that failed, the run's time ran out) trusts none of its restarts:
  the databases it concerns are taken as started by a person, and a warning
  (`rds-events-error`) says how far it got.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from offhours.instance import Instance
from offhours.override import override_tag_key
from offhours.pace import THROTTLING_CODES, Pacer, buckets_for
from offhours.pricing import Rate, rds_rate
from offhours.resources import (
    CONNECTION_ERRORS,
    BatchResult,
    ByArn,
    EndpointUnavailable,
    MayCall,
    OutOfTime,
    PartialBatch,
    TagSet,
    chunks,
    error_of,
    request_id_of,
)
from offhours.schedule import DesiredState, iso
from offhours.state import fingerprint_tag_key, read_anchor, state_tag_key

if TYPE_CHECKING:
    from offhours.planner import Reading

log = logging.getLogger("offhours.rds")
DB = "rds:db"
CLUSTER = "rds:cluster"  # the ARN's type of every cluster; the resource type of Aurora's
DOCDB_CLUSTER = "docdb:cluster"
NEPTUNE_CLUSTER = "neptune:cluster"
# A cluster's resource type by its engine (`cluster_type`); any other engine is `rds:cluster`.
ENGINE_TYPES = {"docdb": DOCDB_CLUSTER, "neptune": NEPTUNE_CLUSTER}
STATES = {"available": "running", "stopped": "stopped"}
DEFAULT_BATCH_SIZE = 20
# Throttle answers (each after botocore's retries) before the rest is left to the next run.
MAX_THROTTLES = 3
WORKERS = 4  # calls side by side: RDS has no batch call
DESCRIBE_BATCH = 100  # ARNs in one Describe call's filter
# RDS keeps its events for 14 days: a restart older than that cannot be recognised.
EVENT_HORIZON = timedelta(days=14)
AUTO_START = "exceeding the maximum allowed time being stopped"
SOURCE_TYPES = {"db-instance": DB, "db-cluster": CLUSTER}
MAX_EVENT_PAGES = 20  # a bound on what one listing reads: more to read, and it is not trusted
EVENT_PAGE_SIZE = 100  # DescribeEvents' largest page
# The one category the events offhours reads belong to (RDS's event tables): the restarts
# (RDS-EVENT-0154, RDS-EVENT-0153) and the stops that end them (RDS-EVENT-0087, RDS-EVENT-0150).
EVENT_CATEGORIES = ("notification",)
# Up to this many databases of one source type to look at: one listing each (SourceIdentifier),
# which reads their own events only; more: one listing of the source type.
PER_DATABASE_LISTINGS = 3

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
# Engines of clusters that RDS can stop: Aurora, Multi-AZ DB clusters, DocumentDB and Neptune.
CLUSTER_ENGINES = ("aurora", "mysql", "postgres", *ENGINE_TYPES)
# Aurora engine modes that cannot be stopped (Serverless v1, and older special modes).
UNSTOPPABLE_MODES = {
    "serverless": "an Aurora Serverless v1 cluster",
    "global": "a cluster in the old global engine mode",
    "multimaster": "a multi-master cluster",
    "parallelquery": "a cluster in the old parallel query engine mode",
}


def split_arn(arn: str) -> tuple[str, str]:
    """(the ARN's type, identifier) of an RDS ARN, arn:aws:rds:REGION:ACCOUNT:db|cluster:NAME:
    `rds:db` or `rds:cluster`, which says which call and which events (a DocumentDB or
    Neptune cluster's ARN is a `cluster` one; its resource type is `cluster_type`'s)."""
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


def cluster_type(engine: object) -> str:
    """The resource type of a DB cluster of this engine: `docdb:cluster`, `neptune:cluster`, or
    `rds:cluster` (Aurora, Multi-AZ DB clusters, and any other)."""
    return ENGINE_TYPES.get(str(engine or "").lower(), CLUSTER)


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
            f"engine {engine or '(none)'!r}: offhours schedules Aurora, RDS Multi-AZ, "
            "DocumentDB and Neptune DB clusters only"
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


@dataclass
class EventListing:
    """One DescribeEvents listing: the events of a source type since `first`, of one database
    (`identifier`) or of all; the databases whose restarts it may show (`feeds`), and how far
    it got. `cut` says why it was not read to the end (None: it was)."""

    source: str
    first: datetime
    feeds: frozenset[str]
    identifier: str | None = None
    pages: int = 0
    events: int = 0
    reached: datetime | None = None  # the latest event read
    cut: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "source_type": self.source,
            "source_identifier": self.identifier,
            "since": iso(self.first),
            "pages": self.pages,
            "events": self.events,
            "reached": iso(self.reached) if self.reached else None,
            "databases": len(self.feeds),
            "cut": self.cut,
        }

    def describe(self) -> str:
        of = f" of {self.identifier}" if self.identifier else ""
        pages = f"{self.pages} page{'' if self.pages == 1 else 's'}"
        events = f"{self.events} event{'' if self.events == 1 else 's'}"
        reached = f", up to {iso(self.reached)}" if self.reached else ""
        return (
            f"{self.source} events{of} since {iso(self.first)}: {pages} ({events}{reached}) "
            f"read, then {self.cut}"
        )


def _event_time(event: Any) -> datetime | None:
    when = event.get("Date")
    if not isinstance(when, datetime):
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


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
        pacer: Pacer | None = None,
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
        # RDS's rate limit (one bucket for the account-region's RDS API: `offhours.pace`).
        self.pacer = pacer or Pacer(buckets_for("rds", self.account, self.region))
        self._listed: dict[str, TagSet] = {}
        self._auto: dict[tuple[str, str], datetime] = {}
        self._types: dict[str, str] = {}  # ARN -> resource type, of the clusters described
        self._may_call: MayCall = None  # the run's budget, as `tagged` was given it

    # -- reading -----------------------------------------------------------------------------

    def resource_type(self, resource_id: str) -> str:
        """`rds:db`, or a cluster's type by its engine once described (`rds:cluster` before)."""
        return self._types.get(resource_id) or split_arn(resource_id)[0]

    def tagged(self, may_call: MayCall = None) -> dict[str, TagSet]:
        """Every DB instance and cluster that carries the schedule tag or the state tag, with
        offhours' tags: two filtered listings of the Resource Groups Tagging API."""
        keys = {self.tag_key: 0, self.state_key: 1, self.fp_key: 2, self.override_key: 3}
        self._may_call = may_call
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
        wants stopped and that offhours has handled since the last event may have had one
        (DescribeEvents, since each one's state tag)."""
        since: dict[tuple[str, str], datetime] = {}
        for instance, reading in entries:
            if reading.desired is not DesiredState.STOPPED or instance.untagged:
                continue
            anchor = read_anchor(instance.handled)[0] if instance.handled else None
            if anchor is None or anchor > at:
                continue
            if reading.event is not None and reading.event.at > anchor:
                continue  # the event applies anyway
            key = split_arn(instance.id)
            first = _since(anchor, instance, at)
            since[key] = min(first, since.get(key, first))
        if not since:
            return
        self._auto = self.auto_starts(since, at)
        for instance, _ in entries:
            instance.auto_started = self._auto.get(split_arn(instance.id))

    def auto_starts(
        self, since: dict[tuple[str, str], datetime], at: datetime
    ) -> dict[tuple[str, str], datetime]:
        """The databases that RDS started on its own after seven days stopped, between
        `since[(type, identifier)]` and `at`, and not stopped since: (type, identifier) to the
        time of that start. The events only serve this rule: a listing that is not read to the
        end (a page limit, a page that failed, the run's time) trusts none of its restarts, a
        warning says so, and the run goes on (those restarts are taken for a person's start,
        which is safe: a stop on an unread page could have ended them)."""
        found: dict[tuple[str, str], datetime] = {}
        cut: list[EventListing] = []
        for listing in self._listings(since, at):
            kind = SOURCE_TYPES[listing.source]
            starts: dict[tuple[str, str], datetime] = {}
            stops: dict[tuple[str, str], datetime] = {}
            for event in self._events(listing, at):
                when = _event_time(event)
                if when is None:
                    continue
                listing.reached = max(when, listing.reached or when)
                name = str(event.get("SourceIdentifier", ""))
                if name not in listing.feeds or not since[(kind, name)] < when <= at:
                    continue
                if SOURCE_TYPES.get(event.get("SourceType")) != kind:
                    continue
                key = (kind, name)
                message = str(event.get("Message", "")).lower()
                if AUTO_START in message:
                    starts[key] = max(when, starts.get(key, when))
                elif "stop" in message:  # anyone's stop since: the restart is over
                    stops[key] = max(when, stops.get(key, when))
            if listing.cut is not None:
                cut.append(listing)
                continue
            found.update((k, t) for k, t in starts.items() if k not in stops or stops[k] < t)
        if cut:
            concerned = sum(len(listing.feeds) for listing in cut)
            log.warning(
                f"RDS events of {self.account or 'this account'}/{self.region} were not read "
                f"to the end: {'; '.join(listing.describe() for listing in cut)}. A start by "
                f"RDS after seven days stopped is not recognised for the {concerned} "
                f"database{'' if concerned == 1 else 's'} concerned in this run (each is taken "
                "for a person's start)",
                extra={
                    "kind": "rds-events-error",
                    "code": "OH-RDS-EVENTS-CUT",
                    "region": self.region,
                    "account": self.account,
                    "listings": [listing.record() for listing in cut],
                },
            )
        return found

    def _listings(
        self, since: dict[tuple[str, str], datetime], at: datetime
    ) -> Iterator[EventListing]:
        """The listings that cover `since`: per source type, one for each database when there
        are few, else one for all of them, since the oldest of their times (RDS keeps 14 days)."""
        horizon = at - EVENT_HORIZON
        for source, kind in SOURCE_TYPES.items():
            names = {name: t for (k, name), t in since.items() if k == kind}
            if len(names) <= PER_DATABASE_LISTINGS:
                for name, first in sorted(names.items()):
                    if max(first, horizon) < at:
                        yield EventListing(source, max(first, horizon), frozenset([name]), name)
            elif max(min(names.values()), horizon) < at:
                yield EventListing(source, max(min(names.values()), horizon), frozenset(names))

    def _events(self, listing: EventListing, at: datetime) -> Iterator[Any]:
        """The events of one listing, page by page, at most MAX_EVENT_PAGES pages; where it
        stops before its end, `listing.cut` says why."""
        args: dict[str, Any] = {
            "SourceType": listing.source,
            "StartTime": listing.first,
            "EndTime": at,
            "EventCategories": list(EVENT_CATEGORIES),
            "PaginationConfig": {"PageSize": EVENT_PAGE_SIZE},
        }
        if listing.identifier is not None:
            args["SourceIdentifier"] = listing.identifier
        pages = iter(self.client.get_paginator("describe_events").paginate(**args))
        while True:
            if self._may_call is not None and not self._may_call():
                listing.cut = "the run's time ran out"
                return
            if not self.pacer.acquire("*"):
                listing.cut = "RDS's rate limit left no time to read on"
                return
            try:
                page = next(pages, None)
            except (ClientError, BotoCoreError) as exc:
                listing.cut = f"a page could not be read ({exc})"
                return
            finally:
                self.pacer.settle("*")
            if page is None:
                return
            listing.pages += 1
            events = page.get("Events", [])
            listing.events += len(events)
            yield from events
            if page.get("Marker") and listing.pages >= MAX_EVENT_PAGES:
                listing.cut = f"the limit of {MAX_EVENT_PAGES} pages was reached with more to read"
                return

    def _paced(self, pages: Any) -> Iterator[Any]:
        """The pages of a describe listing, each request paced to RDS's bucket; `OutOfTime`
        when the next one cannot be had in this run's time (nothing is decided from a part)."""
        iterator = iter(pages)
        while True:
            if not self.pacer.acquire("*"):
                raise OutOfTime("RDS's rate limit left no time to finish the listing")
            try:
                page = next(iterator)
            except StopIteration:
                return
            finally:
                self.pacer.settle("*")
            yield page
            if not page.get("Marker"):
                return  # that was the last page: no request (and no token) follows

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
                for page in self._paced(pages):
                    out += [self._instance(item) for item in page.get("DBInstances", [])]
            for batch in chunks(clusters, DESCRIBE_BATCH):
                pages = self.client.get_paginator("describe_db_clusters").paginate(
                    Filters=[{"Name": "db-cluster-id", "Values": batch}]
                )
                for page in self._paced(pages):
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
            since = {
                split_arn(i.id): _since(a, i, at)
                for i in found
                if i.state == "running" and i.handled and not i.untagged
                for a in [read_anchor(i.handled)[0]]
                if a is not None and a <= at
            }
            if since:
                self._auto = self.auto_starts(since, at)
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
        self,
        arn: str,
        name: str,
        status: str,
        tags: dict[str, str],
        kind: str,
        skip: str | None,
        identity: Any = None,
        created: Any = None,
        rates: tuple[Rate, ...] = (),
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
            auto_started=self._auto.get(split_arn(arn)),  # by the ARN's type, as the events
            identity=identity if isinstance(identity, str) else "",
            created=created.astimezone(UTC) if isinstance(created, datetime) else None,
            rates=rates,
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
            item.get("DbiResourceId"),
            item.get("InstanceCreateTime"),
            _rates(
                self.region,
                item.get("DBInstanceClass"),
                item.get("Engine"),
                bool(item.get("MultiAZ")),
                item.get("StorageType"),
                item.get("LicenseModel"),
            ),
        )

    def complete_rates(self, resources: Sequence[Instance]) -> None:
        """The price of each cluster among `resources` is its members' (`offhours.savings`):
        one DescribeDBInstances filtered on the clusters, for a batch of them, asked only
        when stops end (a cluster's description names its members, not their classes). A
        cluster whose members cannot be read keeps no price (unknown)."""
        clusters = {
            split_arn(r.id)[1]: r
            for r in resources
            if split_arn(r.id)[0] == CLUSTER and not r.rates
        }
        members: dict[str, list[Rate]] = {}
        unknown: set[str] = set()  # clusters with a member whose class or engine is not known
        try:
            for batch in chunks(list(clusters), DESCRIBE_BATCH):
                pages = self.client.get_paginator("describe_db_instances").paginate(
                    Filters=[{"Name": "db-cluster-id", "Values": batch}]
                )
                for page in self._paced(pages):
                    for item in page.get("DBInstances", []):
                        rates = _rates(
                            self.region,
                            item.get("DBInstanceClass"),
                            item.get("Engine"),
                            False,
                            item.get("StorageType"),
                        )
                        name = str(item.get("DBClusterIdentifier", ""))
                        members.setdefault(name, []).extend(rates)
                        if not rates:
                            unknown.add(name)
        except (ClientError, BotoCoreError, OutOfTime, *CONNECTION_ERRORS) as exc:
            log.debug("the members of %d clusters could not be read: %s", len(clusters), exc)
            return
        for name, cluster in clusters.items():
            if name not in unknown:
                cluster.rates = tuple(members.get(name, ()))

    def _cluster(self, item: Any) -> Instance:
        arn = str(item.get("DBClusterArn", ""))
        kind = self._types[arn] = cluster_type(item.get("Engine"))
        return self._snapshot(
            arn,
            str(item.get("DBClusterIdentifier", split_arn(arn)[1])),
            str(item.get("Status", "")),
            self._tags(arn, item.get("TagList")),
            kind,
            cluster_skip(item),
            item.get("DbClusterResourceId"),
            item.get("ClusterCreateTime"),
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

    def rewrite(
        self, key: str, values: dict[str, tuple[str, str | None]], may_call: MayCall = None
    ) -> BatchResult:
        """The tag `key` of each resource becomes `values[arn][1]` only where it still holds
        `values[arn][0]` (`Gateway.rewrite`): RDS removes and writes tags whatever their value,
        so each resource's tags are read again (its describe) just before."""
        changed: set[str] = set()

        def call(arn: str) -> Any:
            found, new = values[arn]
            if self._current(arn).get(key) != found:
                changed.add(arn)
                return {}
            if new is None:
                return self.client.remove_tags_from_resource(ResourceName=arn, TagKeys=[key])
            pairs: Any = [{"Key": key, "Value": new}]
            return self.client.add_tags_to_resource(ResourceName=arn, Tags=pairs)

        result = self._each(call, list(values), may_call)
        result.succeeded = [arn for arn in result.succeeded if arn not in changed]
        result.changed += sorted(changed)
        return result

    def _current(self, arn: str) -> dict[str, str]:
        """The resource's tags as RDS holds them now (DescribeDBInstances or
        DescribeDBClusters of that one resource, which carry them)."""
        kind, name = split_arn(arn)
        if kind == CLUSTER:
            items = self.client.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"]
        else:
            items = self.client.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
        tags = items[0].get("TagList") if items else None
        if not isinstance(tags, list):
            return {}
        return {str(t.get("Key", "")): str(t.get("Value", "")) for t in tags}

    def _each(
        self, call: Callable[[str], Any], ids: Sequence[str], may_call: MayCall
    ) -> BatchResult:
        """One call per resource, `workers` at a time, each paced to RDS's bucket. A refused
        call is that resource's failure (with RDS's error code), never the others'; a throttled
        one waits for the bucket and is tried again, a few times, and is otherwise left to the
        next run (`not_attempted`), never failed."""
        result = BatchResult()
        pending = list(ids)
        throttles = 0

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
            while pending:
                if may_call is not None and not may_call():
                    result.deferred_reason = "time"
                    break
                wave: list[str] = []
                for arn in pending[: max(1, self.workers)]:
                    if not self.pacer.acquire("*"):
                        result.deferred_reason = "rate"
                        break
                    wave.append(arn)
                if not wave:
                    break
                pending = pending[len(wave) :]
                lost: Exception | None = None
                throttled: list[str] = []
                answers = list(pool.map(one, wave))
                self.pacer.settle("*")
                for arn, request_id, failure, gone in answers:
                    result.calls += 1
                    if request_id:
                        result.request_ids[arn] = request_id
                    if failure is None:
                        result.succeeded.append(arn)
                    elif failure[0] in THROTTLING_CODES:
                        throttled.append(arn)
                    else:
                        result.failed[arn] = failure
                    lost = lost or gone
                if throttled:
                    self.pacer.throttled("*")
                    throttles += 1
                    if throttles > MAX_THROTTLES:
                        result.deferred_reason = "rate"
                        result.not_attempted += throttled
                    else:
                        pending = throttled + pending
                if lost is not None:
                    result.not_attempted += pending
                    raise PartialBatch(result, str(lost)) from lost
        result.not_attempted += pending
        return result


def _since(anchor: datetime, instance: Instance, at: datetime) -> datetime:
    """Since when RDS's events can speak of this database: its state tag's A, and never before
    it was created (a database restored under an old name must not inherit the old one's
    events). A creation time after the run's time says nothing (see `planner._predates`)."""
    if instance.created is not None and anchor < instance.created <= at:
        return instance.created
    return anchor


def gateway(
    *,
    clients: Any,
    region: str,
    account: str | None,
    own_account: str,
    tag_key: str,
    pacer: Pacer,
) -> RdsGateway:
    """The kind's gateway for one target (`offhours.resources.make_gateway`)."""
    return RdsGateway(
        clients.target("rds", region, account),
        clients.target("resourcegroupstaggingapi", region, account),
        tag_key=tag_key,
        region=region,
        account=own_account,
        pacer=pacer,
    )


class _ByHand(ByArn):
    """RDS databases and clusters (DocumentDB's and Neptune's too), by ARN, from a workstation
    (`offhours.resources.ByHand`): each in the region its ARN names."""

    service = "rds"

    def tags(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for arn in ids:
            rds = self._client(arn)
            try:  # by ARN: a name alone could find a database of the caller's own account
                if split_arn(arn)[0] == CLUSTER:
                    items = rds.describe_db_clusters(DBClusterIdentifier=arn)["DBClusters"]
                else:
                    items = rds.describe_db_instances(DBInstanceIdentifier=arn)["DBInstances"]
            except ClientError as exc:
                if "NotFound" in str(exc.response.get("Error", {}).get("Code", "")):
                    continue
                raise
            for item in items:
                found[arn] = {t["Key"]: t.get("Value", "") for t in item.get("TagList", [])}
        return found

    def tag(self, resource: str, key: str, value: str) -> None:
        pair = [{"Key": key, "Value": value}]
        self._client(resource).add_tags_to_resource(ResourceName=resource, Tags=pair)

    def untag(self, resource: str, key: str) -> None:
        self._client(resource).remove_tags_from_resource(ResourceName=resource, TagKeys=[key])


def by_hand(region: str) -> _ByHand:
    return _ByHand(region)


@lru_cache(maxsize=1024)
def _rates(
    region: str,
    instance_class: Any,
    engine: Any,
    multi_az: bool,
    storage: Any = None,
    licence: Any = None,
) -> tuple[Rate, ...]:
    """What an hour of a DB instance costs (`offhours.pricing`), one object for every instance
    of its class, engine, deployment and storage (Aurora's I/O-Optimized is priced apart)."""
    if not isinstance(instance_class, str) or not isinstance(engine, str):
        return ()
    return (
        rds_rate(
            region,
            instance_class,
            engine,
            multi_az,
            storage_type=storage if isinstance(storage, str) else None,
            license_model=licence if isinstance(licence, str) else None,
        ),
    )
