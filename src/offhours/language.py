"""The tag language: text to `Schedule`.

A `Schedule` tag value takes one of three forms.

Windows, the everyday form::

    Mon-Fri 08:00-18:00 Europe/Berlin
    Mon-Fri 08:00-12:00 13:00-18:00 Sat 09:00-13:00 America/New_York
    Fri 22:00-02:00 UTC
    07:00-19:00

- An optional set of days, then one or more ranges ``HH:MM-HH:MM``. Days are ``Mon`` … ``Sun``
  or full names, any case; ranges ``Mon-Fri``, wrapping ranges ``Fri-Mon``, lists
  ``Mon,Wed,Fri`` (a list may mix both: ``Mon-Wed,Fri``). No days means every day. A set of days
  holds for the ranges after it, up to the next set of days. Two sets of days with no range
  between them are an error (join them with ``,`` if both are meant).
- A range whose end is not after its start crosses midnight, and belongs to the day it begins
  on. ``24:00`` ends a day. A range of zero length is an error. Spaces around ``-`` and ``,``
  are allowed (``08:00 - 18:00``).
- After the ranges, in any order: an optional time zone (IANA name, or ``UTC``), the words
  ``enforce`` and ``hibernate``, ``holidays=CODE`` words and a ``size=MIN/DESIRED/MAX`` word
  (below).

Cron events, for what windows cannot say::

    start=0 8 * * 1-5; stop=30 18 * * 1-5; tz=America/New_York

- Clauses separated by ``;``: ``start=CRON``, ``stop=CRON`` (each may repeat, one at least),
  ``tz=ZONE``, ``holidays=CODE``, ``size=MIN/DESIRED/MAX``, and the words ``enforce`` and
  ``hibernate`` as clauses of their own. A value is of this form when it has a clause other
  than ``holidays=`` and ``size=`` (or a ``;``).
- ``CRON`` has exactly five fields (minute hour day-of-month month day-of-week) and means what it
  means in a crontab, with ``L`` and ``N#k`` besides: see `offhours.cron`, which also says how
  croniter is made to read it so. Six- or seven-field forms (seconds, years) are refused, as is
  an expression that never fires (``0 9 30 2 *``).

Named schedules: a single word such as ``office-hours`` (optionally followed by ``enforce``,
``hibernate``, ``holidays=CODE`` or ``size=MIN/DESIRED/MAX`` words) names an entry of the
deployment's catalogue, see `offhours.catalog`. The entry's own value may name calendars too:
both apply. It may name a size too: a size word on the tag replaces the entry's.

Holidays and closures, in every form::

    Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY
    start=0 8 * * 1-5; stop=0 18 * * 1-5; holidays=US-CA
    office-hours holidays=GB-SCT holidays=company-closures

- ``holidays=CODE`` names a calendar of closed dates: a country or subdivision code of the
  ``holidays`` package (any case), or a calendar of the catalogue (see `offhours.closures`). On
  such a date, in the schedule's zone, the schedule starts nothing; its stops still happen.
- One calendar a word; several words close the dates of them all. Naming one twice is naming it
  once. An unknown code is an error with the closest code or calendar as a hint.

The size of an Auto Scaling group, in every form::

    Mon-Fri 08:00-18:00 Europe/Berlin size=1/2/4
    start=0 8 * * 1-5; stop=0 18 * * 1-5; size=1/2/4
    office-hours size=0/1/3

- ``size=MIN/DESIRED/MAX`` is the size a group is started to when the size it had at its stop
  cannot be restored (its record is lost, DESIGN §9): three whole numbers of ASCII digits, with
  MIN ≤ DESIRED ≤ MAX ≤ 10000 (`MAX_SIZE`). One size a value. The language only reads it: it
  means nothing for kinds other than groups.

``off``, ``none`` and the empty value opt an instance out (`is_opt_out`).

Every error is a `ScheduleError` that says what is wrong, quotes the piece of the value at fault
and gives its position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date
from typing import NamedTuple, Protocol

from offhours.closures import package_code, unknown_reason
from offhours.cron import CronError, parse_cron
from offhours.schedule import (
    Action,
    Calendar,
    CronRule,
    Schedule,
    ScheduleError,
    TimeRange,
    Window,
)
from offhours.zones import UnknownZone, resolve_zone

OPT_OUT_VALUES = frozenset({"", "off", "none"})
WORDS = frozenset({"enforce", "hibernate"})
HOLIDAYS = "holidays="
SIZE = "size="
MAX_SIZE = 10000  # the largest MIN, DESIRED or MAX a size= word may name

_DAYS: dict[str, int] = {}
for _i, (_short, _long) in enumerate(
    zip(
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        strict=True,
    )
):
    _DAYS[_short] = _i
    _DAYS[_long] = _i
_DAYS.update({"tues": 1, "wednes": 2, "thur": 3, "thurs": 3})

_TOKEN = re.compile(r"\S+(?:\s*[,-]\s*\S+|(?<=[,-])\s+\S+)*")
_PART = re.compile(r"[^,]+")
_TIME = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_DAY_SPEC = re.compile(r"^[A-Za-z]+(?:-[A-Za-z]+)?$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_HELP_WINDOW = (
    "expected days (Mon-Fri), a range (08:00-18:00), a time zone, 'enforce', 'hibernate', "
    "holidays=CODE or size=MIN/DESIRED/MAX"
)
_SIZE_NUMBER = re.compile(r"[0-9]+")  # fullmatch, ASCII digits only: isdigit() takes '٢', '²'
_SIZE_PARTS = ("minimum", "desired", "maximum")


class CatalogLike(Protocol):
    """What the parser needs of a catalogue of named schedules."""

    def lookup(self, name: str) -> tuple[str, str, str | None] | None:
        """The entry's canonical name, its value and its description, or None."""
        ...

    def names(self) -> list[str]:
        """The names of the schedules (calendars are not schedules)."""
        ...

    def calendar(self, name: str) -> tuple[str, tuple[tuple[date, str], ...]] | None:
        """The calendar's canonical name and its closed dates, each with its name; None when
        there is no such calendar. Raises `ValueError` for a calendar that cannot be used."""
        ...

    def calendars(self) -> list[str]:
        """The names of the calendars."""
        ...


