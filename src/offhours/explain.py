"""A schedule for people: in words, a week at a glance, and the share of hours it runs."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from offhours.schedule import (
    DAY_NAMES,
    FULL_DAY_NAMES,
    DesiredState,
    Event,
    Schedule,
    TimeRange,
    Window,
)
from offhours.timeline import timeline, to_instant, to_wall
from offhours.zones import zone


def local_text(at: datetime, tz_name: str) -> str:
    local = at.astimezone(zone(tz_name))
    return f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()}"


def _days_phrase(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "every day"
    ordered = sorted(days)
    # A run of consecutive days, possibly wrapping over the week's end.
    for first in ordered:
        run = [(first + k) % 7 for k in range(len(days))]
        if set(run) == days and len(days) > 2:
            return f"{FULL_DAY_NAMES[run[0]]} to {FULL_DAY_NAMES[run[-1]]}"
    names = [FULL_DAY_NAMES[d] for d in ordered]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _range_phrase(r: TimeRange) -> str:
    text = str(r)
    return f"{text} (to the next day)" if r.crosses_midnight and r.end != 1440 else text


def _window_phrase(w: Window) -> str:
    return f"{_days_phrase(w.days)} {', '.join(_range_phrase(r) for r in w.ranges)}"


def describe(schedule: Schedule) -> str:
    """The schedule in one sentence."""
    if schedule.is_cron:
        parts = [f"{rule.action.value}s at cron '{rule.expression}'" for rule in schedule.rules]
        text = "; ".join(parts)
        if not any(r.action.value == "start" for r in schedule.rules):
            text += "; never starts instances (people do)"
        if not any(r.action.value == "stop" for r in schedule.rules):
            text += "; never stops instances (people do)"
    elif timeline(schedule).always_running:
        text = "runs all the time"
    else:
        text = "runs " + "; ".join(_window_phrase(w) for w in schedule.windows)
    text += f", {schedule.timezone} time"
    if schedule.enforce:
        text += "; enforced at every run, overriding manual changes"
    if schedule.hibernate:
        text += "; hibernates instead of stopping where the instance allows it"
    if schedule.name:
        text = (
            f"named schedule '{schedule.name}'"
            + (f" ({schedule.description})" if schedule.description else "")
            + ": "
            + text
        )
    return text


@dataclass(frozen=True)
class Week:
    """One local week of a schedule: Monday 00:00 to the next Monday 00:00 in its zone."""

    start: datetime
    end: datetime
    rows: tuple[str, ...]
    running_hours: float | None

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def share(self) -> float | None:
        return None if self.running_hours is None else self.running_hours / self.hours


FULL, PART, EMPTY, UNKNOWN = "█", "▒", "·", "?"


def week_at_a_glance(schedule: Schedule, at: datetime) -> Week:
    """The local week that holds `at`: a row per weekday, a cell per hour."""
    tl = timeline(schedule)
    tz = zone(schedule.timezone)
    wall = to_wall(at, tz)
    monday = datetime.combine(wall.date() - timedelta(days=wall.weekday()), datetime.min.time())
    start = to_instant(monday, tz)
    end = to_instant(monday + timedelta(days=7), tz)
    initial = tl.desired_state(start)
    events = tl.events_between(start, end)
    times = [e.at for e in events]

    def state(t: datetime) -> DesiredState | None:
        i = bisect_right(times, t)
        return events[i - 1].action.state if i else initial

    rows = []
    for day in range(7):
        cells = []
        for hour in range(24):
            base = monday + timedelta(days=day, hours=hour)
            samples = [state(to_instant(base + timedelta(minutes=m), tz)) for m in (0, 15, 30, 45)]
            if any(s is None for s in samples):
                cells.append(UNKNOWN)
            elif all(s is DesiredState.RUNNING for s in samples):
                cells.append(FULL)
            elif any(s is DesiredState.RUNNING for s in samples):
                cells.append(PART)
            else:
                cells.append(EMPTY)
        rows.append("".join(cells))
    return Week(start, end, tuple(rows), _running_hours(initial, events, start, end))


def _running_hours(
    initial: DesiredState | None, events: list[Event], start: datetime, end: datetime
) -> float | None:
    if initial is None and not events:
        return None
    total = timedelta()
    state, since = initial, start
    for event in events:
        if state is DesiredState.RUNNING:
            total += event.at - since
        state, since = event.action.state, event.at
    if state is DesiredState.RUNNING:
        total += end - since
    return total.total_seconds() / 3600
