"""The catalogue of named schedules (DESIGN §1.3).

A YAML mapping of names to entries. An entry is either the value itself or a mapping with
``value`` and an optional ``description``::

    office-hours:
      value: Mon-Fri 08:00-18:00
      description: Weekdays, eight to six
    stop-nightly: "stop=0 20 * * *"

An entry with ``dates`` instead of ``value`` is a calendar of closed dates, for company
closures, that a schedule names with ``holidays=NAME`` (DESIGN §7)::

    company-closures:
      dates: [2026-12-24, 2026-12-31]
      description: The office is closed
    plant-shutdown:
      dates: {2026-08-03: Summer shutdown, 2026-08-04: Summer shutdown}

Each date is written ``YYYY-MM-DD``; a list names every date after the calendar, a mapping gives
each date its own name. A calendar is not a schedule: a tag value that names one is invalid. A
calendar named like a country or subdivision code of the holidays package (``can``, ``DE``,
``us-ca``, in any case) would be shadowed, since ``holidays=CODE`` means the package's calendar:
it is an error in the catalogue (a `CatalogError`, below), never silently left unused.

Names are looked up exactly, then without regard to case. Entries are parsed when an instance
uses them, so one bad entry (a schedule, or a calendar with a date that is not one) only
invalidates the instances that name it.

Whoever may write the catalogue parameter changes every named schedule, and a broken document
must not take a run down: a catalogue is bounded (64 KiB of UTF-8, 1,000 entries, names of 128
characters, values of 256 like a tag value, nesting no deeper than an entry needs) and YAML
aliases are refused, so that no document can expand into gigabytes. A document that breaks
these rules, or has a calendar named like a holidays code, is a `CatalogError`: the run treats
named schedules as invalid and handles every other instance.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from offhours.closures import package_code

MAX_CATALOG_BYTES = 64 * 1024
MAX_ENTRIES = 1000
MAX_NAME = 128
MAX_VALUE = 256  # as long as a tag value can be
MAX_DEPTH = 4  # document > entry > its fields > a calendar's dates
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CatalogError(ValueError):
    """A catalogue document that cannot be read."""


class CatalogEntryError(ValueError):
    """An entry of the catalogue that is not a schedule value; only its users are invalid."""


class CatalogEntry(NamedTuple):
    """A named schedule, or (with `dates`, its value empty) a calendar of closed dates."""

    name: str
    value: str
    description: str | None = None
    problem: str | None = None
    dates: tuple[tuple[date, str], ...] | None = None


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...] = ()

    def _find(self, name: str) -> CatalogEntry | None:
        for exact in (True, False):
            for entry in self.entries:
                if entry.name == name if exact else entry.name.lower() == name.lower():
                    return entry
        return None

    def lookup(self, name: str) -> tuple[str, str, str | None] | None:
        """The entry's name, value and description; None when there is no such schedule (a
        calendar is not one). Raises `CatalogEntryError` for an entry that is not a schedule
        value."""
        entry = self._find(name)
        if entry is None or entry.dates is not None:
            return None
        if entry.problem is not None:
            raise CatalogEntryError(entry.problem)
        return entry.name, entry.value, entry.description

    def names(self) -> list[str]:
        """The names of the schedules."""
        return [e.name for e in self.entries if e.dates is None]

    def calendar(self, name: str) -> tuple[str, tuple[tuple[date, str], ...]] | None:
        """The calendar's name and its dates, each with its name; None when there is no such
        calendar (a schedule is not one). Raises `CatalogEntryError` for a calendar whose dates
        cannot be read, or an entry that is neither a schedule nor a calendar."""
        entry = self._find(name)
        if entry is None:
            return None
        if entry.problem is not None:
            raise CatalogEntryError(entry.problem)
        if entry.dates is None:
            return None
        return entry.name, entry.dates

    def calendars(self) -> list[str]:
        """The names of the calendars."""
        return [e.name for e in self.entries if e.dates is not None]


@lru_cache(maxsize=1)
def _loader() -> Any:
    """PyYAML's base loader (every value a string: no dates, numbers or tags to construct, so
    no value can fail to construct), without aliases, and with a bound on nesting. PyYAML is
    imported when a catalogue is first read, not with offhours."""
    import yaml
    from yaml.composer import ComposerError

    class BoundedLoader(yaml.BaseLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise ComposerError(
                    None, None, "aliases (*name) are not allowed in a catalogue", event.start_mark
                )
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                    raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return yaml, BoundedLoader


@lru_cache(maxsize=8)
def parse_catalog(text: str, source: str = "catalogue") -> Catalog:
    """A catalogue document; the same text (every run of a warm function) is parsed once."""
    if len(text.encode("utf-8", errors="replace")) > MAX_CATALOG_BYTES:
        raise CatalogError(f"{source} is larger than {MAX_CATALOG_BYTES // 1024} KiB")
    yaml, loader = _loader()
    try:
        document = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source} is not a usable YAML document: {exc}") from None
    except RecursionError:
        raise CatalogError(f"{source} is nested too deeply") from None
    if document is None:
        return Catalog()
    if not isinstance(document, dict):
        raise CatalogError(f"{source} must be a mapping of names to schedules")
    if len(document) > MAX_ENTRIES:
        raise CatalogError(f"{source} has {len(document)} entries; at most {MAX_ENTRIES}")
    entries = []
    for name, body in document.items():
        if len(str(name)) > MAX_NAME:
            entries.append(
                CatalogEntry(
                    str(name)[:MAX_NAME], "", problem=f"a name is at most {MAX_NAME} characters"
                )
            )
        elif (isinstance(body, str) and len(body) > MAX_VALUE) or (
            isinstance(body, dict) and len(str(body.get("value", ""))) > MAX_VALUE
        ):
            entries.append(
                CatalogEntry(
                    str(name), "", problem=f"a value is at most {MAX_VALUE} characters, as a tag's"
                )
            )
        elif isinstance(body, str):
            entries.append(CatalogEntry(str(name), body))
        elif isinstance(body, dict) and "dates" in body and "value" not in body:
            entries.append(_calendar_entry(str(name), body))
        elif isinstance(body, dict) and isinstance(body.get("value"), str) and "dates" not in body:
            description = body.get("description")
            entries.append(
                CatalogEntry(str(name), body["value"], str(description) if description else None)
            )
        else:
            entries.append(
                CatalogEntry(
                    str(name),
                    "",
                    problem="the entry must be a schedule value, a mapping with 'value', or a "
                    "calendar: a mapping with 'dates'",
                )
            )
    shadowed = _shadowed_calendar(entries)
    if shadowed is not None:
        raise CatalogError(f"{source}: {shadowed}")
    return Catalog(tuple(entries))


def _shadowed_calendar(entries: list[CatalogEntry]) -> str | None:
    """Why a calendar of the catalogue cannot be used: its name is a code of the holidays
    package, which ``holidays=NAME`` means first (DESIGN §7); None when no calendar is so named.
    Only a name shaped like a code (``can``, ``us-ca``) loads the package's list of codes."""
    for entry in entries:
        if entry.dates is None:
            continue
        code = package_code(entry.name)
        if code is not None:
            return (
                f"the calendar {entry.name!r} has the name of the holidays code {code} "
                f"({_code_place(code)}); rename it"
            )
    return None


