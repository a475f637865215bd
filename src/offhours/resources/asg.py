"""The Auto Scaling gateway: EC2 Auto Scaling groups scheduled as a whole (DESIGN §9).

A group that carries the schedule tag follows the same language, rules and state tags as an
instance. It is `running` while its minimum or desired size is above 0, `stopped` at 0/0. At a
stop, offhours first records the sizes the group had (`<TagKey>:offhours-size`, e.g.
``1/2/4 Xq3-9a``: minimum, desired, maximum, and the entry of the group's identity, so that a
record copied to another group is not taken for its own), then sets all three to 0; at a start
it restores the recorded sizes. A group whose record is lost is started to the size of the
value's `size=MIN/DESIRED/MAX` word, or left alone with an error (`SizeUnknown`). The group's
instances are never touched one by one: the EC2 gateway skips them (`aws:autoscaling:groupName`)
with the reason naming the group.

A group's id is its name (the API's); its identity, which no other group ever has, is its ARN
(which holds a UUID) with its creation time. Auto Scaling has no batch start or stop: one
UpdateAutoScalingGroup per group, paced to the service's bucket. Tags are written one group a
call (CreateOrUpdateTags), a record and its fingerprint together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from offhours.instance import Instance, fingerprint_tag_key, state_tag_key
from offhours.override import override_tag_key
from offhours.pace import Pacer, buckets_for
from offhours.resources import (
    CONNECTION_ERRORS,
    BatchResult,
    ByArn,
    EndpointUnavailable,
    OutOfTime,
    TagSet,
    chunks,
)
from offhours.resources.paced import PerResource, Refused
from offhours.schedule import iso
from offhours.state import fingerprint, fingerprint_holds, read_anchor

GROUP = "asg:group"
RESOURCE_TYPE = "auto-scaling-group"  # the tagging API's word for a group
SIZE_SUFFIX = ":offhours-size"
EKS_NODEGROUP_TAG = "eks:nodegroup-name"  # on the Auto Scaling group that EKS makes for one
MAX_SIZE = 10_000  # a recorded size beyond it is not believed
DESCRIBE_BATCH = 50  # names in one DescribeAutoScalingGroups
DEFAULT_BATCH_SIZE = 20
_SIZE = re.compile(r"^(\d{1,5})/(\d{1,5})/(\d{1,5}) (\S{20}) (\S{6})$", re.ASCII)

MayCall = Callable[[], bool] | None
Size = tuple[int, int, int]


def size_tag_key(schedule_tag_key: str) -> str:
    """The tag in which offhours records the sizes a group had when it stopped it."""
    return f"{schedule_tag_key}{SIZE_SUFFIX}"


def size_record(size: Size, at: datetime, identity: str) -> str:
    """The size tag's value: `min/desired/max`, the run that stopped the group, and the entry
    of the group's identity (`1/2/4 2026-03-23T18:05:00Z Xq3-9a`)."""
    return f"{size[0]}/{size[1]}/{size[2]} {iso(at)} {fingerprint(identity, 'size')}"


def read_size(text: str | None, identity: str) -> tuple[Size | None, datetime | None, str]:
    """The recorded size and when it was written, if it is this group's and can be believed;
    else why not."""
    if text is None:
        return None, None, "no size is recorded"
    found = _SIZE.match(text)
    if found is None:
        return None, None, f"the recorded size {text[:60]!r} cannot be read"
    low, desired, high = (int(found.group(k)) for k in (1, 2, 3))
    written = read_anchor(found.group(4))[0]
    if not fingerprint_holds(found.group(5), identity, "size"):
        return None, None, f"the recorded size {text[:60]!r} was written for another group"
    if not low <= desired <= high <= MAX_SIZE or written is None:
        return (
            None,
            None,
            (
                f"the recorded size {text[:60]!r} is not min <= desired <= max <= {MAX_SIZE} with "
                "the instant it was written"
            ),
        )
    return (low, desired, high), written, ""


def _skip(item: Any, tags: dict[str, str] | None = None) -> str | None:
    nodegroup = (tags or {}).get(EKS_NODEGROUP_TAG)
    if nodegroup:
        return (
            f"the Auto Scaling group of EKS managed node group {nodegroup[:80]!r}: EKS owns its "
            "sizes, so offhours never resizes it (schedule the node group instead)"
        )
    status = item.get("Status")
    if isinstance(status, str) and status:
        return f"the group is being changed ({status}): offhours leaves it alone"
    return None


