"""Property tests for the time rules and the parser (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise

from hypothesis import HealthCheck, given, settings, strategies as st

from offhours.language import is_opt_out, parse_schedule
from offhours.schedule import Action, DesiredState, Schedule, ScheduleError
from offhours.timeline import timeline, to_instant, to_wall, wall_reached
from offhours.zones import zone as shipped_zone

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Zones without daylight saving, with their offsets in minutes, written down by hand.
FIXED_ZONES = {"UTC": 0, "Asia/Kolkata": 330}
DST_ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TWO_YEARS = 2 * 365 * 86400

Range = tuple[int, int]  # minutes after midnight; end in 1..1440
Window = tuple[frozenset[int] | None, list[Range]]  # None: no days written, every day


@st.composite
def ranges(draw: st.DrawFn, step: int) -> Range:
    start = draw(st.integers(0, 1440 // step - 1)) * step
    end = draw(st.integers(1, 1440 // step).filter(lambda e: e * step != start)) * step
    return start, end


@st.composite
def window_lists(draw: st.DrawFn) -> list[Window]:
    step = draw(st.sampled_from([15, 1]))
    windows = []
    for _ in range(draw(st.integers(1, 3))):
        days = draw(st.frozensets(st.integers(0, 6), min_size=1))
        if not windows and draw(st.booleans()):
            days = None  # only the first window can go without days
        windows.append((days, draw(st.lists(ranges(step), min_size=1, max_size=3))))
    return windows


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def window_text(windows: list[Window], zone: str) -> str:
    parts = []
    for days, rngs in windows:
        if days is not None:
            parts.append(",".join(DAY_NAMES[d] for d in sorted(days)))
        parts += [f"{hhmm(s)}-{hhmm(e)}" for s, e in rngs]
    return " ".join([*parts, zone])


def inside_the_slow_way(windows: list[Window], weekday: int, minute: int) -> bool:
    """Is local (weekday, minute of day) inside any window? A range that crosses midnight
    belongs to the day it begins on and runs into the next."""
    for days, rngs in windows:
        for day in days if days is not None else range(7):
            for start, end in rngs:
                if start < end:
                    if weekday == day and start <= minute < end:
                        return True
                elif (weekday == day and minute >= start) or (
                    weekday == (day + 1) % 7 and minute < end
                ):
                    return True
    return False


instants = st.one_of(
    st.integers(0, TWO_YEARS // 60).map(lambda m: EPOCH + timedelta(minutes=m)),
    st.integers(0, TWO_YEARS).map(lambda s: EPOCH + timedelta(seconds=s)),
)


@SETTINGS
@given(window_lists(), st.sampled_from(sorted(FIXED_ZONES)), instants)
def test_desired_state_is_being_inside_the_union_of_windows(
    windows: list[Window], zone: str, t: datetime
) -> None:
    schedule = parse_schedule(window_text(windows, zone))
    local = t + timedelta(minutes=FIXED_ZONES[zone])
    minute = local.hour * 60 + local.minute
    expected = inside_the_slow_way(windows, local.weekday(), minute)
    state = timeline(schedule).desired_state(t)
    assert state is (DesiredState.RUNNING if expected else DesiredState.STOPPED)


@cache
def switches(zone: str) -> tuple[datetime, ...]:
    """The instants of 2026 and 2027 at which the zone's offset changes."""
    tz = shipped_zone(zone)
    found = []
    day = EPOCH
    while day < EPOCH + timedelta(seconds=TWO_YEARS):
        following = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            lo, hi = day, following
            while hi - lo > timedelta(seconds=1):
                middle = lo + (hi - lo) / 2
                if middle.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = middle
                else:
                    hi = middle
            found.append(hi.replace(microsecond=0))
        day = following
    return tuple(found)


@st.composite
def near_switches(draw: st.DrawFn, zone: str) -> datetime:
    """An instant within a few hours of one of the zone's switches, often on a whole minute."""
    switch = draw(st.sampled_from(switches(zone)))
    minutes = draw(st.integers(-4 * 60, 4 * 60))
    seconds = draw(st.sampled_from([0, 0, 1, 59, 30]))
    return switch + timedelta(minutes=minutes, seconds=seconds)


@st.composite
def zones_and_instants(draw: st.DrawFn) -> tuple[str, datetime]:
    zone = draw(st.sampled_from(DST_ZONES))
    return zone, draw(st.one_of(instants, near_switches(zone)))


@SETTINGS
@given(window_lists(), zones_and_instants())
def test_a_window_means_the_local_time_is_inside_it_across_switches_too(
    windows: list[Window], zone_and_instant: tuple[str, datetime]
) -> None:
    """DESIGN §2: the local time is the highest the clock has read (in the second run of a
    repeated hour, the end of the first run); the instance runs while it is inside a window."""
    zone, t = zone_and_instant
    schedule = parse_schedule(window_text(windows, zone))
    local = wall_reached(t, shipped_zone(zone))
    expected = inside_the_slow_way(windows, local.weekday(), local.hour * 60 + local.minute)
    state = timeline(schedule).desired_state(t)
    assert state is (DesiredState.RUNNING if expected else DesiredState.STOPPED)


