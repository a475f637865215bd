"""A value's cost is bounded (DESIGN §7, issue 17 item 6): the next stop is found directly, a
run of closed days is crossed in one step, and a run whose time is nearly spent stops reading
values. Each shortcut is checked against the long way it replaces: the first stop of the
listed events, and the old search that crossed closed days one at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from offhours import runtime, service, timeline as timeline_module
from offhours.closures import ClosedDates
from offhours.cron import Cron, Cursor
from offhours.language import parse_schedule
from offhours.planner import Settings, read_value
from offhours.schedule import Action, Calendar, Event, Schedule
from offhours.timeline import Timeline, to_wall, wall_reached
from tests.harness import EARLY, FRIDAY_START, LambdaContext

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Pacific/Auckland", "Australia/Lord_Howe")
# Near Berlin's and New York's switches, Auckland's fall-back and Lord Howe's half hour.
BASE = datetime(2026, 3, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)
DAY = timedelta(days=1)

STARTS = ("* * * * *", "*/7 * * * *", "30 2 * * *", "0 8 * * 1-5", "0 9 * * mon#1", "* 2 * * *")
STOPS = ("30 * * * *", "0 3 * * *", "*/30 * * * *", "0 18 * * 1-5", "* * * * *", "59 23 L * *")
WINDOWS = (
    "Mon-Fri 08:00-18:00",
    "Fri 22:00-02:00",
    "02:00-03:00",
    "Mon-Fri 08:00-12:00 13:00-18:00 Sat 09:00-13:00",
    "Sun 01:30-02:45 Wed 23:30-24:00",
    "00:00-23:59",
)


@st.composite
def values(draw: st.DrawFn) -> str:
    tz = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        return f"{draw(st.sampled_from(WINDOWS))} {tz}"
    clauses = []
    if draw(st.booleans()):
        clauses.append(f"start={draw(st.sampled_from(STARTS))}")
    if not clauses or draw(st.booleans()):
        clauses.append(f"stop={draw(st.sampled_from(STOPS))}")
    return "; ".join([*clauses, f"tz={tz}"])


@st.composite
def calendars(draw: st.DrawFn, near: date, longest: int = 400) -> tuple[tuple[date, str], ...]:
    """Runs of consecutive dates and single dates around `near`."""
    days: set[date] = set()
    for _ in range(draw(st.integers(0, 3))):
        first = near + timedelta(days=draw(st.integers(-longest, longest)))
        length = draw(st.integers(1, longest))
        days.update(first + timedelta(days=n) for n in range(length))
    days.update(near + timedelta(days=n) for n in draw(st.sets(st.integers(-20, 20), max_size=6)))
    return tuple((day, "closed") for day in sorted(days))


def with_dates(value: str, dates: tuple[tuple[date, str], ...], *codes: str) -> Schedule:
    schedule = parse_schedule(value)
    own = (Calendar("closures", dates),) if dates else ()
    return replace(schedule, holidays=(*(Calendar(code) for code in codes), *own))


def first_stop(line: Timeline, at: datetime, horizon: datetime) -> datetime | None:
    """The long way: every event up to the horizon, then the first stop."""
    stops = [e.at for e in line.events_between(at, horizon) if e.action is Action.STOP]
    return stops[0] if stops else None


# --- the next stop, found directly ----------------------------------------------------------


@SETTINGS
@given(
    values(),
    st.integers(0, 60 * 24 * 60 * 60),
    st.integers(0, 1440),
    st.booleans(),
    st.data(),
)
def test_the_next_stop_is_the_first_stop_of_the_listed_events(value, second, minutes, closed, data):
    at = BASE + timedelta(seconds=second)
    dates = data.draw(calendars(at.date(), longest=30)) if closed else ()
    line = Timeline(with_dates(value, dates))
    horizon = at + timedelta(minutes=minutes)
    assert line.next_stop(at, horizon) == first_stop(line, at, horizon)


@pytest.mark.parametrize(
    "value",
    [
        "start=* * * * *; stop=30 * * * *",
        "start=* * * * *; stop=0 3 * * *; tz=Europe/Berlin",
        "start=* * * * *; stop=* * * * *; tz=America/New_York",
        "start=*/2 * * * *; stop=1 2 * * *; stop=59 23 * * *; tz=Pacific/Auckland",
        "stop=30 2 * * *; tz=Europe/Berlin",  # the stop in the spring-forward gap
        "start=* * * * *",  # no stop at all
        "Mon-Fri 08:00-18:00 Europe/Berlin",
        "Sat 09:00-13:00 UTC",  # the next stop is days away
        "00:00-24:00",  # runs all the time: no stop
        "Sun 02:00-02:30 Europe/Berlin",  # swallowed by the gap on the 29th
    ],
)
@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC),  # Berlin's spring-forward
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # Berlin's fall-back
        datetime(2026, 11, 1, 5, 59, tzinfo=UTC),  # New York's fall-back
        datetime(2026, 3, 27, 16, 0, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize("minutes", [1, 30, 1440, 10 * 1440])
def test_the_next_stop_around_the_switches(value, at, minutes):
    line = Timeline(parse_schedule(value))
    horizon = at + timedelta(minutes=minutes)
    assert line.next_stop(at, horizon) == first_stop(line, at, horizon)


def test_the_next_stop_of_a_value_firing_every_minute_takes_a_search_per_stop_rule(monkeypatch):
    line = Timeline(parse_schedule("start=* * * * *; stop=0 3 * * *; tz=Europe/Berlin"))
    at = datetime(2026, 3, 27, 3, 0, tzinfo=UTC)
    horizon = at + timedelta(minutes=1440)
    calls = count_calls(monkeypatch, timeline_module, "to_instant")
    assert line.next_stop(at, horizon) == datetime(2026, 3, 28, 2, 0, tzinfo=UTC)
    assert calls[0] <= 2
    calls[0] = 0
    first_stop(line, at, horizon)
    assert calls[0] > 1000  # the long way: a day of firings


def test_reading_a_value_with_notices_does_not_list_a_day_of_events(monkeypatch):
    at = datetime(2026, 3, 27, 3, 0, tzinfo=UTC)
    value = "start=* * * * *; stop=17 4 * * *; tz=Europe/Berlin"
    calls = count_calls(monkeypatch, timeline_module, "to_instant")
    reading = read_value(value, at, Settings(notice_minutes=1440))
    assert reading.next_stop == datetime(2026, 3, 27, 3, 17, tzinfo=UTC)
    assert calls[0] < 20


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    calls = [0]
    inner = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return inner(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


# --- runs of closed days, crossed in one step -----------------------------------------------


class PerDay(ClosedDates):
    """The old search: a run of closed dates is crossed one date at a time."""

    def run_last(self, day: date) -> date:
        return day

    def run_first(self, day: date) -> date:
        return day


def per_day(schedule: Schedule) -> Timeline:
    line = Timeline(schedule)
    line.closed = PerDay(schedule.holidays)
    return line


def skipped_per_day(line: Timeline, lo: datetime, hi: datetime) -> list[tuple[date, str]]:
    """The old `skipped_between`: each closed date of the span asked on its own."""
    assert line.closed is not None
    if line.always_running:
        return []
    out = []
    for day, name in line.closed.between(to_wall(lo, line.tz).date(), to_wall(hi, line.tz).date()):
        begin = max(lo, line._day_start(day) - TICK)
        end = min(hi, line._day_start(day + DAY) - TICK)
        if begin < end and line._would_start(begin, end):
            out.append((day, name))
    return out


def assert_same_answers(schedule: Schedule, t: datetime, span: timedelta) -> None:
    new, old = Timeline(schedule), per_day(schedule)
    lo, hi = t - span, t + span
    assert new.events_between(lo, hi) == old.events_between(lo, hi)
    assert new.last_event(t) == old.last_event(t)
    assert new.desired_state(t) == old.desired_state(t)
    assert new.next_events(t, 4) == old.next_events(t, 4)
    assert new.around(t, 2) == old.around(t, 2)
    assert new.changes_between(lo, hi) == old.changes_between(lo, hi)
    assert new.next_stop(t, hi) == old.next_stop(t, hi)
    assert new.skipped_between(lo, hi) == skipped_per_day(old, lo, hi)


SPARSE_STARTS = ("30 2 * * *", "0 8 * * 1-5", "0 9 * * mon#1", "*/20 6 * * *", "0 8 1 * *")
SPARSE_STOPS = ("0 3 * * *", "0 18 * * 1-5", "59 23 L * *", "0 12 * * sat")


@st.composite
def sparse_values(draw: st.DrawFn) -> str:
    """Values whose events over months can be listed in a test's time."""
    tz = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        return f"{draw(st.sampled_from(WINDOWS))} {tz}"
    clauses = [f"start={draw(st.sampled_from(SPARSE_STARTS))}"]
    if draw(st.booleans()):
        clauses.append(f"stop={draw(st.sampled_from(SPARSE_STOPS))}")
    return "; ".join([*clauses, f"tz={tz}"])


