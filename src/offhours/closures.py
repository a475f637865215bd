"""Holidays and closures (DESIGN §7): the dates on which a schedule starts nothing.

A ``holidays=CODE`` word names a calendar of closed dates:

- a country or subdivision code of the `holidays` package (pinned in the requirements): ``DE``,
  ``DE-BY``, ``US-CA``, ``GB-SCT``, any case on input (``de-by``), kept in the package's form. Its
  public holidays are the package's own, with its observed days (``Independence Day
  (observed)``), named in US English where the package has that translation and in the
  package's original names otherwise, whatever the machine's locale;
- or a calendar of the catalogue (`offhours.catalog`): a named list of dates, for company
  closures. A code that the package knows always means the package's calendar.

On a closed date, in the schedule's zone, start events do not happen; stop events still do
(`offhours.timeline` applies the rule). The package is imported when a value first names one of
its codes, not with offhours: its import costs about a tenth of a second, and a cold start is
measured. A code's holidays are computed a year at a time, when a date of that year is asked
about, and kept.
"""

from __future__ import annotations

import re
import threading
import warnings
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

from offhours.schedule import Calendar

# What a code of the package looks like: a country of two or three letters, then an optional
# subdivision. A word of another shape (`company-closures`) never loads the package.
_CODE_SHAPE = re.compile(r"^[A-Za-z]{2,3}(?:-\S+)?$")
# Names come in US English where the package has the translation; a language it does not know
# keeps its original names. Either way, never the machine's locale.
_LANGUAGE = "en_US"
_DAY = timedelta(days=1)


@lru_cache(maxsize=1)
def _package_codes() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Every code the package knows, upper-cased, to its canonical form; and each country's
    subdivisions. (Aliases included: ``DEU`` is ``DE``.)"""
    import holidays

    codes: dict[str, str] = {}
    subdivisions: dict[str, tuple[str, ...]] = {}
    for country, subs in holidays.list_supported_countries(include_aliases=True).items():
        codes[country.upper()] = country
        subdivisions[country.upper()] = tuple(subs)
        for sub in subs:
            codes[f"{country}-{sub}".upper()] = f"{country}-{sub}"
    return codes, subdivisions


def package_code(text: str) -> str | None:
    """The canonical form of a country or subdivision code of the package, or None."""
    if not _CODE_SHAPE.match(text):
        return None
    return _package_codes()[0].get(text.upper())


def unknown_reason(text: str, calendars: Iterable[str]) -> str:
    """Why `text` names no calendar, with a hint: the subdivisions of a known country, or the
    closest code or catalogue calendar."""
    country, dash, _ = text.partition("-")
    codes, subdivisions = _package_codes()
    if dash and _CODE_SHAPE.match(text) and country.upper() in subdivisions:
        known = subdivisions[country.upper()]
        canonical = codes[country.upper()]
        if not known:
            return f"{canonical} has no subdivisions in the holidays package: write {canonical}"
        return (
            f"is not a subdivision of {canonical} in the holidays package "
            f"(it has: {', '.join(known)})"
        )
    reason = (
        "is not a holiday calendar: expected a country or subdivision code of the holidays "
        "package (DE, DE-BY, US-CA, GB-SCT) or the name of a calendar of the catalogue"
    )
    named = _country_names()
    wanted = text.replace(" ", "").replace("_", "").upper()
    if wanted in named and named[wanted] in codes:  # a country's name: its code is meant
        return reason + f" (did you mean {codes[named[wanted]]!r}, the code of {text}?)"
    choices = {code: canonical for code, canonical in codes.items()}
    choices.update({name.upper(): name for name in calendars})
    import difflib  # only for a hint: not on a cold start's path

    close = difflib.get_close_matches(text.upper(), list(choices), n=1, cutoff=0.6)
    return reason + (f" (did you mean {choices[close[0]]!r}?)" if close else "")


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """The holidays package's country names (`Germany`, `UnitedStates`), upper case, to their
    codes: the registry lists them without importing any country."""
    from holidays import registry

    return {entry[0].upper(): entry[1] for entry in registry.COUNTRIES.values()}


_WARNINGS = threading.Lock()  # catch_warnings changes process-wide state


@lru_cache(maxsize=1024)
def _year(code: str, year: int) -> dict[date, str]:
    """A package code's holidays in one year: date to name (several joined with '; ')."""
    import holidays

    country, _, subdiv = code.partition("-")
    # A year outside the package's tables has no holidays, and a warning that says so.
    with _WARNINGS, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = holidays.country_holidays(
            country, subdiv=subdiv or None, years=year, language=_LANGUAGE
        )
        return dict(table)


