"""`offhours report`: the hours and dollars offhours saved over a period, per instance or
database, read from offhours' own decision lines (issue 19).

The decision that counts a stop's hours carries `stopped_hours`, `stopped_from`,
`stopped_until`, `hourly_usd` and `saved_usd` (the savings contract). The report reads those
lines, from the stack's log group through Logs Insights or from a file of exported lines, and
adds them up per resource (account, region, id):

- a stop belongs to the period in which it ended (`since < stopped_until <= until`); the part
  of it before `since` is cut off, and its dollars in proportion;
- a stop counts once: lines of the same resource with the same `stopped_from` and
  `stopped_until` are one stop (an export read twice, an answer split in two);
- the price per hour is the last one seen (by `stopped_until`); the dollars saved are unknown
  (None, never 0) when any counted hour has no price, and the priced part is kept apart;
- hours stopped by people are the sum of `people_stopped_hours` where a line carries it, 0
  where none does (the report says so);
- hours running are the period's hours, for every resource, minus both (never below 0): a
  resource made or deleted within the period shows as running the hours it did not exist, and
  a stop still under way at `until` is counted in the period in which it ends.

The dashboard sums the same lines' `saved_usd` by the time they were logged: the two agree,
within rounding, except for the stops that straddle `--since` (which the report cuts).
Storage (EBS volumes, RDS storage) bills while stopped and is in neither.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from xml.sax.saxutils import escape as xml_escape

from offhours.cli import EARLIEST, EXIT_AWS, UsageError, escaped
from offhours.schedule import iso

# Logs Insights answers at most this many rows per query: an answer that long may have been
# cut, and the report asks again for each half of the time range.
MAX_ROWS = 10_000
QUERY_TIMEOUT = 300.0  # seconds to wait for one query to complete
POLL_SECONDS = 1.0
# A stop's line is written by the run that sees it end, which can be days after its end (an
# instance started by hand on Saturday is seen at Monday's start; an RDS database that AWS
# restarts after seven days, at the next event): lines are read up to this long after --until.
LATE = timedelta(days=8)
TOP = 20  # bars in the chart
HOUR = timedelta(hours=1)
QUERY = (
    "fields @timestamp, @message\n"
    '| filter kind = "decision" and (ispresent(stopped_hours) or '
    "ispresent(people_stopped_hours))\n"
    "| sort @timestamp asc\n"
    "| limit {limit}"
)
STOP_FIELDS = frozenset({"stopped_hours", "people_stopped_hours"})
_RELATIVE = re.compile(r"^\s*(\d{1,7})\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class QueryError(Exception):
    """Logs Insights could not answer (failed, cancelled, timed out): exit 1."""


# --- the period -----------------------------------------------------------------------------


def parse_when(text: str, option: str, now: datetime) -> datetime:
    """`30d`, `12h`, `2w` (that long before now) or an ISO 8601 date or time (UTC when it
    names no offset; a date alone is its midnight, UTC)."""
    match = _RELATIVE.match(text)
    if match:
        try:
            return now - int(match[1]) * _UNITS[match[2].lower()]
        except OverflowError:
            return EARLIEST - timedelta(days=1)  # refused by `period` as too early
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text[:60]!r} is not a time: give 30d, 12h, 2w (before now) or an ISO "
            "date or time, like 2026-03-01 or 2026-03-01T08:00:00Z"
        ) from None
    try:
        return (at.replace(tzinfo=UTC) if at.tzinfo is None else at).astimezone(UTC)
    except OverflowError:
        return EARLIEST - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime

    @property
    def hours(self) -> float:
        return (self.until - self.since) / HOUR


def period(since: str, until: str | None, now: datetime) -> Period:
    start = parse_when(since, "--since", now)
    end = parse_when(until, "--until", now) if until else now
    if start < EARLIEST:
        raise UsageError(f"--since {since[:60]!r} is before {EARLIEST.year}")
    if end > now:
        raise UsageError(f"--until {until!r} is in the future: the report counts what happened")
    if start >= end:
        raise UsageError(f"--since ({iso(start)}) must be before --until ({iso(end)})")
    return Period(start, end)


# --- reading lines --------------------------------------------------------------------------


def decision_of(text: str) -> dict[str, Any] | None:
    """The decision record in one line of text: a JSON line as the function writes it, a line
    of a CloudWatch Logs export (`2026-03-24T08:00:05.123Z {...}`), of `sam logs` or `aws logs
    tail` (stream and time before the JSON), or a JSON object whose `@message` or `message` is
    the line. None for anything else."""
    text = text.strip()
    start = text.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(text[start:])
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if value.get("kind") != "decision":
        inner = value.get("@message", value.get("message"))
        if isinstance(inner, str) and inner.lstrip().startswith("{"):
            return decision_of(inner)
        return None
    return value


@dataclass
class Reading:
    """What a source gave: the decision records, and how many lines were not one."""

    records: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0
    skipped: int = 0  # not a decision line that counts hours
    warnings: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.read += 1
        record = decision_of(text)
        if record is None or not STOP_FIELDS.intersection(record):
            self.skipped += 1
        else:
            self.records.append(record)


def read_lines(lines: Iterable[str]) -> Reading:
    reading = Reading()
    for line in lines:
        if line.strip():
            reading.add(line)
    return reading


def read_file(path: str, stdin: TextIO) -> Reading:
    if path == "-":
        return read_lines(stdin)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return read_lines(handle)
    except OSError as exc:
        raise UsageError(f"--file {path!r}: {exc.strerror or exc}") from None


# --- Logs Insights --------------------------------------------------------------------------


def _query_once(client: Any, group: str, start: int, end: int) -> list[dict[str, str]]:
    """One Logs Insights query over [start, end] (epoch seconds, both included): its rows, as
    {field: value}, once the query is complete."""
    query_id = client.start_query(
        logGroupName=group,
        startTime=start,
        endTime=end,
        queryString=QUERY.format(limit=MAX_ROWS),
    )["queryId"]
    deadline = time.monotonic() + QUERY_TIMEOUT
    while True:
        answer = client.get_query_results(queryId=query_id)
        status = answer.get("status")
        if status == "Complete":
            return [
                {cell["field"]: cell.get("value", "") for cell in row}
                for row in answer.get("results", [])
            ]
        if status not in ("Scheduled", "Running"):
            raise QueryError(
                f"the Logs Insights query of {group} ended {status or 'without a status'}"
            )
        if time.monotonic() >= deadline:
            with contextlib.suppress(Exception):  # best effort: it stops by itself in the end
                client.stop_query(queryId=query_id)
            raise QueryError(
                f"the Logs Insights query of {group} did not complete in {QUERY_TIMEOUT:g} s; "
                "give a shorter --since"
            )
        time.sleep(POLL_SECONDS)


def query_rows(
    client: Any, group: str, start: int, end: int, warnings: list[str]
) -> Iterator[dict[str, str]]:
    """The rows of [start, end], asking again for each half while an answer is as long as
    Insights allows (it may have been cut). The halves share their middle second, so a row
    may come twice: callers drop repeats by `@ptr`."""
    rows = _query_once(client, group, start, end)
    if len(rows) < MAX_ROWS:
        yield from rows
        return
    if end - start < 2:
        warnings.append(
            f"{len(rows)} lines in {group} within the second of {iso(_at(start))}: Logs "
            "Insights answered no more, some stops may be missing"
        )
        yield from rows
        return
    middle = (start + end) // 2
    yield from query_rows(client, group, start, middle, warnings)
    yield from query_rows(client, group, middle, end, warnings)


def read_insights(client: Any, group: str, span: Period, now: datetime) -> Reading:
    """The decision lines of `group` logged from `span.since` to `LATE` after `span.until`
    (not beyond now)."""
    reading = Reading()
    last = min(span.until + LATE, max(now, span.until))
    start, end = math.floor(span.since.timestamp()), math.ceil(last.timestamp())
    seen: set[str] = set()
    for row in query_rows(client, group, start, end, reading.warnings):
        pointer = row.get("@ptr")
        if pointer:
            if pointer in seen:
                continue
            seen.add(pointer)
        reading.add(row.get("@message", ""))
    return reading


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --- adding up ------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A finite, non-negative number, else None (bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class Stop:
    """One stop's figures, cut to the period."""

    key: tuple[str, str, str]  # account, region, resource id
    name: str
    resource_type: str
    until: datetime
    hours: float
    people_hours: float
    hourly_usd: float | None
    saved_usd: float | None  # None: no price