def is_opt_out(value: str) -> bool:
    """`off`, `none` and the empty value mean: leave this instance alone."""
    return value.strip().lower() in OPT_OUT_VALUES


def parse_schedule(
    value: str, *, default_timezone: str = "UTC", catalog: CatalogLike | None = None
) -> Schedule:
    """Read a tag value. Raises `ScheduleError` for anything that is not a schedule.

    Opt-out values are not schedules: check `is_opt_out` first.
    """
    return _parse(value, default_timezone, catalog, named=True)


def _parse(
    value: str, default_timezone: str, catalog: CatalogLike | None, *, named: bool
) -> Schedule:
    """`named=False` for a catalogue entry's own value, which may name calendars of the
    catalogue but not another schedule."""
    if is_opt_out(value):
        raise ScheduleError("this value opts the instance out; it is not a schedule", value)
    if _is_cron_form(value):
        return _parse_cron(value, default_timezone, catalog)
    name = _named_form(value)
    if name is not None:
        if not named:
            raise ScheduleError(
                "names another named schedule; an entry's value is a window or cron value",
                value,
                value.index(name),
                name,
            )
        return _parse_named(value, name, default_timezone, catalog)
    return _parse_windows(value, default_timezone, catalog)


def _is_cron_form(value: str) -> bool:
    """A cron value has a clause other than holidays= and size= (or is split into clauses by
    ';'): a window or named value may carry holidays= and size= words and stays what it is."""
    if "=" not in value:
        return False
    if ";" in value:
        return True
    return any(not _is_word_with_argument(word) for word in value.split() if "=" in word)


def _is_holidays(word: str) -> bool:
    return word[: len(HOLIDAYS)].lower() == HOLIDAYS


