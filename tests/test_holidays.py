"""Holidays and closures (DESIGN §7), as scenarios named by behaviour.

On a closed date, in the schedule's zone, start events do not happen; stop events still do. The
date of a start is the local date of its instant. Expected instants are worked out by hand:
Europe/Berlin CET +01:00 / CEST +02:00 (forward 2027-03-28 at 01:00Z, back 2027-10-31 at
01:00Z), America/Los_Angeles PST -08:00 in December, Pacific/Auckland NZDT +13:00 in December.
The holidays themselves are the `holidays` package's own, read from it here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import holidays
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from offhours.catalog import parse_catalog
from offhours.cli import check_result, main
from offhours.language import parse_schedule
from offhours.planner import Settings, read_value
from offhours.schedule import Action, Calendar, DesiredState, Event, Schedule
from offhours.timeline import Timeline, timeline
from offhours.zones import zone

RUNNING, STOPPED = DesiredState.RUNNING, DesiredState.STOPPED
CATALOG = parse_catalog(
    "office-hours: Mon-Fri 08:00-18:00 Europe/London\n"
    "plant:\n  value: 06:00-22:00 Europe/Berlin holidays=company-closures\n"
    "company-closures:\n  dates: [2026-12-24, 2026-12-31]\n  description: closed\n"
    "shutdown:\n  dates: {2026-08-03: Summer shutdown, 2026-12-25: Plant shutdown}\n"
    "typo-closures:\n  dates: [2026-12-24, 2026-02-30]\n"
)


def at(text: str) -> datetime:
    """`"2026-12-24 23:30"` (UTC) to an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def tl(value: str) -> Timeline:
    return timeline(parse_schedule(value, catalog=CATALOG))


def shown(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.action.value, e.at.strftime("%Y-%m-%d %H:%M")) for e in events]


def start(when: str) -> tuple[str, str]:
    return ("start", when)


def stop(when: str) -> tuple[str, str]:
    return ("stop", when)


# --- the package's dates, exactly -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "start=0 8 * * *; stop=0 18 * * *; tz=Europe/Berlin; holidays=DE-BY",
        "08:00-18:00 Europe/Berlin holidays=de-by",
    ],
    ids=["cron", "windows"],
)
def test_every_start_of_2026_and_2027_is_skipped_exactly_on_the_packages_dates(value):
    expected = set(holidays.country_holidays("DE", subdiv="BY", years=[2026, 2027]))
    assert len(expected) == 24
    tz = zone("Europe/Berlin")
    line = tl(value)
    lo, hi = at("2025-12-31 23:00"), at("2027-12-31 23:00")  # Berlin's midnights
    events = line.events_between(lo, hi)
    started = {e.at.astimezone(tz).date() for e in events if e.action is Action.START}
    stopped = {e.at.astimezone(tz).date() for e in events if e.action is Action.STOP}
    every_day = {date(2026, 1, 1) + timedelta(days=n) for n in range(730)}
    assert stopped == every_day  # stop events all happen
    assert every_day - started == expected
    skipped = line.skipped_between(lo, hi)
    assert [day for day, _ in skipped] == sorted(expected)
    names = holidays.country_holidays("DE", subdiv="BY", years=[2026, 2027], language="en_US")
    assert dict(skipped) == {day: names[day] for day in expected}


@pytest.mark.parametrize(
    ("code", "country", "subdiv"),
    [("US-CA", "US", "CA"), ("GB-SCT", "GB", "SCT"), ("NZ", "NZ", None), ("JP", "JP", None)],
)
def test_a_countrys_closed_dates_are_its_holidays_with_observed_days(code, country, subdiv):
    line = tl(f"start=0 9 * * *; tz=UTC; holidays={code}")
    skipped = line.skipped_between(at("2025-12-31 12:00"), at("2027-12-31 12:00"))
    package = holidays.country_holidays(country, subdiv=subdiv, years=[2026, 2027])
    assert [day for day, _ in skipped] == sorted(package)


def test_names_are_english_whatever_the_locale(monkeypatch):
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.setenv("LANGUAGE", "de")
    line = tl("start=0 9 * * *; tz=Europe/Berlin; holidays=DE-BB")
    skipped = dict(line.skipped_between(at("2026-12-24 12:00"), at("2026-12-27 12:00")))
    assert skipped == {
        date(2026, 12, 25): "Christmas Day",
        date(2026, 12, 26): "Second Day of Christmas",
    }