def stop_of(record: dict[str, Any], span: Period) -> Stop | str | None:
    """The stop a decision line counts, cut to `span`; None when it ended outside the period;
    a reason (str) when the line cannot be read."""
    until = _instant(record.get("stopped_until"))
    hours = _number(record.get("stopped_hours"))
    people = _number(record.get("people_stopped_hours"))
    resource = record.get("instance_id")
    if not isinstance(resource, str) or not resource:
        return "no instance_id"
    if until is None:
        return "no readable stopped_until"
    if hours is None and people is None:
        return "no stopped_hours"
    if not span.since < until <= span.until:
        return None
    hours = hours or 0.0
    price = _number(record.get("hourly_usd"))
    saved = _number(record.get("saved_usd"))
    if saved is None and price is not None:
        saved = hours * price
    begun = _instant(record.get("stopped_from")) or until - hours * HOUR
    if begun < span.since and hours > 0:
        kept = max(0.0, (until - span.since) / HOUR)
        share = min(1.0, kept / hours)
        hours = hours * share
        saved = saved * share if saved is not None else None
    return Stop(
        key=(str(record.get("account") or ""), str(record.get("region") or ""), resource),
        name=str(record.get("instance_name") or ""),
        resource_type=str(record.get("resource_type") or ""),
        until=until,
        hours=hours,
        people_hours=people or 0.0,
        hourly_usd=price,
        saved_usd=saved,
    )