class AsgGateway:
    """EC2 Auto Scaling for one account and region; `client` is a boto3 autoscaling client."""

    kind = "asg"
    service = "Auto Scaling"
    tags_each_alone = True  # one CreateOrUpdateTags per group: A and its fingerprint together

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
        self.pacer = pacer or Pacer(buckets_for("asg", self.account, self.region))
        self.calls = PerResource(self.pacer)  # no batch calls: one group a call, paced
        self._groups: dict[str, dict[str, Any]] = {}  # name -> what the last read said
        self._fallback: dict[str, Size] = {}  # name -> the size= word of its value
        self._at: datetime | None = None  # the run's time, as the service gave it

    # -- reading -----------------------------------------------------------------------------

    def resource_type(self, resource_id: str) -> str:
        del resource_id
        return GROUP

    def tagged(self, may_call: MayCall = None) -> dict[str, TagSet]:
        """Every group that carries the schedule tag or a state tag, with offhours' tags:
        DescribeTags filtered on those keys."""
        keys = {self.tag_key: 0, self.state_key: 1, self.fp_key: 2, self.override_key: 3}
        found: dict[str, TagSet] = {}
        pages = self.client.get_paginator("describe_tags").paginate(
            Filters=[{"Name": "key", "Values": list(keys)}]
        )
        try:
            for page in self.calls.pages(iter(pages), self.service):
                for tag in page.get("Tags", []):
                    slot = keys.get(tag.get("Key", ""))
                    if slot is None or tag.get("ResourceType") != RESOURCE_TYPE:
                        continue
                    entry = found.setdefault(tag["ResourceId"], [None, None, None, None, None])
                    entry[slot] = str(tag.get("Value", ""))
                if may_call is not None and not may_call():
                    raise OutOfTime("the run's time ran out while listing the groups")
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc
        return found

    def consider(self, entries: list[tuple[Instance, Any]]) -> None:
        """The `size=` word of each group's value, to start a group whose record is lost."""
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
        """The groups of `ids` (names) that still exist, read in full."""
        out: list[Instance] = []
        paginator = self.client.get_paginator("describe_auto_scaling_groups")
        try:
            for batch in chunks(list(ids), DESCRIBE_BATCH):
                pages = paginator.paginate(AutoScalingGroupNames=batch)
                for page in self.calls.pages(iter(pages), self.service):
                    out += [self._group(item) for item in page.get("AutoScalingGroups", [])]
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc
        return out

    def pages(
        self, may_call: MayCall = None, at: datetime | None = None
    ) -> Iterator[list[Instance]]:
        self._at = at
        listed = self.tagged(may_call)
        yield from chunks(self.details(list(listed)), 1000)

    def _group(self, item: Any) -> Instance:
        name = str(item.get("AutoScalingGroupName", ""))
        tags = {
            str(t.get("Key", "")): str(t.get("Value", ""))
            for t in item.get("Tags", [])
            if isinstance(t, dict)
        }
        created = item.get("CreatedTime")
        created = created.astimezone(UTC) if isinstance(created, datetime) else None
        arn = str(item.get("AutoScalingGroupARN", ""))
        identity = f"{arn}@{created.isoformat() if created else ''}"
        self._groups[name] = {
            "size": (
                int(item.get("MinSize", 0)),
                int(item.get("DesiredCapacity", 0)),
                int(item.get("MaxSize", 0)),
            ),
            "record": tags.get(self.size_key),
            "identity": identity,
        }
        size = self._groups[name]["size"]
        handled = tags.get(self.state_key)
        return Instance(
            id=name,
            state=self._state(size, tags.get(self.size_key), identity, handled),
            schedule=tags.get(self.tag_key, ""),
            name=name,
            handled=handled,
            region=self.region,
            account=self.account,
            untagged=self.tag_key not in tags,
            fingerprint=tags.get(self.fp_key),
            override=tags.get(self.override_key),
            resource_type=GROUP,
            skip_reason=_skip(item, tags),
            identity=identity,
            created=created,
        )

    @staticmethod
    def _state(size: Size, record: str | None, identity: str, handled: str | None) -> str:
        """`stopped` at a minimum and desired size of 0, and while offhours' stop is in force
        (its record is as new as the state tag's A or newer: the start event that restores it
        has not come) at a size a person set in between; `running` otherwise."""
        if size[0] == 0 and size[1] == 0:
            return "stopped"
        recorded, written, _ = read_size(record, identity)
        anchor = read_anchor(handled)[0] if handled else None
        in_force = recorded is not None and written is not None and anchor is not None
        if in_force and written >= anchor and size != recorded:  # type: ignore[operator]
            return "stopped"
        return "running"

    # -- changing ----------------------------------------------------------------------------

    def start(self, ids: Sequence[str], may_call: MayCall = None) -> BatchResult:
        """Each group back to its recorded sizes (or its value's `size=` word)."""

        def call(name: str) -> Any:
            known = self._groups.get(name, {})
            size, _, why = read_size(known.get("record"), str(known.get("identity", "")))
            source = "restored as recorded at its stop"
            if size is None:
                size = self._fallback.get(name)
                source = f"from the value's size= word ({why})"
            if size is None:
                raise Refused(
                    "SizeUnknown",
                    f"{why}, and the tag value names no size=MIN/DESIRED/MAX to start it to: "
                    "left as it is",
                    "OH-SIZE-UNKNOWN",
                )
            notes[name] = f"sizes {size[0]}/{size[1]}/{size[2]} (min/desired/max) {source}"
            return self.client.update_auto_scaling_group(
                AutoScalingGroupName=name, MinSize=size[0], DesiredCapacity=size[1], MaxSize=size[2]
            )

        notes: dict[str, str] = {}
        result = self.calls.each(call, ids, may_call)
        result.notes.update((n, notes[n]) for n in result.succeeded if n in notes)
        return result

    def stop(
        self, ids: Sequence[str], *, hibernate: bool = False, may_call: MayCall = None
    ) -> BatchResult:
        """Each group's sizes recorded (the sizes it has), then all three set to 0."""
        del hibernate  # means nothing for a group: the planner says so

        def call(name: str) -> Any:
            known = self._groups.get(name)
            if known is None:
                raise Refused("NotRead", "the group was not read in this run")
            size: Size = known["size"]
            if size[0] > 0 or size[1] > 0:  # the size it has; a group at 0/0 keeps its record
                when = self._at or datetime.now(UTC)
                record = size_record(size, when, str(known["identity"]))
                self.calls.take()  # the record is a call of its own
                self.client.create_or_update_tags(Tags=[self._tag(name, self.size_key, record)])
            return self.client.update_auto_scaling_group(
                AutoScalingGroupName=name, MinSize=0, DesiredCapacity=0, MaxSize=0
            )

        result = self.calls.each(call, ids, may_call)
        undoing = self._undoing(result.succeeded, may_call, result)
        for name in result.succeeded:
            had = self._groups.get(name, {}).get("size")
            notes = []
            if had is not None and (had[0] > 0 or had[1] > 0):
                notes.append(
                    f"its sizes {had[0]}/{had[1]}/{had[2]} (min/desired/max) recorded in its "
                    f"{self.size_key} tag, then set to 0/0/0"
                )
            found = undoing.get(name, [])[:3]
            if found:
                result.codes[name] = "OH-ASG-SCHEDULED-ACTION"
                notes.append(
                    f"warning: its own scheduled action{'s' if len(found) > 1 else ''} "
                    f"{', '.join(found)} set{'' if len(found) > 1 else 's'} a size above 0 "
                    "and will undo this stop (offhours leaves it as it is: remove it or align it "
                    "with the schedule)"
                )
            if notes:
                result.notes[name] = "; ".join(notes)
        return result

    def _undoing(
        self, names: list[str], may_call: MayCall, result: BatchResult
    ) -> dict[str, list[str]]:
        """The scheduled actions of the groups just stopped that set a minimum or desired size
        above 0 (they would undo the stop), quoted, by group: one listing of the account's
        scheduled actions (paged), never a call per group; nothing where it cannot be read
        (no time, refused: the warning is a courtesy)."""
        wanted = set(names)
        found: dict[str, list[str]] = {}
        if not wanted or (may_call is not None and not may_call()):
            return found
        pages = self.client.get_paginator("describe_scheduled_actions").paginate(
            PaginationConfig={"PageSize": 100}
        )
        try:
            for page in self.calls.pages(iter(pages), self.service):
                result.calls += 1
                for action in page.get("ScheduledUpdateGroupActions", []):
                    group = str(action.get("AutoScalingGroupName", ""))
                    sized = int(action.get("MinSize") or 0) or int(
                        action.get("DesiredCapacity") or 0
                    )
                    if group in wanted and sized > 0:
                        when = action.get("Recurrence") or action.get("StartTime") or ""
                        label = str(action.get("ScheduledActionName", ""))[:60]
                        found.setdefault(group, []).append(f"{label!r} ({str(when)[:40]})")
        except (ClientError, BotoCoreError, OutOfTime, *CONNECTION_ERRORS):
            return found
        return found

    def tag_each(self, tags: dict[str, dict[str, str]], may_call: MayCall = None) -> BatchResult:
        def call(name: str) -> Any:
            pairs = [self._tag(name, k, v) for k, v in tags[name].items()]
            return self.client.create_or_update_tags(Tags=pairs)

        return self.calls.each(call, list(tags), may_call)

    def untag(
        self, ids: Sequence[str], keys: Sequence[str], may_call: MayCall = None
    ) -> BatchResult:
        def call(name: str) -> Any:
            pairs = [{"ResourceId": name, "ResourceType": RESOURCE_TYPE, "Key": k} for k in keys]
            return self.client.delete_tags(Tags=pairs)

        return self.calls.each(call, ids, may_call)

    def rewrite(
        self, key: str, values: dict[str, tuple[str, str | None]], may_call: MayCall = None
    ) -> BatchResult:
        """`Gateway.rewrite`: each group's tag is read again just before it is changed."""
        changed: set[str] = set()

        def call(name: str) -> Any:
            found, new = values[name]
            listed = self.client.describe_tags(
                Filters=[
                    {"Name": "auto-scaling-group", "Values": [name]},
                    {"Name": "key", "Values": [key]},
                ]
            ).get("Tags", [])
            if [str(t.get("Value", "")) for t in listed] != [found]:
                changed.add(name)
                return {}
            if new is None:
                tag = {"ResourceId": name, "ResourceType": RESOURCE_TYPE, "Key": key}
                return self.client.delete_tags(Tags=[tag])
            return self.client.create_or_update_tags(Tags=[self._tag(name, key, new)])

        result = self.calls.each(call, list(values), may_call)
        result.succeeded = [n for n in result.succeeded if n not in changed]
        result.changed += sorted(changed)
        return result

    def _tag(self, name: str, key: str, value: str) -> dict[str, Any]:
        return {
            "ResourceId": name,
            "ResourceType": RESOURCE_TYPE,
            "Key": key,
            "Value": value,
            "PropagateAtLaunch": False,
        }