@SETTINGS
@given(
    st.sampled_from(DST_ZONES).flatmap(
        lambda z: st.tuples(st.just(z), near_switches(z), st.integers(-180, 180))
    ),
    st.integers(0, 240),
)
def test_wall_time_order_is_kept_and_a_wall_time_has_happened_once_the_clock_read_it(
    zone_instant_minutes: tuple[str, datetime, int], later: int
) -> None:
    zone, t, minutes = zone_instant_minutes
    tz = shipped_zone(zone)
    first = (t.astimezone(tz) + timedelta(minutes=minutes)).replace(tzinfo=None, second=0)
    second = first + timedelta(minutes=later)
    assert to_instant(first, tz) <= to_instant(second, tz)
    assert (to_instant(first, tz) <= t) is (first <= wall_reached(t, tz))
    # The first instant at which the clock reads the wall time or later.
    at = to_instant(first, tz)
    assert to_wall(at, tz) >= first
    assert to_wall(at - timedelta(seconds=1), tz) < first


@st.composite
def cron_values(draw: st.DrawFn) -> str:
    clauses = []
    for action in draw(st.lists(st.sampled_from(["start", "stop"]), min_size=1, max_size=3)):
        minute = draw(st.sampled_from(["0", "30", "*/20", "15,45", "59"]))
        hour = draw(st.sampled_from(["*/6", "2", "1-3", "8", "18", "23", "0"]))
        dom = draw(st.sampled_from(["*", "1", "L", "15", "*/2", "1,L"]))
        dow = draw(st.sampled_from(["*", "mon-fri", "sat,sun", "fri", "sun#1", "*/2", "7"]))
        clauses.append(f"{action}={minute} {hour} {dom} * {dow}")
    clauses.append(f"tz={draw(st.sampled_from([*FIXED_ZONES, *DST_ZONES]))}")
    return "; ".join(clauses)


schedules = st.one_of(
    st.builds(window_text, window_lists(), st.sampled_from([*FIXED_ZONES, *DST_ZONES])),
    cron_values(),
).map(parse_schedule)


@SETTINGS
@given(schedules, instants)
def test_next_and_last_events_agree(schedule: Schedule, t: datetime) -> None:
    line = timeline(schedule)
    upcoming = line.next_events(t, 4)
    last = line.last_event(t)
    if last is not None:
        assert last.at <= t
    if not upcoming:
        return
    assert t < upcoming[0].at
    assert all(a.at < b.at for a, b in pairwise(upcoming))
    if last is not None:
        assert all(last.at < e.at for e in upcoming)
    first = upcoming[0]
    assert line.last_event(first.at) == first
    assert line.last_event(first.at - timedelta(microseconds=1)) == last
    assert line.events_between(t, upcoming[-1].at) == upcoming
    if not schedule.is_cron:
        actions = [e.action for e in ([last] if last else []) + upcoming]
        assert all(a is not b for a, b in pairwise(actions))
        assert line.desired_state(t) is (last.action.state if last else None)


GRAMMAR = [
    *"0123456789",
    *":-,;=*/# ",
    "  ",
    "L",
    "Mon",
    "fri",
    "Sunday",
    "SAT",
    "start=",
    "stop=",
    "tz=",
    "UTC",
    "Europe/Berlin",
    "Asia/Kolkata",
    "enforce",
    "hibernate",
    "office-hours",
    "08:00",
    "24:00",
    "-18:00",
    "mon#1",
    "jan",
    "@daily",
    "off",
    "holidays=",
    "DE-BY",
    "company-closures",
]


class Catalog:
    def lookup(self, name: str) -> tuple[str, str, str | None] | None:
        if name.lower() == "office-hours":
            return "office-hours", "Mon-Fri 08:00-18:00 Europe/Berlin", None
        return None

    def names(self) -> list[str]:
        return ["office-hours"]

    def calendar(self, name: str) -> tuple[str, tuple[tuple[date, str], ...]] | None:
        if name.lower() == "company-closures":
            return "company-closures", ((date(2026, 12, 24), "company-closures"),)
        return None

    def calendars(self) -> list[str]:
        return ["company-closures"]


def check_parses_or_schedule_error(value: str, with_catalog: bool) -> None:
    if is_opt_out(value):
        return
    try:
        schedule = parse_schedule(value, catalog=Catalog() if with_catalog else None)
    except ScheduleError as error:
        assert error.value == value
        assert error.position is None or 0 <= error.position <= len(value)
        assert str(error)
        return
    assert bool(schedule.windows) != bool(schedule.rules)
    if schedule.rules:
        assert {r.action for r in schedule.rules} <= {Action.START, Action.STOP}


@SETTINGS
@given(st.text(max_size=80), st.booleans())
def test_any_text_parses_or_raises_a_schedule_error(value: str, with_catalog: bool) -> None:
    check_parses_or_schedule_error(value, with_catalog)


@SETTINGS
@given(st.lists(st.sampled_from(GRAMMAR), max_size=25).map("".join), st.booleans())
def test_strings_of_the_grammars_own_pieces_parse_or_raise_a_schedule_error(
    value: str, with_catalog: bool
) -> None:
    check_parses_or_schedule_error(value, with_catalog)