def test_a_year_outside_the_packages_tables_says_nothing_on_the_console():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the package warns: India's tables start in 2001
        line = tl("start=0 9 * * *; tz=Asia/Kolkata; holidays=IN")
        assert line.next_events(at("1970-01-01 00:00"), 3)


# --- what a holiday does to the events ----------------------------------------------------


HOLIDAY_EVENTS = [
    pytest.param(
        "Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY",
        ("2026-12-24 00:00", "2026-12-29 00:00"),
        [
            start("2026-12-24 07:00"),
            stop("2026-12-24 17:00"),
            stop("2026-12-25 17:00"),  # Christmas Day: the stop still happens
            start("2026-12-28 07:00"),
            stop("2026-12-28 17:00"),
        ],
        id="christmas-day-skips-the-start-and-keeps-the-stop",
    ),
    pytest.param(
        "start=30 2 * * *; stop=0 6 * * *; tz=Europe/Berlin; holidays=DE-BB",
        ("2027-03-27 00:00", "2027-03-30 02:00"),
        [
            start("2027-03-27 01:30"),
            stop("2027-03-27 05:00"),
            stop("2027-03-28 04:00"),  # Easter Sunday, the spring-forward day: 02:30 is the jump
            stop("2027-03-29 04:00"),  # Easter Monday
            start("2027-03-30 00:30"),
        ],
        id="a-holiday-on-the-spring-forward-day-skips-the-start-moved-to-the-jump",
    ),
    pytest.param(
        "02:30-06:00 Europe/Berlin holidays=DE-BB",
        ("2027-03-27 00:00", "2027-03-30 02:00"),
        [
            start("2027-03-27 01:30"),
            stop("2027-03-27 05:00"),
            stop("2027-03-28 04:00"),
            stop("2027-03-29 04:00"),
            start("2027-03-30 00:30"),
        ],
        id="the-same-as-a-window",
    ),
    pytest.param(
        "start=30 2 * * *; stop=0 6 * * *; tz=Europe/Berlin; holidays=DE-BB",
        ("2027-10-30 00:00", "2027-11-01 06:00"),
        [
            start("2027-10-30 00:30"),
            stop("2027-10-30 04:00"),
            stop("2027-10-31 05:00"),  # Reformation Day, the fall-back day: 02:30 twice, no start
            start("2027-11-01 01:30"),
            stop("2027-11-01 05:00"),
        ],
        id="a-holiday-on-the-fall-back-day-skips-the-repeated-start",
    ),
    pytest.param(
        "start=30 0 * * *; stop=0 6 * * *; tz=Europe/Berlin; holidays=DE-BY",
        ("2026-12-23 12:00", "2026-12-27 12:00"),
        [
            start("2026-12-23 23:30"),  # 00:30 on the 24th in Berlin: an open day
            stop("2026-12-24 05:00"),
            stop("2026-12-25 05:00"),  # 2026-12-24T23:30Z is on the 25th in Berlin: skipped
            stop("2026-12-26 05:00"),
            start("2026-12-26 23:30"),
            stop("2026-12-27 05:00"),
        ],
        id="the-date-is-the-local-date-not-utcs-east-of-greenwich",
    ),
    pytest.param(
        "start=30 23 * * *; stop=30 7 * * *; tz=America/Los_Angeles; holidays=US-CA",
        ("2026-12-24 12:00", "2026-12-27 12:00"),
        [
            stop("2026-12-24 15:30"),
            start("2026-12-25 07:30"),  # 23:30 on the 24th in California: an open day
            stop("2026-12-25 15:30"),
            stop("2026-12-26 15:30"),  # the start of Christmas evening (the 26th in UTC) is not
            start("2026-12-27 07:30"),
        ],
        id="the-date-is-the-local-date-not-utcs-west-of-greenwich",
    ),
    pytest.param(
        "Mon-Sun 08:00-17:00 Pacific/Auckland holidays=NZ",
        ("2026-12-23 12:00", "2026-12-26 12:00"),
        [
            start("2026-12-23 19:00"),  # 08:00 on the 24th in Auckland
            stop("2026-12-24 04:00"),
            stop("2026-12-25 04:00"),  # Christmas Day starts on the 24th in UTC
            stop("2026-12-26 04:00"),  # Boxing Day
        ],
        id="auckland-christmas-morning-is-the-24th-in-utc",
    ),
    pytest.param(
        "Mon 00:00-24:00 Tue-Fri 00:00-24:00 Europe/Berlin holidays=DE-BY",
        ("2026-04-03 00:00", "2026-04-14 00:00"),
        [
            stop("2026-04-03 22:00"),  # Good Friday: no start was needed, the week ends
            stop("2026-04-10 22:00"),  # Easter Monday skipped the week's only start
            start("2026-04-12 22:00"),
        ],
        id="a-window-over-several-days-starts-once-and-a-holiday-skips-that-start",
    ),
    pytest.param(
        "start=0 0 * * 1-5; stop=0 0 * * 6; tz=Europe/Berlin; holidays=DE-BY",
        ("2026-04-03 00:00", "2026-04-14 00:00"),
        [
            stop("2026-04-03 22:00"),
            start("2026-04-06 22:00"),  # Easter Monday skipped, Tuesday starts (the README's way)
            start("2026-04-07 22:00"),
            start("2026-04-08 22:00"),
            start("2026-04-09 22:00"),
            stop("2026-04-10 22:00"),
            start("2026-04-12 22:00"),
            start("2026-04-13 22:00"),
        ],
        id="a-cron-start-every-day-starts-the-day-after-the-holiday",
    ),
    pytest.param(
        "plant holidays=shutdown",
        ("2026-12-23 12:00", "2026-12-27 12:00"),
        [
            stop("2026-12-23 21:00"),
            stop("2026-12-24 21:00"),  # company-closures, from the catalogue entry's own value
            stop("2026-12-25 21:00"),  # shutdown, from the tag
            start("2026-12-26 05:00"),
            stop("2026-12-26 21:00"),
            start("2026-12-27 05:00"),
        ],
        id="a-named-schedules-calendars-and-the-tags-both-apply",
    ),
]