def gateway(
    *,
    clients: Any,
    region: str,
    account: str | None,
    own_account: str,
    tag_key: str,
    pacer: Pacer,
) -> AsgGateway:
    """The kind's gateway for one target (`offhours.resources.make_gateway`)."""
    return AsgGateway(
        clients.target("autoscaling", region, account),
        tag_key=tag_key,
        region=region,
        account=own_account,
        pacer=pacer,
    )


class _ByHand(ByArn):
    """Auto Scaling groups, by ARN (a group's name alone could be any resource's id), from a
    workstation (`offhours.resources.ByHand`)."""

    service = "autoscaling"

    @staticmethod
    def _name(arn: str) -> str:
        return arn.partition(":autoScalingGroupName/")[2]

    def tags(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for arn in ids:
            answer = self._client(arn).describe_auto_scaling_groups(
                AutoScalingGroupNames=[self._name(arn)]
            )
            for item in answer.get("AutoScalingGroups", []):
                if item.get("AutoScalingGroupARN") == arn:  # not a newer group of that name
                    found[arn] = {t["Key"]: t.get("Value", "") for t in item.get("Tags", [])}
        return found

    def tag(self, resource: str, key: str, value: str) -> None:
        pair = {
            "ResourceId": self._name(resource),
            "ResourceType": RESOURCE_TYPE,
            "Key": key,
            "Value": value,
            "PropagateAtLaunch": False,
        }
        self._client(resource).create_or_update_tags(Tags=[pair])

    def untag(self, resource: str, key: str) -> None:
        pair = {"ResourceId": self._name(resource), "ResourceType": RESOURCE_TYPE, "Key": key}
        self._client(resource).delete_tags(Tags=[pair])


def by_hand(region: str) -> _ByHand:
    return _ByHand(region)