def _is_size(word: str) -> bool:
    return word[: len(SIZE)].lower() == SIZE


def _is_word_with_argument(word: str) -> bool:
    """`holidays=CODE` and `size=MIN/DESIRED/MAX`: words of every form, not cron clauses."""
    return _is_holidays(word) or _is_size(word)


# --- size ---------------------------------------------------------------------------------


class _SizeWord(NamedTuple):
    """A size= word as written: its size, and where the word begins (for a second one's error)."""

    size: tuple[int, int, int]
    text: str
    position: int


def _size(text: str, value: str, position: int, first: _SizeWord | None) -> _SizeWord:
    """The size that `text` (the whole word or clause ``size=...``, as written at `position` in
    `value`) names. `first` is a size word read before this one, if any: one size a value."""
    if first is not None:
        raise ScheduleError(
            f"is a second size; the value already names {first.text!r} at character "
            f"{first.position + 1}: give one size word",
            value,
            position,
            text,
        )
    at = text.index("=") + 1
    raw = text[at:]
    arg = raw.strip()
    arg_position = position + at + (len(raw) - len(raw.lstrip()))
    example = "like size=1/2/4 (min 1, desired 2, max 4)"
    if not arg:
        raise ScheduleError(
            f"names no size: expected MIN/DESIRED/MAX right after the '=', {example}",
            value,
            position,
            SIZE,
        )
    pieces = arg.split("/")
    if len(pieces) != 3:
        separator = next((c for c in ",-:x " if _numbers_split_by(arg, c)), None)
        hint = f"; separate the numbers with '/', not {separator!r}" if separator else ""
        raise ScheduleError(
            f"is not a size: expected three numbers MIN/DESIRED/MAX, {example}{hint}",
            value,
            arg_position,
            arg,
        )
    numbers: list[int] = []
    offset = 0
    for what, piece in zip(_SIZE_PARTS, pieces, strict=True):
        piece_position = arg_position + offset
        offset += len(piece) + 1
        if not piece:
            raise ScheduleError(
                f"has no {what} size: expected three numbers MIN/DESIRED/MAX, {example}",
                value,
                arg_position,
                arg,
            )
        if not _SIZE_NUMBER.fullmatch(piece):
            raise ScheduleError(
                f"is not a whole number: the {what} size counts instances, 0 or more, written "
                f"in the digits 0-9, {example}",
                value,
                piece_position,
                piece,
            )
        if len(piece.lstrip("0")) > len(str(MAX_SIZE)) or int(piece) > MAX_SIZE:
            raise ScheduleError(
                f"is too large: the {what} size is at most {MAX_SIZE}",
                value,
                piece_position,
                piece,
            )
        numbers.append(int(piece))
    low, desired, high = numbers
    if low > desired or desired > high:
        which = (
            f"the minimum ({low}) is more than the desired size ({desired})"
            if low > desired
            else f"the desired size ({desired}) is more than the maximum ({high})"
        )
        raise ScheduleError(
            f"is not a size: {which}; expected MIN <= DESIRED <= MAX", value, arg_position, arg
        )
    return _SizeWord((low, desired, high), text, position)


def _numbers_split_by(arg: str, separator: str) -> bool:
    """Is `arg` numbers split by `separator` (``1,2,4``, ``1 - 2``): a size with the wrong one?"""
    pieces = [p.strip() for p in arg.split(separator)]
    return len(pieces) > 1 and all(_SIZE_NUMBER.fullmatch(p) for p in pieces)


# --- holidays and closures ----------------------------------------------------------------