@pytest.mark.parametrize(("value", "span", "expected"), HOLIDAY_EVENTS)
def test_events_on_holidays(value, span, expected):
    line = tl(value)
    lo, hi = at(span[0]), at(span[1])
    events = line.events_between(lo, hi)
    assert shown(events) == expected
    # Every question sees the same events.
    for before, after in pairwise([Event(Action.STOP, lo), *events]):
        middle = before.at + (after.at - before.at) / 2
        if after.at - before.at > timedelta(minutes=2):
            assert line.last_event(middle) == (before if before.at > lo else line.last_event(lo))
            assert line.next_events(middle, 1) == [after]
            assert line.around(middle, 1)[1] == [after]
        assert line.last_event(after.at) == after
        assert line.around(after.at, 1)[0] == after
    assert line.next_events(lo, len(events)) == events
    changes = line.changes_between(lo, hi)
    state = line.desired_state(lo)
    for change in changes:
        assert change.action.state is not state
        state = change.action.state
    assert state is line.desired_state(hi)


def test_the_desired_state_on_a_holiday_morning_is_the_previous_stops():
    line = tl("Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY")
    christmas_morning = at("2026-12-25 09:00")
    assert line.desired_state(christmas_morning) is STOPPED
    assert line.last_event(christmas_morning) == Event(Action.STOP, at("2026-12-24 17:00"))
    last, upcoming = line.around(christmas_morning, 2)
    assert last == Event(Action.STOP, at("2026-12-24 17:00"))
    assert shown(upcoming) == [stop("2026-12-25 17:00"), start("2026-12-28 07:00")]


def test_a_schedule_that_runs_all_the_time_runs_on_holidays_too():
    line = tl("00:00-24:00 Europe/Berlin holidays=DE-BY")
    assert line.always_running
    assert line.desired_state(at("2026-12-25 09:00")) is RUNNING
    assert line.skipped_between(at("2026-12-24 00:00"), at("2026-12-27 00:00")) == []


