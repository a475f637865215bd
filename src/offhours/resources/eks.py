"""The EKS gateway: EKS managed node groups scheduled through EKS's own API (DESIGN §9).

A managed node group is backed by an Auto Scaling group, but EKS owns that group: its sizes are
changed through the node group's scaling configuration (UpdateNodegroupConfig), never through
the group, or EKS puts them back. So a node group that carries the schedule tag is scheduled
here, with the same language, rules and state tags as an Auto Scaling group (`resources.asg`):
- it is `running` while its minimum or desired size is above 0, `stopped` at 0/0 (and while
  offhours' stop is in force at a size a person set in between: `AsgGateway._state`);
- at a stop, offhours first records the sizes it had in `<TagKey>:offhours-size` (the format of
  `asg.size_record`: ``1/2/4 2026-03-23T18:05:00Z Xq3-9a``, the last word the entry of the node
  group's identity), then sets its minimum and desired sizes to 0. Its maximum size is left as
  it is: EKS refuses a maximum below 1 (UpdateNodegroupConfig's `maxSize` is at least 1), and
  with a minimum and desired size of 0 no node runs whatever the maximum. (A cluster
  autoscaler that sees pods pending may scale the group up again within that maximum: offhours
  then reads a size set in between, and respects it until the next event, as a person's.)
- at a start, the recorded sizes are restored, or, where the record is lost, the size of the
  value's `size=MIN/DESIRED/MAX` word (whose maximum must be at least 1); else the node group is
  left as it is with an error (`SizeUnknown`).
- a node group whose status is not ACTIVE (CREATING, UPDATING, DELETING, DEGRADED, ...) waits:
  EKS refuses to change a node group that it is changing already, and a stop or start takes it
  through UPDATING for a few minutes.

A node group's id is its ARN (``arn:aws:eks:REGION:ACCOUNT:nodegroup/CLUSTER/NAME/UUID``), and
its identity that ARN with its creation time: a node group made again under the same name has
another UUID, and is another resource. Its name in the logs is ``CLUSTER/NAME``.

EKS has no tag filter: node groups are listed per cluster (ListClusters, ListNodegroups), and
each is described (DescribeNodegroup, which gives its tags, scaling configuration, status and
creation time). The descriptions read by `tagged` serve `details` in the same run, so that a
node group is described once a run. A quiet run over C clusters and N node groups costs
ceil(C/100) ListClusters + C ListNodegroups (one page each up to 100 node groups: EKS allows 30
a cluster by default) + N DescribeNodegroup calls, nothing more. Every call takes a token of the
service's one bucket (`offhours.pace`, "eks", "*"). Tags are a map on the node group's ARN:
TagResource writes a record, A and its fingerprint in one call; UntagResource removes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from offhours.instance import Instance, fingerprint_tag_key, state_tag_key
from offhours.override import override_tag_key
from offhours.pace import THROTTLING_CODES, Pacer, buckets_for
from offhours.resources import (
    CONNECTION_ERRORS,
    BatchResult,
    ByArn,
    EndpointUnavailable,
    OutOfTime,
    TagSet,
    chunks,
    error_of,
)
from offhours.resources.asg import AsgGateway, Size, read_size, size_record, size_tag_key
from offhours.resources.paced import MAX_THROTTLES, PerResource, Refused

NODEGROUP = "eks:nodegroup"
ACTIVE = "ACTIVE"
PAGE = 100  # the most that ListClusters and ListNodegroups give in a page
DEFAULT_BATCH_SIZE = 20
MAX_PAGES = 1000  # pages of one listing: beyond it, the endpoint is not believed
NOT_FOUND = "ResourceNotFoundException"
_ARN = re.compile(r"^arn:[\w-]+:eks:[\w-]*:\d*:nodegroup/([^/]+)/([^/]+)/[^/]+$", re.ASCII)

MayCall = Callable[[], bool] | None


def where(arn: str) -> tuple[str, str] | None:
    """The cluster and the name of a node group, from its ARN."""
    found = _ARN.match(arn)
    return (found.group(1), found.group(2)) if found else None


@dataclass(slots=True)
class _Seen:
    """What a run keeps of a node group's description: offhours' tags only."""

    arn: str
    cluster: str
    name: str
    status: str
    size: Size
    created: datetime | None
    tags: dict[str, str]

    @property
    def identity(self) -> str:
        return f"{self.arn}@{self.created.isoformat() if self.created else ''}"


def _skip(status: str) -> str | None:
    if status == ACTIVE:
        return None
    return (
        f"the node group is {status[:40] or 'in no known status'}, not ACTIVE: offhours leaves "
        "it alone until it is"
    )


class EksGateway:
    """EKS managed node groups of one account and region; `client` is a boto3 eks client."""

    kind = "eks"
    service = "EKS"
    tags_each_alone = True  # one TagResource per node group: A and its fingerprint together

    def __init__(
        self,
        client: Any,
        *,
        tag_key: str,
        region: str = "",
        account: str = "",
        batch_size: int = DEFAULT_BATCH_SIZE,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = client
        self.tag_key = tag_key
        self.state_key = state_tag_key(tag_key)
        self.fp_key = fingerprint_tag_key(tag_key)
        self.override_key = override_tag_key(tag_key)
        self.size_key = size_tag_key(tag_key)
        self.region = region or client.meta.region_name
        self.account = account
        self.batch_size = batch_size
        self.pacer = pacer or Pacer(buckets_for("eks", self.account, self.region))
        self._kept = (self.tag_key, self.state_key, self.fp_key, self.override_key, self.size_key)
        self._listed: dict[str, _Seen] = {}  # ARN -> read by `tagged`, not yet by `details`
        self._groups: dict[str, _Seen] = {}  # ARN -> what the last read said
        self._fallback: dict[str, Size] = {}  # ARN -> the size= word of its value
        self._at: datetime | None = None  # the run's time, as the service gave it
        self.calls = PerResource(self.pacer)  # no batch calls: one node group a call, paced

    # -- reading -----------------------------------------------------------------------------

    def resource_type(self, resource_id: str) -> str:
        del resource_id
        return NODEGROUP

    def tagged(self, may_call: MayCall = None) -> dict[str, TagSet]:
        """Every node group that carries the schedule tag or a state tag, with offhours' tags:
        every node group of every cluster described (EKS filters on no tag), the descriptions
        kept for `details`."""
        slots = (self.tag_key, self.state_key, self.fp_key, self.override_key)
        found: dict[str, TagSet] = {}
        self._listed.clear()
        try:
            for cluster in self._names("clusters", may_call):
                for name in self._names("nodegroups", may_call, cluster):
                    if may_call is not None and not may_call():
                        raise OutOfTime("the run's time ran out while listing the node groups")
                    seen = self._describe(cluster, name)
                    if seen is None or not any(key in seen.tags for key in slots):
                        continue
                    self._listed[seen.arn] = seen
                    found[seen.arn] = [*(seen.tags.get(key) for key in slots), None]
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc
        return found

    def consider(self, entries: list[tuple[Instance, Any]]) -> None:
        """The `size=` word of each node group's value, to start one whose record is lost."""
        for instance, reading in entries:
            schedule = getattr(reading, "schedule", None)
            size = getattr(schedule, "size", None)
            if size is not None:
                self._fallback[instance.id] = size
            else:
                self._fallback.pop(instance.id, None)

    def amend(self, entries: list[tuple[Instance, Any]], at: datetime) -> None:
        self._at = at
        self.consider(entries)

    def details(self, ids: Sequence[str]) -> list[Instance]:
        """The node groups of `ids` (ARNs) that still exist, read in full: from the description
        `tagged` read in this run where there is one (each serves once), else described now."""
        out: list[Instance] = []
        try:
            for arn in ids:
                seen = self._listed.pop(arn, None)
                if seen is None:
                    place = where(arn)
                    seen = self._describe(*place) if place is not None else None
                    if seen is None or seen.arn != arn:  # gone, or another under its name
                        continue
                out.append(self._instance(seen))
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc
        return out

    def pages(
        self, may_call: MayCall = None, at: datetime | None = None
    ) -> Iterator[list[Instance]]:
        self._at = at
        listed = self.tagged(may_call)
        yield from chunks(self.details(list(listed)), 1000)

    def _names(self, field: str, may_call: MayCall, cluster: str | None = None) -> Iterator[str]:
        """The names of the clusters, or of one cluster's node groups, page by page, each page
        a paced call. A cluster that is gone by the time its node groups are listed has none."""
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if may_call is not None and not may_call():
                raise OutOfTime("the run's time ran out while listing the node groups")
            params: dict[str, Any] = {"maxResults": PAGE}
            if token:
                params["nextToken"] = token
            try:
                if cluster is None:
                    page = self._read(self.client.list_clusters, **params)
                else:
                    page = self._read(self.client.list_nodegroups, clusterName=cluster, **params)
            except ClientError as exc:
                if cluster is not None and error_of(exc)[0] == NOT_FOUND:
                    return
                raise
            yield from (str(name) for name in page.get(field, []) or [])
            token = page.get("nextToken")
            if not token:
                return
            if token in seen:
                raise OutOfTime(f"EKS gave the same page token twice while listing {field}")
            seen.add(token)
        raise OutOfTime(f"EKS gave more than {MAX_PAGES} pages of {field}")

    def _describe(self, cluster: str, name: str) -> _Seen | None:
        """One node group as DescribeNodegroup gives it (None: it is gone)."""
        try:
            item = self._read(
                self.client.describe_nodegroup, clusterName=cluster, nodegroupName=name
            ).get("nodegroup")
        except ClientError as exc:
            if error_of(exc)[0] == NOT_FOUND:
                return None
            raise
        if not isinstance(item, dict):
            return None
        scaling = item.get("scalingConfig") or {}
        created = item.get("createdAt")
        tags = item.get("tags") or {}
        return _Seen(
            arn=str(item.get("nodegroupArn", "")),
            cluster=str(item.get("clusterName") or cluster),
            name=str(item.get("nodegroupName") or name),
            status=str(item.get("status") or ""),
            size=(
                int(scaling.get("minSize") or 0),
                int(scaling.get("desiredSize") or 0),
                int(scaling.get("maxSize") or 0),
            ),
            created=created.astimezone(UTC) if isinstance(created, datetime) else None,
            tags={k: str(tags[k]) for k in self._kept if k in tags},
        )

    def _read(self, operation: Callable[..., Any], **params: Any) -> Any:
        """One call of a listing, paced to the service's bucket; a throttled one waits for
        the bucket and is tried again a few times, then leaves the listing to the next run."""
        throttles = 0
        while True:
            if not self.pacer.acquire("*"):
                raise OutOfTime("EKS's rate limit left no time to finish the listing")
            try:
                return operation(**params)
            except ClientError as exc:
                if error_of(exc)[0] not in THROTTLING_CODES:
                    raise
                if throttles >= MAX_THROTTLES:
                    raise OutOfTime(
                        "EKS kept throttling the listing: the next run reads it"
                    ) from exc
                self.pacer.throttled("*")
                throttles += 1
            finally:
                self.pacer.settle("*")

    def _instance(self, seen: _Seen) -> Instance:
        self._groups[seen.arn] = seen
        tags = seen.tags
        handled = tags.get(self.state_key)
        identity = seen.identity
        return Instance(
            id=seen.arn,
            state=AsgGateway._state(seen.size, tags.get(self.size_key), identity, handled),
            schedule=tags.get(self.tag_key, ""),
            name=f"{seen.cluster}/{seen.name}",
            handled=handled,
            region=self.region,
            account=self.account,
            untagged=self.tag_key not in tags,
            fingerprint=tags.get(self.fp_key),
            override=tags.get(self.override_key),
            resource_type=NODEGROUP,
            skip_reason=_skip(seen.status),
            identity=identity,
            created=seen.created,
        )

    # -- changing ----------------------------------------------------------------------------

    def start(self, ids: Sequence[str], may_call: MayCall = None) -> BatchResult:
        """Each node group back to its recorded sizes (or its value's `size=` word)."""

        def call(arn: str) -> Any:
            known = self._groups.get(arn)
            record = known.tags.get(self.size_key) if known is not None else None
            size, _, why = read_size(record, known.identity if known is not None else "")
            if size is None:
                size = self._fallback.get(arn)
            if size is None:
                raise Refused(
                    "SizeUnknown",
                    f"{why}, and the tag value names no size=MIN/DESIRED/MAX to start it to: "
                    "left as it is",
                    "OH-SIZE-UNKNOWN",
                )
            if size[2] < 1:
                raise Refused(
                    "SizeInvalid",
                    f"EKS needs a maximum size of at least 1, and size={size[0]}/{size[1]}/"
                    f"{size[2]} names {size[2]}: left as it is",
                    "OH-SIZE-INVALID",
                )
            cluster, name = self._where(arn)
            return self.client.update_nodegroup_config(
                clusterName=cluster,
                nodegroupName=name,
                scalingConfig={"minSize": size[0], "desiredSize": size[1], "maxSize": size[2]},
            )

        return self.calls.each(call, ids, may_call)

    def stop(
        self, ids: Sequence[str], *, hibernate: bool = False, may_call: MayCall = None
    ) -> BatchResult:
        """Each node group's sizes recorded (the sizes it has), then its minimum and desired
        sizes set to 0; its maximum is left as it is (EKS refuses a maximum of 0)."""
        del hibernate  # means nothing for a node group: the planner says so

        def call(arn: str) -> Any:
            known = self._groups.get(arn)
            if known is None:
                raise Refused("NotRead", "the node group was not read in this run")
            if known.size[0] > 0 or known.size[1] > 0:  # one at 0/0 keeps its record
                when = self._at or datetime.now(UTC)
                record = size_record(known.size, when, known.identity)
                self.client.tag_resource(resourceArn=arn, tags={self.size_key: record})
                self.calls.take()
            return self.client.update_nodegroup_config(
                clusterName=known.cluster,
                nodegroupName=known.name,
                scalingConfig={"minSize": 0, "desiredSize": 0},
            )

        return self.calls.each(call, ids, may_call)

    def tag_each(self, tags: dict[str, dict[str, str]], may_call: MayCall = None) -> BatchResult:
        def call(arn: str) -> Any:
            return self.client.tag_resource(resourceArn=arn, tags=dict(tags[arn]))

        return self.calls.each(call, list(tags), may_call)

    def untag(
        self, ids: Sequence[str], keys: Sequence[str], may_call: MayCall = None
    ) -> BatchResult:
        def call(arn: str) -> Any:
            return self.client.untag_resource(resourceArn=arn, tagKeys=list(keys))

        return self.calls.each(call, ids, may_call)

    def rewrite(
        self, key: str, values: dict[str, tuple[str, str | None]], may_call: MayCall = None
    ) -> BatchResult:
        """`Gateway.rewrite`: each node group's tag is read again (DescribeNodegroup) just
        before it is changed."""
        changed: set[str] = set()

        def call(arn: str) -> Any:
            found, new = values[arn]
            cluster, name = self._where(arn)
            item = self.client.describe_nodegroup(clusterName=cluster, nodegroupName=name)
            item = item.get("nodegroup") or {}
            if item.get("nodegroupArn") != arn:
                raise Refused(NOT_FOUND, "the node group is gone (another has its name)")
            if (item.get("tags") or {}).get(key) != found:
                changed.add(arn)
                return {}
            self.calls.take()
            if new is None:
                return self.client.untag_resource(resourceArn=arn, tagKeys=[key])
            return self.client.tag_resource(resourceArn=arn, tags={key: new})

        result = self.calls.each(call, list(values), may_call)
        result.succeeded = [a for a in result.succeeded if a not in changed]
        result.changed += sorted(changed)
        return result

    def _where(self, arn: str) -> tuple[str, str]:
        place = where(arn)
        if place is None:
            raise Refused("InvalidArn", f"{arn[:200]!r} is not a node group's ARN")
        return place


