"""Time zone names to `ZoneInfo`, with tzdata shipped beside the code."""

from __future__ import annotations

from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones


class UnknownZone(ValueError):
    def __init__(self, name: str, suggestion: str | None) -> None:
        self.name = name
        self.suggestion = suggestion
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        super().__init__(
            f"unknown time zone {name!r}: expected an IANA name like Europe/Berlin{hint}"
        )


@cache
def _by_lower_name() -> dict[str, str]:
    """The zones of the shipped tzdata, not host-only files such as `localtime` or `right/UTC`."""
    try:
        names = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    except (ModuleNotFoundError, OSError):
        names = sorted(available_timezones() - {"localtime", "posixrules"})
    return {name.lower(): name for name in names}


@cache
def resolve_zone(name: str) -> str:
    """The canonical spelling of a zone name (case-insensitive); raises `UnknownZone`."""
    if name.upper() in ("UTC", "Z"):
        return "UTC"
    known = _by_lower_name()
    if name.lower() in known:
        return known[name.lower()]
    import difflib  # only for a hint: not on a cold start's path

    close = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.8)
    raise UnknownZone(name, known[close[0]] if close else None)


@cache
def zone(name: str) -> ZoneInfo:
    """The zone's rules from the shipped tzdata package, so that every machine (a laptop, CI,
    the Lambda runtime) reads the same rules; the host's files only if tzdata is missing."""
    canonical = resolve_zone(name)
    parts = canonical.split("/")
    try:
        data = resources.files("tzdata.zoneinfo").joinpath(*parts)
        with data.open("rb") as handle:
            return ZoneInfo.from_file(handle, key=canonical)
    except (ModuleNotFoundError, OSError, ValueError):
        return ZoneInfo(canonical)