def _calendar(code: str, value: str, position: int, catalog: CatalogLike | None) -> Calendar:
    """The calendar that `code` (at `position` in `value`) names: the holidays package's, else
    the catalogue's."""
    if not code:
        raise ScheduleError(
            "names no calendar: expected a country or subdivision code like DE-BY, or a calendar "
            "of the catalogue, right after the '='",
            value,
            position - len(HOLIDAYS),
            HOLIDAYS,
        )
    if "," in code:
        raise ScheduleError(
            "names one calendar a word: for several, repeat the word "
            "(holidays=DE-BY holidays=company-closures)",
            value,
            position,
            code,
        )
    canonical = package_code(code)
    if canonical is not None:
        return Calendar(canonical)
    calendars: list[str] = []
    if catalog is not None:
        try:
            found = catalog.calendar(code)
        except ValueError as exc:  # a calendar that cannot be used, or no catalogue to read
            raise ScheduleError(
                f"names catalogue calendar {code!r}, which is invalid: {exc}",
                value,
                position,
                code,
                "OH-CATALOG-ENTRY-INVALID",
            ) from None
        if found is not None:
            name, dates = found
            return Calendar(name, dates)
        if _is_catalog_schedule(catalog, code):
            raise ScheduleError(
                "names a schedule of the catalogue, not a calendar of closed dates",
                value,
                position,
                code,
            )
        calendars = catalog.calendars()
    raise ScheduleError(
        unknown_reason(code, calendars), value, position, code, "OH-VALUE-HOLIDAYS-UNKNOWN"
    )


def _union(*groups: Iterable[Calendar]) -> tuple[Calendar, ...]:
    """Calendars in the order first named, each once."""
    seen: dict[str, Calendar] = {}
    for group in groups:
        for calendar in group:
            seen.setdefault(calendar.code, calendar)
    return tuple(seen.values())


# --- tokens -------------------------------------------------------------------------------


class _Part(NamedTuple):
    text: str
    position: int
    token_index: int
    raw: str


def _parts(value: str) -> Iterator[_Part]:
    """Whitespace-separated tokens (spaces around '-' and ',' fold away), split on ','."""
    for index, token in enumerate(_TOKEN.finditer(value)):
        raw = token.group(0)
        for part in _PART.finditer(raw):
            text = part.group(0)
            lead = len(text) - len(text.lstrip())
            squeezed = re.sub(r"\s+", "", text)
            if squeezed:
                yield _Part(squeezed, token.start() + part.start() + lead, index, text.strip())
        empty = re.search(r"^,|,\s*(,)|,$", raw)
        if empty is not None:
            pos = token.start() + (empty.start(1) if empty.group(1) else empty.start())
            raise ScheduleError("a list has an empty item", value, pos, raw)


def _named_form(value: str) -> str | None:
    words = value.split()
    if not words or not _NAME.match(words[0]):
        return None
    first = words[0]
    if _day_spec(first) is not None or first.lower() in WORDS or ":" in first:
        return None
    if first.lower() in ("utc", "gmt") or "/" in first:
        return None
    if any(w.lower() not in WORDS and not _is_word_with_argument(w) for w in words[1:]):
        return None
    if any("," in w for w in words[1:] if not _is_word_with_argument(w)):
        return None
    return first


# --- windows ------------------------------------------------------------------------------


def _day_spec(text: str) -> frozenset[int] | None:
    """`Mon` or `Mon-Fri` (wrapping allowed) to weekday numbers; None if not days at all."""
    if not _DAY_SPEC.match(text):
        return None
    names = text.lower().split("-")
    if any(n not in _DAYS for n in names):
        return None
    if len(names) == 1:
        return frozenset({_DAYS[names[0]]})
    first, last = _DAYS[names[0]], _DAYS[names[1]]
    span = (last - first) % 7
    return frozenset((first + k) % 7 for k in range(span + 1))


def _parse_time(text: str, value: str, position: int, *, is_end: bool) -> int:
    match = _TIME.match(text)
    if not match:
        raise ScheduleError("is not a time: expected HH:MM, like 08:00", value, position, text)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59:
        raise ScheduleError("minutes must be 00 to 59", value, position, text)
    if hours > 24 or (hours == 24 and minutes != 0):
        raise ScheduleError(
            "is past the end of the day: the latest time is 24:00", value, position, text
        )
    if hours == 24 and not is_end:
        raise ScheduleError("24:00 can only end a range, not start one", value, position, text)
    return hours * 60 + minutes


