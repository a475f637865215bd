"""offhours against an independent cron evaluator: cronsim, which follows Debian's cron and
supports `L` and `#` (a dev dependency only).

A seeded sample of random expressions (numbers, names in any case, ranges with equal and
unequal ends, steps, lists, `*/n` in either day field, `L`, `N#k`, Sunday as 0 and 7) is read
as a new user would, through `parse_schedule` and the timeline: valid or not, the last event at
or before random instants from 1999 to 2030 (leap days and exact firing times among them), the
next event after them. In UTC the expected answer is cronsim's. Around daylight-saving switches
it is cronsim's wall-clock firings placed by DESIGN §2's rule, worked out here from the zone's
offsets: a wall time happens at the first instant at which the clock reads it or later. Every
disagreement fails.

One adjustment to the oracle: cronsim reads a range with equal ends and a step (`9-9/5`) as a
start with a step (`9/5`, 9 to the field's end), where Debian's cron and DESIGN §1.2 read the one
value 9; such items are given to cronsim as the value itself.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from offhours.language import parse_schedule
from offhours.schedule import Event, ScheduleError
from offhours.timeline import HORIZON, LOOKBACK, Timeline, timeline
from offhours.zones import zone as shipped_zone

SEED = 20260329
EXPRESSIONS = 2000  # in UTC, each at INSTANTS instants
INSTANTS = 4
DST_CASES = 1000
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
NAMES = {name: i + 1 for i, name in enumerate(MONTHS)} | {n: i for i, n in enumerate(WEEKDAYS)}
FIRST, LAST = datetime(1999, 1, 1), datetime(2031, 1, 1)
DST_ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Santiago",  # switches at midnight
    "America/Havana",  # at midnight, too
    "Australia/Sydney",
    "Australia/Lord_Howe",  # by half an hour
    "Pacific/Chatham",  # at 02:45
)

# --- random expressions -------------------------------------------------------------------


def _written(rng: random.Random, index: int, value: int) -> str:
    if index == 3 and rng.random() < 0.3:
        name = MONTHS[value - 1]
    elif index == 4 and value < 7 and rng.random() < 0.3:
        name = WEEKDAYS[value]
    else:
        return str(value)
    return rng.choice([name, name.upper(), name.title()])


def _item(rng: random.Random, index: int, alone: bool) -> str:
    low, high = BOUNDS[index]
    kinds = ["value", "value", "range", "equal", "range-step", "equal-step", "start-step"]
    kinds += ["star", "star-step", "star-step"] if alone else []
    kinds += ["L"] if index == 2 else []
    kinds += ["nth", "nth"] if index == 4 else []
    kind = rng.choice(kinds)
    step = min(rng.choice([1, 2, 3, 4, 5, 7, 10, 15, 30, 40]), high)
    a = rng.randint(low, high)
    b = rng.randint(a, high)
    text = {
        "star": "*",
        "star-step": f"*/{step}",
        "L": "L",
        "nth": f"{_written(rng, 4, rng.randint(0, 7))}#{rng.randint(1, 5)}",
        "value": _written(rng, index, a),
        "equal": f"{_written(rng, index, a)}-{_written(rng, index, a)}",
        "equal-step": f"{_written(rng, index, a)}-{_written(rng, index, a)}/{step}",
        "start-step": f"{a}/{step}",
        "range": f"{_written(rng, index, a)}-{_written(rng, index, b)}",
        "range-step": f"{_written(rng, index, a)}-{_written(rng, index, b)}/{step}",
    }
    return text[kind]


def _field(rng: random.Random, index: int) -> str:
    if index and rng.random() < 0.25:
        return "*"
    count = rng.choice([1, 1, 1, 2, 3])
    return ",".join(_item(rng, index, count == 1) for _ in range(count))


def random_expression(rng: random.Random) -> str:
    return " ".join(_field(rng, index) for index in range(5))


def for_cronsim(expression: str) -> str:
    """The expression as cronsim must be given it to read it as Debian's cron does."""

    def value(text: str) -> int:
        return int(text) if text.isdigit() else NAMES[text.lower()]

    def item(text: str) -> str:
        equal = re.fullmatch(r"([^-/]+)-([^-/]+)/\d+", text)
        if equal and value(equal.group(1)) == value(equal.group(2)):
            return equal.group(1)
        return text

    return " ".join(",".join(map(item, f.split(","))) for f in expression.split())


# --- the oracle ---------------------------------------------------------------------------


def cronsim_walls(expression: str, start: datetime, *, reverse: bool = False) -> Iterator[datetime]:
    """cronsim's firings in naive wall time: after `start`, or at or before it (reverse)."""
    if reverse:
        start += timedelta(seconds=1)
    yield from CronSim(for_cronsim(expression), start.replace(microsecond=0), reverse=reverse)


def ever_fires(expression: str) -> bool:
    try:
        return next(cronsim_walls(expression, FIRST), None) is not None
    except CronSimError:  # it refuses some that never fire (the 31st of February)
        return False


def offset(at: datetime, tz: ZoneInfo) -> timedelta:
    value = at.astimezone(tz).utcoffset()
    assert value is not None
    return value


def local(at: datetime, tz: ZoneInfo) -> datetime:
    return (at + offset(at, tz)).replace(tzinfo=None)


def happens_at(wall: datetime, tz: ZoneInfo) -> datetime:
    """DESIGN §2: the first instant at which the clock reads `wall` or later, found from the
    zone's offsets by stepping a minute at a time from the earliest instant it could be."""
    guess = wall.replace(tzinfo=UTC)
    largest = max(offset(guess - timedelta(hours=26), tz), offset(guess + timedelta(hours=26), tz))
    at = guess - largest
    while local(at, tz) < wall:
        at += timedelta(minutes=1)
    return at


