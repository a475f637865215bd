"""The EC2 gateway: the only module that calls EC2.

It lists tagged instances through the paginator (filtered on the server by tag key and state:
the schedule tag, or offhours' own state tag alone, whose instances lose it), keeps only what the
planner needs, and starts, stops and tags in batches: one call per batch (tags: one per batch of
instances whose tags are the same; a fingerprint, `offhours.state`, differs per instance).
A batch that EC2 refuses because of some of its instances is split in halves until those are
isolated, so the rest still change; each failure keeps its error code. Throttling and server
errors are retried by botocore's standard retry mode (see `offhours.aws`); what still fails
after that is reported, not split. A connection that cannot be made raises `EndpointUnavailable`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from offhours.instance import ASG_TAG, EC2_INSTANCE, Instance, fingerprint_tag_key, state_tag_key
from offhours.override import override_tag_key
from offhours.pace import THROTTLING_CODES, Pacer, Priority, buckets_for
from offhours.pricing import Rate, ec2_rate
from offhours.resources import (
    CONNECTION_ERRORS,
    WHOLE_BATCH_ERRORS,
    BatchResult,
    EndpointUnavailable,
    OutOfTime,
    PartialBatch,
    TagSet,
    chunks,
    error_of,
    request_id_of,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from offhours.aws import Clients
    from offhours.planner import Reading
else:
    EC2Client = Any

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DETAILS_BATCH",
    "BatchResult",
    "Ec2Gateway",
    "EndpointUnavailable",
    "OutOfTime",
    "PartialBatch",
    "chunks",
    "ec2_skip",
]

LISTED_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
DEFAULT_BATCH_SIZE = 100
# Instances read by id in one DescribeInstances request: EC2 takes at most 200 filter values a
# request, and the state filter has five.
DETAILS_BATCH = 195
UNDONE_CODE = "Client.InternalError"  # EC2 stopped it again right after a start
KMS_HINT = (
    "EC2 stopped it again with Client.InternalError, the usual sign of an encrypted EBS volume "
    "whose KMS key offhours may not use: give the function kms:CreateGrant on that key "
    "(the KmsKeyArns parameter)"
)
# Throttle answers (each after botocore's own retries) one operation takes, each followed by a
# wait for the bucket, before its remaining batches are left to the next run. Few: every
# retry botocore makes draws on the client's retry quota, which is not a rate limiter.
MAX_THROTTLES = 3


def ec2_skip(
    auto_scaling_group: str | None, spot: str | None = None, root_device_type: str = "ebs"
) -> str | None:
    """Why offhours never touches an EC2 instance, or None: EC2's own rules, given to the
    planner as `Instance.skip_reason` (the planner knows no resource kind). `spot` is the
    Spot request's type (one-time, persistent, or unknown when it could not be read)."""
    if auto_scaling_group:
        return (
            f"member of Auto Scaling group {auto_scaling_group!r}: stopping it would make the "
            "group replace it, so offhours never touches it (schedule the group instead)"
        )
    if spot == "unknown":
        return (
            "Spot instance whose request type could not be read (it may be one-time, which "
            "cannot be stopped): left alone to be safe"
        )
    if spot == "one-time":
        return (
            "one-time Spot instance: it cannot be stopped and started, so offhours never touches it"
        )
    if root_device_type == "instance-store":
        return (
            "its root device is an instance store: it cannot be stopped, so offhours never "
            "touches it"
        )
    return None


