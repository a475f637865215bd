"""Resource kinds side by side: a kind is a gateway (the only module that calls its service)
with its own rules for what must never be touched. The planner, the executor, the notices and
the service are kind-agnostic: they decide on instants, states and state tags, and learn what
they say of a resource (its words, whether it hibernates, its service's name and rate limits)
from `KINDS` below. A new kind is one module here that satisfies `Gateway` and has a `gateway`
function that makes one, and its line in `KINDS`.

What a gateway gives the planner is an `Instance` (`offhours.instance`) per resource: its id
(an EC2 instance id, or an RDS ARN), `resource_type` (`ec2:instance`, `rds:db`, `rds:cluster`),
a state normalised to `running` or `stopped` (anything else waits), the schedule tag's value and
offhours' own tags, and `skip_reason` when the kind's rules say that offhours must leave it
alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionError as BotoConnectionError,
    EndpointConnectionError,
    ReadTimeoutError,
)

if TYPE_CHECKING:
    from offhours.instance import Instance
    from offhours.planner import Reading

# Errors that mean the service cannot be reached at all: nothing more can be done in the target.
CONNECTION_ERRORS = (EndpointConnectionError, BotoConnectionError, ReadTimeoutError)
# Errors that say nothing about a particular resource: splitting a batch cannot help.
WHOLE_BATCH_ERRORS = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
        "AuthFailure",
        "ExpiredToken",
        "RequestExpired",
        "InvalidClientTokenId",
        "OptInRequired",
    }
)


@dataclass(frozen=True)
class Kind:
    """A kind of resource as the rest of offhours knows it, without importing its module."""

    module: str  # the module under offhours.resources with `gateway(...)`
    service: str  # how people call the service in a line: "EC2", "RDS"
    words: dict[str, str]  # its resource types, in words ("ec2:instance": "EC2 instance")
    # AWS's rate limits of the service: API (or "*") -> (request bucket, resource bucket), as
    # (size, refill a second) pairs (`offhours.pace`).
    limits: dict[str, tuple[tuple[int, float], tuple[int, float] | None]]
    # The AWS CLI command that writes one tag on a resource, with {resource}, {key}, {value}
    tag_command: str = ""
    default: bool = False  # scheduled when RESOURCES is not set
    # The ids the command line takes for the kind (`offhours override`, `check --instance`):
    # a regular expression that no other kind's ids match.
    ids: str = ""
    hibernates: frozenset[str] = frozenset()  # resource types that can hibernate


KINDS: dict[str, Kind] = {
    "ec2": Kind(
        "ec2",
        "EC2",
        {"ec2:instance": "EC2 instance"},
        {
            "*": ((100, 20), None),  # non-mutating actions (the describes)
            "StartInstances": ((5, 2), (1000, 2)),
            "StopInstances": ((200, 5), (1000, 20)),
            "CreateTags": ((100, 10), None),
            "DeleteTags": ((100, 10), None),
        },
        "aws ec2 create-tags --resources {resource} --tags 'Key={key},Value={value}'",
        default=True,
        hibernates=frozenset({"ec2:instance"}),
        ids=r"i-[0-9a-f]{8,17}",
    ),
    "rds": Kind(
        "rds",
        "RDS",
        {
            "rds:db": "database",
            "rds:cluster": "database cluster",
            "docdb:cluster": "DocumentDB cluster",
            "neptune:cluster": "Neptune cluster",
        },
        {"*": ((300, 12), None)},  # one bucket for the RDS API of an account-region
        "aws rds add-tags-to-resource --resource-name {resource} --tags 'Key={key},Value={value}'",
        default=True,
        ids=r"arn:aws[a-z-]*:rds:[^:]*:[0-9]*:(db|cluster):.+",
    ),
    # Auto Scaling publishes no figures: a bucket well inside what it is seen to take.
    "asg": Kind(
        "asg",
        "Auto Scaling",
        {"asg:group": "Auto Scaling group"},
        {"*": ((40, 4), None)},
        "aws autoscaling create-or-update-tags --tags 'ResourceId={resource},"
        "ResourceType=auto-scaling-group,Key={key},Value={value},PropagateAtLaunch=false'",
        ids=r"arn:aws[a-z-]*:autoscaling:[^:]*:[0-9]*:autoScalingGroup:[^:]*:autoScalingGroupName/.+",
    ),
    # EKS publishes no figures either: the same guess.
    "eks": Kind(
        "eks",
        "EKS",
        {"eks:nodegroup": "EKS managed node group"},
        {"*": ((40, 4), None)},
        "aws eks tag-resource --resource-arn {resource} --tags '{key}={value}'",
        ids=r"arn:aws[a-z-]*:eks:[^:]*:[0-9]*:nodegroup/[^/]+/[^/]+/.+",
    ),
}
DEFAULT_KINDS = tuple(name for name, kind in KINDS.items() if kind.default)
DEFAULT_RESOURCE_TYPE = next(iter(KINDS[DEFAULT_KINDS[0]].words))


def family(resource_type: str) -> str:
    """The family of a resource type, as the summary's counts and the metrics' `resource`
    dimension name it: its part before the colon (`rds` for `rds:db` and `rds:cluster`, `docdb`
    for `docdb:cluster`, `neptune`, `ec2`, `asg`, `eks`)."""
    return resource_type.partition(":")[0] or "unknown"


def kind_words(resource_type: str) -> str:
    """A resource type in words ("database"), the type itself where no kind names it."""
    for kind in KINDS.values():
        if resource_type in kind.words:
            return kind.words[resource_type]
    return resource_type


def service_of(resource_type: str) -> str:
    """The service of a resource type, as people call it ("RDS")."""
    for kind in KINDS.values():
        if resource_type in kind.words:
            return kind.service
    return resource_type.split(":", 1)[0].upper()


def tag_command(resource_type: str, resource: str, key: str, value: str) -> str:
    """The AWS CLI command that writes one tag on the resource (the first kind's form where no
    kind names the type)."""
    kind = next((k for k in KINDS.values() if resource_type in k.words), KINDS[DEFAULT_KINDS[0]])
    return kind.tag_command.format(resource=resource, key=key, value=value)


def hibernates(resource_type: str) -> bool:
    return any(resource_type in kind.hibernates for kind in KINDS.values())


class ByHand(Protocol):
    """One kind's resources read and tagged from a workstation, one by one, with the caller's
    credentials (`offhours override`, `offhours check --instance`); each kind's module has a
    `by_hand(region)` that makes one."""

    def tags(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """The tags of each resource found (one not found is not in the answer)."""
        ...

    def tag(self, resource: str, key: str, value: str) -> None: ...

    def untag(self, resource: str, key: str) -> None: ...


def region_of(resource: str) -> str:
    """The region part of an ARN ("" for an instance id, or an ARN without one)."""
    parts = resource.split(":")
    return parts[3] if resource.startswith("arn:") and len(parts) > 3 else ""


class ByArn:
    """The base of a kind's `ByHand` whose resources are named by ARN: each is reached in the
    region its ARN names (else the command line's), with the kind's boto3 `service`."""

    service = ""

    def __init__(self, region: str) -> None:
        self.region = region

    def _client(self, arn: str) -> Any:
        import boto3

        return boto3.client(self.service, region_name=region_of(arn) or self.region)  # type: ignore[call-overload]


def kind_of_id(resource: str) -> str | None:
    """The kind whose ids look like `resource` (`Kind.ids`), or None."""
    import re

    return next((n for n, k in KINDS.items() if k.ids and re.fullmatch(k.ids, resource)), None)


def by_hand(name: str, region: str) -> ByHand:
    """Kind `name`'s resources, from a workstation (`ByHand`), in `region` unless an ARN names
    another."""
    from importlib import import_module

    module = import_module(f"offhours.resources.{KINDS[name].module}")
    return module.by_hand(region)  # type: ignore[no-any-return]


def make_gateway(name: str, **args: Any) -> Gateway:
    """The gateway of kind `name` (its module imported only now: a cold start pays for the
    kinds it schedules only)."""
    from importlib import import_module

    module = import_module(f"offhours.resources.{KINDS[name].module}")
    gateway: Gateway = module.gateway(**args)
    return gateway


# A resource's tags as the listing gives them: the schedule value, the state tag, the
# fingerprint tag, the override tag (None where it has none), and the reason its kind's rules
# leave it alone when the tags alone say so (an EC2 instance of an Auto Scaling group).
TagSet = list[str | None]
MayCall = Callable[[], bool] | None


class OutOfTime(Exception):
    """The run's time budget ran out while listing: what was listed is not complete."""


class EndpointUnavailable(Exception):
    """The service could not be reached: nothing more can be done in this target."""


@dataclass
class BatchResult:
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (code, message)
    not_attempted: list[str] = field(default_factory=list)
    calls: int = 0
    request_ids: dict[str, str] = field(default_factory=dict)  # id -> the call's request id
    # Left as found: the tag held another value than the run read (a person wrote a newer one).
    changed: list[str] = field(default_factory=list)
    # What the call did that the decision line should say (a group's sizes), by id.
    notes: dict[str, str] = field(default_factory=dict)
    # The troubleshooting code (`offhours.codes`) of what `failed` or `notes` says of an id,
    # where the call knows one more precise than the caller's.
    codes: dict[str, str] = field(default_factory=dict)
    # Why some were not attempted: "time" (the run's budget), "rate" (the service's rate limit
    # left no time in this run), or None.
    deferred_reason: str | None = None

    def merge(self, other: BatchResult) -> None:
        self.deferred_reason = self.deferred_reason or other.deferred_reason
        self.succeeded += other.succeeded
        self.failed.update(other.failed)
        self.not_attempted += other.not_attempted
        self.calls += other.calls
        self.request_ids.update(other.request_ids)
        self.changed += other.changed
        self.notes.update(other.notes)
        self.codes.update(other.codes)


class PartialBatch(EndpointUnavailable):
    """The endpoint went away in the middle of a batched operation; `result` says how far."""

    def __init__(self, result: BatchResult, message: str) -> None:
        super().__init__(message)
        self.result = result


T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def error_of(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "Unknown")), str(error.get("Message", str(exc)))