@dataclass
class Row:
    resource_id: str
    name: str
    resource_type: str
    region: str
    account: str
    stopped_hours: float = 0.0
    people_hours: float = 0.0
    running_hours: float = 0.0
    hourly_usd: float | None = None
    saved_usd_priced: float = 0.0
    unpriced_hours: float = 0.0
    stops: int = 0

    @property
    def saved_usd(self) -> float | None:
        """Dollars saved; None when some counted hour has no price (never 0 for unknown)."""
        return None if self.unpriced_hours > 0 else self.saved_usd_priced


@dataclass
class Report:
    span: Period
    source: str
    rows: list[Row]
    totals: Row
    people_seen: bool  # whether any line carried people_stopped_hours
    lines: dict[str, int]
    warnings: list[str]


def aggregate(reading: Reading, span: Period, source: str) -> Report:
    """Per-resource rows (sorted by dollars saved, the priced part where some price is
    unknown, then by hours) and their totals."""
    stops: dict[tuple[str, str, str, str, str], Stop] = {}
    counts = {"read": reading.read, "skipped": reading.skipped, "outside": 0}
    counts |= {"duplicates": 0, "unreadable": 0, "counted": 0}
    warnings = list(reading.warnings)
    people_seen = False
    for record in reading.records:
        stop = stop_of(record, span)
        if stop is None:
            counts["outside"] += 1
            continue
        if isinstance(stop, str):
            counts["unreadable"] += 1
            continue
        people_seen = people_seen or "people_stopped_hours" in record
        ident = (*stop.key, str(record.get("stopped_from")), str(record.get("stopped_until")))
        if ident in stops:
            counts["duplicates"] += 1
            continue
        stops[ident] = stop
    if counts["unreadable"]:
        warnings.append(
            f"{counts['unreadable']} decision lines with stop hours could not be read "
            "(no resource id, no stopped_until, or no number of hours) and are not counted"
        )
    rows: dict[tuple[str, str, str], Row] = {}
    for stop in sorted(stops.values(), key=lambda s: s.until):
        account, region, resource = stop.key
        row = rows.get(stop.key)
        if row is None:
            row = rows[stop.key] = Row(resource, "", "", region, account)
        row.name = stop.name or row.name
        row.resource_type = stop.resource_type or row.resource_type
        row.stopped_hours += stop.hours
        row.people_hours += stop.people_hours
        row.stops += 1
        if stop.hourly_usd is not None:
            row.hourly_usd = stop.hourly_usd
        if stop.saved_usd is None:
            row.unpriced_hours += stop.hours
        else:
            row.saved_usd_priced += stop.saved_usd
    counts["counted"] = len(stops)
    totals = Row("TOTAL", "", "", "", "")
    for row in rows.values():
        row.running_hours = max(0.0, span.hours - row.stopped_hours - row.people_hours)
        for name in ("stopped_hours", "people_hours", "running_hours", "saved_usd_priced"):
            setattr(totals, name, getattr(totals, name) + getattr(row, name))
        totals.unpriced_hours += row.unpriced_hours
        totals.stops += row.stops
    ordered = sorted(
        rows.values(), key=lambda r: (-r.saved_usd_priced, -r.stopped_hours, r.resource_id)
    )
    return Report(span, source, ordered, totals, people_seen, counts, warnings)