class Ec2Gateway:
    """EC2 for one account and region. `client` is a boto3 EC2 client built by the caller."""

    kind = "ec2"
    service = "EC2"

    def __init__(
        self,
        client: EC2Client,
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
        self.region = region or client.meta.region_name
        self.account = account
        self.batch_size = batch_size
        # EC2's rate limits, modelled per account and region (`offhours.pace`): without a
        # pacer from the run, no time limit (a workstation waits as long as EC2 needs).
        self.pacer = pacer or Pacer(buckets_for("ec2", self.account, self.region))

    # -- reading -----------------------------------------------------------------------------

    def resource_type(self, resource_id: str) -> str:
        del resource_id
        return EC2_INSTANCE

    def _paced(self, pages: Any, api: str) -> Iterator[Any]:
        """The pages of a listing, each request paced to EC2's bucket for `api`. A listing
        whose next page cannot be had in this run's time, or that EC2 throttles in its middle
        beyond botocore's retries, raises `OutOfTime`: what was read is not complete, and
        nothing is decided from it. (A throttled first page waits for the bucket and is asked
        again, a few times.)"""
        iterator = iter(pages)
        throttles = read = 0
        while True:
            if not self.pacer.acquire(api):
                raise OutOfTime(f"EC2's rate limit for {api} left no time to finish the listing")
            try:
                page = next(iterator)
            except StopIteration:
                return
            except ClientError as exc:
                throttled = error_of(exc)[0] in THROTTLING_CODES
                if not throttled:
                    raise
                self.pacer.throttled(api)
                throttles += 1
                if read or throttles > MAX_THROTTLES:
                    raise OutOfTime(f"EC2 throttled {api} beyond its retries") from exc
                iterator = iter(pages)  # nothing read yet: start the listing again
                continue
            finally:
                self.pacer.settle(api)
            read += 1
            yield page
            if not page.get("NextToken"):
                return  # that was the last page: no request (and no token) follows

    def tagged(self, may_call: Callable[[], bool] | None = None) -> dict[str, TagSet]:
        """Every instance that carries the schedule tag or a state tag, with those tags only:
        DescribeTags filtered on the five keys below. The whole listing is read before anything is
        decided (an instance's tags may straddle two pages); it raises `OutOfTime` when the
        budget runs out first. Terminated instances may still appear for a while: reading
        their details drops them."""
        keys = {
            self.tag_key: 0,
            self.state_key: 1,
            self.fp_key: 2,
            self.override_key: 3,
            ASG_TAG: 4,  # members are never touched: known from the tags, never read in full
        }
        found: dict[str, TagSet] = {}
        paginator = self.client.get_paginator("describe_tags")
        pages = paginator.paginate(
            Filters=[
                {"Name": "resource-type", "Values": ["instance"]},
                {"Name": "key", "Values": list(keys)},
            ],
            PaginationConfig={"PageSize": 1000},
        )
        try:
            for page in self._paced(pages, "DescribeTags"):
                for tag in page.get("Tags", []):
                    slot = keys.get(tag.get("Key", ""))
                    if slot is None or tag.get("ResourceType") != "instance":
                        continue
                    entry = found.get(tag["ResourceId"])
                    if entry is None:
                        entry = found[tag["ResourceId"]] = [None, None, None, None, None]
                    entry[slot] = tag.get("Value", "")
                if may_call is not None and not may_call():
                    raise OutOfTime("the run's time ran out while listing the tags")
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc
        for entry in found.values():  # the group's name becomes the reason to leave it alone
            entry[4] = ec2_skip(entry[4])
        return found

    def details(self, ids: Sequence[str]) -> list[Instance]:
        """The instances of `ids` that still exist (not terminated), read in full."""
        out: list[Instance] = []
        paginator = self.client.get_paginator("describe_instances")
        for batch in chunks(ids, DETAILS_BATCH):
            pages = paginator.paginate(
                Filters=[
                    {"Name": "instance-id", "Values": batch},
                    {"Name": "instance-state-name", "Values": list(LISTED_STATES)},
                ]
            )
            try:  # a page holds reservations, not instances: follow every page
                raw = [
                    i
                    for page in self._paced(pages, "DescribeInstances")
                    for r in page.get("Reservations", [])
                    for i in r.get("Instances", [])
                ]
            except CONNECTION_ERRORS as exc:
                raise EndpointUnavailable(str(exc)) from exc
            spot_types = self._spot_types(raw)
            out += [self._snapshot(item, spot_types) for item in raw]
        return out

    def amend(self, entries: list[tuple[Instance, Reading]], at: datetime) -> None:
        """A start that did not hold shows in the instance's state reason: within the hour
        after a start event, one filtered listing finds those instances (usually none)."""
        from offhours.planner import UNDONE_WINDOW
        from offhours.schedule import Action

        recent_start = False
        for _, reading in entries:
            event = reading.event
            if (
                event is not None
                and event.action is Action.START
                and at - event.at <= UNDONE_WINDOW
            ):
                recent_start = True
                break
        if not recent_start:
            return
        failures = self.start_failures()
        if failures:
            for index, (instance, reading) in enumerate(entries):
                if instance.id in failures:
                    undone = replace(instance, state_reason=UNDONE_CODE, start_undone=KMS_HINT)
                    entries[index] = (undone, reading)

    def start_failures(self) -> set[str]:
        """Scheduled instances that EC2 stopped again with Client.InternalError (a start that
        did not hold: DESIGN's KMS case), found by one filtered listing, usually empty."""
        pages = self.client.get_paginator("describe_instances").paginate(
            Filters=[
                {"Name": "tag-key", "Values": [self.tag_key]},
                {"Name": "instance-state-name", "Values": ["stopped"]},
                {"Name": "state-reason-code", "Values": ["Client.InternalError"]},
            ]
        )
        try:
            return {
                i["InstanceId"]
                for page in self._paced(pages, "DescribeInstances")
                for r in page.get("Reservations", [])
                for i in r.get("Instances", [])
            }
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc

    def pages(
        self, may_call: Callable[[], bool] | None = None, at: datetime | None = None
    ) -> Iterator[list[Instance]]:
        """Every non-terminated instance that carries the schedule tag or one of offhours'
        state tags, read in full, a page at a time; `OutOfTime` before a page when the budget
        has run out. (`at` is not needed: the state reason comes with the instance.)"""
        del at
        page: list[Instance] = []
        for instance in self.instances():
            page.append(instance)
            if len(page) >= 1000:
                yield page
                page = []
                if may_call is not None and not may_call():
                    raise OutOfTime("the run's time ran out while listing the instances")
        if page:
            yield page

    def instances(self) -> Iterator[Instance]:
        """Every non-terminated instance that carries the schedule tag or one of offhours'
        state tags, page by page."""
        paginator = self.client.get_paginator("describe_instances")
        pages = paginator.paginate(
            Filters=[
                {"Name": "tag-key", "Values": [self.tag_key, self.state_key, self.fp_key]},
                {"Name": "instance-state-name", "Values": list(LISTED_STATES)},
            ],
            PaginationConfig={"PageSize": 1000},
        )
        try:
            for page in self._paced(pages, "DescribeInstances"):
                raw = [i for r in page.get("Reservations", []) for i in r.get("Instances", [])]
                spot_types = self._spot_types(raw)
                for item in raw:
                    yield self._snapshot(item, spot_types)
        except CONNECTION_ERRORS as exc:
            raise EndpointUnavailable(str(exc)) from exc

    def _spot_types(self, raw: list[Any]) -> dict[str, str]:
        request_ids = [
            i["SpotInstanceRequestId"]
            for i in raw
            if i.get("InstanceLifecycle") == "spot" and i.get("SpotInstanceRequestId")
        ]
        if not request_ids:
            return {}
        try:
            found = self._spot_requests(request_ids)
        except ClientError:
            # One unknown or expired request fails the whole call: look the rest up one by one,
            # so that persistent Spot instances stay scheduled. What cannot be read stays
            # unknown, and the planner leaves it alone.
            found = {}
            for request_id in request_ids:
                try:
                    found.update(self._spot_requests([request_id]))
                except ClientError:
                    continue
        return found

    def _spot_requests(self, request_ids: list[str]) -> dict[str, str]:
        response = self.client.describe_spot_instance_requests(SpotInstanceRequestIds=request_ids)
        return {
            r["SpotInstanceRequestId"]: r.get("Type", "one-time")
            for r in response.get("SpotInstanceRequests", [])
        }

    def _snapshot(self, item: Any, spot_types: dict[str, str]) -> Instance:
        tags = {t["Key"]: t.get("Value", "") for t in item.get("Tags", [])}
        spot: str | None = None
        if item.get("InstanceLifecycle") == "spot":
            spot = spot_types.get(item.get("SpotInstanceRequestId", ""), "unknown")
        return Instance(
            id=item["InstanceId"],
            state=item.get("State", {}).get("Name", "unknown"),
            schedule=tags.get(self.tag_key, ""),
            name=tags.get("Name", ""),
            handled=tags.get(self.state_key),
            launch_time=item.get("LaunchTime"),
            region=self.region,
            account=self.account,
            skip_reason=ec2_skip(tags.get(ASG_TAG), spot, item.get("RootDeviceType", "ebs")),
            hibernation_configured=bool(item.get("HibernationOptions", {}).get("Configured")),
            state_reason=(item.get("StateReason") or {}).get("Code"),
            stopped_at=_stopped_at(item),
            start_undone=(
                KMS_HINT if (item.get("StateReason") or {}).get("Code") == UNDONE_CODE else None
            ),
            untagged=self.tag_key not in tags,
            fingerprint=tags.get(self.fp_key),
            override=tags.get(self.override_key),
            created=_created(item),
            rates=()  # a Spot instance's price is the market's, not the on-demand one
            if item.get("InstanceLifecycle") == "spot"
            else _rates(
                self.region,
                str(item.get("InstanceType", "")),
                item.get("PlatformDetails"),
                (item.get("Placement") or {}).get("Tenancy"),
            ),
        )

    # -- changing ----------------------------------------------------------------------------

    def start(self, ids: Sequence[str], may_call: Callable[[], bool] | None = None) -> BatchResult:
        return self._batched(
            lambda b: self.client.start_instances(InstanceIds=b), ids, may_call, "StartInstances"
        )

    def stop(
        self,
        ids: Sequence[str],
        *,
        hibernate: bool = False,
        may_call: Callable[[], bool] | None = None,
    ) -> BatchResult:
        if hibernate:
            return self._batched(
                lambda b: self.client.stop_instances(InstanceIds=b, Hibernate=True),
                ids,
                may_call,
                "StopInstances",
            )
        return self._batched(
            lambda b: self.client.stop_instances(InstanceIds=b), ids, may_call, "StopInstances"
        )

    def tag(
        self,
        ids: Sequence[str],
        tags: dict[str, str],
        may_call: Callable[[], bool] | None = None,
    ) -> BatchResult:
        """Write the same `tags` (key to value) on every instance of `ids`."""
        pairs: list[Any] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return self._batched(
            lambda b: self.client.create_tags(Resources=b, Tags=pairs), ids, may_call, "CreateTags"
        )

    def tag_each(
        self,
        tags: dict[str, dict[str, str]],
        may_call: Callable[[], bool] | None = None,
    ) -> BatchResult:
        """Write `tags[id]` on each instance: one call per batch of instances whose tags are
        the same (one per instance where they differ)."""
        groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for instance_id, wanted in tags.items():
            groups.setdefault(tuple(sorted(wanted.items())), []).append(instance_id)
        result = BatchResult()
        items = list(groups.items())
        for index, (pairs, ids) in enumerate(items):
            if result.not_attempted:  # out of time: the rest waits for the next run
                result.not_attempted += ids
                continue
            try:
                result.merge(self.tag(ids, dict(pairs), may_call))
            except PartialBatch as exc:
                result.merge(exc.result)
                for _, rest in items[index + 1 :]:
                    result.not_attempted += rest
                raise PartialBatch(result, str(exc)) from exc
        return result

    def untag(
        self, ids: Sequence[str], keys: Sequence[str], may_call: Callable[[], bool] | None = None
    ) -> BatchResult:
        """Remove the tags `keys` (whatever their values) from every instance of `ids`."""
        pairs: list[Any] = [{"Key": k} for k in keys]
        return self._batched(
            lambda b: self.client.delete_tags(Resources=b, Tags=pairs), ids, may_call, "DeleteTags"
        )

    def rewrite(
        self,
        key: str,
        values: dict[str, tuple[str, str | None]],
        may_call: Callable[[], bool] | None = None,
    ) -> BatchResult:
        """The tag `key` of each instance becomes `values[id][1]` only where it still holds
        `values[id][0]` (`Gateway.rewrite`). A removal is EC2's own conditional DeleteTags (a
        tag is removed only where its value matches, in the same call); a new value follows a
        DescribeTags of the instances concerned, which leaves a moment between the two."""
        result = BatchResult()
        removals: dict[str, list[str]] = {}
        writes: dict[str, tuple[str, str]] = {}
        for iid, (found, new) in values.items():
            if new is None:
                removals.setdefault(found, []).append(iid)
            else:
                writes[iid] = (found, new)
        for found, ids in removals.items():
            pairs: list[Any] = [{"Key": key, "Value": found}]

            def remove(batch: list[str], pairs: list[Any] = pairs) -> Any:
                return self.client.delete_tags(Resources=batch, Tags=pairs)

            result.merge(self._batched(remove, ids, may_call, "DeleteTags"))
        if writes and may_call is not None and not may_call():
            result.not_attempted += list(writes)
            result.deferred_reason = result.deferred_reason or "time"
        elif writes:
            try:
                now = self._values(list(writes), key)
            except OutOfTime:
                result.not_attempted += list(writes)
                result.deferred_reason = result.deferred_reason or "rate"
                return result
            except ClientError as exc:
                result.failed.update(dict.fromkeys(writes, error_of(exc)))
                return result
            except EndpointUnavailable as exc:
                result.not_attempted += list(writes)
                raise PartialBatch(result, str(exc)) from exc
            result.calls += -(-len(writes) // 200)
            same = {i: {key: new} for i, (found, new) in writes.items() if now.get(i) == found}
            result.changed += [i for i in writes if i not in same]
            if same:
                result.merge(self.tag_each(same, may_call))
        return result

    def _values(self, ids: list[str], key: str) -> dict[str, str]:
        """The tag `key` of each of `ids`, as EC2 holds it now."""
        found: dict[str, str] = {}
        paginator = self.client.get_paginator("describe_tags")
        for batch in chunks(ids, 200):
            pages = paginator.paginate(
                Filters=[
                    {"Name": "resource-id", "Values": batch},
                    {"Name": "key", "Values": [key]},
                ]
            )
            try:
                for page in self._paced(pages, "DescribeTags"):
                    for tag in page.get("Tags", []):
                        if tag.get("Key") == key:
                            found[tag["ResourceId"]] = tag.get("Value", "")
            except CONNECTION_ERRORS as exc:
                raise EndpointUnavailable(str(exc)) from exc
        return found

    def _batched(
        self,
        call: Callable[[list[str]], Any],
        ids: Sequence[str],
        may_call: Callable[[], bool] | None,
        api: str,
    ) -> BatchResult:
        """`call` over `ids` in batches, each paced to EC2's buckets for `api` (the request
        bucket, and the resource bucket of StartInstances and StopInstances). A batch that EC2
        throttles anyway waits for its bucket and is tried again; what the run's time cannot
        take is `not_attempted` (deferred to the next run), never failed."""
        result = BatchResult()
        pending = deque(chunks(ids, self.batch_size))
        # An event's state tags may wait into the time kept for recording; background may not.
        recording = api in ("CreateTags", "DeleteTags") and self.pacer.priority is Priority.EVENT
        throttles = 0
        while pending:
            batch = pending.popleft()
            if result.deferred_reason is not None:
                pass  # throttled beyond the retries: the rest waits for the next run
            elif may_call is not None and not may_call():
                result.deferred_reason = "time"
            elif not self.pacer.acquire(api, len(batch), recording=recording):
                result.deferred_reason = "rate"
            if result.deferred_reason is not None:
                result.not_attempted += batch
                for rest in pending:
                    result.not_attempted += rest
                break
            result.calls += 1
            try:
                response = call(batch)
            except ClientError as exc:
                code, message = error_of(exc)
                if code in THROTTLING_CODES and throttles < MAX_THROTTLES:
                    throttles += 1  # other callers share the bucket: wait for it, try again
                    self.pacer.throttled(api)
                    pending.appendleft(batch)
                    continue
                if code in THROTTLING_CODES:
                    result.deferred_reason = "rate"
                    result.not_attempted += batch
                    continue
                request_id = request_id_of(exc.response)
                for instance_id in batch:
                    result.request_ids[instance_id] = request_id
                if len(batch) == 1 or code in WHOLE_BATCH_ERRORS:
                    for instance_id in batch:
                        result.failed[instance_id] = (code, message)
                else:
                    half = len(batch) // 2
                    pending.extendleft((batch[half:], batch[:half]))
                continue
            except CONNECTION_ERRORS as exc:
                for instance_id in batch:
                    result.failed[instance_id] = ("EndpointUnavailable", str(exc))
                for rest in pending:
                    result.not_attempted += rest
                raise PartialBatch(result, str(exc)) from exc
            except BotoCoreError as exc:
                for instance_id in batch:
                    result.failed[instance_id] = (type(exc).__name__, str(exc))
                continue
            finally:
                self.pacer.settle(api)  # whatever came back, the tokens were taken on arrival
            result.succeeded += batch
            request_id = request_id_of(response)
            for instance_id in batch:
                result.request_ids[instance_id] = request_id
        return result


def _created(item: Any) -> datetime | None:
    """When the instance came to be: its primary network interface's attachment time, which
    stop and start keep (LaunchTime moves at every start). None where EC2 did not say."""
    for eni in item.get("NetworkInterfaces") or ():
        attachment = eni.get("Attachment") or {}
        if attachment.get("DeviceIndex") == 0 and isinstance(
            attachment.get("AttachTime"), datetime
        ):
            at: datetime = attachment["AttachTime"]
            return at.astimezone(UTC)
    return None


def gateway(
    *,
    clients: Clients,
    region: str,
    account: str | None,
    own_account: str,
    tag_key: str,
    pacer: Pacer,
) -> Ec2Gateway:
    """The kind's gateway for one target (`offhours.resources.make_gateway`)."""
    return Ec2Gateway(
        clients.ec2(region, account),
        tag_key=tag_key,
        region=region,
        account=own_account,
        pacer=pacer,
    )


class _ByHand:
    """EC2 instances, by id, from a workstation (`offhours.resources.ByHand`)."""

    def __init__(self, region: str) -> None:
        import boto3

        self.client = boto3.client("ec2", region_name=region)

    def tags(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for page in self.client.get_paginator("describe_instances").paginate(InstanceIds=list(ids)):
            for reservation in page.get("Reservations", []):
                for item in reservation.get("Instances", []):
                    found[item["InstanceId"]] = {
                        t["Key"]: t.get("Value", "") for t in item.get("Tags", [])
                    }
        return found

    def tag(self, resource: str, key: str, value: str) -> None:
        self.client.create_tags(Resources=[resource], Tags=[{"Key": key, "Value": value}])

    def untag(self, resource: str, key: str) -> None:
        self.client.delete_tags(Resources=[resource], Tags=[{"Key": key}])


def by_hand(region: str) -> _ByHand:
    return _ByHand(region)


@lru_cache(maxsize=1024)
def _rates(region: str, instance_type: str, platform: Any, tenancy: Any) -> tuple[Rate, ...]:
    """What an hour of an instance costs (`offhours.pricing`), one object for every instance
    of its type, platform and tenancy."""
    if not instance_type:
        return ()
    return (
        ec2_rate(
            region,
            instance_type,
            platform if isinstance(platform, str) else None,
            tenancy if isinstance(tenancy, str) else None,
        ),
    )


_USER_STOP = re.compile(r"User initiated \((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) GMT\)")


def _stopped_at(item: Any) -> datetime | None:
    """When a stopped instance was stopped by a call, as EC2's StateTransitionReason says
    ("User initiated (2026-03-24 10:00:00 GMT)"); None otherwise, or where it cannot be read."""
    if (item.get("State") or {}).get("Name") != "stopped":
        return None
    reason = item.get("StateTransitionReason")
    found = _USER_STOP.search(reason) if isinstance(reason, str) and len(reason) < 200 else None
    if found is None:
        return None
    try:
        return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
