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

For cron rules (`offhours.cron`), the firings are found in wall-clock time and each is mapped to
an instant by the rule above. The instant an event search starts from is turned into the latest
wall time that has happened by then (the highest the clock has read), so the search is direct:
the last firing at or before it, the next after it, never a walk over the firings in between.
Firings that land on one instant are one event; a start and a stop at the same instant are one
stop.

Holidays and closures (``holidays=``, DESIGN §7): a start event whose instant falls on a closed
date, in the schedule's zone, does not happen; stop events all do. The date of an event is the
local date of its instant (a start at 2026-12-24T23:30Z is on the 25th in Europe/Berlin; one
that a spring-forward gap moves to the jump is on the jump's date). Every question (the last
event, the next ones, the changes in a span) sees the same events: the desired state on a
holiday morning is the previous stop's. A cron search never walks a closed day firing by firing,
nor a run of closed days day by day: it jumps to the first instant of the run of consecutive
closed dates (looking back) or past its last (looking ahead), so a dense expression costs a
step per run of closed days, however long the run (`ClosedDates.run_first`, `run_last`). A
schedule that runs all the time has no start to skip.

The next stop (what a notice needs, DESIGN §7) is found directly, `Timeline.next_stop`: stops
are never skipped, so it is the first firing of the stop rules (or the first end of a window),
never a list of the events up to it: a value that fires every minute costs what one that fires
once a day does.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from offhours.closures import ClosedDates
from offhours.cron import Cron, parse_cron
from offhours.schedule import Action, DesiredState, Event, Schedule, Window
from offhours.zones import zone

WEEK_MINUTES = 7 * 1440
# Wider than any UTC offset change, so that wall-clock searches see every instant they need.
_SLACK = timedelta(hours=3)
# "No opinion" when a cron schedule has no event in the year before an instant.
LOOKBACK = timedelta(days=366)
# How far `next_events` looks ahead before it gives up.
HORIZON = timedelta(days=366 * 10)
_WEEK = timedelta(days=7)
_TICK = timedelta(microseconds=1)


