"""What offhours saved: the hours it kept resources stopped, and their price.

A stop that offhours made (or found made at its event) is marked in the state tag with A: the
word `off` (`state.read_off`). The stop's hours are counted once, by the run that moves A
again (the next event, read in full): from the old A to the instant the stop ended, which is

- the new event's instant, where the resource is still stopped then;
- the instant AWS says that someone else started it, where it did (EC2's launch time after A,
  RDS's own start after seven days stopped);
- unknown, where it is running and AWS does not say since when (a database started by a
  person): then nothing is counted. A figure is never guessed.

Counting at the stop's end, not at every run, is what keeps a quiet run free: a run without an
event reads tags only (no instance type, no state), and hours counted then could not be priced
or checked. So a night's hours are counted at the morning's start, a weekend's on Monday; sums
by day and month are whole except for the stops that span their edge.

The price is the resource's on-demand price an hour (`offhours.pricing`): its type, operating
system and tenancy (EC2), its class and engine, twice for Multi-AZ, and the sum of its members
for a cluster (RDS). Storage (EBS volumes, a database's storage) bills while stopped, so it is
in no figure here. A price that cannot be had is unknown (None), never zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from offhours.state import off_since, read_anchor

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Saving:
    """The hours of one stop of one resource, counted when the stop ended, and their price."""

    since: datetime  # offhours' stop (A when it was marked `off`)
    until: datetime  # its end
    hourly_usd: float | None = None  # the resource's price an hour; None: unknown

    @property
    def hours(self) -> float:
        return round((self.until - self.since).total_seconds() / HOUR, 4)

    @property
    def usd(self) -> float | None:
        return None if self.hourly_usd is None else round(self.hours * self.hourly_usd, 6)


def stop_ended(
    handled: str | None,
    new_anchor: datetime | None,
    state: str,
    started: datetime | None,
    created: datetime | None = None,
) -> tuple[datetime, datetime] | None:
    """The stop that a decision ends, as (since, until), or None when it ends none.

    `handled` is the state tag as the run found it (and believed: the caller's check);
    `new_anchor` the A that the decision has written (None: it wrote none); `state` the
    resource's state as read (`running`, `stopped`); `started` when AWS says it was last
    started by anyone (EC2's launch time, the RDS restart after seven days), or None where AWS
    does not say; `created` when the resource came to be, before which no stop of it counts."""
    anchor = read_anchor(handled or "")[0]
    since = off_since(handled)
    if new_anchor is None or anchor is None or since is None or new_anchor <= anchor:
        return None  # no stop recorded, or A did not move: the stop goes on
    if created is not None and since < created <= new_anchor:
        since = created  # (a creation after the stop's end is a clock's error: not believed)
    until = new_anchor
    if started is not None and started > since:
        until = min(until, started)  # someone else started it first
    elif state == "running":
        return None  # running since some time AWS does not give: nothing is counted
    return (since, until) if until > since else None


def people_stop(
    handled: str | None,
    new_anchor: datetime | None,
    state: str,
    stopped_at: datetime | None,
    started: datetime | None,
) -> tuple[datetime, datetime] | None:
    """The hours that people kept the resource stopped, which a decision ends, as (since,
    until): it is stopped, AWS says when it was stopped (`stopped_at`), and that was a person's
    stop, not offhours' (after A with no `off`, or after someone started it during offhours'
    stop); counted up to the new A, as offhours' stops are. None otherwise."""
    anchor = read_anchor(handled or "")[0]
    if new_anchor is None or anchor is None or new_anchor <= anchor:
        return None
    if state != "stopped" or stopped_at is None:
        return None
    floor = anchor
    off = off_since(handled)
    if off is not None:
        if started is None or started <= off:
            return None  # offhours' own stop, all along
        floor = started
    if not floor <= stopped_at < new_anchor:
        return None
    return stopped_at, new_anchor


class Tally:
    """A run's savings by family of resource type (`resources.family`), for the summary line
    and the metrics."""

    def __init__(self) -> None:
        self.hours: defaultdict[str, float] = defaultdict(float)
        self.usd: defaultdict[str, float] = defaultdict(float)
        self.unpriced: Counter[str] = Counter()  # stops whose price is unknown

    def add(self, family: str, saving: Saving) -> None:
        self.hours[family] += saving.hours
        usd = saving.usd
        if usd is None:
            self.unpriced[family] += 1
        else:
            self.usd[family] += usd

    def merge(self, other: Tally) -> None:
        for family, hours in other.hours.items():
            self.hours[family] += hours
        for family, usd in other.usd.items():
            self.usd[family] += usd
        self.unpriced.update(other.unpriced)

    def summary(self) -> dict[str, dict[str, float]]:
        """By family: hours, dollars (of the priced ones) and how many stops had no price."""
        return {
            family: {
                "stopped_hours": round(self.hours[family], 4),
                "saved_usd": round(self.usd[family], 4),
                "unpriced": self.unpriced[family],
            }
            for family in sorted(self.hours)
        }