def _parse_range(part: _Part, value: str) -> TimeRange:
    text = part.text
    pieces = text.split("-")
    if len(pieces) != 2 or not pieces[0] or not pieces[1]:
        raise ScheduleError(
            "is not a time range: expected start-end, like 08:00-18:00", value, part.position, text
        )
    start = _parse_time(pieces[0], value, part.position, is_end=False)
    after_dash = part.raw[part.raw.index("-") + 1 :]
    end_position = part.position + len(part.raw) - len(after_dash.lstrip())
    end = _parse_time(pieces[1], value, end_position, is_end=True)
    if start == end:
        raise ScheduleError(
            "is a range of zero length: its start and end are the same time",
            value,
            part.position,
            text,
        )
    if end == 0:
        end = 1440
    return TimeRange(start, end)


def _parse_windows(value: str, default_timezone: str, catalog: CatalogLike | None) -> Schedule:
    windows: list[Window] = []
    days: frozenset[int] | None = None
    days_part: _Part | None = None
    days_have_ranges = False
    ranges: list[TimeRange] = []
    zone: str | None = None
    tail: _Part | None = None
    words: set[str] = set()
    calendars: list[Calendar] = []
    holidays_part: _Part | None = None
    size: _SizeWord | None = None

    def close_window() -> None:
        if ranges:
            windows.append(Window(days if days is not None else frozenset(range(7)), tuple(ranges)))
            ranges.clear()

    for part in _parts(value):
        text = part.text
        lowered = text.lower()
        if holidays_part is not None and holidays_part.token_index == part.token_index:
            raise ScheduleError(
                "names one calendar a word: for several, repeat the word "
                "(holidays=DE-BY holidays=company-closures)",
                value,
                holidays_part.position + len(HOLIDAYS),
                holidays_part.raw[len(HOLIDAYS) :].strip() + "," + part.raw,
            )
        if _is_holidays(text):
            code_position = part.position + len(HOLIDAYS)
            calendars.append(_calendar(text[len(HOLIDAYS) :], value, code_position, catalog))
            holidays_part = part
            tail = tail or part
            continue
        if _is_size(text):
            # The whole token as written: a size with ',' in it is one wrong size, not a list.
            whole = _TOKEN.match(value, part.position)
            size = _size(whole.group(0) if whole else part.raw, value, part.position, size)
            tail = tail or part
            continue
        day_set = _day_spec(text)
        if day_set is not None:
            if tail is not None:
                raise ScheduleError(
                    f"days must come before the time zone and words (found after {tail.text!r})",
                    value,
                    part.position,
                    text,
                )
            if days_part is not None and not days_have_ranges:
                if days_part.token_index == part.token_index:
                    days = (days or frozenset()) | day_set
                    continue
                raise ScheduleError(
                    f"follows the days {days_part.text!r} with no time range between them; "
                    "join days with ',' (Mon,Fri) or '-' (Mon-Fri), or give each a range",
                    value,
                    part.position,
                    text,
                )
            close_window()
            days, days_part, days_have_ranges = day_set, part, False
        elif ":" in text or (text[:1].isdigit() and "-" in text):
            if tail is not None:
                raise ScheduleError(
                    f"time ranges must come before the time zone and words "
                    f"(found after {tail.text!r})",
                    value,
                    part.position,
                    text,
                )
            ranges.append(_parse_range(part, value))
            days_have_ranges = True
        elif lowered in WORDS:
            words.add(lowered)
            tail = tail or part
        elif text[:1].isdigit():
            raise ScheduleError(
                "is not a time range: expected HH:MM-HH:MM, like 08:00-18:00",
                value,
                part.position,
                text,
            )
        else:
            try:
                name = resolve_zone(text)
            except UnknownZone as exc:
                if "/" in text or lowered in ("utc", "gmt"):
                    raise ScheduleError(
                        str(exc), value, part.position, text, "OH-VALUE-TIMEZONE"
                    ) from None
                raise ScheduleError(
                    f"is not a day, a time range, a time zone or a word: {_HELP_WINDOW}"
                    + (f" (did you mean {exc.suggestion!r}?)" if exc.suggestion else ""),
                    value,
                    part.position,
                    text,
                ) from None
            if zone is not None:
                raise ScheduleError(
                    f"is a second time zone; the value already names {zone!r}",
                    value,
                    part.position,
                    text,
                )
            zone = name
            tail = tail or part
    if days_part is not None and not days_have_ranges:
        raise ScheduleError(
            "names days but no time range follows them: expected a range like 08:00-18:00",
            value,
            days_part.position,
            days_part.text,
        )
    close_window()
    if not windows:
        raise ScheduleError("has no time range: expected at least one, like 08:00-18:00", value)
    return Schedule(
        text=value,
        timezone=zone or _default_zone(default_timezone, value),
        windows=tuple(windows),
        enforce="enforce" in words,
        hibernate="hibernate" in words,
        holidays=_union(calendars),
        size=size.size if size else None,
    )