def _code_place(code: str) -> str:
    """What a code of the holidays package stands for: ``Canada``, ``United States,
    subdivision CA``."""
    country, _, subdivision = code.partition("-")
    try:
        from holidays import registry

        found = [key for key, names in registry.COUNTRIES.items() if country.upper() in names[1:]]
    except (ImportError, AttributeError):  # a name for a message only: the code will do
        found = []
    small = {"and", "da", "of", "the"}
    place = (
        " ".join(w if w in small else w.capitalize() for w in found[0].split("_"))
        if found
        else country.upper()
    )
    return f"{place}, subdivision {subdivision}" if subdivision else place


def _calendar_entry(name: str, body: dict[str, Any]) -> CatalogEntry:
    """A calendar: its dates as a list (each named after the calendar) or a mapping of date to
    name. A date that is not one makes the whole calendar unusable, for its users only."""
    description = body.get("description")
    described = str(description) if isinstance(description, str) and description else None
    raw = body["dates"]
    if isinstance(raw, list):
        pairs: list[tuple[Any, Any]] = [(item, name) for item in raw]
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        pairs = []
    dates: list[tuple[date, str]] = []
    problem = None
    if not isinstance(raw, list | dict):
        problem = "'dates' must be a list of dates (YYYY-MM-DD) or a mapping of date to name"
    for item, label in pairs:
        if not isinstance(item, str) or not isinstance(label, str):
            problem = f"{_shown(item)} in 'dates' is not a date: expected YYYY-MM-DD"
            break
        if len(label) > MAX_VALUE:
            problem = f"the name of {item} is longer than {MAX_VALUE} characters"
            break
        try:
            if not _DATE.match(item):
                raise ValueError
            day = date.fromisoformat(item)
        except ValueError:
            problem = (
                f"{_shown(item)} in 'dates' is not a date: expected YYYY-MM-DD, like 2026-12-24"
            )
            break
        dates.append((day, label.strip() or name))
    return CatalogEntry(
        name, "", described, problem, tuple(sorted(dict(dates).items())) if problem is None else ()
    )