def test_a_stop_only_schedule_skips_nothing():
    line = tl("stop=0 19 * * *; tz=Europe/Berlin; holidays=DE-BY")
    assert line.skipped_between(at("2026-12-24 00:00"), at("2026-12-27 00:00")) == []
    assert len(line.events_between(at("2026-12-24 00:00"), at("2026-12-27 00:00"))) == 3


# --- dense cron on holidays: a step per closed day, not per firing ----------------------------


def test_every_minute_looks_back_over_two_closed_days_at_once():
    line = tl("start=* * * * *; tz=Europe/Berlin; holidays=DE-BY")
    # The 25th and 26th are closed: the last start is the 24th's last minute in Berlin.
    assert line.last_event(at("2026-12-26 12:00")) == Event(Action.START, at("2026-12-24 22:59"))
    assert shown(line.next_events(at("2026-12-24 22:58"), 3)) == [
        start("2026-12-24 22:59"),
        start("2026-12-26 23:00"),
        start("2026-12-26 23:01"),
    ]
    assert line.desired_state(at("2026-12-25 23:30")) is RUNNING  # started on the 24th
    assert line.skipped_between(at("2026-12-24 12:00"), at("2026-12-27 12:00")) == [
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 26), "Second Day of Christmas"),
    ]


def test_a_dense_start_and_stop_keep_their_stops_on_a_holiday():
    line = tl("start=* * * * *; stop=*/2 * * * *; tz=Europe/Berlin; holidays=DE-BY")
    assert line.last_event(at("2026-12-26 22:59")) == Event(Action.STOP, at("2026-12-26 22:58"))
    assert line.last_event(at("2026-12-26 23:00")) == Event(Action.STOP, at("2026-12-26 23:00"))
    assert line.last_event(at("2026-12-26 23:01")) == Event(Action.START, at("2026-12-26 23:01"))
    assert shown(line.changes_between(at("2026-12-26 22:55"), at("2026-12-26 23:02"))) == [
        start("2026-12-26 23:01"),
        stop("2026-12-26 23:02"),
    ]


def test_a_start_that_only_ever_falls_on_a_holiday_never_happens():
    line = tl("start=0 9 25 12 *; stop=0 17 * * *; tz=Europe/Berlin; holidays=DE")
    assert [e.action for e in line.next_events(at("2026-12-20 00:00"), 5)] == [Action.STOP] * 5
    assert line.last_event(at("2026-12-25 12:00")) == Event(Action.STOP, at("2026-12-24 16:00"))
    changes = line.changes_between(at("2026-12-01 00:00"), at("2027-01-01 00:00"))
    assert [e.action for e in changes] == []  # stopped all month, as it was before


# --- catalogue calendars --------------------------------------------------------------------


def test_a_catalogue_calendar_names_its_dates():
    line = tl("09:00-17:00 Europe/Berlin holidays=shutdown holidays=DE-BY")
    assert line.skipped_between(at("2026-08-01 00:00"), at("2026-12-31 00:00")) == [
        (date(2026, 8, 3), "Summer shutdown"),
        (date(2026, 10, 3), "German Unity Day"),
        (date(2026, 11, 1), "All Saints' Day"),  # a Sunday, but this window runs every day
        (date(2026, 12, 25), "Christmas Day; Plant shutdown"),
        (date(2026, 12, 26), "Second Day of Christmas"),
    ]


def test_a_calendar_with_a_bad_date_invalidates_only_its_users():
    assert CATALOG.lookup("office-hours") is not None
    assert CATALOG.calendar("company-closures") is not None
    result, _ = check_result(
        "08:00-18:00 holidays=typo-closures", at("2026-12-20 00:00"), 2, "UTC", CATALOG
    )
    assert result == {
        "valid": False,
        "error": "'typo-closures' at character 22: names catalogue calendar 'typo-closures', "
        "which is invalid: '2026-02-30' in 'dates' is not a date: expected YYYY-MM-DD, like "
        "2026-12-24",
        "code": "OH-CATALOG-ENTRY-INVALID",
    }


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("c:\n  dates: 2026-12-24\n", "must be a list of dates"),
        ("c:\n  dates: [24.12.2026]\n", "'24.12.2026' in 'dates' is not a date"),
        ("c:\n  dates: [20261224]\n", "'20261224' in 'dates' is not a date"),
        ("c:\n  dates: {not-a-date: Christmas}\n", "'not-a-date' in 'dates' is not a date"),
        ("c:\n  value: 08:00-18:00\n  dates: [2026-12-24]\n", "a calendar: a mapping with 'dates'"),
    ],
)
def test_a_calendar_that_cannot_be_read_is_a_problem_of_its_own(document, problem):
    catalog = parse_catalog("good: 08:00-18:00\n" + document)
    assert catalog.lookup("good") == ("good", "08:00-18:00", None)
    with pytest.raises(ValueError, match=re.escape(problem)):
        catalog.calendar("c")


