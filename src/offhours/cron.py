"""Five-field cron expressions, read as a crontab reads them (crontab(5), Debian's cron).

The fields are minute (0-59), hour (0-23), day of month (1-31), month (1-12 or ``jan`` …
``dec``) and day of week (0-7 or ``sun`` … ``sat``; 0 and 7 are Sunday). Each is a list,
separated by ``,``, of:

- ``*``, every value; ``*/n``, every n-th value from the field's first;
- a value; ``a-b``, a range (``16-16`` is the one value 16); ``a-b/n``, every n-th value of it;
  ``a/n``, every n-th value from ``a`` to the field's end. A range that runs backwards wraps
  round the field's end (``fri-mon``, ``22-2``), where a crontab would refuse it;
- in the day of month, ``L``: the last day of the month;
- in the day of week, ``N#k``: the k-th weekday N of the month (``mon#1``, ``5#3``), k 1 to 5.

The day rule of crontab(5): when both day fields are restricted, a day that matches either one
fires; when either field starts with ``*`` (``*``, ``*/2``), a day must match both. ``L`` and
``N#k`` are restricted fields like any other, so ``0 9 1 * mon#1`` fires on the 1st and on the
first Monday, and ``0 0 */2 * mon#1`` on a first Monday that falls on an odd day.

croniter evaluates, in naive wall-clock time; this module rewrites each expression so that
croniter's reading is crontab's. Every field goes to croniter as its explicit list of values
(croniter reads an equal-ended range such as ``16-16`` as the whole field), croniter always
intersects the day fields (``day_or=False``), and where crontab takes the union of the day
fields, or a weekday list mixes ``N#k`` with plain days (which croniter refuses), the expression
is the union of several that croniter reads correctly. Parts of that union that can never fire
(``31`` in February) are left out, so that croniter never searches its fifty years in vain.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import product
from typing import Any, NamedTuple

MINUTE, HOUR, DAY, MONTH, WEEKDAY = range(5)
FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES: dict[int, dict[str, int]] = {
    MONTH: {name: i + 1 for i, name in enumerate(MONTH_NAMES)},
    WEEKDAY: {name: i for i, name in enumerate(WEEKDAY_NAMES)},
}
_EXPECTED = (
    "a minute from 0 to 59",
    "an hour from 0 to 23",
    "a day of the month from 1 to 31, or L",
    "a month from 1 to 12 or jan to dec",
    "a day of the week from 0 to 7 (0 and 7 are Sunday) or sun to sat",
)
_MINUTE = timedelta(minutes=1)
_ALL_DAYS = frozenset(range(1, 32))
_ALL_WEEKDAYS = frozenset(range(7))
_LAST_DAYS = frozenset(range(28, 32))
_ONLY_L: tuple[frozenset[int], bool] = (frozenset(), True)


class CronError(ValueError):
    """An expression that is not a five-field cron expression.

    `offset` is where the trouble starts, 0-based in the expression as given to `parse_cron`
    (None: the expression as a whole); `token` is the piece at fault.
    """

    def __init__(self, reason: str, offset: int | None = None, token: str | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.token = token
        super().__init__(reason)


class Item(NamedTuple):
    """One item of a field's list, as written: `low`-`high` every `step`.

    `star` for ``*`` (and ``*/n``), `last` for ``L``, `nth` for ``N#k`` (k; `low` is N), and
    `open_end` for ``a/n`` (``a`` to the field's end).
    """

    low: int
    high: int
    step: int = 1
    star: bool = False
    last: bool = False
    nth: int = 0
    open_end: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Cron:
    """A parsed expression: the values of each field, the day rule, and croniter to evaluate.

    `weekdays` and the weekday of `nth` count from Sunday = 0. `day_or` is crontab's day rule:
    True when both day fields are restricted (either suffices), False when a day must match both.
    """

    text: str
    items: tuple[tuple[Item, ...], ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int]
    nth: frozenset[tuple[int, int]]
    day_or: bool
    parts: tuple[Any, ...] = field(repr=False)  # croniter prototypes; their union is the rule

    @property
    def ever_fires(self) -> bool:
        return bool(self.parts)

    # -- evaluation in naive wall-clock time --------------------------------------------------

    def next_after(self, wall: datetime) -> datetime | None:
        """The first firing strictly after `wall`, or None (none in croniter's fifty years)."""
        start = _floor_minute(wall)
        found: datetime | None = None
        for part in self.parts:
            at = _step(copy.copy(part), start)
            if at is not None and (found is None or at < found):
                found = at
        return found

    def last_at_or_before(self, wall: datetime) -> datetime | None:
        """The latest firing at or before `wall`, or None."""
        start = _floor_minute(wall) + _MINUTE
        found: datetime | None = None
        for part in self.parts:
            at = _step(copy.copy(part), start, back=True)
            if at is not None and (found is None or at > found):
                found = at
        return found

    def cursor(self) -> Cursor:
        """Firings in order, from wall times that only move forward (see `Cursor`)."""
        return Cursor(self.parts)


class Cursor:
    """The next firing after wall times that only move forward, each part of the union kept at
    its next firing until the wall time passes it: walking firings, or jumping ahead (over a
    spring-forward gap, say), costs one croniter step per firing or jump."""

    def __init__(self, parts: tuple[Any, ...]) -> None:
        self._parts = [copy.copy(part) for part in parts]
        self._heads: list[datetime | None] = [None] * len(parts)
        self._done = [False] * len(parts)

    def next_after(self, wall: datetime) -> datetime | None:
        found: datetime | None = None
        for i, part in enumerate(self._parts):
            if self._done[i]:
                continue
            head = self._heads[i]
            if head is None or head <= wall:
                head = _step(part, _floor_minute(wall))
                self._heads[i] = head
                if head is None:
                    self._done[i] = True
                    continue
            if found is None or head < found:
                found = head
        return found


def _step(it: Any, start: datetime, *, back: bool = False) -> datetime | None:
    """croniter's next firing after `start` (or its last before), None when it finds none."""
    from croniter.croniter import CroniterError  # imported by then: `it` is croniter's

    try:
        at: datetime = (it.get_prev if back else it.get_next)(datetime, start_time=start)
    except (CroniterError, OverflowError):
        return None
    return at


def _floor_minute(wall: datetime) -> datetime:
    return wall.replace(second=0, microsecond=0)


def _day_matches(
    days: frozenset[int],
    last_day: bool,
    weekdays: frozenset[int],
    nth: frozenset[tuple[int, int]],
    day_or: bool,
    day: int,
    weekday: int,
    month_length: int,
) -> bool:
    by_date = day in days or (last_day and day == month_length)
    by_weekday = weekday in weekdays or (weekday, (day + 6) // 7) in nth
    return (by_date or by_weekday) if day_or else (by_date and by_weekday)


def _month_shapes(month: int) -> Iterator[tuple[int, int]]:
    """(length, weekday of the 1st) of every form the month takes in the 400-year cycle."""
    lengths = (28, 29) if month == 2 else ((30,) if month in (4, 6, 9, 11) else (31,))
    for length in lengths:
        for first in range(7):
            yield length, first


def _can_fire(
    months: frozenset[int],
    days: frozenset[int],
    last_day: bool,
    weekdays: frozenset[int],
    nth: frozenset[tuple[int, int]],
    day_or: bool,
) -> bool:
    """Is there any date on which these day fields match? (The calendar repeats every 400
    years, in which every month takes every length it has with every weekday of its 1st.)"""
    for month in months:
        for length, first in _month_shapes(month):
            for day in range(1, length + 1):
                weekday = (first + day - 1) % 7
                if _day_matches(days, last_day, weekdays, nth, day_or, day, weekday, length):
                    return True
    return False


# --- parsing ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def parse_cron(text: str) -> Cron:
    """Read a five-field expression (fields separated by whitespace). Raises `CronError`."""
    spans = list(_split(text))
    if len(spans) != 5:
        raise CronError(f"has {len(spans)} fields; a cron expression has exactly five")
    items = tuple(_parse_field(index, piece, start) for index, (start, piece) in enumerate(spans))
    values = [_values(index, field_items) for index, field_items in enumerate(items)]
    days = frozenset(values[DAY])
    last_day = any(i.last for i in items[DAY])
    weekdays = frozenset(v % 7 for v in values[WEEKDAY])
    nth = frozenset((i.low % 7, i.nth) for i in items[WEEKDAY] if i.nth)
    day_star = spans[DAY][1].startswith("*")
    weekday_star = spans[WEEKDAY][1].startswith("*")
    day_or = not day_star and not weekday_star
    months = frozenset(values[MONTH])
    return Cron(
        text=text,
        items=items,
        minutes=tuple(sorted(set(values[MINUTE]))),
        hours=tuple(sorted(set(values[HOUR]))),
        days=days,
        last_day=last_day,
        months=months,
        weekdays=weekdays,
        nth=nth,
        day_or=day_or,
        parts=_croniter_parts(values, months, days, last_day, weekdays, nth, day_or),
    )


def _split(text: str) -> Iterator[tuple[int, str]]:
    start = None
    for i, char in enumerate(text + " "):
        if char.isspace():
            if start is not None:
                yield start, text[start:i]
                start = None
        elif start is None:
            start = i


def _parse_field(index: int, text: str, offset: int) -> tuple[Item, ...]:
    items = []
    position = offset
    for piece in text.split(","):
        if not piece:
            raise CronError(f"the {FIELD_NAMES[index]} has an empty list item", offset, text)
        items.append(_parse_item(index, piece, position))
        position += len(piece) + 1
    return tuple(items)


def _parse_item(index: int, text: str, offset: int) -> Item:
    name = FIELD_NAMES[index]
    low_bound, high_bound = _BOUNDS[index]

    def fail(reason: str) -> CronError:
        return CronError(reason, offset, text)

    if "?" in text:
        raise fail(f"'?' is not cron: write '*' for every {name}")
    base, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not _is_number(step_text):
            raise fail(f"a step is a number after '/', like */15 (in the {name})")
        step = int(step_text)
        if step == 0:
            raise fail(f"a step must be 1 or more (in the {name})")
    if base == "*":
        return Item(low_bound, high_bound, step, star=True)
    if base.upper() == "L":
        if index != DAY:
            raise fail("'L' (the last day of the month) belongs in the day of month")
        if slash:
            raise fail("'L' takes no step")
        return Item(0, 0, last=True)
    if "#" in base:
        if index != WEEKDAY:
            raise fail("'#' (the k-th weekday of the month, like mon#1) belongs in the day of week")
        if slash:
            raise fail("'N#k' takes no step")
        day_text, _, k_text = base.partition("#")
        day = _value(index, day_text, text, offset)
        if not _is_number(k_text) or not 1 <= int(k_text) <= 5:
            raise fail("'#' takes a week of the month from 1 to 5, like mon#1 or 5#3")
        return Item(day, day, nth=int(k_text))
    if "-" in base:
        low_text, _, high_text = base.partition("-")
        low = _value(index, low_text, text, offset)
        high = _value(index, high_text, text, offset)
        if index == WEEKDAY and low == 7 and high != 7:
            low = 0  # Sunday as 7 at the start of a range: sun-tue
        return Item(low, high, step)
    value = _value(index, base, text, offset)
    if slash:
        return Item(value, high_bound, step, open_end=True)
    return Item(value, value)


def _value(index: int, text: str, item: str, offset: int) -> int:
    low, high = _BOUNDS[index]
    if _is_number(text):
        number = int(text)
        if not low <= number <= high:
            raise CronError(f"{FIELD_NAMES[index]} must be {low} to {high}", offset, item)
        return number
    names = _NAMES.get(index, {})
    if text.lower() in names:
        return names[text.lower()]
    if not text:
        raise CronError(
            f"a range needs a value at both ends (in the {FIELD_NAMES[index]})", offset, item
        )
    if text.upper() == "W" or text.upper().endswith("W") or text.upper().startswith("W"):
        hint = ": 'W' (the nearest weekday) is not supported"
    elif index == WEEKDAY and "L" in text.upper():
        hint = ": 'L' in the day of week is not supported (use N#k, like fri#5)"
    else:
        hint = f": expected {_EXPECTED[index]}"
    raise CronError(f"is not a {FIELD_NAMES[index]}{hint}", offset, item)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def item_values(index: int, item: Item) -> list[int]:
    """The values of one item, in the order written (before Sunday 7 becomes 0)."""
    if item.last:
        return []
    low_bound, high_bound = _BOUNDS[index]
    if item.low <= item.high:
        return list(range(item.low, item.high + 1, item.step))
    top = 6 if index == WEEKDAY else high_bound
    sequence = list(range(item.low, top + 1)) + list(range(low_bound, item.high + 1))
    return sequence[:: item.step]


def _values(index: int, items: tuple[Item, ...]) -> list[int]:
    out: list[int] = []
    for item in items:
        if not item.nth:
            out += item_values(index, item)
    return out


# --- the rewriting for croniter -----------------------------------------------------------


def _croniter_parts(
    values: list[list[int]],
    months: frozenset[int],
    days: frozenset[int],
    last_day: bool,
    weekdays: frozenset[int],
    nth: frozenset[tuple[int, int]],
    day_or: bool,
) -> tuple[Any, ...]:
    """croniter prototypes whose union of firings is the expression's (always `day_or=False`)."""
    EVERY: tuple[frozenset[int], bool] = (_ALL_DAYS, False)
    ANY: tuple[frozenset[int], frozenset[tuple[int, int]]] = (_ALL_WEEKDAYS, frozenset())
    if days >= _LAST_DAYS:
        last_day = False  # every last day is in the list already
    # croniter reads a list of 31 items as `*`, even when one of them is `L`.
    by_date = [(days, last_day)] if len(days) < 30 or not last_day else [(days, False), _ONLY_L]
    by_weekday = [(weekdays, frozenset[tuple[int, int]]())] if weekdays else []
    by_weekday += [(frozenset[int](), nth)] if nth else []
    if day_or:
        shapes = [(d, ANY) for d in by_date] + [(EVERY, w) for w in by_weekday]
    else:
        dates = [EVERY] if days >= _ALL_DAYS else by_date
        weeks = [ANY] if weekdays >= _ALL_WEEKDAYS else by_weekday
        shapes = list(product(dates, weeks))
    minute = _list(values[MINUTE], MINUTE)
    hour = _list(values[HOUR], HOUR)
    month = _list(values[MONTH], MONTH)
    parts = []
    for (part_days, part_last), (part_weekdays, part_nth) in shapes:
        if not part_days and not part_last:
            continue
        if not _can_fire(months, part_days, part_last, part_weekdays, part_nth, False):
            continue
        day = _list(sorted(part_days), DAY) if part_days else ""
        if part_last and day != "*":
            day = f"{day},L" if day else "L"
        if part_nth:
            weekday = ",".join(f"{w}#{k}" for w, k in sorted(part_nth))
        else:
            weekday = _list(sorted(part_weekdays), WEEKDAY)
        expression = f"{minute} {hour} {day} {month} {weekday}"
        parts.append(_croniter()(expression, datetime(2000, 1, 1), day_or=False))
    return tuple(parts)


def _croniter() -> Any:
    """croniter, imported when a cron expression is first read: a run whose values are all
    windows never pays for it (a cold start is measured against a bare boto3 client)."""
    from croniter import croniter

    return croniter


def _list(values: list[int], index: int) -> str:
    """A field as croniter should read it: `*` for every value, else runs and single values
    (a run of three or more as `a-b`, never an equal-ended range)."""
    low, high = _BOUNDS[index]
    if index == WEEKDAY:
        high = 6
        values = [v % 7 for v in values]
    distinct = sorted(set(values))
    if len(distinct) == high - low + 1:
        return "*"
    pieces = []
    i = 0
    while i < len(distinct):
        j = i
        while j + 1 < len(distinct) and distinct[j + 1] == distinct[j] + 1:
            j += 1
        if j - i >= 2:
            pieces.append(f"{distinct[i]}-{distinct[j]}")
        else:
            pieces += [str(v) for v in distinct[i : j + 1]]
        i = j + 1
    return ",".join(pieces)
