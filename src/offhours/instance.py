"""What a run keeps of an EC2 instance: only what the planner needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from offhours.state import fingerprint_tag_key, state_tag_key

TRANSITIONAL_STATES = frozenset({"pending", "stopping", "shutting-down"})
ASG_TAG = "aws:autoscaling:groupName"

__all__ = ["ASG_TAG", "TRANSITIONAL_STATES", "Instance", "fingerprint_tag_key", "state_tag_key"]


@dataclass(frozen=True, slots=True)
class Instance:
    """An instance as one run saw it.

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
