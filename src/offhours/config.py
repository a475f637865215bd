"""Settings from the environment (DESIGN §6)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from offhours.resources import DEFAULT_KINDS, KINDS
from offhours.zones import UnknownZone, resolve_zone

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class ConfigError(ValueError):
    """A deployment setting that cannot be used."""


def _flag(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean: expected true or false")


def _number(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None or not value.strip():
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}={value!r} must be {low} to {high}")
    return number


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


RESOURCE_KINDS = tuple(KINDS)
# The kinds scheduled where RESOURCES is not set (Auto Scaling groups only where it names asg).


def _resources(value: str | None) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(k.lower() for k in _list(value))) or DEFAULT_KINDS
    unknown = [k for k in kinds if k not in RESOURCE_KINDS]
    if unknown:
        raise ConfigError(
            f"RESOURCES={value!r}: {', '.join(map(repr, unknown))} is not a resource kind "
            f"(give any of {', '.join(RESOURCE_KINDS)}, comma-separated)"
        )
    return kinds


@dataclass(frozen=True)
class Config:
    tag_key: str = "Schedule"
    default_timezone: str = "UTC"
    regions: tuple[str, ...] = ()
    dry_run: bool = False
    target_accounts: tuple[str, ...] = ()
    member_role_name: str = "offhours-member"
    member_external_id: str | None = None
    catalog_parameter: str | None = None
    catalog_file: str | None = None
    fanout_queue_url: str | None = None
    notice_minutes: int = 0
    max_override_hours: int = 168
    # The resource kinds scheduled (RESOURCES, comma-separated): EC2 instances, RDS databases
    # and Aurora clusters.
    resources: tuple[str, ...] = DEFAULT_KINDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        tag_key = env.get("SCHEDULE_TAG_KEY", "").strip() or "Schedule"
        try:
            zone = resolve_zone(env.get("DEFAULT_TIMEZONE", "").strip() or "UTC")
        except UnknownZone as exc:
            raise ConfigError(f"DEFAULT_TIMEZONE: {exc}") from None
        regions = _list(env.get("REGIONS"))
        if not regions:
            own = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
            regions = (own,) if own else ()
        accounts = _list(env.get("TARGET_ACCOUNTS"))
        for account in accounts:
            if not _ACCOUNT.match(account):
                raise ConfigError(f"TARGET_ACCOUNTS: {account!r} is not a 12-digit account id")
        return cls(
            tag_key=tag_key,
            default_timezone=zone,
            regions=regions,
            dry_run=_flag("DRY_RUN", env.get("DRY_RUN"), False),
            target_accounts=accounts,
            member_role_name=env.get("MEMBER_ROLE_NAME", "").strip() or "offhours-member",
            member_external_id=env.get("MEMBER_EXTERNAL_ID", "").strip() or None,
            catalog_parameter=env.get("CATALOG_PARAMETER", "").strip() or None,
            catalog_file=env.get("CATALOG_FILE", "").strip() or None,
            fanout_queue_url=env.get("FANOUT_QUEUE_URL", "").strip() or None,
            notice_minutes=_number("NOTICE_MINUTES", env.get("NOTICE_MINUTES"), 0, 0, 1440),
            max_override_hours=_number(
                "MAX_OVERRIDE_HOURS", env.get("MAX_OVERRIDE_HOURS"), 168, 1, 24 * 366
            ),
            resources=_resources(env.get("RESOURCES")),
        )


@cache
def known_regions() -> frozenset[str]:
    """The regions of every AWS partition, as the installed botocore knows them."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("partitions")
    return frozenset(
        name for partition in data.get("partitions", []) for name in partition.get("regions", {})
    )


def region_problem(region: str) -> str | None:
    """Why a region name cannot be right, or None."""
    if not _REGION.match(region):
        return f"{region!r} is not a region name (expected one like eu-central-1)"
    if region not in known_regions():
        return (
            f"{region!r} is not a known AWS region (a typo, or a region newer than the "
            "installed botocore)"
        )
    return None
