"""Timed overrides: a person's request to hold an instance in a state until a given time.

A second tag, `<TagKey>:override` (DESIGN §7)::

    running until 22:00
    stopped until Mon 08:00
    running until 2026-12-02T09:00
    running until 2026-12-02T09:00+01:00

Unlike a schedule tag, an override is a request to act: the next run brings the instance to
the override's state and keeps it there, whatever the schedule says, until the `until` instant.
That instant is an event: the schedule's desired state then applies, and offhours removes the
override tag.

- Times are in the schedule's zone (the deployment's default zone when the schedule is invalid
  or opts the instance out). A bare time (`22:00`) or a day and time (`Mon 08:00`) is its next
  occurrence after the run that first reads it; offhours then writes the override back with the
  instant pinned (`running until 2026-11-28T22:00+01:00`), so that a later run does not read
  "22:00" as tomorrow's. A date and time without an offset is in the schedule's zone; with an
  offset (or `Z`) it is that instant.
- An override that does not parse is ignored with a warning. One that lasts longer than the
  deployment's limit (`MaxOverrideHours`, 168 by default) from the run is ignored with a
  warning, and the planner removes its tag when it surely ends past the limit: else it would
  take effect by itself days later, once its end came within the limit.
- `running`/`stopped` may also be written `on`/`off` and in any case.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from offhours.schedule import DAY_NAMES, DesiredState, iso
from offhours.timeline import to_instant, to_wall
from offhours.zones import zone

OVERRIDE_SUFFIX = ":override"
MAX_LENGTH = 256
DEFAULT_MAX_HOURS = 168

_STATES = {
    "running": DesiredState.RUNNING,
    "on": DesiredState.RUNNING,
    "stopped": DesiredState.STOPPED,
    "off": DesiredState.STOPPED,
}
_DAYS = {name.lower(): i for i, name in enumerate(DAY_NAMES)}
_DAYS.update(
    {
        n: i
        for i, n in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    }
)
_FORM = re.compile(r"^\s*(?P<state>[A-Za-z]+)\s+until\s+(?P<when>.+?)\s*$", re.IGNORECASE)
_TIME = re.compile(r"^(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})$")
_DAY_TIME = re.compile(r"^(?P<day>[A-Za-z]+)\s+(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})$")
_DATE_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?"
    r"(?P<offset>Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE | re.ASCII,
)


def override_tag_key(schedule_tag_key: str) -> str:
    """The tag in which a person asks for a timed override."""
    return f"{schedule_tag_key}{OVERRIDE_SUFFIX}"


class OverrideError(ValueError):
    """An override tag value that cannot be used (it is ignored, with a warning)."""

    code = "OH-OVERRIDE-INVALID"  # its troubleshooting code (`offhours.codes`)


class OverrideTooLong(OverrideError):
    """An override beyond MaxOverrideHours: it is ignored and its tag removed, or it would
    take effect by itself once its end came within the limit. `until` is its end."""

    code = "OH-OVERRIDE-TOO-LONG"

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class Override(NamedTuple):
    """An override as read at a run: the state asked for, until when (aware UTC), and, for a
    value that named a time relative to the run, the value to write back with it pinned."""

    state: DesiredState
    until: datetime
    pinned: str | None = None

    def describe(self, tz_name: str) -> str:
        """`until Fri 2026-03-27 21:00 CET (2026-03-27T20:00:00Z)`."""
        local = self.until.astimezone(zone(tz_name))
        return (
            f"until {DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()} "
            f"({iso(self.until)})"
        )


def pinned_text(state: DesiredState, until: datetime, tz_name: str) -> str:
    """The override's value with its instant written out, in the zone's local time."""
    local = until.astimezone(zone(tz_name))
    offset = local.strftime("%z")
    return f"{state.value} until {local:%Y-%m-%dT%H:%M}{offset[:3]}:{offset[3:]}"


def parse_override(
    text: str, tz_name: str, at: datetime, max_hours: int = DEFAULT_MAX_HOURS
) -> Override:
    """The override a tag value asks for at the run's time `at`; `OverrideError` says why a
    value cannot be used."""
    if len(text) > MAX_LENGTH:
        raise OverrideError(f"it is longer than {MAX_LENGTH} characters")
    form = _FORM.match(text)
    if form is None:
        raise OverrideError(
            "expected 'running until TIME' or 'stopped until TIME' (TIME like 22:00, "
            "Mon 08:00 or 2026-12-02T09:00)"
        )
    state = _STATES.get(form.group("state").lower())
    if state is None:
        raise OverrideError(f"{form.group('state')!r} is not a state: expected running or stopped")
    tz = zone(tz_name)
    when = form.group("when")
    pinned: str | None = None
    relative = _TIME.match(when) or _DAY_TIME.match(when)
    if relative is not None:
        hours, minutes = int(relative.group("h")), int(relative.group("m"))
        if hours > 23 or minutes > 59:
            raise OverrideError(f"{when!r} is not a time of day")
        day = relative.groupdict().get("day")
        weekday = None
        if day is not None:
            weekday = _DAYS.get(day.lower())
            if weekday is None:
                raise OverrideError(f"{day!r} is not a day: expected Mon to Sun")
        until = _next_occurrence(at, tz_name, hours, minutes, weekday)
        pinned = pinned_text(state, until, tz_name)
    else:
        exact = _DATE_TIME.match(when)
        if exact is None:
            raise OverrideError(
                f"{when!r} is not a time: expected 22:00, Mon 08:00 or 2026-12-02T09:00"
            )
        seconds = exact.group("s") or "00"
        offset = exact.group("offset")
        stamp = f"{exact.group('date')}T{exact.group('h')}:{exact.group('m')}:{seconds}"
        try:
            if offset is None:
                until = to_instant(datetime.fromisoformat(stamp), tz)
            else:
                offset = "+00:00" if offset.upper() == "Z" else offset
                until = datetime.fromisoformat(stamp + offset).astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            raise OverrideError(f"{when!r} is not a time ({exc})") from None
    if until - at > timedelta(hours=max_hours):
        raise OverrideTooLong(
            f"it lasts until {iso(until)}, more than {max_hours} hours from now (MaxOverrideHours)",
            until,
        )
    return Override(state, until, pinned)


def _next_occurrence(
    at: datetime, tz_name: str, hours: int, minutes: int, weekday: int | None
) -> datetime:
    """The first instant after `at` at which the zone's clock reads that time (on that day)."""
    tz = zone(tz_name)
    wall = to_wall(at, tz)
    day = datetime.combine(wall.date(), datetime.min.time())
    for offset in range(0, 9):
        candidate = day + timedelta(days=offset, hours=hours, minutes=minutes)
        if weekday is not None and candidate.weekday() != weekday:
            continue
        instant = to_instant(candidate, tz)
        if instant > at:
            return instant
    raise OverrideError(
        "no such time in the coming week"
    )  # pragma: no cover - a week always has it