@SETTINGS
@given(sparse_values(), st.integers(0, 300 * 24 * 60), st.data())
def test_crossing_a_run_in_one_step_gives_the_per_day_answers(value, minute, data):
    t = BASE + timedelta(minutes=minute)
    dates = data.draw(calendars(t.date()))
    assert_same_answers(with_dates(value, dates), t, timedelta(days=40))


@SETTINGS
@given(values(), st.integers(0, 300 * 24 * 60), st.data())
def test_dense_values_over_runs_give_the_per_day_answers(value, minute, data):
    t = BASE + timedelta(minutes=minute)
    dates = data.draw(calendars(t.date(), longest=60))
    assert_same_answers(with_dates(value, dates), t, timedelta(hours=30))


RUN_VALUES = [
    "start=* * * * *; stop=0 3 * * *; tz=Europe/Berlin",
    "start=0 8 * * 1-5; stop=0 18 * * 1-5; tz=America/New_York",
    "start=30 2 * * *; tz=Europe/Berlin",
    "start=0 9 * * mon#1",
    "Mon-Fri 08:00-18:00 Europe/Berlin",
    "Fri 22:00-02:00 Pacific/Auckland",
]


@pytest.mark.parametrize("value", RUN_VALUES)
@pytest.mark.parametrize("offset", [-400, -200, -1, 0, 1, 180, 364, 365, 366])
def test_a_year_of_closed_days_gives_the_per_day_answers(value, offset):
    first = date(2026, 6, 1)
    dates = tuple((first + timedelta(days=n), "closed") for n in range(365))
    t = datetime.combine(first, datetime.min.time(), UTC) + timedelta(days=offset, hours=9)
    assert_same_answers(with_dates(value, dates), t, timedelta(days=3))
    new, old = Timeline(with_dates(value, dates)), per_day(with_dates(value, dates))
    assert new.next_events(t, 3) == old.next_events(t, 3)
    assert new.skipped_between(t - 400 * DAY, t + 400 * DAY) == skipped_per_day(
        old, t - 400 * DAY, t + 400 * DAY
    )