def _default_zone(default_timezone: str, value: str) -> str:
    try:
        return resolve_zone(default_timezone)
    except UnknownZone as exc:
        raise ScheduleError(
            f"the deployment's default time zone is invalid: {exc}",
            value,
            code="OH-CONFIG-TIMEZONE",
        ) from None


# --- cron ---------------------------------------------------------------------------------


def _cron_rule(action: Action, expr: str, value: str, position: int) -> CronRule:
    fields = expr.split()
    if not fields:
        raise ScheduleError(f"{action}= has no cron expression", value, position, f"{action}=")
    for field_match in re.finditer(r"\S+", expr):
        if _is_word_with_argument(field_match.group(0)):
            raise ScheduleError(
                "is a clause of its own: put ';' before it", value,
                position + field_match.start(), field_match.group(0),
            )  # fmt: skip
    if len(fields) != 5:
        hint = " (a sixth field would be read as seconds)" if len(fields) == 6 else ""
        raise ScheduleError(
            f"has {len(fields)} field{'s' if len(fields) != 1 else ''}; a cron expression here "
            f"has exactly five: minute hour day-of-month month day-of-week{hint}",
            value,
            position,
            expr,
        )
    if any(f[:1] in "HhRr" for f in fields):
        raise ScheduleError(
            "hashed 'H' and random 'R' fields are not supported", value, position, expr
        )
    try:
        cron = parse_cron(expr)
    except CronError as exc:
        where = position if exc.offset is None else position + exc.offset
        raise ScheduleError(exc.reason, value, where, exc.token or expr) from None
    if not cron.ever_fires:
        raise ScheduleError("never fires: no date matches it", value, position, expr)
    return CronRule(action, " ".join(fields))


def _parse_cron(value: str, default_timezone: str, catalog: CatalogLike | None) -> Schedule:
    rules: list[CronRule] = []
    zone: str | None = None
    words: set[str] = set()
    calendars: list[Calendar] = []
    size: _SizeWord | None = None
    offset = 0
    for clause in value.split(";"):
        start = offset
        offset += len(clause) + 1
        text = clause.strip()
        if not text:
            continue
        position = start + (len(clause) - len(clause.lstrip()))
        if "=" not in text:
            if text.lower() in WORDS:
                words.add(text.lower())
                continue
            raise ScheduleError(
                "is not a clause: expected start=CRON, stop=CRON, tz=ZONE, holidays=CODE, "
                "size=MIN/DESIRED/MAX, 'enforce' or 'hibernate'",
                value,
                position,
                text,
            )
        key, _, arg = text.partition("=")
        key = key.strip().lower()
        arg_raw = arg
        arg = arg.strip()
        arg_position = position + text.index("=") + 1 + (len(arg_raw) - len(arg_raw.lstrip()))
        if key in ("start", "stop"):
            if not arg:
                raise ScheduleError(f"{key}= has no cron expression", value, position, text)
            rules.append(_cron_rule(Action(key), arg, value, arg_position))
        elif key in ("tz", "timezone"):
            if zone is not None:
                raise ScheduleError("tz= is given twice", value, position, text)
            try:
                zone = resolve_zone(arg)
            except UnknownZone as exc:
                raise ScheduleError(
                    str(exc), value, arg_position, arg, "OH-VALUE-TIMEZONE"
                ) from None
        elif key == HOLIDAYS[:-1]:
            if not arg:
                arg_position = position + len(HOLIDAYS)
            calendars.append(_calendar(arg, value, arg_position, catalog))
        elif key == SIZE[:-1]:
            size = _size(text, value, position, size)
        else:
            raise ScheduleError(
                f"unknown clause {key!r}: expected start=, stop=, tz=, holidays= or size=",
                value,
                position,
                text,
            )
    if not rules:
        raise ScheduleError("has no start= or stop= clause: at least one is needed", value)
    return Schedule(
        text=value,
        timezone=zone or _default_zone(default_timezone, value),
        rules=tuple(rules),
        enforce="enforce" in words,
        hibernate="hibernate" in words,
        holidays=_union(calendars),
        size=size.size if size else None,
    )


