"""Cron expressions mean what they mean in a crontab (DESIGN §1.2), as a table with the dates
written out, and `offhours check` says the same in words.

Each row: a value (in UTC), an instant, and the next firings after it. The classes are those
where croniter, read as it comes, disagrees with crontab: ranges whose ends are equal, the day
rule (a field that starts with `*` means both day fields must match), `#` and `L` beside a day of
the month. 2026-03-02 is a Monday; 2026-01-01 a Thursday.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from offhours.cron import parse_cron
from offhours.explain import cron_phrase, describe
from offhours.language import parse_schedule
from offhours.timeline import timeline


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


READINGS: list[tuple[str, str, list[str]]] = [
    # --- a range whose ends are equal names one value -------------------------------------
    ("0 16-16 * * *", "2026-03-27 00:00", ["2026-03-27 16:00", "2026-03-28 16:00"]),
    ("17 3 * * 7-7", "2026-03-27 00:00", ["2026-03-29 03:17", "2026-04-05 03:17"]),
    ("0 9-9/5 * * *", "2026-03-27 00:00", ["2026-03-27 09:00", "2026-03-28 09:00"]),
    ("30 1-1/2 * jun-jun *", "2026-03-27 00:00", ["2026-06-01 01:30", "2026-06-02 01:30"]),
    ("0 0 * * sun-sun", "2026-03-27 00:00", ["2026-03-29 00:00", "2026-04-05 00:00"]),
    # --- Sunday is 0 and 7 ----------------------------------------------------------------
    ("17 3 * * 0", "2026-03-27 00:00", ["2026-03-29 03:17", "2026-04-05 03:17"]),
    (
        "0 8 * * 5-7",
        "2026-03-27 00:00",
        ["2026-03-27 08:00", "2026-03-28 08:00", "2026-03-29 08:00"],
    ),
    # --- the day rule: a field that starts with * means both must match -----------------------
    (
        "49 0 */3 6 6",
        "2026-01-01 00:00",
        ["2026-06-13 00:49", "2027-06-19 00:49", "2028-06-10 00:49"],
    ),
    (
        "0 12 15 * */2",  # the 15th, when it is a Sunday, Tuesday, Thursday or Saturday
        "2026-01-01 00:00",
        ["2026-01-15 12:00", "2026-02-15 12:00", "2026-03-15 12:00", "2026-08-15 12:00"],
    ),
    (
        "0 0 */2 * mon#1",
        "2026-01-01 00:00",
        ["2026-01-05 00:00", "2026-06-01 00:00", "2026-08-03 00:00"],
    ),
    # --- both restricted: either suffices -------------------------------------------------
    (
        "0 12 15 * mon",
        "2026-06-01 00:00",
        ["2026-06-01 12:00", "2026-06-08 12:00", "2026-06-15 12:00", "2026-06-22 12:00"],
    ),
    (
        "8 1 28 * 4#2",
        "2026-03-01 00:00",
        ["2026-03-12 01:08", "2026-03-28 01:08", "2026-04-09 01:08", "2026-04-28 01:08"],
    ),
    (
        "0 0 1 * mon#1",
        "2026-03-01 12:00",
        ["2026-03-02 00:00", "2026-04-01 00:00", "2026-04-06 00:00", "2026-05-01 00:00"],
    ),
    (
        "0 0 L * fri#5",
        "2026-01-01 00:00",
        [
            "2026-01-30 00:00",
            "2026-01-31 00:00",
            "2026-02-28 00:00",
            "2026-03-31 00:00",
            "2026-04-30 00:00",
            "2026-05-29 00:00",
            "2026-05-31 00:00",
        ],
    ),
    ("0 0 29 2 mon#5", "2026-01-01 00:00", ["2028-02-29 00:00", "2032-02-29 00:00"]),
    (
        "0 0 30 * 7#5",
        "2026-01-01 00:00",
        ["2026-01-30 00:00", "2026-03-29 00:00", "2026-03-30 00:00", "2026-04-30 00:00"],
    ),
    ("0 0 1,L * sun#1,sat", "2026-02-01 12:00", ["2026-02-07 00:00", "2026-02-14 00:00"]),
    # --- L, # and steps on their own --------------------------------------------------------
    ("0 9 L 2 *", "2027-01-01 00:00", ["2027-02-28 09:00", "2028-02-29 09:00"]),
    ("0 9 * 2 mon#5", "2040-01-01 00:00", ["2044-02-29 09:00"]),
    (
        "5/20 9 1 1 *",
        "2026-01-01 00:00",
        ["2026-01-01 09:05", "2026-01-01 09:25", "2026-01-01 09:45"],
    ),
    (
        "0 22-2 1 1 *",
        "2026-01-01 01:30",
        ["2026-01-01 02:00", "2026-01-01 22:00", "2026-01-01 23:00"],
    ),
]


@pytest.mark.parametrize(("expression", "after", "expected"), READINGS)
def test_cron_fires_as_crontab_reads_it(expression: str, after: str, expected: list[str]) -> None:
    line = timeline(parse_schedule(f"start={expression}; tz=UTC"))
    found = line.next_events(at(after), len(expected))
    assert [e.at.strftime("%Y-%m-%d %H:%M") for e in found] == expected
    # ... and the last firing at or before each of them is that firing.
    for event in found:
        assert line.last_event(event.at) == event


def test_an_equal_ended_range_no_longer_starts_a_machine_every_hour() -> None:
    line = timeline(parse_schedule("start=0 16-16 * * *"))
    assert len(line.events_between(at("2026-03-27 00:00"), at("2026-03-28 00:00"))) == 1


PHRASES = [
    ("8 1 28 * 4#2", "at 01:08 on the 28th, and on the second Thursday"),
    ("49 0 */3 6 6", "at 00:49 on every third day of the month, if it is a Saturday, in June"),
    ("0 0 L * fri#5", "at 00:00 on the last day of the month, and on the fifth Friday"),
    ("0 9 * * mon#1", "at 09:00 on the first Monday"),
    ("0 0 */2 * mon#1", "at 00:00 on every second day of the month, if it is the first Monday"),
    ("0 12 15 * mon", "at 12:00 on the 15th, and on Mondays"),
    ("0 12 15 * 0-7", "at 12:00"),
    ("0 16-16 * * *", "at 16:00"),
    ("17 3 * * 7-7", "at 03:17 on Sundays"),
    ("0 8 * * 1-5", "at 08:00 on Monday to Friday"),
    ("30 18 * * sat,sun", "at 18:30 on Saturdays and Sundays"),
    ("0 8 1 jan,jul *", "at 08:00 on the 1st, in January and July"),
    ("* * * 5 *", "every minute, in May"),
    ("*/15 8-17 * * *", "every 15 minutes from 08:00 to 17:59"),
    ("0 */6 * * *", "at 00:00, 06:00, 12:00 and 18:00"),
    ("0,30 * * * *", "at minutes 0 and 30 of every hour"),
    ("0 9 L 2 *", "at 09:00 on the last day of the month, in February"),
]


@pytest.mark.parametrize(("expression", "words"), PHRASES)
def test_check_says_a_cron_expression_in_words(expression: str, words: str) -> None:
    assert cron_phrase(parse_cron(expression)) == words


def test_check_names_each_rule_in_words_and_as_written() -> None:
    schedule = parse_schedule("start=8 1 28 * 4#2; stop=0 18 * * *; tz=Europe/Berlin")
    assert describe(schedule) == (
        "starts at 01:08 on the 28th, and on the second Thursday (cron '8 1 28 * 4#2'); "
        "stops at 18:00 (cron '0 18 * * *'), Europe/Berlin time"
    )
