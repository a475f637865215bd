"""What a run keeps of an EC2 instance: only what the planner needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from offhours.state import fingerprint, fingerprint_tag_key, state_tag_key

TRANSITIONAL_STATES = frozenset({"pending", "stopping", "shutting-down"})
ASG_TAG = "aws:autoscaling:groupName"

__all__ = ["ASG_TAG", "TRANSITIONAL_STATES", "Instance", "fingerprint_tag_key", "state_tag_key"]


@dataclass(slots=True)
class Instance:
    """An instance as one run saw it (not frozen, only because a frozen dataclass takes five
    times as long to build, and a run builds one per instance; nothing changes it).

    `schedule` is the schedule tag's value; `handled` and `fingerprint` are the raw values of
    offhours' state tags (see `offhours.state`). `untagged` means the schedule tag is gone and
    only state tags are left. `spot` is `one-time`,
    `persistent`, `unknown` (a Spot instance whose request type is not known) or None.
    """

    id: str
    state: str
    schedule: str
    name: str = ""
    handled: str | None = None
    launch_time: datetime | None = None
    region: str = ""
    account: str = ""
    auto_scaling_group: str | None = None
    spot: str | None = None
    root_device_type: str = "ebs"
    hibernation_configured: bool = False
    state_reason: str | None = None
    untagged: bool = False
    fingerprint: str | None = None
    override: str | None = None  # the override tag's raw value (offhours.override)
    # Whether `fingerprint` is this instance's own for its value (None: no fingerprint tag);
    # worked out once, when the instance is read, with its tags.
    fingerprint_ok: bool | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.fingerprint is not None:
            self.fingerprint_ok = self.fingerprint == fingerprint(self.id, self.schedule)