# --- named --------------------------------------------------------------------------------


def _parse_named(
    value: str, name: str, default_timezone: str, catalog: CatalogLike | None
) -> Schedule:
    position = value.index(name)
    if catalog is None:
        raise ScheduleError(
            "names a schedule, but no catalogue of named schedules is loaded",
            value,
            position,
            name,
            "OH-VALUE-NAME-UNKNOWN",
        )
    try:
        entry = catalog.lookup(name)
    except ValueError as exc:  # an entry of the catalogue that is not a schedule value
        raise ScheduleError(
            f"names catalogue entry {name!r}, which is invalid: {exc}",
            value,
            position,
            name,
            "OH-CATALOG-ENTRY-INVALID",
        ) from None
    if entry is None:
        if _is_catalog_calendar(catalog, name):
            raise ScheduleError(
                f"names a calendar, not a schedule: use it as holidays={name} after a schedule",
                value,
                position,
                name,
                "OH-VALUE-NAME-UNKNOWN",
            )
        known = ", ".join(catalog.names()) or "none"
        raise ScheduleError(
            f"is not a schedule in the catalogue (it has: {known})",
            value,
            position,
            name,
            "OH-VALUE-NAME-UNKNOWN",
        )
    canonical, entry_value, description = entry
    try:
        schedule = _parse(entry_value, default_timezone, catalog, named=False)
    except ScheduleError as exc:
        raise ScheduleError(
            f"names catalogue entry {canonical!r}, which is invalid: {exc}",
            value,
            position,
            name,
            "OH-CATALOG-ENTRY-INVALID",
        ) from None
    words: set[str] = set()
    calendars: list[Calendar] = []
    size: _SizeWord | None = None
    for word in list(re.finditer(r"\S+", value))[1:]:
        text = word.group(0)
        if _is_holidays(text):
            code_position = word.start() + len(HOLIDAYS)
            calendars.append(_calendar(text[len(HOLIDAYS) :], value, code_position, catalog))
        elif _is_size(text):
            size = _size(text, value, word.start(), size)
        else:
            words.add(text.lower())
    return replace(
        schedule,
        text=value,
        name=canonical,
        description=description,
        enforce=schedule.enforce or "enforce" in words,
        hibernate=schedule.hibernate or "hibernate" in words,
        holidays=_union(schedule.holidays, calendars),
        size=size.size if size else schedule.size,  # the tag's size word wins over the entry's
    )


def _is_catalog_calendar(catalog: CatalogLike, name: str) -> bool:
    try:
        return catalog.calendar(name) is not None
    except ValueError:  # a calendar, though one that cannot be used
        return True


def _is_catalog_schedule(catalog: CatalogLike, name: str) -> bool:
    try:
        return catalog.lookup(name) is not None
    except ValueError:  # a schedule entry, though one that cannot be used
        return True