# --- output ---------------------------------------------------------------------------------

NOTE_STORAGE = (
    "Compute only: storage (EBS volumes, RDS storage) bills while stopped and is not counted."
)
NOTE_UNDER_WAY = "A stop still under way at the end of the period counts in the period it ends in."


def _hours(value: float) -> str:
    return f"{value:,.1f}"


def _saved_text(row: Row, places: int = 2) -> str:
    if row.saved_usd is not None:
        return f"{row.saved_usd:,.{places}f}"
    if row.saved_usd_priced > 0:
        return f">= {row.saved_usd_priced:,.{places}f}"
    return "unknown"


def _price_text(row: Row) -> str:
    return f"{row.hourly_usd:.4f}" if row.hourly_usd is not None else "unknown"


def _heading(report: Report) -> str:
    span = report.span
    return (
        f"Savings from {iso(span.since)} to {iso(span.until)} ({span.hours:,.1f} h), "
        f"{report.source}: {report.lines['counted']} stops counted"
    )


def _notes(report: Report) -> list[str]:
    notes = []
    unpriced = [r for r in report.rows if r.unpriced_hours > 0]
    if unpriced:
        notes.append(
            f"Unknown price: {len(unpriced)} resources have {report.totals.unpriced_hours:,.1f} "
            "stopped hours without a price (the Price List API had none for them); their "
            "dollars are not in the total, '>=' marks a sum without them."
        )
    if not report.people_seen:
        notes.append(
            "Hours stopped by people: no decision line records them (people_stopped_hours), "
            "so the column shows 0 for all."
        )
    notes.append(NOTE_UNDER_WAY)
    notes.append(NOTE_STORAGE)
    if report.lines["duplicates"]:
        notes.append(f"{report.lines['duplicates']} lines repeated a stop already counted.")
    return notes


HEADER = [
    "RESOURCE",
    "NAME",
    "TYPE",
    "REGION",
    "ACCOUNT",
    "STOPPED H",
    "PEOPLE H (SEEN)",
    "RUNNING H",
    "USD/H",
    "SAVED USD",
]
_NUMERIC_FROM = 5  # columns from here are right-aligned


def table(report: Report) -> str:
    """An aligned table, every cell escaped (a Name is tag text)."""
    cells = [
        [
            row.resource_id,
            row.name or "-",
            row.resource_type or "-",
            row.region or "-",
            row.account or "-",
            _hours(row.stopped_hours),
            _hours(row.people_hours),
            _hours(row.running_hours),
            _price_text(row),
            _saved_text(row),
        ]
        for row in report.rows
    ]
    t = report.totals
    total = [f"TOTAL ({len(report.rows)})", "", "", "", "", _hours(t.stopped_hours)]
    total += [_hours(t.people_hours), _hours(t.running_hours), "", _saved_text(t)]
    grid = [[escaped(str(c)) for c in line] for line in [HEADER, *cells, total]]
    widths = [max(len(line[i]) for line in grid) for i in range(len(HEADER))]
    out = []
    for line in grid:
        parts = [
            cell.rjust(w) if i >= _NUMERIC_FROM else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(parts).rstrip())
    lines = [escaped(_heading(report)), ""]
    if report.rows:
        lines += out
    else:
        lines.append("No stop ended in the period: offhours counted no hours.")
    lines.append("")
    lines += [escaped(w) for w in [*report.warnings, *_notes(report)]]
    return "\n".join(lines) + "\n"