def gateway(
    *,
    clients: Any,
    region: str,
    account: str | None,
    own_account: str,
    tag_key: str,
    pacer: Pacer,
) -> EksGateway:
    """The kind's gateway for one target (`offhours.resources.make_gateway`)."""
    return EksGateway(
        clients.target("eks", region, account),
        tag_key=tag_key,
        region=region,
        account=own_account,
        pacer=pacer,
    )


class _ByHand(ByArn):
    """EKS managed node groups, by ARN, from a workstation (`offhours.resources.ByHand`)."""

    service = "eks"

    def tags(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for arn in ids:
            cluster, name = arn.split(":nodegroup/", 1)[1].split("/")[:2]
            try:
                item = self._client(arn).describe_nodegroup(
                    clusterName=cluster, nodegroupName=name
                )["nodegroup"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    continue
                raise
            if item.get("nodegroupArn") == arn:
                found[arn] = {str(k): str(v) for k, v in (item.get("tags") or {}).items()}
        return found

    def tag(self, resource: str, key: str, value: str) -> None:
        self._client(resource).tag_resource(resourceArn=resource, tags={key: value})

    def untag(self, resource: str, key: str) -> None:
        self._client(resource).untag_resource(resourceArn=resource, tagKeys=[key])


def by_hand(region: str) -> _ByHand:
    return _ByHand(region)