def test_runs_of_the_catalogue_and_of_the_package_join():
    """Germany's Christmas, the catalogue's last week of December, New Year's Day, the
    catalogue's first week of January: one run of closed days, from the 25th to the 6th."""
    own = tuple((date(2026, 12, 27) + timedelta(days=n), "shutdown") for n in range(5))
    own += tuple((date(2027, 1, 2) + timedelta(days=n), "shutdown") for n in range(5))
    closed = ClosedDates((Calendar("DE"), Calendar("shutdown", own)))
    for day in (date(2026, 12, 25), date(2026, 12, 29), date(2027, 1, 1), date(2027, 1, 6)):
        assert closed.run_first(day) == date(2026, 12, 25)
        assert closed.run_last(day) == date(2027, 1, 6)
    assert not closed.closes(date(2026, 12, 24)) and not closed.closes(date(2027, 1, 7))
    assert [d for d, _ in closed.between(date(2026, 12, 24), date(2026, 12, 27))] == [
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2026, 12, 27),
    ]
    value = "start=0 8 * * *; stop=0 18 * * *; tz=Europe/Berlin"
    schedule = with_dates(value, own, "DE")
    t = datetime(2026, 12, 30, 12, tzinfo=UTC)
    assert_same_answers(schedule, t, timedelta(days=12))
    assert Timeline(schedule).next_events(t, 1) == [
        Event(Action.STOP, datetime(2026, 12, 30, 17, tzinfo=UTC))
    ]
    assert Timeline(schedule).changes_between(t, t + 10 * DAY)[0].at == datetime(
        2027, 1, 7, 7, tzinfo=UTC
    )


@SETTINGS
@given(st.sets(st.integers(0, 3000), max_size=400), st.integers(-10, 3010), st.integers(0, 40))
def test_between_and_runs_match_a_walk_over_the_dates(offsets, start, length):
    origin = date(2026, 1, 1)
    days = {origin + timedelta(days=n) for n in offsets}
    closed = ClosedDates((Calendar("closures", tuple((d, "x") for d in sorted(days))),))
    first, last = origin + timedelta(days=start), origin + timedelta(days=start + length)
    listed = [d for d, _ in closed.between(first, last)]
    assert listed == sorted(d for d in days if first <= d <= last)
    for day in days:
        end = day
        while end + DAY in days:
            end += DAY
        begin = day
        while begin - DAY in days:
            begin -= DAY
        assert (closed.run_first(day), closed.run_last(day)) == (begin, end)