class _Own:
    """The dates of a schedule's catalogue calendars, indexed once for every value that names
    them: a sorted list to bisect, each date's names, and the first and last date of the run
    of consecutive dates it belongs to (so that a search jumps a run of closed days in one
    step, however long)."""

    __slots__ = ("days", "first", "last", "names")

    def __init__(self, tables: tuple[tuple[tuple[date, str], ...], ...]) -> None:
        names: dict[date, list[str]] = {}
        for table in tables:
            for day, name in table:
                names.setdefault(day, []).append(name)
        self.days = sorted(names)
        self.names = {day: tuple(found) for day, found in names.items()}
        self.first: dict[date, date] = {}
        self.last: dict[date, date] = {}
        begin = 0
        for i, day in enumerate(self.days):
            if i + 1 == len(self.days) or self.days[i + 1] != day + _DAY:
                for member in self.days[begin : i + 1]:
                    self.first[member] = self.days[begin]
                    self.last[member] = day
                begin = i + 1


@lru_cache(maxsize=64)  # the catalogue's calendars are the same tuples for every value
def _own(tables: tuple[tuple[tuple[date, str], ...], ...]) -> _Own:
    return _Own(tables)


class ClosedDates:
    """The closed dates of a schedule's calendars, by local date.

    A question costs the same however many dates a calendar holds: the catalogue's dates are
    indexed once (`_Own`), and a run of consecutive closed dates is crossed in one step
    (`run_last`, `run_first`), whatever its length. A code of the package has a few dozen
    holidays a year, so a run it closes is short.
    """

    def __init__(self, calendars: Iterable[Calendar]) -> None:
        self._codes: list[str] = []
        tables: list[tuple[tuple[date, str], ...]] = []
        for calendar in calendars:
            if calendar.dates is None:
                self._codes.append(calendar.code)
            else:
                tables.append(calendar.dates)
        self._own = _own(tuple(tables))

    def closes(self, day: date) -> bool:
        """Is `day` closed?"""
        if day in self._own.names:
            return True
        return any(day in _year(code, day.year) for code in self._codes)

    def name(self, day: date) -> str | None:
        """What closes `day` (the names of every calendar that closes it), or None."""
        names: list[str] = []
        for code in self._codes:
            found = _year(code, day.year).get(day)
            if found:
                names.append(found)
        names += self._own.names.get(day, ())
        return "; ".join(dict.fromkeys(names)) or None

    def run_last(self, day: date) -> date:
        """The last date of the run of consecutive closed dates that holds `day` (closed)."""
        last = self._own.last
        while True:
            day = last.get(day, day)
            if day == date.max:
                return day
            following = day + _DAY
            if not self.closes(following):
                return day
            day = following

    def run_first(self, day: date) -> date:
        """The first date of the run of consecutive closed dates that holds `day` (closed)."""
        first = self._own.first
        while True:
            day = first.get(day, day)
            if day == date.min:
                return day
            previous = day - _DAY
            if not self.closes(previous):
                return day
            day = previous

    def between(self, first: date, last: date) -> list[tuple[date, str]]:
        """Every closed date from `first` to `last` (both included), in order, with its name."""
        own = self._own.days
        days = set(own[bisect_left(own, first) : bisect_right(own, last)])
        for code in self._codes:
            for year in range(first.year, last.year + 1):
                days.update(day for day in _year(code, year) if first <= day <= last)
        out = []
        for day in sorted(days):
            name = self.name(day)
            assert name is not None
            out.append((day, name))
        return out