def test_a_calendar_is_not_a_schedule_and_is_not_listed_as_one():
    assert CATALOG.lookup("company-closures") is None
    assert "company-closures" not in CATALOG.names()
    assert CATALOG.calendars() == ["company-closures", "shutdown", "typo-closures"]
    result, _ = check_result("Company-Closures", at("2026-12-20 00:00"), 2, "UTC", CATALOG)
    assert "names a calendar, not a schedule" in result["error"]


def test_an_unreadable_catalogue_keeps_the_state_tags_of_a_closures_user():
    settings = Settings(catalog=CATALOG, catalog_error="the parameter is gone")
    reading = read_value("08:00-18:00 holidays=company-closures", at("2026-12-20 00:00"), settings)
    assert reading.error is not None and reading.transient
    package = read_value("08:00-18:00 holidays=DE", at("2026-12-20 00:00"), settings)
    assert package.error is None  # a code of the package needs no catalogue


# --- offhours check -----------------------------------------------------------------------


def test_check_json_lists_the_skipped_starts_within_the_next_events():
    result, _ = check_result(
        "Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY",
        at("2026-12-24 12:00"),
        4,
        "UTC",
        CATALOG,
    )
    assert json.dumps(result) == (
        '{"valid": true, "timezone": "Europe/Berlin", "desired": "running", '
        '"last": {"action": "start", "at": "2026-12-24T07:00:00Z"}, '
        '"next": [{"action": "stop", "at": "2026-12-24T17:00:00Z"}, '
        '{"action": "stop", "at": "2026-12-25T17:00:00Z"}, '
        '{"action": "start", "at": "2026-12-28T07:00:00Z"}, '
        '{"action": "stop", "at": "2026-12-28T17:00:00Z"}], '
        '"skipped": [{"date": "2026-12-25", "name": "Christmas Day"}]}'
    )


@pytest.mark.parametrize(
    ("value", "count", "skipped"),
    [
        ("Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY", 0, []),
        ("Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY", 1, []),  # up to the 24th's stop
        ("Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY", 2, ["2026-12-25"]),
        ("08:00-18:00 Europe/Berlin holidays=DE-BY", 6, ["2026-12-25", "2026-12-26"]),
        ("stop=0 18 * * *; tz=Europe/Berlin; holidays=DE-BY", 5, []),
    ],
)
def test_check_json_skipped_reaches_to_the_last_next_event(value, count, skipped):
    result, _ = check_result(value, at("2026-12-24 12:00"), count, "UTC", CATALOG)
    assert [s["date"] for s in result["skipped"]] == skipped


def test_check_json_has_no_skipped_key_without_holidays():
    result, _ = check_result("Mon-Fri 08:00-18:00", at("2026-12-24 12:00"), 3, "UTC", CATALOG)
    assert "skipped" not in result


def test_check_names_the_skipped_dates_and_the_week_shows_them_stopped(capsys):
    value = "office-hours holidays=GB-SCT"
    arguments = ["--at", "2026-12-24T12:00:00Z", "--count", "3", "--default-timezone", "UTC"]
    assert main(["check", value, *arguments]) == 0
    out = capsys.readouterr().out
    assert "Skipped    Fri 25 Dec 2026: Christmas Day, no start\n" in out
    assert "no start on GB-SCT holidays" in out
    rows = {line[:3]: line[6:] for line in out.splitlines() if line[:3] in ("Thu", "Fri")}
    assert rows == {"Thu": "········██████████······", "Fri": "························"}


# --- the cold start only pays for what a value uses ------------------------------------------


