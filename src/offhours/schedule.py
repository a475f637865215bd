"""The schedule: what a tag value means, as plain data.

A `Schedule` is what `offhours.language.parse_schedule` makes of a tag value. It holds either
windows (form 1.1 of the design) or cron rules (form 1.2), the time zone that applies, the
words that change behaviour (`enforce`, `hibernate`), the calendars of closed dates on which
it starts nothing (`holidays=`, DESIGN §7) and the size an Auto Scaling group is started to when
its recorded size is lost (`size=`, DESIGN §9). It knows nothing about instants: the time
arithmetic lives in `offhours.timeline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

MINUTES_PER_DAY = 1440
# DESIGN §2: a run acts only at a time this close to the clock, either way (the function, the
# worker and `offhours run --apply`); so a run's time may lag the clock by as much.
MAX_EVENT_SKEW = timedelta(minutes=15)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FULL_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Action(StrEnum):
    """What an event does to an instance."""

    START = "start"
    STOP = "stop"

    @property
    def state(self) -> DesiredState:
        return DesiredState.RUNNING if self is Action.START else DesiredState.STOPPED


class DesiredState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


class ScheduleError(ValueError):
    """A tag value that is not a schedule.

    `reason` says what is wrong in words, `position` is the 0-based index in `value` where the
    trouble starts (or None when it is the value as a whole), `token` the offending piece,
    `code` the troubleshooting code of the kind of trouble (`offhours.codes`).
    """

    def __init__(
        self,
        reason: str,
        value: str,
        position: int | None = None,
        token: str | None = None,
        code: str = "OH-VALUE-INVALID",
    ) -> None:
        self.reason = reason
        self.value = value
        self.position = position
        self.token = token
        self.code = code
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ""
        if self.position is not None:
            where = f" at character {self.position + 1}"
        if self.token is not None:
            return f"{self.token!r}{where}: {self.reason}"
        return f"{self.reason}{where}" if where else self.reason


class TimeRange(NamedTuple):
    """A daily range in minutes after local midnight; `end` is 1..1440 (1440 is `24:00`).

    A range whose end is not after its start crosses midnight into the next day.
    """

    start: int
    end: int

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def length(self) -> int:
        return self.end - self.start if self.end > self.start else self.end + 1440 - self.start

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


class Window(NamedTuple):
    """Ranges that begin on each of `days` (0 = Monday … 6 = Sunday)."""

    days: frozenset[int]
    ranges: tuple[TimeRange, ...]


class CronRule(NamedTuple):
    """A five-field cron expression whose firings are events of one action."""

    action: Action
    expression: str


class Event(NamedTuple):
    """An instant (UTC, aware) at which a schedule starts or stops its instances."""

    action: Action
    at: datetime


class Calendar(NamedTuple):
    """A calendar of closed dates (``holidays=CODE``): on them the schedule starts nothing.

    `code` is a country or subdivision code of the `holidays` package in its canonical form
    (``DE-BY``), whose dates `offhours.closures` computes a year at a time when asked; or the
    name of a calendar of the catalogue, whose `dates` (each with its name) it then carries.
    """

    code: str
    dates: tuple[tuple[date, str], ...] | None = None

    @property
    def from_catalog(self) -> bool:
        return self.dates is not None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed tag value.

    Exactly one of `windows` and `rules` is non-empty. `timezone` is an IANA name, already
    resolved against the deployment's default. `name` is the catalogue entry it came from, if any.
    `holidays` are the calendars whose dates (in `timezone`) start nothing, in the order named.
    `size` is ``size=MIN/DESIRED/MAX`` as (min, desired, max), with min <= desired <= max <=
    10000: the size a group is started to when the size it had at its stop cannot be restored
    (its record lost). None when the value names no size; it means nothing to other kinds.
    """

    text: str
    timezone: str
    windows: tuple[Window, ...] = ()
    rules: tuple[CronRule, ...] = ()
    enforce: bool = False
    hibernate: bool = False
    name: str | None = None
    description: str | None = None
    holidays: tuple[Calendar, ...] = ()
    size: tuple[int, int, int] | None = None

    @property
    def is_cron(self) -> bool:
        return bool(self.rules)


def iso(at: datetime) -> str:
    """An instant as people and scripts read it: UTC, ISO 8601, whole seconds, with a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