def request_id_of(response: Any) -> str:
    meta = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
    return str(meta.get("RequestId", ""))


class Gateway(Protocol):
    """One resource kind in one account and region: what `offhours.service` and
    `offhours.executor` ask of it."""

    kind: str  # "ec2", "rds": the name in RESOURCES, the summary and the metrics
    service: str  # how people call the service in an error line: "EC2", "RDS"
    region: str
    account: str
    batch_size: int  # decisions applied together: a start, then the state tags of those done

    def resource_type(self, resource_id: str) -> str:
        """What the resource of that id is: `ec2:instance`, `rds:db`, `rds:cluster`."""
        ...

    def tagged(self, may_call: MayCall = None) -> dict[str, TagSet]:
        """Every resource that carries the schedule tag or a state tag, with those tags only."""
        ...

    def amend(self, entries: list[tuple[Instance, Reading]], at: datetime) -> None:
        """Set on the resources known from their tags what a decision needs besides (EC2: a
        start that did not hold; RDS: a start by RDS after seven days stopped), with a call
        made only when a reading says that it may matter."""
        ...

    def details(self, ids: Sequence[str]) -> list[Instance]:
        """The resources of `ids` that still exist, read in full."""
        ...

    def pages(
        self, may_call: MayCall = None, at: datetime | None = None
    ) -> Iterator[list[Instance]]:
        """Every resource that carries the schedule tag or a state tag, read in full (with
        what a decision at `at` needs besides)."""
        ...

    def start(self, ids: Sequence[str], may_call: MayCall = None) -> BatchResult: ...

    def stop(
        self, ids: Sequence[str], *, hibernate: bool = False, may_call: MayCall = None
    ) -> BatchResult: ...

    def tag_each(self, tags: dict[str, dict[str, str]], may_call: MayCall = None) -> BatchResult:
        """Write `tags[id]` on each resource."""
        ...

    def untag(
        self, ids: Sequence[str], keys: Sequence[str], may_call: MayCall = None
    ) -> BatchResult:
        """Remove the tags `keys` from every resource of `ids`."""
        ...

    def rewrite(
        self, key: str, values: dict[str, tuple[str, str | None]], may_call: MayCall = None
    ) -> BatchResult:
        """For each resource, `values[id] = (found, new)`: the tag `key` becomes `new` (None:
        is removed), only where it still holds `found`, the value the run read; where it holds
        another (a person wrote a newer one in between), it is left as it is (`changed`)."""
        ...
