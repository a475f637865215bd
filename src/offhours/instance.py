"""What a run keeps of a scheduled resource (an EC2 instance, an RDS database or Aurora
cluster): only what the planner needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from offhours.resources import DEFAULT_RESOURCE_TYPE
from offhours.state import fingerprint_holds, fingerprint_tag_key, state_tag_key

if TYPE_CHECKING:
    from offhours.pricing import Rate

TRANSITIONAL_STATES = frozenset({"pending", "stopping", "shutting-down"})
# The states that offhours starts or stops from; any other waits for the next run.
SETTLED_STATES = frozenset({"running", "stopped"})
# A resource whose gateway names no type is of the first default kind's first type (an EC2
# instance): what the planner's tests and the earlier versions assume.
EC2_INSTANCE = DEFAULT_RESOURCE_TYPE
ASG_TAG = "aws:autoscaling:groupName"

__all__ = [
    "ASG_TAG",
    "EC2_INSTANCE",
    "SETTLED_STATES",
    "TRANSITIONAL_STATES",
    "Instance",
    "fingerprint_tag_key",
    "state_tag_key",
]


@dataclass(slots=True)
class Instance:
    """An instance as one run saw it (not frozen, only because a frozen dataclass takes five
    times as long to build, and a run builds one per instance; nothing changes it).

    `schedule` is the schedule tag's value; `handled` and `fingerprint` are the raw values of
    offhours' state tags (see `offhours.state`). `untagged` means the schedule tag is gone and
    only state tags are left. `spot` is `one-time`,
    `persistent`, `unknown` (a Spot instance whose request type is not known) or None.

    Other kinds (`offhours.resources`) use the same shape: `id` is their ARN, `resource_type`
    says what they are (`rds:db`, `rds:cluster`), `state` is `running` or `stopped` (or their
    own word for a state in between), `skip_reason` says why their kind's rules leave them
    alone, and `auto_started` is when RDS last started them on its own after seven days
    stopped (and nobody stopped them since).
    """

    id: str
    state: str
    schedule: str
    name: str = ""
    handled: str | None = None
    launch_time: datetime | None = None
    region: str = ""
    account: str = ""
    hibernation_configured: bool = False
    state_reason: str | None = None
    untagged: bool = False
    fingerprint: str | None = None
    override: str | None = None  # the override tag's raw value (offhours.override)
    resource_type: str = EC2_INSTANCE
    skip_reason: str | None = None
    auto_started: datetime | None = None
    # Why its service undid a start (EC2 stopping it again with Client.InternalError: a KMS
    # key offhours may not use), in words; None where it did not.
    start_undone: str | None = None
    # What AWS never gives to another resource, where `id` is not that (RDS: DbiResourceId or
    # DbClusterResourceId, where the ARN is made of a name that a restore gives again).
    identity: str = ""
    # When the resource came to be (EC2: its primary network interface's attachment, which
    # stop and start keep; RDS: its creation time); None where it was not read.
    created: datetime | None = None
    # Whether `fingerprint` is this instance's own for its value (None: no fingerprint tag);
    # worked out once, when the instance is read, with its tags.
    # What an hour of it costs, as the Price List API prices it (`offhours.pricing.Rate`s: one
    # for an instance, its members for a cluster, the class twice for Multi-AZ); () where its
    # kind does not say (read from tags only, or a kind without prices).
    rates: tuple[Rate, ...] = ()
    # When it was last stopped by a call (EC2's StateTransitionReason "User initiated (...)"),
    # where it is stopped and AWS says so: for the hours people kept it stopped (`savings`).
    stopped_at: datetime | None = None
    fingerprint_ok: bool | None = field(init=False, default=None, compare=False, repr=False)
    # The fingerprint is an earlier version's that names the resource by its ARN (RDS): read
    # as matching, as a state without fingerprint is, and replaced at the next record.
    fingerprint_legacy: bool = field(init=False, default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.fingerprint is not None:
            identity = self.identity or self.id
            self.fingerprint_ok = fingerprint_holds(self.fingerprint, identity, self.schedule)
            if not self.fingerprint_ok and identity != self.id:
                self.fingerprint_legacy = fingerprint_holds(
                    self.fingerprint, self.id, self.schedule
                )
                self.fingerprint_ok = self.fingerprint_legacy
