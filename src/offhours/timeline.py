"""Time rules: a schedule's events in real time, and what it wants at an instant.

All instants in and out are aware UTC datetimes. A schedule's own times are wall-clock times in
its zone, turned into instants with these rules (DESIGN §2):

- Daylight saving follows the zone's real rules (zoneinfo with tzdata): ``08:00 Europe/Berlin``
  is 07:00 UTC in winter and 06:00 UTC in summer.
- A wall-clock time happens at the first instant at which the zone's clock reads it or a later
  time. So a time that happens twice (fall-back) happens once, at its first occurrence, and a
  time that does not exist (the spring-forward gap) happens when the gap ends, the instant the
  clocks jump: 02:30 Europe/Berlin on 2026-03-29 is 01:00 UTC (03:00 CEST), as Debian's cron
  runs a job whose time was skipped. Wall-time order is kept: a later wall time never happens
  before an earlier one, and a window means exactly "the local time is inside it".

For windows, the events are the edges of the union of the windows, worked out in wall-clock
time and then in real time: a window or a stopped stretch that the gap shrinks to nothing
disappears, and its start and stop with it, so a start and a stop never fall on the same instant.

For cron rules, `offhours.cron` walks wall-clock time (naive datetimes, so every wall time is
seen once), reading each expression as crontab does, and each firing is mapped to an instant by
the rules above. Firings that land on one instant are one event; a start and a stop at the same
instant are one stop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from offhours.cron import parse_cron
from offhours.schedule import Action, DesiredState, Event, Schedule, Window
from offhours.zones import zone

WEEK_MINUTES = 7 * 1440
# Wider than any UTC offset change, so that wall-clock searches see every instant they need.
_SLACK = timedelta(hours=3)
# "No opinion" when a cron schedule has no event in the year before an instant.
LOOKBACK = timedelta(days=366)
# How far `next_events` looks ahead before it gives up.
HORIZON = timedelta(days=366 * 10)
_TICK = timedelta(microseconds=1)
_LAST_SPANS = (
    timedelta(hours=6),
    timedelta(days=2),
    timedelta(days=8),
    timedelta(days=32),
    LOOKBACK,
)


def to_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in `tz` to its UTC instant: the first instant at which the clock
    reads `wall` or later (a repeated time: its first occurrence; a time in the spring-forward
    gap: the instant the clocks jump)."""
    at = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if at.astimezone(tz).replace(tzinfo=None) == wall:
        return at
    # In the gap: fold=0 read it with the offset before the jump (an instant after the jump),
    # fold=1 with the offset after it (an instant before the jump).
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return _first_instant(before, at, lambda u: u.astimezone(tz).replace(tzinfo=None) >= wall)


def to_wall(at: datetime, tz: ZoneInfo) -> datetime:
    """An instant to the naive wall-clock time in `tz`."""
    return at.astimezone(tz).replace(tzinfo=None)


def wall_reached(at: datetime, tz: ZoneInfo) -> datetime:
    """The latest wall-clock time that has happened by `at`: the highest the clock has read.

    The wall time at `at`, except during the second run of a repeated hour, when the clock has
    already read up to the end of the first run (a wall time there happened at its first
    occurrence). `to_instant(w) <= at` exactly when `w <= wall_reached(at)`.
    """
    local = at.astimezone(tz)
    if not local.fold:
        return local.replace(tzinfo=None)
    offset_after = local.utcoffset()
    offset_before = local.replace(fold=0).utcoffset()
    assert offset_after is not None and offset_before is not None
    switch = _first_instant(
        at - (offset_before - offset_after),
        at,
        lambda u: u.astimezone(tz).utcoffset() == offset_after,
    )
    return (switch + offset_before).replace(tzinfo=None) - _TICK