def _row_object(row: Row) -> dict[str, Any]:
    return {
        "resource_id": row.resource_id,
        "name": row.name,
        "resource_type": row.resource_type,
        "region": row.region,
        "account": row.account,
        "stopped_hours": round(row.stopped_hours, 4),
        "people_stopped_hours": round(row.people_hours, 4),
        "running_hours": round(row.running_hours, 4),
        "hourly_usd": row.hourly_usd,
        "saved_usd": round(row.saved_usd, 4) if row.saved_usd is not None else None,
        "saved_usd_priced": round(row.saved_usd_priced, 4),
        "unpriced_hours": round(row.unpriced_hours, 4),
        "stops": row.stops,
    }


def json_object(report: Report) -> dict[str, Any]:
    """One object: the period, the rows, the totals, and what was read."""
    totals = _row_object(report.totals)
    for key in ("resource_id", "name", "resource_type", "region", "account", "hourly_usd"):
        del totals[key]
    return {
        "period": {
            "since": iso(report.span.since),
            "until": iso(report.span.until),
            "hours": round(report.span.hours, 4),
        },
        "source": report.source,
        "rows": [_row_object(r) for r in report.rows],
        "totals": {"resources": len(report.rows), **totals},
        "people_stopped_hours_seen": report.people_seen,
        "lines": report.lines,
        "warnings": report.warnings,
    }


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(text: str) -> str:
    """Tag text for a spreadsheet: escaped, and never read as a formula."""
    text = escaped(text)
    return "'" + text if text.startswith(_FORMULA) else text


CSV_HEADER = [
    "resource_id",
    "name",
    "resource_type",
    "region",
    "account",
    "stopped_hours",
    "people_stopped_hours",
    "running_hours",
    "hourly_usd",
    "saved_usd",
    "saved_usd_priced",
    "unpriced_hours",
    "stops",
]


def csv_text(report: Report) -> str:
    """A header, a line per resource, a TOTAL line; an unknown price or sum is `unknown`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        obj = _row_object(row) | {"name": _csv_text(row.name)}
        writer.writerow(["unknown" if obj[k] is None else obj[k] for k in CSV_HEADER])
    total = _row_object(report.totals) | {"resource_id": "TOTAL", "hourly_usd": ""}
    writer.writerow(["unknown" if total[k] is None else total[k] for k in CSV_HEADER])
    return buffer.getvalue()


def _xml(text: str) -> str:
    """Text for SVG: escaped as the terminal shows it, then for XML (and characters that XML
    1.0 cannot carry at all as visible escapes)."""
    shown = "".join(
        c
        if c in "\t\n\r"
        or 0x20 <= ord(c) <= 0xD7FF
        or 0xE000 <= ord(c) <= 0xFFFD
        or ord(c) >= 0x10000
        else f"\\u{ord(c):04x}"
        for c in escaped(text)
    )
    return xml_escape(shown, {'"': "&quot;"})


def _nice_step(top: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) that divides 0..top in about 4."""
    if top <= 0:
        return 1.0
    rough = top / 4
    power = 10.0 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def _label(row: Row, size: int = 38) -> str:
    text = row.name or row.resource_id.rsplit(":", 1)[-1]
    return text if len(text) <= size else text[: size - 1] + "…"