def _shown(item: Any) -> str:
    text = item if isinstance(item, str) else type(item).__name__
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


class CatalogUnavailable(ValueError):
    """The catalogue could not be read: named schedules are invalid for this run only."""


class LazyCatalog:
    """A catalogue read when a value first names a schedule, not before: a run whose values
    are all windows and cron never fetches or parses it (nor imports PyYAML). If it cannot be
    read, `error` says why, `on_error` hears it once, and every lookup raises
    `CatalogUnavailable`; the planner keeps the state tags of the instances that name it."""

    def __init__(self, load: Callable[[], Catalog], on_error: Callable[[str], None]) -> None:
        self._load = load
        self._on_error = on_error
        self._catalog: Catalog | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def _get(self) -> Catalog:
        with self._lock:
            if self._catalog is None and self.error is None:
                try:
                    self._catalog = self._load()
                except Exception as exc:  # any failure of the parameter, the file, the text
                    self.error = str(exc) or type(exc).__name__
                    self._on_error(self.error)
            if self.error is not None or self._catalog is None:
                raise CatalogUnavailable(
                    f"the catalogue of named schedules cannot be read: {self.error}"
                )
            return self._catalog

    def lookup(self, name: str) -> tuple[str, str, str | None] | None:
        return self._get().lookup(name)

    def names(self) -> list[str]:
        return self._get().names()

    def calendar(self, name: str) -> tuple[str, tuple[tuple[date, str], ...]] | None:
        return self._get().calendar(name)

    def calendars(self) -> list[str]:
        return self._get().calendars()


def load_catalog(path: str | Path) -> Catalog:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CATALOG_BYTES + 1)
    except OSError as exc:
        raise CatalogError(f"cannot read catalogue {str(path)!r}: {exc.strerror}") from None
    if len(data) > MAX_CATALOG_BYTES:
        raise CatalogError(
            f"catalogue {str(path)!r} is larger than {MAX_CATALOG_BYTES // 1024} KiB"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(
            f"catalogue {str(path)!r} is not UTF-8 text (byte {exc.start + 1} cannot be read)"
        ) from None
    return parse_catalog(text, source=str(path))


def default_catalog_text() -> str:
    return resources.files("offhours").joinpath("catalog.yaml").read_text(encoding="utf-8")


def default_catalog() -> Catalog:
    """The catalogue that ships with offhours."""
    return parse_catalog(default_catalog_text(), source="the built-in catalogue")