def expected_next(expression: str, at: datetime, tz: ZoneInfo) -> datetime | None:
    for wall in cronsim_walls(expression, local(at, tz)):
        instant = happens_at(wall, tz)
        if instant > at:
            return instant if instant <= at + HORIZON else None
    return None


def expected_last(expression: str, at: datetime, tz: ZoneInfo) -> datetime | None:
    # The clock may have read up to a repeated stretch more than it reads now.
    turned_back = max(timedelta(0), offset(at - timedelta(hours=3), tz) - offset(at, tz))
    for wall in cronsim_walls(expression, local(at, tz) + turned_back, reverse=True):
        instant = happens_at(wall, tz)
        if instant <= at:
            return instant if instant > at - LOOKBACK else None
    return None


def compare(line: Timeline, expression: str, at: datetime, tz: ZoneInfo) -> str | None:
    """What offhours says and the oracle does not, or None when they agree."""
    ours_next = [e.at for e in line.next_events(at, 1)]
    ours_last = line.last_event(at)
    want_next = expected_next(expression, at, tz)
    want_last = expected_last(expression, at, tz)
    if ours_next != ([want_next] if want_next else []):
        return f"next after {at}: offhours {ours_next}, expected {want_next}"
    if (ours_last.at if isinstance(ours_last, Event) else None) != want_last:
        return f"last at or before {at}: offhours {ours_last}, expected {want_last}"
    return None


def random_instant(rng: random.Random, expression: str) -> datetime:
    span = int((LAST - FIRST).total_seconds())
    instant = FIRST + timedelta(seconds=rng.randrange(span), microseconds=rng.choice([0, 1, 0]))
    kind = rng.random()
    if kind < 0.15:  # a leap day
        year = rng.choice([2000, 2004, 2008, 2012, 2016, 2020, 2024, 2028])
        instant = datetime(year, 2, 29, rng.randrange(24), rng.randrange(60))
    elif kind < 0.35:  # exactly a firing, or a microsecond before it
        firing = next(cronsim_walls(expression, instant), None)
        if firing is not None:
            instant = firing - timedelta(microseconds=rng.choice([0, 1]))
    return instant.replace(tzinfo=UTC)


# --- in UTC -------------------------------------------------------------------------------


def test_offhours_reads_cron_as_debians_cron_does_in_utc() -> None:
    rng = random.Random(SEED)
    disagreements: list[str] = []
    valid = 0
    for _ in range(EXPRESSIONS):
        expression = random_expression(rng)
        try:
            line = timeline(parse_schedule(f"start={expression}; tz=UTC"))
        except ScheduleError as error:
            if ever_fires(expression):
                disagreements.append(f"{expression!r}: refused ({error}), but cron fires it")
            continue
        if not ever_fires(expression):
            disagreements.append(f"{expression!r}: accepted, but cron never fires it")
            continue
        valid += 1
        for _ in range(INSTANTS):
            problem = compare(
                line, expression, random_instant(rng, expression), shipped_zone("UTC")
            )
            if problem:
                disagreements.append(f"{expression!r}: {problem}")
    assert not disagreements, f"{len(disagreements)} disagreements:\n" + "\n".join(
        disagreements[:20]
    )
    assert valid > EXPRESSIONS * 0.8  # the sample is mostly expressions that fire


# --- around daylight-saving switches ------------------------------------------------------


@cache
def switches(zone: str, year: int) -> tuple[datetime, ...]:
    """The instants in `year` at which the zone's offset changes, to the minute."""
    tz = shipped_zone(zone)
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        following = day + timedelta(days=1)
        if offset(day, tz) != offset(following, tz):
            lo, hi = day, following
            while hi - lo > timedelta(minutes=1):
                middle = lo + (hi - lo) / 2
                middle = middle.replace(second=0, microsecond=0)
                if offset(middle, tz) == offset(lo, tz):
                    lo = middle
                else:
                    hi = middle
            found.append(hi)
        day = following
    return tuple(found)


def dst_expression(rng: random.Random, wall: datetime) -> str:
    """A random expression, its hours and days often those of a switch's wall time."""
    fields = random_expression(rng).split()
    if rng.random() < 0.7:
        hours = sorted({(wall.hour + d) % 24 for d in range(-1, 2)})
        fields[1] = rng.choice([str(wall.hour), f"{hours[0]}-{hours[-1]}", "*", "*/2"])
    if rng.random() < 0.6:
        fields[2], fields[3] = "*", rng.choice(["*", str(wall.month)])
        fields[4] = rng.choice(["*", str((wall.weekday() + 1) % 7), "*/2", "1-5"])
    return " ".join(fields)


def test_around_daylight_saving_offhours_follows_design_2() -> None:
    rng = random.Random(SEED + 1)
    disagreements: list[str] = []
    compared = 0
    while compared < DST_CASES:
        zone = rng.choice(DST_ZONES)
        moments = switches(zone, rng.randint(FIRST.year, LAST.year - 1))
        if not moments:
            continue
        tz = shipped_zone(zone)
        switch = rng.choice(moments)
        expression = dst_expression(rng, local(switch, tz))
        try:
            line = timeline(parse_schedule(f"start={expression}; tz={zone}"))
        except ScheduleError:
            continue
        shift = rng.choice([0, 0, 1, -1, 60, -60, rng.randint(-6 * 3600, 6 * 3600)])
        at = switch + timedelta(seconds=shift)
        problem = compare(line, expression, at, tz)
        compared += 1
        if problem:
            disagreements.append(f"{expression!r} in {zone}: {problem}")
    assert not disagreements, f"{len(disagreements)} disagreements:\n" + "\n".join(
        disagreements[:20]
    )
