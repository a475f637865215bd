"""The tag language, as a table of `(tag value, expected)` rows (DESIGN §1).

Valid rows describe the parsed schedule compactly: for windows, each window's days as a
seven-letter mask (`MTWTF--` is Monday to Friday) and its ranges; for cron, each rule as
`"<action> <expression>"`; then the zone, the words, the catalogue name, the calendars of
`holidays=` in their canonical form and the size of `size=` as (min, desired, max). Invalid rows
give a
piece of the error's reason, its 0-based position and the token it names. Every row is parsed with
the catalogue below and the default zone `DEFAULT`, so a row without a zone shows the default.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import NamedTuple

import pytest
from hypothesis import given, settings, strategies as st

from offhours.explain import describe as in_words
from offhours.language import MAX_SIZE, is_opt_out, parse_schedule
from offhours.schedule import Schedule, ScheduleError
from offhours.timeline import timeline

DEFAULT = "America/Chicago"
EVERY_DAY = "MTWTFSS"
EPOCH = datetime(2026, 3, 23, tzinfo=UTC)


class Catalog:
    """A tiny catalogue: names are matched case-insensitively."""

    entries: dict[str, tuple[str, str | None]] = {  # noqa: RUF012
        "office-hours": ("Mon-Fri 08:00-18:00 Europe/Berlin", "Berlin office hours"),
        "nightly-stop": ("stop=0 19 * * *", None),
        "broken": ("Mon 25:00-26:00", None),
        "plant-hours": ("Mon-Fri 06:00-22:00 holidays=company-closures", None),
        "sized-hours": ("Mon-Fri 07:00-19:00 UTC size=1/2/4", None),
        "sized-nightly": ("stop=0 19 * * *; size=0/1/3", "Stops at seven, one to three when up"),
        "sized-badly": ("Mon-Fri 07:00-19:00 size=4/2/1", None),
    }
    closures: dict[str, tuple[tuple[date, str], ...] | None] = {  # noqa: RUF012
        "company-closures": ((date(2026, 12, 24), "company-closures"),),
        "bad-closures": None,  # a calendar whose dates cannot be read
    }

    def calendar(self, name: str) -> tuple[str, tuple[tuple[date, str], ...]] | None:
        key = name.lower()
        if key not in self.closures:
            return None
        dates = self.closures[key]
        if dates is None:
            raise ValueError("'2026-02-30' in 'dates' is not a date")
        return key, dates

    def calendars(self) -> list[str]:
        return sorted(self.closures)

    def lookup(self, name: str) -> tuple[str, str, str | None] | None:
        key = name.lower()
        if key not in self.entries:
            return None
        value, description = self.entries[key]
        return key, value, description

    def names(self) -> list[str]:
        return sorted(self.entries)


class Parsed(NamedTuple):
    kind: str
    timezone: str
    items: tuple[object, ...]
    words: str = ""
    name: str | None = None
    holidays: str = ""
    size: tuple[int, int, int] | None = None


class Bad(NamedTuple):
    reason: str
    position: int | None
    token: str | None
    with_catalog: bool = True


OPT_OUT = "opt-out"


Size = tuple[int, int, int]


def win(
    tz: str,
    *windows: tuple[str, ...],
    words: str = "",
    name: str | None = None,
    holidays: str = "",
    size: Size | None = None,
) -> Parsed:
    """`win("UTC", ("MTWTF--", "08:00-18:00"))`: the windows in the order written."""
    return Parsed("windows", tz, windows, words, name, holidays, size)


def cron(
    tz: str,
    *rules: str,
    words: str = "",
    name: str | None = None,
    holidays: str = "",
    size: Size | None = None,
) -> Parsed:
    """`cron("UTC", "start 0 8 * * 1-5")`: the rules in the order written."""
    return Parsed("cron", tz, rules, words, name, holidays, size)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def describe(schedule: Schedule) -> Parsed:
    words = " ".join(
        w for w, on in (("enforce", schedule.enforce), ("hibernate", schedule.hibernate)) if on
    )
    holidays = " ".join(c.code for c in schedule.holidays)
    if schedule.rules:
        assert not schedule.windows
        rules = tuple(f"{r.action.value} {r.expression}" for r in schedule.rules)
        return Parsed(
            "cron", schedule.timezone, rules, words, schedule.name, holidays, schedule.size
        )
    windows = tuple(
        (
            "".join(letter if day in w.days else "-" for day, letter in enumerate(EVERY_DAY)),
            *(f"{_hhmm(r.start)}-{_hhmm(r.end)}" for r in w.ranges),
        )
        for w in schedule.windows
    )
    return Parsed(
        "windows", schedule.timezone, windows, words, schedule.name, holidays, schedule.size
    )


NOISE = (
    "pO#$[nC/>*1,) !.4Ea<koKm5b`!_OAYGSTW $@j Rl*'LK6s[}~,Nd}VU72lZ-)\"o2#/!Y&H1+9$%d,Cqg}%^n~>28s"
    '9Dp?|6_8~(G*Z^N)[#|9Z3zLIbet\\/6%!UzH{!7$"3*]eLO6m4{~$H5x2 9i\\I"Vmy 0s5bla5-(k<zFp>f(I^@TtaO'
    '^-,!{ r(C8.q/{#Lk1^ur.N#0Xt%zWbnXjgS[Tdd$8P`M5Pp"7,>vt.%A3>R6/D_}i)Zez[wf'
)
assert len(NOISE) == 256

CASES: list[tuple[str, Parsed | Bad | str]] = [
    # --- DESIGN 1.1 -----------------------------------------------------------------------------
    ("Mon-Fri 08:00-18:00 Europe/Berlin", win("Europe/Berlin", ("MTWTF--", "08:00-18:00"))),
    (
        "Mon-Fri 08:00-12:00 13:00-18:00 Sat 09:00-13:00 America/New_York",
        win(
            "America/New_York",
            ("MTWTF--", "08:00-12:00", "13:00-18:00"),
            ("-----S-", "09:00-13:00"),
        ),
    ),
    ("Fri 22:00-02:00 UTC", win("UTC", ("----F--", "22:00-02:00"))),
    ("07:00-19:00", win(DEFAULT, (EVERY_DAY, "07:00-19:00"))),
    # --- DESIGN 1.2 -----------------------------------------------------------------------------
    (
        "start=0 8 * * 1-5; stop=30 18 * * 1-5; tz=America/New_York",
        cron("America/New_York", "start 0 8 * * 1-5", "stop 30 18 * * 1-5"),
    ),
    ("stop=0 19 * * *", cron(DEFAULT, "stop 0 19 * * *")),
    (
        "start=0 9 * * mon#1; stop=0 17 * * mon#1; tz=Europe/London",
        cron("Europe/London", "start 0 9 * * mon#1", "stop 0 17 * * mon#1"),
    ),
    # --- DESIGN 1.3: named schedules ------------------------------------------------------------
    (
        "office-hours",
        win("Europe/Berlin", ("MTWTF--", "08:00-18:00"), name="office-hours"),
    ),
    (
        "Office-Hours enforce",
        win("Europe/Berlin", ("MTWTF--", "08:00-18:00"), words="enforce", name="office-hours"),
    ),
    (
        "nightly-stop hibernate",
        cron(DEFAULT, "stop 0 19 * * *", words="hibernate", name="nightly-stop"),
    ),
    # --- days -----------------------------------------------------------------------------------
    ("Monday-Friday 08:00-18:00", win(DEFAULT, ("MTWTF--", "08:00-18:00"))),
    ("MON-FRI 08:00-18:00", win(DEFAULT, ("MTWTF--", "08:00-18:00"))),
    ("mon-fri 08:00-18:00", win(DEFAULT, ("MTWTF--", "08:00-18:00"))),
    ("SUNDAY 10:00-11:00", win(DEFAULT, ("------S", "10:00-11:00"))),
    ("Tuesday,thursday 08:00-09:00", win(DEFAULT, ("-T-T---", "08:00-09:00"))),
    ("Sat-Sun 10:00-14:00", win(DEFAULT, ("-----SS", "10:00-14:00"))),
    ("Fri-Mon 10:00-16:00", win(DEFAULT, ("M---FSS", "10:00-16:00"))),
    ("Sun-Sat 10:00-16:00", win(DEFAULT, (EVERY_DAY, "10:00-16:00"))),
    ("Sat-Tue 10:00-16:00", win(DEFAULT, ("MT---SS", "10:00-16:00"))),
    ("Mon,Wed,Fri 08:00-18:00", win(DEFAULT, ("M-W-F--", "08:00-18:00"))),
    ("Mon-Wed,Fri 08:00-18:00", win(DEFAULT, ("MTW-F--", "08:00-18:00"))),
    ("Mon,Thu-Sat 08:00-18:00", win(DEFAULT, ("M--TFS-", "08:00-18:00"))),
    # --- spaces around '-' and ',' --------------------------------------------------------------
    ("Mon - Fri 08:00 - 18:00", win(DEFAULT, ("MTWTF--", "08:00-18:00"))),
    ("Mon , Wed 08:00-18:00", win(DEFAULT, ("M-W----", "08:00-18:00"))),
    ("Mon, Wed,Fri 08:00-18:00", win(DEFAULT, ("M-W-F--", "08:00-18:00"))),
    ("Mon- Fri 08:00- 18:00", win(DEFAULT, ("MTWTF--", "08:00-18:00"))),
    ("Mon -Fri 08:00 -18:00", win(DEFAULT, ("MTWTF--", "08:00-18:00"))),
    ("  Mon-Fri   08:00-18:00  ", win(DEFAULT, ("MTWTF--", "08:00-18:00"))),
    # --- several day sets, ranges without days --------------------------------------------------
    (
        "Mon 08:00-12:00 Tue 13:00-17:00 Wed,Thu 09:00-10:00 11:00-12:00",
        win(
            DEFAULT,
            ("M------", "08:00-12:00"),
            ("-T-----", "13:00-17:00"),
            ("--WT---", "09:00-10:00", "11:00-12:00"),
        ),
    ),
    ("08:00-12:00 13:00-17:00", win(DEFAULT, (EVERY_DAY, "08:00-12:00", "13:00-17:00"))),
    ("8:00-9:30", win(DEFAULT, (EVERY_DAY, "08:00-09:30"))),
    # --- 24:00, overnight -----------------------------------------------------------------------
    ("00:00-24:00", win(DEFAULT, (EVERY_DAY, "00:00-24:00"))),
    ("Sat 18:00-24:00", win(DEFAULT, ("-----S-", "18:00-24:00"))),
    ("22:00-00:00", win(DEFAULT, (EVERY_DAY, "22:00-24:00"))),
    ("23:30-00:15", win(DEFAULT, (EVERY_DAY, "23:30-00:15"))),
    ("Sun 22:00-02:00 Europe/Berlin", win("Europe/Berlin", ("------S", "22:00-02:00"))),
    # --- zone and words, in any order and case --------------------------------------------------
    ("08:00-18:00 enforce", win(DEFAULT, (EVERY_DAY, "08:00-18:00"), words="enforce")),
    ("08:00-18:00 HIBERNATE", win(DEFAULT, (EVERY_DAY, "08:00-18:00"), words="hibernate")),
    (
        "08:00-18:00 hibernate Europe/Berlin enforce",
        win("Europe/Berlin", (EVERY_DAY, "08:00-18:00"), words="enforce hibernate"),
    ),
    (
        "08:00-18:00 Enforce Asia/Kolkata",
        win("Asia/Kolkata", (EVERY_DAY, "08:00-18:00"), words="enforce"),
    ),
    ("08:00-18:00 europe/berlin", win("Europe/Berlin", (EVERY_DAY, "08:00-18:00"))),
    ("08:00-18:00 utc", win("UTC", (EVERY_DAY, "08:00-18:00"))),
    ("Mon 08:00-18:00 Australia/Sydney", win("Australia/Sydney", ("M------", "08:00-18:00"))),
    # --- cron -----------------------------------------------------------------------------------
    (
        "start=0 8 * * mon-fri; stop=0 18 * * MON-FRI",
        cron(DEFAULT, "start 0 8 * * mon-fri", "stop 0 18 * * MON-FRI"),
    ),
    ("start=0 8 1 jan,jul *", cron(DEFAULT, "start 0 8 1 jan,jul *")),
    ("start=*/15 8-17 * * *", cron(DEFAULT, "start */15 8-17 * * *")),
    ("start=0 8 1-31/2 * *", cron(DEFAULT, "start 0 8 1-31/2 * *")),
    ("stop=0 20 L * *", cron(DEFAULT, "stop 0 20 L * *")),
    ("stop=0 20 * * 5#2", cron(DEFAULT, "stop 0 20 * * 5#2")),
    # DESIGN 1.2's readings of crontab: equal-ended ranges, the day rule, L and # beside a date
    ("start=0 16-16 * * *", cron(DEFAULT, "start 0 16-16 * * *")),
    ("start=0 9-9/5 * * 7-7", cron(DEFAULT, "start 0 9-9/5 * * 7-7")),
    ("stop=49 0 */3 6 6", cron(DEFAULT, "stop 49 0 */3 6 6")),
    ("start=8 1 28 * 4#2", cron(DEFAULT, "start 8 1 28 * 4#2")),
    ("start=0 0 L * fri#5", cron(DEFAULT, "start 0 0 L * fri#5")),
    ("start=0 0 1,15,L * sun#1,7#3,sat", cron(DEFAULT, "start 0 0 1,15,L * sun#1,7#3,sat")),
    ("start=0 0 29 2 mon#5", cron(DEFAULT, "start 0 0 29 2 mon#5")),
    ("start=0 22-2 * nov-feb fri-mon", cron(DEFAULT, "start 0 22-2 * nov-feb fri-mon")),
    ("start=5/15 * * * *", cron(DEFAULT, "start 5/15 * * * *")),
    ("start=0 8 * * 0", cron(DEFAULT, "start 0 8 * * 0")),
    (
        "start=0 8 * * 1; start=0 10 * * 6; stop=0 18 * * *; stop=0 23 * * 6",
        cron(DEFAULT, "start 0 8 * * 1", "start 0 10 * * 6", "stop 0 18 * * *", "stop 0 23 * * 6"),
    ),
    ("stop=0 19 * * *; tz=Asia/Kolkata", cron("Asia/Kolkata", "stop 0 19 * * *")),
    ("tz=UTC; start=0 7 * * *", cron("UTC", "start 0 7 * * *")),
    ("START=0 8 * * *; TZ=europe/berlin", cron("Europe/Berlin", "start 0 8 * * *")),
    (
        "start=0 8 * * 1-5; enforce; hibernate",
        cron(DEFAULT, "start 0 8 * * 1-5", words="enforce hibernate"),
    ),
    ("start=0 8 * * 1-5;", cron(DEFAULT, "start 0 8 * * 1-5")),
    (
        "  start = 0  8 * *   1-5 ;  stop=0 18 * * 1-5 ; ",
        cron(DEFAULT, "start 0 8 * * 1-5", "stop 0 18 * * 1-5"),
    ),
    # --- holidays and closures (DESIGN §7): a word in every form -------------------------------
    (
        "Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY",
        win("Europe/Berlin", ("MTWTF--", "08:00-18:00"), holidays="DE-BY"),
    ),
    (
        "start=0 8 * * 1-5; stop=0 18 * * 1-5; holidays=US-CA",
        cron(DEFAULT, "start 0 8 * * 1-5", "stop 0 18 * * 1-5", holidays="US-CA"),
    ),
    (
        "office-hours holidays=GB-SCT",
        win("Europe/Berlin", ("MTWTF--", "08:00-18:00"), name="office-hours", holidays="GB-SCT"),
    ),
    ("08:00-18:00 holidays=de-by", win(DEFAULT, (EVERY_DAY, "08:00-18:00"), holidays="DE-BY")),
    ("08:00-18:00 HOLIDAYS=gb", win(DEFAULT, (EVERY_DAY, "08:00-18:00"), holidays="GB")),
    (
        "08:00-18:00 holidays=de-augsburg",
        win(DEFAULT, (EVERY_DAY, "08:00-18:00"), holidays="DE-Augsburg"),
    ),
    (
        "08:00-18:00 holidays=DE enforce holidays=Company-Closures Asia/Kolkata holidays=de",
        win(
            "Asia/Kolkata",
            (EVERY_DAY, "08:00-18:00"),
            words="enforce",
            holidays="DE company-closures",
        ),
    ),
    (
        "stop=0 19 * * *; holidays=NZ; enforce; holidays=company-closures",
        cron(DEFAULT, "stop 0 19 * * *", words="enforce", holidays="NZ company-closures"),
    ),
    (
        "holidays=US-NY; tz=America/New_York; start=0 7 * * *",
        cron("America/New_York", "start 0 7 * * *", holidays="US-NY"),
    ),
    (
        "plant-hours holidays=DE-BY hibernate",
        win(
            DEFAULT,
            ("MTWTF--", "06:00-22:00"),
            words="hibernate",
            name="plant-hours",
            holidays="company-closures DE-BY",
        ),
    ),
    # --- the size of a group (DESIGN §9): a word in every form ----------------------------------
    (
        "Mon-Fri 08:00-18:00 Europe/Berlin size=1/2/4",
        win("Europe/Berlin", ("MTWTF--", "08:00-18:00"), size=(1, 2, 4)),
    ),
    (
        "start=0 8 * * 1-5; stop=0 18 * * 1-5; size=1/2/4",
        cron(DEFAULT, "start 0 8 * * 1-5", "stop 0 18 * * 1-5", size=(1, 2, 4)),
    ),
    (
        "office-hours size=0/1/3",
        win("Europe/Berlin", ("MTWTF--", "08:00-18:00"), name="office-hours", size=(0, 1, 3)),
    ),
    ("08:00-18:00 size=0/0/0", win(DEFAULT, (EVERY_DAY, "08:00-18:00"), size=(0, 0, 0))),
    ("08:00-18:00 SIZE=2/2/2", win(DEFAULT, (EVERY_DAY, "08:00-18:00"), size=(2, 2, 2))),
    (
        "08:00-18:00 size=0/10000/10000",
        win(DEFAULT, (EVERY_DAY, "08:00-18:00"), size=(0, 10000, 10000)),
    ),
    ("08:00-18:00 size=01/002/04", win(DEFAULT, (EVERY_DAY, "08:00-18:00"), size=(1, 2, 4))),
    (
        "08:00-18:00 size=1/2/4 enforce holidays=DE Asia/Kolkata hibernate",
        win(
            "Asia/Kolkata",
            (EVERY_DAY, "08:00-18:00"),
            words="enforce hibernate",
            holidays="DE",
            size=(1, 2, 4),
        ),
    ),
    (
        "size=1/2/4; tz=UTC; stop=0 19 * * *; enforce",
        cron("UTC", "stop 0 19 * * *", words="enforce", size=(1, 2, 4)),
    ),
    ("stop=0 19 * * *;  Size = 3/5/8 ", cron(DEFAULT, "stop 0 19 * * *", size=(3, 5, 8))),
    (
        "Office-Hours hibernate size=1/1/1 holidays=DE",
        win(
            "Europe/Berlin",
            ("MTWTF--", "08:00-18:00"),
            words="hibernate",
            name="office-hours",
            holidays="DE",
            size=(1, 1, 1),
        ),
    ),
    # a catalogue entry's own size, and a size word on the tag that overrides it
    ("sized-hours", win("UTC", ("MTWTF--", "07:00-19:00"), name="sized-hours", size=(1, 2, 4))),
    (
        "sized-hours size=0/1/3",
        win("UTC", ("MTWTF--", "07:00-19:00"), name="sized-hours", size=(0, 1, 3)),
    ),
    ("sized-nightly", cron(DEFAULT, "stop 0 19 * * *", name="sized-nightly", size=(0, 1, 3))),
    (
        "sized-nightly enforce size=2/2/6",
        cron(DEFAULT, "stop 0 19 * * *", words="enforce", name="sized-nightly", size=(2, 2, 6)),
    ),
    # --- opt-out --------------------------------------------------------------------------------
    ("off", OPT_OUT),
    ("OFF", OPT_OUT),
    ("none", OPT_OUT),
    ("None ", OPT_OUT),
    ("", OPT_OUT),
    ("   ", OPT_OUT),
    # --- invalid cases --------------------------------------------------------------------------
    ("25:00-26:00", Bad("past the end of the day", 0, "25:00")),
    ("08:60-09:00", Bad("minutes must be 00 to 59", 0, "08:60")),
    ("08:00-09:75", Bad("minutes must be 00 to 59", 6, "09:75")),
    ("08:00 - 24:30", Bad("past the end of the day", 8, "24:30")),
    ("Mon 24:00-08:00", Bad("can only end a range", 4, "24:00")),
    ("08:00-08:00", Bad("zero length", 0, "08:00-08:00")),
    ("Mon 00:00-00:00", Bad("zero length", 4, "00:00-00:00")),
    ("8-18", Bad("is not a time", 0, "8")),
    ("0800-1800", Bad("is not a time", 0, "0800")),
    ("08:00-12:00-18:00", Bad("is not a time range", 0, "08:00-12:00-18:00")),
    ("0 9 * * *", Bad("is not a time range", 0, "0")),
    (
        "Mon-Fri 08:00-18:00 Europe/Berln",
        Bad("did you mean 'Europe/Berlin'", 20, "Europe/Berln"),
    ),
    ("08:00-18:00 Mars/Olympus", Bad("unknown time zone", 12, "Mars/Olympus")),
    ("08:00-18:00 localtime", Bad("is not a day, a time range, a time zone", 12, "localtime")),
    ("08:00-18:00 right/UTC", Bad("unknown time zone", 12, "right/UTC")),
    (
        "Mon-Fri 08:00-18:00 Europe/Berlin sometimes",
        Bad("is not a day, a time range, a time zone or a word", 34, "sometimes"),
    ),
    ("Mon-Fri", Bad("names days but no time range", 0, "Mon-Fri")),
    ("Mon-Fri 08:00-18:00 Sat", Bad("names days but no time range", 20, "Sat")),
    ("Mon Fri 08:00-18:00", Bad("with no time range between them", 4, "Fri")),
    ("Mon,,Wed 08:00-18:00", Bad("empty item", 4, "Mon,,Wed")),
    ("08:00-18:00 Mon,", Bad("empty item", 15, "Mon,")),
    ("08:00-18:00 UTC 19:00-20:00", Bad("must come before the time zone", 16, "19:00-20:00")),
    ("08:00-18:00 enforce Mon 19:00-20:00", Bad("must come before the time zone", 20, "Mon")),
    ("08:00-18:00 UTC Europe/Berlin", Bad("second time zone", 16, "Europe/Berlin")),
    ("enforce hibernate", Bad("has no time range", None, None)),
    ("start=0 0 9 * * *", Bad("has 6 fields", 6, "0 0 9 * * *")),
    ("start=0 0 9 * * * 2026", Bad("has 7 fields", 6, "0 0 9 * * * 2026")),
    ("start=@daily", Bad("has 1 field", 6, "@daily")),
    ("start=0 9 30 2 *", Bad("never fires", 6, "0 9 30 2 *")),
    ("start=0 8 * * *; stop=0 9 31 4 *", Bad("never fires", 22, "0 9 31 4 *")),
    ("start=61 8 * * *", Bad("minute must be 0 to 59", 6, "61")),
    ("start=0 24 * * *", Bad("hour must be 0 to 23", 8, "24")),
    ("start=0 8 0 * *", Bad("day of month must be 1 to 31", 10, "0")),
    ("start=0 8 * 13 *", Bad("month must be 1 to 12", 12, "13")),
    ("start=0 8 * * 8", Bad("day of week must be 0 to 7", 14, "8")),
    ("start=0 8 * * mon#6", Bad("a week of the month from 1 to 5", 14, "mon#6")),
    ("start=0 8 * * mon#0", Bad("a week of the month from 1 to 5", 14, "mon#0")),
    ("start=0 8 3#1 * *", Bad("belongs in the day of week", 10, "3#1")),
    ("start=0 8 * * L", Bad("belongs in the day of month", 14, "L")),
    ("start=0 8 * * 5L", Bad("'L' in the day of week is not supported", 14, "5L")),
    ("start=0 8 15W * *", Bad("'W' (the nearest weekday) is not supported", 10, "15W")),
    ("start=0 8 ? * mon", Bad("'?' is not cron", 10, "?")),
    ("start=0 8 * * mon-", Bad("a value at both ends", 14, "mon-")),
    ("start=0 8 * * 1,,5", Bad("empty list item", 14, "1,,5")),
    ("start=*/0 8 * * *", Bad("a step must be 1 or more", 6, "*/0")),
    ("start=*/x 8 * * *", Bad("a step is a number", 6, "*/x")),
    ("start=0 8 * * 1,funday", Bad("is not a day of week", 16, "funday")),
    ("start=0 8 * smarch *", Bad("is not a month", 12, "smarch")),
    ("start=0  8   *  *  1,2,9", Bad("day of week must be 0 to 7", 23, "9")),
    ("stop=0 9 31 2,4 *", Bad("never fires", 5, "0 9 31 2,4 *")),
    ("stop=0 9 30 2 */7", Bad("never fires", 5, "0 9 30 2 */7")),
    ("start=H 8 * * *", Bad("hashed 'H'", 6, "H 8 * * *")),
    ("start=R 8 * * *", Bad("random 'R'", 6, "R 8 * * *")),
    ("start=0 8 * * *; every=day", Bad("unknown clause 'every'", 17, "every=day")),
    ("start=0 8 * * *; sometimes", Bad("is not a clause", 17, "sometimes")),
    ("tz=Europe/Berlin", Bad("has no start= or stop=", None, None)),
    ("enforce; tz=UTC;", Bad("has no start= or stop=", None, None)),
    ("start=; stop=0 18 * * *", Bad("has no cron expression", 0, "start=")),
    ("stop=0 18 * * *; start=  ", Bad("has no cron expression", 17, "start=")),
    ("start=0 8 * * *; tz=Europe/Berln", Bad("did you mean 'Europe/Berlin'", 20, "Europe/Berln")),
    ("start=0 8 * * *; tz=UTC; tz=UTC", Bad("tz= is given twice", 25, "tz=UTC")),
    ("no-such-schedule", Bad("is not a schedule in the catalogue", 0, "no-such-schedule")),
    ("office-hours", Bad("no catalogue of named schedules", 0, "office-hours", with_catalog=False)),
    (" broken enforce", Bad("which is invalid", 1, "broken")),
    (NOISE, Bad("unknown time zone", 0, "pO#$[nC/>*1")),
    # --- holidays and closures ------------------------------------------------------------------
    ("08:00-18:00 holidays=DEBY", Bad("(did you mean 'DE-BY'?)", 21, "DEBY")),
    (
        "08:00-18:00 holidays=company-closure",
        Bad("did you mean 'company-closures'", 21, "company-closure"),
    ),
    ("08:00-18:00 holidays=DE-BZ", Bad("is not a subdivision of DE", 21, "DE-BZ")),
    ("08:00-18:00 holidays=GB-Scotland", Bad("(it has: ENG, NIR, SCT, WLS)", 21, "GB-Scotland")),
    ("08:00-18:00 holidays=Mars", Bad("is not a holiday calendar", 21, "Mars")),
    ("08:00-18:00 holidays=", Bad("names no calendar", 12, "holidays=")),
    ("08:00-18:00 holidays=DE,AT", Bad("repeat the word", 21, "DE,AT")),
    (
        "08:00-18:00 holidays=DE 19:00-20:00",
        Bad("must come before the time zone", 24, "19:00-20:00"),
    ),
    ("start=0 8 * * * holidays=DE", Bad("is a clause of its own", 16, "holidays=DE")),
    ("start=0 8 * * *; holidays=XX-YY", Bad("is not a holiday calendar", 26, "XX-YY")),
    ("start=0 8 * * *;  holidays =  ", Bad("names no calendar", 18, "holidays=")),
    ("office-hours holidays=GB-SCX", Bad("is not a subdivision of GB", 22, "GB-SCX")),
    (
        "office-hours holidays=nightly-stop",
        Bad("a schedule of the catalogue, not a calendar", 22, "nightly-stop"),
    ),
    ("company-closures", Bad("names a calendar, not a schedule", 0, "company-closures")),
    (
        "08:00-18:00 holidays=bad-closures",
        Bad("'bad-closures', which is invalid: '2026-02-30'", 21, "bad-closures"),
    ),
    (
        "08:00-18:00 holidays=company-closures",
        Bad("is not a holiday calendar", 21, "company-closures", with_catalog=False),
    ),
    # --- size ----------------------------------------------------------------------------------
    ("08:00-18:00 size=", Bad("names no size: expected MIN/DESIRED/MAX", 12, "size=")),
    ("stop=0 19 * * *; size =  ", Bad("names no size", 17, "size=")),
    ("08:00-18:00 size=1/2", Bad("expected three numbers MIN/DESIRED/MAX", 17, "1/2")),
    ("08:00-18:00 size=1/2/3/4", Bad("expected three numbers MIN/DESIRED/MAX", 17, "1/2/3/4")),
    ("08:00-18:00 size=max", Bad("expected three numbers MIN/DESIRED/MAX", 17, "max")),
    ("08:00-18:00 size=1,2,4", Bad("separate the numbers with '/', not ','", 17, "1,2,4")),
    ("08:00-18:00 size=1-2-4", Bad("separate the numbers with '/', not '-'", 17, "1-2-4")),
    ("office-hours size=1,2,4", Bad("separate the numbers with '/', not ','", 18, "1,2,4")),
    ("stop=0 19 * * *; size=1 2 4", Bad("not ' '", 22, "1 2 4")),
    ("08:00-18:00 size=1//4", Bad("has no desired size", 17, "1//4")),
    ("08:00-18:00 size=/2/4", Bad("has no minimum size", 17, "/2/4")),
    ("08:00-18:00 size=1/2/", Bad("has no maximum size", 17, "1/2/")),
    ("08:00-18:00 size=-1/2/4", Bad("the minimum size counts instances, 0 or more", 17, "-1")),
    ("08:00-18:00 size=1/+2/4", Bad("is not a whole number: the desired size", 19, "+2")),
    ("08:00-18:00 size=1/2/4.5", Bad("is not a whole number: the maximum size", 21, "4.5")),
    ("08:00-18:00 size=1/2/٤", Bad("in the digits 0-9", 21, "٤")),
    ("08:00-18:00 size=1/2/１０", Bad("in the digits 0-9", 21, "１０")),
    ("08:00-18:00 size=1/2/10001", Bad("the maximum size is at most 10000", 21, "10001")),
    (
        "08:00-18:00 size=0/1/" + "9" * 40,
        Bad("the maximum size is at most 10000", 21, "9" * 40),
    ),
    ("stop=0 19 * * *; size=3/2/4", Bad("the minimum (3) is more than the desired", 22, "3/2/4")),
    ("office-hours size=1/5/4", Bad("the desired size (5) is more than the maximum", 18, "1/5/4")),
    (
        "08:00-18:00 size=1/2/4 UTC size=2/2/2",
        Bad(
            "a second size; the value already names 'size=1/2/4' at character 13", 27, "size=2/2/2"
        ),
    ),
    (
        "stop=0 19 * * *; size=1/2/4; SIZE=1/2/4",
        Bad(
            "a second size; the value already names 'size=1/2/4' at character 18", 29, "SIZE=1/2/4"
        ),
    ),
    (
        "office-hours size=0/1/3 size=0/1/2",
        Bad(
            "a second size; the value already names 'size=0/1/3' at character 14", 24, "size=0/1/2"
        ),
    ),
    ("stop=0 19 * * * size=1/2/4", Bad("is a clause of its own", 16, "size=1/2/4")),
    ("08:00-18:00 size=1/2/4 Mon 19:00-20:00", Bad("must come before the time zone", 23, "Mon")),
    ("size=1/2/4", Bad("has no time range", None, None)),
    ("size=1/2/4; tz=UTC", Bad("has no start= or stop=", None, None)),
    ("stop=0 19 * * *; sizes=1/2/4", Bad("unknown clause 'sizes'", 17, "sizes=1/2/4")),
    ("stop=0 19 * * *; size", Bad("size=MIN/DESIRED/MAX", 17, "size")),
    ("08:00-18:00 size", Bad("size=MIN/DESIRED/MAX", 12, "size")),
    (" sized-badly", Bad("'sized-badly', which is invalid: '4/2/1'", 1, "sized-badly")),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_tag_value(value: str, expected: Parsed | Bad | str) -> None:
    if expected == OPT_OUT:
        assert is_opt_out(value)
        with pytest.raises(ScheduleError):
            parse_schedule(value, default_timezone=DEFAULT, catalog=Catalog())
        return
    assert not is_opt_out(value)
    catalog = Catalog()
    if isinstance(expected, Bad):
        with pytest.raises(ScheduleError) as caught:
            parse_schedule(
                value,
                default_timezone=DEFAULT,
                catalog=catalog if expected.with_catalog else None,
            )
        error = caught.value
        assert expected.reason in error.reason
        assert (error.position, error.token) == (expected.position, expected.token)
        assert error.value == value
        if expected.token is not None:
            assert repr(expected.token) in str(error)
            assert f"at character {expected.position + 1}" in str(error)
        return
    assert isinstance(expected, Parsed)
    schedule = parse_schedule(value, default_timezone=DEFAULT, catalog=catalog)
    assert describe(schedule) == expected
    assert schedule.text == value


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert sum(isinstance(e, Bad) for _, e in CASES) >= 30


def test_without_a_default_zone_utc_holds() -> None:
    assert parse_schedule("07:00-19:00").timezone == "UTC"
    assert parse_schedule("stop=0 19 * * *").timezone == "UTC"


def test_a_zone_in_the_value_wins_over_the_default() -> None:
    value = "07:00-19:00 Asia/Kolkata"
    assert parse_schedule(value, default_timezone="Europe/Berlin").timezone == "Asia/Kolkata"


def test_an_invalid_default_zone_is_a_schedule_error() -> None:
    with pytest.raises(ScheduleError, match="default time zone"):
        parse_schedule("07:00-19:00", default_timezone="Mars/Olympus")


def test_a_named_schedule_carries_its_description() -> None:
    schedule = parse_schedule("office-hours", catalog=Catalog())
    assert (schedule.name, schedule.description) == ("office-hours", "Berlin office hours")


def test_an_unknown_name_lists_the_catalogue() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule("weekend", catalog=Catalog())
    assert "broken, nightly-stop, office-hours" in caught.value.reason


def test_the_catalogue_cannot_refer_to_itself() -> None:
    class Looping(Catalog):
        entries = {"a": ("b", None), "b": ("a", None)}  # noqa: RUF012

    with pytest.raises(ScheduleError, match="which is invalid"):
        parse_schedule("a", catalog=Looping())


@pytest.mark.parametrize(
    ("value", "opt_out"),
    [("off", True), ("Off", True), ("NONE", True), ("", True), (" \t", True), ("offf", False)],
)
def test_opt_out_values(value: str, opt_out: bool) -> None:
    assert is_opt_out(value) is opt_out


@pytest.mark.parametrize("value", ["Mon-Fri ٠٨:00-18:00 UTC", "Mon-Fri 08:00-１８:00 UTC"])
def test_only_ascii_digits_are_digits(value: str) -> None:
    # Python's \d matches any Unicode digit, and int() reads them: a value that a person cannot
    # tell from 08:00 must not become a schedule by accident.
    with pytest.raises(ScheduleError, match="is not a time"):
        parse_schedule(value)


# --- size=MIN/DESIRED/MAX (DESIGN §9) -------------------------------------------------------

SIZE_SETTINGS = settings(max_examples=200, deadline=None)
sizes = st.integers(0, MAX_SIZE).flatmap(
    lambda high: st.integers(0, high).flatmap(
        lambda desired: st.tuples(st.integers(0, desired), st.just(desired), st.just(high))
    )
)
# Each form, with `{size}` where the size word goes (a clause of its own in the cron form).
SIZE_FORMS = (
    "Mon-Fri 08:00-18:00 Europe/Berlin {size}",
    "08:00-18:00 {size} enforce UTC",
    "start=0 8 * * 1-5; stop=0 18 * * 1-5; {size}",
    "{size}; stop=0 19 * * *; tz=UTC",
    "office-hours {size}",
    "sized-hours hibernate {size}",
    "sized-nightly {size}",
)


def size_word(draw: st.DrawFn, size: Size) -> str:
    key = draw(st.sampled_from(["size", "SIZE", "Size"]))
    zeros = [draw(st.sampled_from(["", "0", "00"])) for _ in size]
    return f"{key}=" + "/".join(f"{z}{n}" for z, n in zip(zeros, size, strict=True))


@SIZE_SETTINGS
@given(st.data(), sizes, st.sampled_from(SIZE_FORMS))
def test_every_valid_size_reads_back_in_every_form(data: st.DataObject, size: Size, form: str):
    word = size_word(data.draw, size)
    value = form.format(size=word)
    schedule = parse_schedule(value, default_timezone=DEFAULT, catalog=Catalog())
    assert schedule.size == size
    low, desired, high = size
    assert f"min {low}, desired {desired}, max {high} when its recorded size is lost" in (
        in_words(schedule)
    )
    # The size changes nothing about when the schedule starts and stops.
    plain = parse_schedule(value.replace(word, ""), default_timezone=DEFAULT, catalog=Catalog())
    assert plain.size == {"sized-hours": (1, 2, 4), "sized-nightly": (0, 1, 3)}.get(plain.name)
    assert timeline(schedule).next_events(EPOCH, 6) == timeline(plain).next_events(EPOCH, 6)


@SIZE_SETTINGS
@given(
    st.tuples(
        st.integers(0, 3 * MAX_SIZE), st.integers(0, 3 * MAX_SIZE), st.integers(0, 20000)
    ).filter(lambda t: not t[0] <= t[1] <= t[2] <= MAX_SIZE),
    st.sampled_from(SIZE_FORMS),
)
def test_every_size_out_of_order_or_too_large_is_an_error_naming_it(size: Size, form: str):
    text = "/".join(map(str, size))
    value = form.format(size=f"size={text}")
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(value, default_timezone=DEFAULT, catalog=Catalog())
    error = caught.value
    assert error.value == value
    assert error.position is not None and error.token is not None
    assert value[error.position :].startswith(error.token)
    assert error.token in (text, *map(str, size))
    if max(size) > MAX_SIZE:
        assert f"at most {MAX_SIZE}" in error.reason
    else:
        assert "is more than the" in error.reason


SIZE_ERRORS = (
    "names no size",
    "is not a size",
    "has no minimum size",
    "has no desired size",
    "has no maximum size",
    "is not a whole number",
    "is too large",
    "is a second size",
)
SIZE_PIECES = ["size=", "SIZE=", "0", "1", "9", "10000", "/", ",", "-", " ", ";", "٣", "+", "x"]


@SIZE_SETTINGS
@given(
    st.lists(st.sampled_from(SIZE_PIECES), max_size=12).map("".join),
    st.sampled_from(SIZE_FORMS),
)
def test_any_size_word_parses_or_raises_an_error_pointing_into_the_value(word: str, form: str):
    value = form.format(size=word)
    try:
        schedule = parse_schedule(value, default_timezone=DEFAULT, catalog=Catalog())
    except ScheduleError as error:
        assert error.value == value
        assert error.position is None or 0 <= error.position <= len(value)
        if error.reason.startswith(SIZE_ERRORS) and error.token != "size=":
            # The size's own errors quote the value as written, from where the trouble starts.
            assert error.position is not None and error.token is not None
            assert value[error.position :].startswith(error.token)
        return
    if schedule.size is not None:
        low, desired, high = schedule.size
        assert 0 <= low <= desired <= high <= MAX_SIZE


def test_a_value_without_a_size_word_has_none() -> None:
    assert parse_schedule("Mon-Fri 08:00-18:00").size is None
    assert parse_schedule("stop=0 19 * * *").size is None
    assert parse_schedule("office-hours holidays=DE", catalog=Catalog()).size is None


def test_a_size_is_one_of_the_values_words_in_words() -> None:
    schedule = parse_schedule("sized-nightly size=1/2/4", catalog=Catalog())
    assert in_words(schedule) == (
        "named schedule 'sized-nightly' (Stops at seven, one to three when up): stops at 19:00 "
        "(cron '0 19 * * *'); never starts instances (people do), UTC time; a group starts to "
        "min 1, desired 2, max 4 when its recorded size is lost"
    )