def svg_chart(report: Report) -> str:
    """A bar chart of the dollars saved per resource (the top 20), with the total: 800 pixels
    wide, self-contained, every text escaped."""
    width, left, right, bar_h, gap, top = 800, 250, 110, 18, 6, 70
    shown = report.rows[:TOP]
    plot = width - left - right
    most = max((r.saved_usd_priced for r in shown), default=0.0)
    step = _nice_step(most)
    ticks = max(1, math.ceil(most / step)) if most > 0 else 4
    scale = plot / (ticks * step)
    height = top + len(shown) * (bar_h + gap) + 110
    span = report.span
    t = report.totals
    total = _saved_text(t)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{_xml("offhours: dollars saved")}'
        f" {_xml(f'{span.since:%Y-%m-%d %H:%M} to {span.until:%Y-%m-%d %H:%M} UTC')}</text>",
        f'<text x="10" y="42">{_xml(f"Total: USD {total} over {len(report.rows)} resources, ")}'
        f"{_xml(f'{_hours(t.stopped_hours)} hours stopped by offhours')}</text>",
    ]
    base = top + len(shown) * (bar_h + gap)
    for i in range(ticks + 1):
        x = left + i * step * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{base}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{i * step:,.{_places(step)}f}'
            "</text>"
        )
    parts.append(
        f'<text x="{left + plot / 2:.1f}" y="{base + 34}" text-anchor="middle">USD saved</text>'
    )
    parts.append(f'<line x1="{left}" y1="{top - 8}" x2="{left}" y2="{base}" stroke="#333"/>')
    for n, row in enumerate(shown):
        y = top + n * (bar_h + gap)
        length = row.saved_usd_priced * scale
        colour = "#2e7d32" if row.saved_usd is not None else "#a5d6a7"
        value = _saved_text(row)
        parts.append(
            f'<text x="{left - 8}" y="{y + 13}" text-anchor="end">{_xml(_label(row))}'
            f"<title>{_xml(row.resource_id)}</title></text>"
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="{colour}">'
            f"<title>{_xml(f'{row.name or row.resource_id}: USD {value}')}</title></rect>"
        )
        parts.append(f'<text x="{left + length + 6:.1f}" y="{y + 13}">{_xml(value)}</text>')
    foot = base + 58
    if len(report.rows) > TOP:
        rest = report.rows[TOP:]
        more = sum(r.saved_usd_priced for r in rest)
        at_least = ">= " if any(r.unpriced_hours > 0 for r in rest) else ""
        text = f"and {len(rest)} more resources: USD {at_least}{more:,.2f}"
        parts.append(f'<text x="10" y="{foot}">{_xml(text)}</text>')
        foot += 16
    if not shown:
        parts.append(f'<text x="{left}" y="{top + 12}">no stop ended in the period</text>')
    if t.unpriced_hours > 0:
        parts.append(
            f'<text x="10" y="{foot}" fill="#555">'
            f"{_xml('light bars: some hours have no known price; >= marks a sum without them')}"
            "</text>"
        )
        foot += 16
    parts.append(f'<text x="10" y="{foot}" fill="#555">{_xml(NOTE_STORAGE)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _places(step: float) -> int:
    return 0 if step >= 1 else min(6, -math.floor(math.log10(step)))


# --- the command ----------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def logs_client(region: str | None) -> Any:
    import boto3

    from offhours.aws import RETRIES

    region = region or boto3.Session().region_name
    if not region:
        raise UsageError("no region: give --region (the stack's), or set AWS_REGION")
    return boto3.client("logs", region_name=region, config=RETRIES)


def command(
    args: argparse.Namespace,
    out: TextIO,
    stdin: TextIO,
    err: TextIO | None = None,
    client: Callable[[str | None], Any] | None = None,
) -> int:
    """`offhours report`: read, add up, and print (table, --csv or --json; --svg FILE too)."""
    err = err or sys.stderr
    now = _now()
    span = period(args.since, args.until, now)
    if args.file:
        if args.region:
            raise UsageError("--region goes with the log group, not with --file")
        reading = read_file(args.file, stdin)
        source = "standard input" if args.file == "-" else f"file {args.file}"
    else:
        group = args.log_group or f"/offhours/{args.stack}"
        logs = (client or logs_client)(args.region)
        try:
            reading = read_insights(logs, group, span, now)
        except QueryError as exc:
            err.write(escaped(f"offhours: {exc}") + "\n")
            return EXIT_AWS
        except logs.exceptions.ResourceNotFoundException:
            raise UsageError(
                f"no log group {group} in {logs.meta.region_name}: give --stack (the stack's "
                "name), or --log-group, and --region (the stack's)"
            ) from None
        source = f"log group {group}"
    report = aggregate(reading, span, source)
    if args.svg:
        try:
            with open(args.svg, "w", encoding="utf-8") as handle:
                handle.write(svg_chart(report))
        except OSError as exc:
            raise UsageError(f"--svg {args.svg!r}: {exc.strerror or exc}") from None
    if args.json:
        out.write(json.dumps(json_object(report)) + "\n")
    elif args.csv:
        out.write(csv_text(report))
    else:
        out.write(table(report))
        if args.svg:
            out.write(escaped(f"Chart written to {args.svg}") + "\n")
    if (args.json or args.csv) and report.warnings:
        for warning in report.warnings:
            err.write(escaped(f"offhours: {warning}") + "\n")
    return 0
