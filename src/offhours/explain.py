"""A schedule for people: in words, a week at a glance, and the share of hours it runs."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from offhours.cron import DAY, MINUTE, MONTH, WEEKDAY, Cron, Item, item_values, parse_cron
from offhours.schedule import (
    DAY_NAMES,
    FULL_DAY_NAMES,
    Calendar,
    DesiredState,
    Event,
    Schedule,
    TimeRange,
    Window,
)
from offhours.timeline import timeline, to_instant, to_wall
from offhours.zones import zone


def local_text(at: datetime, tz_name: str) -> str:
    local = at.astimezone(zone(tz_name))
    return f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()}"


def _days_phrase(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "every day"
    ordered = sorted(days)
    # A run of consecutive days, possibly wrapping over the week's end.
    for first in ordered:
        run = [(first + k) % 7 for k in range(len(days))]
        if set(run) == days and len(days) > 2:
            return f"{FULL_DAY_NAMES[run[0]]} to {FULL_DAY_NAMES[run[-1]]}"
    names = [FULL_DAY_NAMES[d] for d in ordered]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _range_phrase(r: TimeRange) -> str:
    text = str(r)
    return f"{text} (to the next day)" if r.crosses_midnight and r.end != 1440 else text


def _window_phrase(w: Window) -> str:
    return f"{_days_phrase(w.days)} {', '.join(_range_phrase(r) for r in w.ranges)}"


def describe(schedule: Schedule) -> str:
    """The schedule in one sentence."""
    if schedule.is_cron:
        parts = [
            f"{rule.action.value}s {cron_phrase(parse_cron(rule.expression))} "
            f"(cron '{rule.expression}')"
            for rule in schedule.rules
        ]
        text = "; ".join(parts)
        if not any(r.action.value == "start" for r in schedule.rules):
            text += "; never starts instances (people do)"
        if not any(r.action.value == "stop" for r in schedule.rules):
            text += "; never stops instances (people do)"
    elif timeline(schedule).always_running:
        text = "runs all the time"
    else:
        text = "runs " + "; ".join(_window_phrase(w) for w in schedule.windows)
    text += f", {schedule.timezone} time"
    if schedule.holidays:
        text += "; no start on " + _join([_calendar_phrase(c) for c in schedule.holidays], "or")
    if schedule.enforce:
        text += "; enforced at every run, overriding manual changes"
    if schedule.hibernate:
        text += "; hibernates instead of stopping where the instance allows it"
    if schedule.size is not None:
        low, desired, high = schedule.size
        text += (
            f"; a group starts to min {low}, desired {desired}, max {high} when its recorded "
            "size is lost"
        )
    if schedule.name:
        text = (
            f"named schedule '{schedule.name}'"
            + (f" ({schedule.description})" if schedule.description else "")
            + ": "
            + text
        )
    return text


def _calendar_phrase(calendar: Calendar) -> str:
    return f"{calendar.code} dates" if calendar.from_catalog else f"{calendar.code} holidays"


def day_text(day: date) -> str:
    """A date as people read it: ``Fri 25 Dec 2026``."""
    return f"{DAY_NAMES[day.weekday()]} {day.day} {MONTH_FULL[day.month - 1][:3]} {day.year}"


# --- cron in words ------------------------------------------------------------------------

MONTH_FULL = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
WEEKDAY_FULL = ("Sunday", *FULL_DAY_NAMES[:6])  # cron counts from Sunday = 0
ORDINAL_WORDS = ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def cron_phrase(cron: Cron) -> str:
    """A cron expression in words, as crontab reads it: ``8 1 28 * 4#2`` is "at 01:08 on the
    28th, and on the second Thursday"; ``49 0 */3 6 6`` is "at 00:49 on every third day of the
    month, if it is a Saturday, in June"."""
    words = _times_phrase(cron)
    days = _days_phrase_cron(cron)
    if days:
        words += f" on {days}"
    if len(cron.months) < 12:
        words += f", in {_join([_month_range(i) for i in cron.items[MONTH]], 'and')}"
    return words


def _join(parts: list[str], word: str) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _every(step: int) -> str:
    return "every" if step == 1 else f"every {ORDINAL_WORDS[step] if step < 9 else _ordinal(step)}"