@lru_cache(maxsize=16384)  # the values of a fleet share their times: 08:00 in Berlin, ...
def to_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in `tz` to its UTC instant: the first instant at which the clock
    reads `wall` or later (a repeated time: its first occurrence; a time in the spring-forward
    gap: the instant the clocks jump)."""
    first = wall.replace(tzinfo=tz, fold=0)
    offset, other = first.utcoffset(), wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert offset is not None and other is not None
    if offset >= other:  # an ordinary time, or a repeated one (fold=0 is the first occurrence)
        return (wall - offset).replace(tzinfo=UTC)
    at = first.astimezone(UTC)
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
        self._rules: tuple[tuple[Action, Cron], ...] = ()
        self.closed = ClosedDates(schedule.holidays) if schedule.holidays else None
        if schedule.is_cron:
            self._rules = tuple((r.action, parse_cron(r.expression)) for r in schedule.rules)
        else:
            self.week = week_union(schedule.windows)
            self.always_running = self.week is None

    # -- events in a span --------------------------------------------------------------------

    def events_between(self, lo: datetime, hi: datetime) -> list[Event]:
        """Events with lo < at <= hi, in time order."""
        if self.schedule.is_cron:
            return list(self._cron_events(lo, hi))
        return self._window_events(lo, hi)

    def changes_between(self, lo: datetime, hi: datetime) -> list[Event]:
        """The events with lo < at <= hi that change the desired state, in time order: what
        a picture of the span needs, without the repeats of a dense cron rule (or the stop
        that follows a skipped start)."""
        if not self.schedule.is_cron and self.closed is None:
            return self._window_events(lo, hi)
        out: list[Event] = []
        last = self.last_event(lo)
        state = last.action.state if last is not None else None
        if not self.schedule.is_cron:
            for change in self._window_events(lo, hi):
                if change.action.state is not state:
                    out.append(change)
                    state = change.action.state
            return out
        t = lo
        while t < hi:
            event = self._next_change(t, state, hi)
            if event is None:
                break
            out.append(event)
            state, t = event.action.state, event.at
        return out

    def _next_change(
        self, after: datetime, state: DesiredState | None, hi: datetime
    ) -> Event | None:
        if state is None:
            return next(self._cron_events(after, hi), None)
        if state is DesiredState.RUNNING:
            at = self._first_firing(Action.STOP, after)
            return Event(Action.STOP, at) if at is not None and at <= hi else None
        while True:
            at = self._first_firing(Action.START, after, hi)
            if at is None or at > hi:
                return None
            if self._first_firing(Action.STOP, at - _TICK) != at:
                return Event(Action.START, at)
            after = at

    def _first_firing(
        self,
        action: Action,
        after: datetime,
        until: datetime | None = None,
        *,
        keep_closed: bool = False,
    ) -> datetime | None:
        """The first instant after `after` at which a rule of `action` fires. A start on a
        closed date does not count (unless `keep_closed`); the search for an open one goes no
        further than `until` (a later firing is returned as it is)."""
        skip = action is Action.START and self.closed is not None and not keep_closed
        limit = until if until is not None else after + HORIZON
        start = wall_reached(after, self.tz)
        found: datetime | None = None
        for rule_action, cron in self._rules:
            if rule_action is not action:
                continue
            wall = start
            while True:
                firing = cron.next_after(wall)
                if firing is None:
                    break
                at = to_instant(firing, self.tz)
                day = self._closed_day(at) if skip and at <= limit else None
                if day is None:
                    found = at if found is None or at < found else found
                    break
                past = self._wall_past_run(day)
                if past is None:  # closed to the end of the calendar: no start ever
                    break
                wall = max(firing, past)
        return found

    def _closed_day(self, at: datetime) -> date | None:
        """The local date of `at`, if the schedule's calendars close it."""
        if self.closed is None:
            return None
        day = at.astimezone(self.tz).date()
        return day if self.closed.closes(day) else None

    def _wall_past_run(self, day: date) -> datetime | None:
        """The latest wall time whose instant comes before the end of the run of consecutive
        closed dates that holds `day`: a search for an open start resumes there, in one step
        however long the run (None: the run lasts to the end of the calendar)."""
        assert self.closed is not None
        last = self.closed.run_last(day)
        if last == date.max:
            return None
        return self._wall_before(last + timedelta(days=1))

    def _day_start(self, day: date) -> datetime:
        """The first instant of a local date."""
        return to_instant(datetime.combine(day, time()), self.tz)

    def _wall_before(self, day: date) -> datetime:
        """The latest wall time whose instant comes before the local date `day` begins."""
        return wall_reached(self._day_start(day) - _TICK, self.tz)

    def skipped_between(self, lo: datetime, hi: datetime) -> list[tuple[date, str]]:
        """The closed dates on which a start would have happened with lo < at <= hi, had the
        date been open, each once and in order, with what closes it."""
        if self.closed is None or self.always_running:
            return []
        closed = self.closed.between(to_wall(lo, self.tz).date(), to_wall(hi, self.tz).date())
        if closed and not self.schedule.is_cron:
            # The starts of the span, worked out once (not a week's worth per closed date): a
            # start is on the date whose first instant it has reached, `wall_reached`'s date.
            started = {
                wall_reached(e.at, self.tz).date()
                for e in self._window_events(lo, hi, keep_closed=True)
                if e.action is Action.START
            }
            return [(day, name) for day, name in closed if day in started]
        out = []
        for day, name in closed:
            begin = max(lo, self._day_start(day) - _TICK)
            end = min(hi, self._day_start(day + timedelta(days=1)) - _TICK)
            if begin < end and self._would_start(begin, end):
                out.append((day, name))
        return out

    def _would_start(self, lo: datetime, hi: datetime) -> bool:
        """Is there a start event with lo < at <= hi when no date is closed?"""
        if not self.schedule.is_cron:
            events = self._window_events(lo, hi, keep_closed=True)
            return any(e.action is Action.START for e in events)
        after = lo
        while True:
            at = self._first_firing(Action.START, after, hi, keep_closed=True)
            if at is None or at > hi:
                return False
            if self._first_firing(Action.STOP, at - _TICK) != at:  # a stop there wins
                return True
            after = at

    def _window_events(
        self, lo: datetime, hi: datetime, *, keep_closed: bool = False
    ) -> list[Event]:
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
                finish = monday + timedelta(minutes=end)
                if finish < wall_lo:  # wholly before the span, slack included: cannot matter
                    continue
                intervals.append((to_instant(begin, self.tz), to_instant(finish, self.tz)))
            monday += _WEEK
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
        if self.closed is not None and not keep_closed:
            return [e for e in events if e.action is Action.STOP or self._closed_day(e.at) is None]
        return events

    def _cron_events(self, lo: datetime, hi: datetime) -> Iterator[Event]:
        """Events with lo < at <= hi, in order, found lazily: a caller that stops early pays
        only for the firings it saw."""
        wall_lo = wall_reached(lo, self.tz)
        wall_hi = to_wall(hi, self.tz) + _SLACK
        streams = [self._instants(cron, action, wall_lo, wall_hi) for action, cron in self._rules]
        pending: Event | None = None
        for at, _, action in heapq.merge(*streams):
            if at > hi:
                break
            if pending is not None and pending.at != at:
                yield pending
                pending = None
            if pending is None or action is Action.STOP:
                pending = Event(action, at)
        if pending is not None:
            yield pending

    def _instants(
        self, cron: Cron, action: Action, after: datetime, until: datetime
    ) -> Iterator[tuple[datetime, int, Action]]:
        """The distinct instants at which one rule fires, after the wall time `after`. Firings
        that happen at one instant (all of a spring-forward gap's) are skipped in one jump, and
        so are a closed date's starts."""
        rank = 0 if action is Action.START else 1
        skip = action is Action.START and self.closed is not None
        cursor = cron.cursor()
        wall = after
        while True:
            firing = cursor.next_after(wall)
            if firing is None or firing > until:
                return
            at = to_instant(firing, self.tz)
            day = self._closed_day(at) if skip else None
            if day is not None:
                past = self._wall_past_run(day)
                if past is None:  # closed to the end of the calendar: no start ever
                    return
                wall = max(firing, past)
                continue
            yield at, rank, action
            wall = max(firing, wall_reached(at, self.tz))

    # -- the questions people ask ------------------------------------------------------------

    def next_stop(self, at: datetime, horizon: datetime) -> datetime | None:
        """The first stop event with at < instant <= horizon, or None: the first of
        `events_between(at, horizon)` that is a stop, found without listing the others. Stops
        are never skipped (a closed date skips starts only), so for cron rules it is the first
        firing of a stop rule after `at`, one search per rule however often the value fires;
        for windows the first end of the union, looked for a week and a day at a time."""
        if self.always_running or horizon <= at:
            return None
        if self.schedule.is_cron:
            stop = self._first_firing(Action.STOP, at)
            return stop if stop is not None and stop <= horizon else None
        lo = at
        while lo < horizon:
            hi = min(horizon, lo + _WEEK + timedelta(days=1))
            for event in self._window_events(lo, hi):
                if event.action is Action.STOP:
                    return event.at
            lo = hi
        return None

    def last_event(self, at: datetime) -> Event | None:
        """The latest event at or before `at` (None: no event in the year before)."""
        if self.always_running:
            return None
        if self.schedule.is_cron:
            return self._cron_last(at)
        for span in (timedelta(days=2), timedelta(days=8), LOOKBACK):
            events = self._window_events(at - span, at)
            if events:
                return events[-1]
        return None

    def _cron_last(self, at: datetime) -> Event | None:
        reached = wall_reached(at, self.tz)
        since = at - LOOKBACK
        best: Event | None = None
        for action, cron in self._rules:
            skip = action is Action.START and self.closed is not None
            wall = reached
            while True:
                firing = cron.last_at_or_before(wall)
                instant = to_instant(firing, self.tz) if firing is not None else None
                if firing is None or instant is None or instant <= since:
                    instant = None
                    break
                day = self._closed_day(instant) if skip else None
                if day is None:
                    break
                # A start on a closed date: look before the run of closed dates that holds it
                # begins (a run that begins before the look-back's first date: nothing found).
                assert self.closed is not None
                first = self.closed.run_first(day)
                if first < to_wall(since, self.tz).date():
                    instant = None
                    break
                wall = min(firing - _TICK, self._wall_before(first))
            if instant is None:
                continue
            if best is None or instant > best.at or (instant == best.at and action is Action.STOP):
                best = Event(action, instant)
        return best

    def next_events(self, at: datetime, count: int = 5) -> list[Event]:
        """The next `count` events strictly after `at` (fewer if the horizon comes first)."""
        if count <= 0 or self.always_running:
            return []
        if self.schedule.is_cron:
            events = self._cron_events(at, at + HORIZON)
            return [e for _, e in zip(range(count), events, strict=False)]
        return self._window_next(at, count)

    def _window_next(self, at: datetime, count: int) -> list[Event]:
        assert self.week is not None
        span = self._window_span(count)
        while True:
            events = self._window_events(at, at + span)
            if len(events) >= count or span >= HORIZON:
                return events[:count]
            span = min(span * 4, HORIZON)

    def _window_span(self, count: int) -> timedelta:
        """A span after an instant that usually holds `count` window events: each week holds
        two per interval of the week's union (fewer only where a spring-forward gap swallows
        a window)."""
        assert self.week is not None
        return timedelta(days=1) + _WEEK * (count // (2 * len(self.week)))

    def around(self, at: datetime, count: int = 1) -> tuple[Event | None, list[Event]]:
        """The last event at or before `at` and the next `count` after it, in one search:
        what a reader of a value needs (`desired_state` is the last event's state, or running
        for a schedule that is `always_running`)."""
        if self.always_running:
            return None, []
        if self.schedule.is_cron:
            return self._cron_last(at), self.next_events(at, count)
        events = self._window_events(at - timedelta(days=2), at + self._window_span(count))
        before = [e for e in events if e.at <= at]
        after = [e for e in events if e.at > at]
        last = before[-1] if before else self.last_event(at)
        upcoming = after[:count] if len(after) >= count else self.next_events(at, count)
        return last, upcoming

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


@lru_cache(maxsize=4096)
def timeline(schedule: Schedule) -> Timeline:
    """The (cached) timeline of a schedule."""
    return Timeline(schedule)
