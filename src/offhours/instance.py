"""What a run keeps of an EC2 instance: only what the planner needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

TRANSITIONAL_STATES = frozenset({"pending", "stopping", "shutting-down"})
ASG_TAG = "aws:autoscaling:groupName"
STATE_TAG_SUFFIX = ":offhours-handled"


def state_tag_key(schedule_tag_key: str) -> str:
    """The tag in which offhours records up to when it has handled an instance."""
    return f"{schedule_tag_key}{STATE_TAG_SUFFIX}"


@lru_cache(maxsize=65536)
def parse_anchor(text: str | None) -> datetime | None:
    """The state tag's instant, or None when absent or unreadable."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Instance:
    """An instance as one run saw it.

    `schedule` is the schedule tag's value, `handled` the state tag's raw value. `spot` is
    `one-time`, `persistent`, `unknown` (a Spot instance whose request type is not known) or None.
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