def test_a_catalogue_calendar_of_5200_dates_costs_a_few_steps_to_read(monkeypatch):
    """Fourteen years of closed days from last year on (what a 64 KiB catalogue holds): the
    next start lies past the horizon, and the search knows it in a few steps."""
    from offhours.catalog import parse_catalog

    first = date(2025, 1, 1)
    text = "big:\n  dates: [" + ", ".join(
        (first + timedelta(days=n)).isoformat() for n in range(5200)
    )
    catalog = parse_catalog(text + "]\n")
    at = datetime(2026, 3, 25, 16, 0, tzinfo=UTC)
    closes = count_calls(monkeypatch, ClosedDates, "closes")
    steps = count_calls(monkeypatch, Cron, "next_after")
    cursor = count_calls(monkeypatch, Cursor, "next_after")
    for value, desired in (
        ("start=0 8 * * 1-5; stop=0 18 * * *; holidays=big", "stopped"),
        ("start=* * * * *; holidays=big", None),  # no start in the year before: no opinion
        ("Mon-Fri 08:00-18:00 Europe/Berlin holidays=big", "stopped"),
    ):
        reading = read_value(value, at, Settings(catalog=catalog, notice_minutes=1440))
        assert reading.error is None
        assert reading.desired == desired
        assert closes[0] < 50 and steps[0] + cursor[0] < 50, value
        closes[0] = steps[0] = cursor[0] = 0


@pytest.mark.parametrize(
    ("value", "closed", "lo"),
    [
        # 02:30 is in the gap on the 29th: that start happens at the jump, on the 29th.
        ("02:30-04:00 Europe/Berlin", date(2026, 3, 29), datetime(2026, 3, 28, tzinfo=UTC)),
        # 02:30 happens twice on the 25th: once, at its first occurrence.
        ("02:30-04:00 Europe/Berlin", date(2026, 10, 25), datetime(2026, 10, 24, tzinfo=UTC)),
        (
            "Sat 23:30-00:30 America/New_York",
            date(2026, 10, 31),
            datetime(2026, 10, 30, tzinfo=UTC),
        ),
    ],
)
def test_a_start_on_a_closed_date_is_on_the_date_its_instant_reached(value, closed, lo):
    """`skipped_between` finds a window's starts once for the whole span; a start is on the
    date of the highest wall time its instant has reached (the gap's jump is on its date)."""
    line = Timeline(with_dates(value, ((closed, "x"),)))
    hi = lo + 3 * DAY
    starts = [e.at for e in per_day(replace(line.schedule, holidays=())).events_between(lo, hi)]
    assert closed in {wall_reached(s, line.tz).date() for s in starts}
    assert line.skipped_between(lo, hi) == [(closed, "x")]
    assert line.skipped_between(lo, hi) == skipped_per_day(line, lo, hi)


# --- a run whose time is nearly spent stops reading values ----------------------------------


def test_a_run_out_of_time_stops_reading_values_and_defers_the_rest(fleet, invoke, monkeypatch):
    """Six values due to stop at 15:00 (FRIDAY_START was their last handled event): time
    runs short after the second value is read. No further value is read; every instance is
    counted deferred (four not read, two read but not described in time), none is touched,
    and the next run, with time, stops them all."""
    due = [
        fleet.one(EARLY.replace("08:00", f"08:{n:02d}"), handled=FRIDAY_START, fingerprinted=True)
        for n in range(6)
    ]
    context = LambdaContext()
    read: list[str] = []
    inner = service.read_value

    def slow(value, at, settings):
        read.append(value)
        if len(read) == 2:  # reading took the time
            context.remaining_ms = runtime.RESERVE_MS - 1
        return inner(value, at, settings)

    monkeypatch.setattr(service, "read_value", slow)
    first = invoke(context=context)
    assert first.error is None and first.result is not None
    assert len(read) == 2
    assert first.result["stopped"] == 0 and first.result["failed"] == 0
    assert first.summary["deferred"] == 6
    (warning,) = first.of_kind("target-deferred")
    assert warning["deferred"] == 6
    assert all(fleet.state(i) == "running" for i in due)
    monkeypatch.setattr(service, "read_value", inner)
    second = invoke(context=LambdaContext())
    assert second.result is not None and second.result["stopped"] == 6
    assert all(fleet.state(i) == "stopped" for i in due)