def _runs(values: tuple[int, ...]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and runs[-1][1] == v - 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _times_phrase(cron: Cron) -> str:
    minutes, hours = cron.minutes, cron.hours
    if len(minutes) * len(hours) <= 4:
        return "at " + _join([f"{h:02d}:{m:02d}" for h in hours for m in minutes], "and")
    if len(minutes) == 60:
        words = "every minute"
    elif len(cron.items[MINUTE]) == 1 and cron.items[MINUTE][0].star:
        words = f"every {cron.items[MINUTE][0].step} minutes"
    else:
        words = "at minute" + ("s " if len(minutes) > 1 else " ")
        words += (
            _join([str(m) for m in minutes], "and")
            if len(minutes) <= 6
            else (",".join(_item_text(i) for i in cron.items[MINUTE]))
        )
    if len(hours) == 24:
        return words + ("" if words.startswith("every") else " of every hour")
    runs = _runs(hours)
    if len(runs) <= 3:
        spans = [f"from {a:02d}:00 to {b:02d}:59" for a, b in runs]
        return f"{words} {_join(spans, 'and')}"
    return f"{words} in the hours " + _join([f"{h:02d}" for h in hours], "and")


def _item_text(item: Item) -> str:
    if item.star:
        return "*" if item.step == 1 else f"*/{item.step}"
    text = str(item.low) if item.low == item.high else f"{item.low}-{item.high}"
    return text + (f"/{item.step}" if item.step > 1 else "")


def _days_phrase_cron(cron: Cron) -> str:
    by_date = [_date_item(i) for i in cron.items[DAY]]
    by_weekday = _weekday_items(cron.items[WEEKDAY])
    date_every = len(cron.days) == 31
    weekday_every = len(cron.weekdays) == 7
    if cron.day_or:
        if date_every or weekday_every:
            return ""
        return f"{_join(by_date, 'and')}, and on {_join(_plural(by_weekday), 'and')}"
    if date_every and weekday_every:
        return ""
    if weekday_every:
        return _join(by_date, "and")
    if date_every:
        return _join(_plural(by_weekday), "and")
    return f"{_join(by_date, 'and')}, if it is {_join(_with_article(by_weekday), 'or')}"


def _plural(phrases: list[str]) -> list[str]:
    return [f"{p}s" if p in WEEKDAY_FULL else p for p in phrases]


def _with_article(phrases: list[str]) -> list[str]:
    return [p if p.startswith("the ") else f"a {p}" for p in phrases]


def _date_item(item: Item) -> str:
    if item.last:
        return "the last day of the month"
    if item.star:
        return "every day" if item.step == 1 else f"{_every(item.step)} day of the month"
    if item.low == item.high:
        return f"the {_ordinal(item.low)}"
    if item.open_end:
        return f"{_every(item.step)} day from the {_ordinal(item.low)}"
    span = f"the {_ordinal(item.low)} to the {_ordinal(item.high)}"
    return span if item.step == 1 else f"{_every(item.step)} day from {span}"


def _weekday_items(items: tuple[Item, ...]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item.nth:
            out.append(f"the {ORDINAL_WORDS[item.nth]} {WEEKDAY_FULL[item.low % 7]}")
        elif _plain_range(item):
            out.append(f"{WEEKDAY_FULL[item.low % 7]} to {WEEKDAY_FULL[item.high % 7]}")
        else:
            out += [WEEKDAY_FULL[d] for d in sorted({v % 7 for v in item_values(WEEKDAY, item)})]
    return out


def _month_range(item: Item) -> str:
    if _plain_range(item):
        return f"{MONTH_FULL[item.low - 1]} to {MONTH_FULL[item.high - 1]}"
    return _join([MONTH_FULL[m - 1] for m in item_values(MONTH, item)], "and")


def _plain_range(item: Item) -> bool:
    """`a-b` as written: no step, not `*`, ends not equal."""
    return item.step == 1 and not item.star and not item.open_end and item.low != item.high


@dataclass(frozen=True)
class Week:
    """One local week of a schedule: Monday 00:00 to the next Monday 00:00 in its zone."""

    start: datetime
    end: datetime
    rows: tuple[str, ...]
    running_hours: float | None

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def share(self) -> float | None:
        return None if self.running_hours is None else self.running_hours / self.hours


FULL, PART, EMPTY, UNKNOWN = "█", "▒", "·", "?"


def week_at_a_glance(schedule: Schedule, at: datetime) -> Week:
    """The local week that holds `at`: a row per weekday, a cell per hour."""
    tl = timeline(schedule)
    tz = zone(schedule.timezone)
    wall = to_wall(at, tz)
    monday = datetime.combine(wall.date() - timedelta(days=wall.weekday()), datetime.min.time())
    start = to_instant(monday, tz)
    end = to_instant(monday + timedelta(days=7), tz)
    initial = tl.desired_state(start)
    events = tl.changes_between(start, end)
    times = [e.at for e in events]

    def state(t: datetime) -> DesiredState | None:
        i = bisect_right(times, t)
        return events[i - 1].action.state if i else initial

    rows = []
    for day in range(7):
        cells = []
        for hour in range(24):
            base = monday + timedelta(days=day, hours=hour)
            samples = [state(to_instant(base + timedelta(minutes=m), tz)) for m in (0, 15, 30, 45)]
            if any(s is None for s in samples):
                cells.append(UNKNOWN)
            elif all(s is DesiredState.RUNNING for s in samples):
                cells.append(FULL)
            elif any(s is DesiredState.RUNNING for s in samples):
                cells.append(PART)
            else:
                cells.append(EMPTY)
        rows.append("".join(cells))
    return Week(start, end, tuple(rows), _running_hours(initial, events, start, end))


def _running_hours(
    initial: DesiredState | None, events: list[Event], start: datetime, end: datetime
) -> float | None:
    if initial is None and not events:
        return None
    total = timedelta()
    state, since = initial, start
    for event in events:
        if state is DesiredState.RUNNING:
            total += event.at - since
        state, since = event.action.state, event.at
    if state is DesiredState.RUNNING:
        total += end - since
    return total.total_seconds() / 3600