def test_the_holidays_package_is_imported_only_for_a_value_that_names_one_of_its_codes():
    script = """
import sys
from datetime import UTC, datetime
import offhours.handler
from offhours.catalog import parse_catalog
from offhours.language import parse_schedule
from offhours.timeline import timeline
catalog = parse_catalog("closures:\\n  dates: [2026-12-24]\\n")
t = datetime(2026, 12, 24, 12, tzinfo=UTC)
for value in ("Mon-Fri 08:00-18:00", "start=0 8 * * *", "08:00-18:00 holidays=closures"):
    timeline(parse_schedule(value, catalog=catalog)).around(t, 5)
print("holidays" in sys.modules)
timeline(parse_schedule("08:00-18:00 holidays=DE", catalog=catalog)).around(t, 5)
print("holidays" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "True"]


# --- property: skipping a start keeps every other property ----------------------------------

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ("UTC", "Europe/Berlin", "America/Los_Angeles", "Pacific/Auckland")
BASE = datetime(2026, 3, 20, tzinfo=UTC)  # near Berlin's spring-forward and Auckland's fall-back


@st.composite
def closed_schedules(draw: st.DrawFn) -> tuple[Schedule, datetime]:
    tz = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        days = draw(st.sampled_from(["", "Mon-Fri ", "Sat,Sun ", "Tue "]))
        first = draw(st.sampled_from(["00:00", "01:30", "02:30", "08:00", "22:00", "23:30"]))
        last = draw(st.sampled_from(["00:30", "02:45", "03:00", "06:00", "18:00", "24:00"]))
        if first == last:
            last = "24:00"
        value = f"{days}{first}-{last} {tz}"
    else:
        starts = draw(st.sampled_from(["30 2 * * *", "*/20 * * * *", "0 8 * * 1-5", "30 23 * * *"]))
        stops = draw(st.sampled_from(["0 3 * * *", "*/30 * * * *", "0 18 * * 1-5", "0 6 * * *"]))
        value = f"start={starts}; stop={stops}; tz={tz}"
    t = BASE + timedelta(minutes=draw(st.integers(0, 20 * 24 * 60)))
    offsets = draw(st.sets(st.integers(-4, 11), max_size=8))
    dates = tuple(sorted((t.date() + timedelta(days=n), f"closed {n}") for n in offsets))
    schedule = replace(parse_schedule(value), holidays=(Calendar("closed", dates),))
    return schedule, t


@SETTINGS
@given(closed_schedules())
def test_skipping_starts_keeps_every_other_property(case: tuple[Schedule, datetime]) -> None:
    schedule, t = case
    tz = zone(schedule.timezone)
    closed = {day for day, _ in schedule.holidays[0].dates or ()}
    line, raw = timeline(schedule), Timeline(replace(schedule, holidays=()))
    lo, hi = t - timedelta(days=3), t + timedelta(days=10)

    def open_day(event: Event) -> bool:
        return event.action is Action.STOP or event.at.astimezone(tz).date() not in closed

    expected = [e for e in raw.events_between(lo, hi) if open_day(e)]
    assert line.events_between(lo, hi) == expected
    before = [e for e in expected if e.at <= t]
    after = [e for e in expected if e.at > t]
    if before:
        assert line.last_event(t) == before[-1]
        assert line.desired_state(t) is before[-1].action.state
    if len(after) >= 3:
        assert line.next_events(t, 3) == after[:3]
        assert line.around(t, 3) == (line.last_event(t), after[:3])
        changes = line.changes_between(t, after[2].at)
        state = line.desired_state(t)
        for change in changes:
            assert change in after[:3] and change.action.state is not state
            state = change.action.state
        assert state is line.desired_state(after[2].at)
    skipped = {
        e.at.astimezone(tz).date()
        for e in raw.events_between(t, hi)
        if e.action is Action.START and not open_day(e)
    }
    assert [day for day, _ in line.skipped_between(t, hi)] == sorted(skipped)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("Germany", "did you mean 'DE', the code of Germany?"),
        ("united_states", "did you mean 'US', the code of united_states?"),
        ("DE-XX", "is not a subdivision of DE"),
    ],
)
def test_a_country_written_by_name_gets_its_code_as_the_hint(text, hint):
    from offhours.closures import unknown_reason

    assert hint in unknown_reason(text, [])
    assert "the code of" not in unknown_reason("Narnia", [])
