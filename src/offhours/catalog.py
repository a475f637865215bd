"""The catalogue of named schedules (DESIGN §1.3).

A YAML mapping of names to entries. An entry is either the value itself or a mapping with
``value`` and an optional ``description``::

    office-hours:
      value: Mon-Fri 08:00-18:00
      description: Weekdays, eight to six
    stop-nightly: "stop=0 20 * * *"

Names are looked up exactly, then without regard to case. Entries are parsed when an instance
uses them, so one bad entry only invalidates the instances that name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml


class CatalogError(ValueError):
    """A catalogue document that cannot be read."""


class CatalogEntryError(ValueError):
    """An entry of the catalogue that is not a schedule value; only its users are invalid."""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    name: str
    value: str
    description: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...] = ()

    def lookup(self, name: str) -> tuple[str, str, str | None] | None:
        """The entry's name, value and description; None when there is no such entry.
        Raises `CatalogEntryError` for an entry that is not a schedule value."""
        for exact in (True, False):
            for entry in self.entries:
                if entry.name == name if exact else entry.name.lower() == name.lower():
                    if entry.problem is not None:
                        raise CatalogEntryError(entry.problem)
                    return entry.name, entry.value, entry.description
        return None

    def names(self) -> list[str]:
        return [e.name for e in self.entries]


@lru_cache(maxsize=8)
def parse_catalog(text: str, source: str = "catalogue") -> Catalog:
    """A catalogue document; the same text (every run of a warm function) is parsed once."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source} is not valid YAML: {exc}") from None
    if document is None:
        return Catalog()
    if not isinstance(document, dict):
        raise CatalogError(f"{source} must be a mapping of names to schedules")
    entries = []
    for name, body in document.items():
        if isinstance(body, str):
            entries.append(CatalogEntry(str(name), body))
        elif isinstance(body, dict) and isinstance(body.get("value"), str):
            description = body.get("description")
            entries.append(
                CatalogEntry(str(name), body["value"], str(description) if description else None)
            )
        else:
            entries.append(
                CatalogEntry(
                    str(name),
                    "",
                    problem="the entry must be a schedule value or a mapping with 'value'",
                )
            )
    return Catalog(tuple(entries))


def load_catalog(path: str | Path) -> Catalog:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read catalogue {str(path)!r}: {exc.strerror}") from None
    return parse_catalog(text, source=str(path))


def default_catalog_text() -> str:
    return resources.files("offhours").joinpath("catalog.yaml").read_text(encoding="utf-8")


def default_catalog() -> Catalog:
    """The catalogue that ships with offhours."""
    return parse_catalog(default_catalog_text(), source="the built-in catalogue")