def _first_instant(lo: datetime, hi: datetime, reached: Callable[[datetime], bool]) -> datetime:
    """The first whole second after `lo` at which `reached` holds. `reached` is false at `lo`,
    true from some whole second (a zone's switch) up to `hi` and a second beyond."""
    base = lo.replace(microsecond=0)
    low, high = 0, -int(-(hi - base).total_seconds() // 1)
    while high - low > 1:
        middle = (low + high) // 2
        if reached(base + timedelta(seconds=middle)):
            high = middle
        else:
            low = middle
    return base + timedelta(seconds=high)


def week_union(windows: Iterable[Window]) -> tuple[tuple[int, int], ...] | None:
    """The union of windows as intervals of minutes after Monday 00:00, merged on the week's
    circle (an interval may run past the week's end). None means: running all the time."""
    raw = sorted(
        (day * 1440 + r.start, day * 1440 + r.start + r.length)
        for w in windows
        for day in w.days
        for r in w.ranges
    )
    merged: list[list[int]] = []
    for start, end in raw:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    while len(merged) > 1 and merged[-1][1] >= merged[0][0] + WEEK_MINUTES:
        first = merged.pop(0)
        merged[-1][1] = max(merged[-1][1], first[1] + WEEK_MINUTES)
    if len(merged) == 1 and merged[0][1] - merged[0][0] >= WEEK_MINUTES:
        return None
    return tuple((s, e) for s, e in merged)


class Timeline:
    """A schedule's events on the real time line."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.tz = zone(schedule.timezone)
        self.week: tuple[tuple[int, int], ...] | None = None
        self.always_running = False
        if not schedule.is_cron:
            self.week = week_union(schedule.windows)
            self.always_running = self.week is None

    # -- events in a span --------------------------------------------------------------------

    def events_between(self, lo: datetime, hi: datetime) -> list[Event]:
        """Events with lo < at <= hi, in time order."""
        if self.schedule.is_cron:
            return self._cron_events(lo, hi)
        return self._window_events(lo, hi)

    def _window_events(self, lo: datetime, hi: datetime) -> list[Event]:
        if self.week is None:
            return []
        wall_lo = to_wall(lo, self.tz) - _SLACK - timedelta(days=2)
        wall_hi = to_wall(hi, self.tz) + _SLACK
        monday = datetime.combine(wall_lo.date(), datetime.min.time()) - timedelta(
            days=wall_lo.weekday() + 7
        )
        intervals: list[tuple[datetime, datetime]] = []
        while monday <= wall_hi:
            for start, end in self.week:
                begin = monday + timedelta(minutes=start)
                if begin > wall_hi:
                    break
                intervals.append(
                    (
                        to_instant(begin, self.tz),
                        to_instant(monday + timedelta(minutes=end), self.tz),
                    )
                )
            monday += timedelta(days=7)
        events: list[Event] = []
        current: list[datetime] | None = None
        for start_at, end_at in sorted(intervals):
            if end_at <= start_at:
                continue
            if current is not None and start_at <= current[1]:
                current[1] = max(current[1], end_at)
                continue
            if current is not None:
                events += _edges(current[0], current[1], lo, hi)
            current = [start_at, end_at]
        if current is not None:
            events += _edges(current[0], current[1], lo, hi)
        return events

    def _cron_events(self, lo: datetime, hi: datetime) -> list[Event]:
        wall_lo = to_wall(lo, self.tz) - _SLACK
        wall_hi = to_wall(hi, self.tz) + _SLACK
        found: dict[datetime, Action] = {}
        for rule in self.schedule.rules:
            for wall in _cron_walk(rule.expression, wall_lo, wall_hi):
                at = to_instant(wall, self.tz)
                if lo < at <= hi and found.get(at) is not Action.STOP:
                    found[at] = rule.action
        return [Event(action, at) for at, action in sorted(found.items())]

    # -- the questions people ask ------------------------------------------------------------

    def last_event(self, at: datetime) -> Event | None:
        """The latest event at or before `at` (None: no event in the year before)."""
        if self.always_running:
            return None
        for span in _LAST_SPANS:
            events = self.events_between(at - span, at)
            if events:
                return events[-1]
        return None

    def next_events(self, at: datetime, count: int = 5) -> list[Event]:
        """The next `count` events strictly after `at` (fewer if the horizon comes first)."""
        if count <= 0 or self.always_running:
            return []
        span = timedelta(hours=2)  # widened fourfold until `count` events are found
        while True:
            events = self.events_between(at, at + span)
            if len(events) >= count or span >= HORIZON:
                return events[:count]
            span = min(span * 4, HORIZON)

    def desired_state(self, at: datetime) -> DesiredState | None:
        """Running or stopped at `at`; None where a cron schedule has no opinion yet."""
        if self.always_running:
            return DesiredState.RUNNING
        last = self.last_event(at)
        return last.action.state if last is not None else None


def _edges(start: datetime, end: datetime, lo: datetime, hi: datetime) -> list[Event]:
    out = []
    if lo < start <= hi:
        out.append(Event(Action.START, start))
    if lo < end <= hi:
        out.append(Event(Action.STOP, end))
    return out


def _cron_walk(expression: str, wall_lo: datetime, wall_hi: datetime) -> list[datetime]:
    """Wall-clock firings with wall_lo < t <= wall_hi, as crontab reads the expression."""
    out: list[datetime] = []
    cursor = parse_cron(expression).cursor()
    wall = wall_lo
    while (firing := cursor.next_after(wall)) is not None and firing <= wall_hi:
        out.append(firing)
        wall = firing
    return out


@lru_cache(maxsize=4096)
def timeline(schedule: Schedule) -> Timeline:
    """The (cached) timeline of a schedule."""
    return Timeline(schedule)
