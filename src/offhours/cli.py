"""The `offhours` command line: check, plan, run, demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

from offhours.catalog import (
    Catalog,
    CatalogError,
    default_catalog,
    load_catalog,
    parse_catalog,
)
from offhours.codes import anchor
from offhours.config import Config, ConfigError, region_problem
from offhours.explain import (
    EMPTY,
    FULL,
    PART,
    UNKNOWN,
    day_text,
    describe,
    local_text,
    week_at_a_glance,
)
from offhours.language import is_opt_out, parse_schedule
from offhours.records import decision_record
from offhours.resources import ByHand, by_hand, kind_of_id, region_of
from offhours.schedule import MAX_EVENT_SKEW, DesiredState, Schedule, ScheduleError, iso
from offhours.service import RunReport, run as service_run
from offhours.timeline import timeline
from offhours.zones import UnknownZone, resolve_zone

EXIT_INVALID = 2
EXIT_AWS = 1
MAX_COUNT = 1000
# The instants that `--at` may name: wide enough for any question about a schedule, narrow
# enough that a year of look-back and ten years of look-ahead stay inside the calendar.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)


class UsageError(Exception):
    """A command-line argument that cannot be used; printed as one line, exit 2."""


# Characters that a terminal does not show as themselves (DESIGN §7): controls (a newline that
# forges a line, an ANSI escape that recolours or rewrites the screen), format characters (the
# direction overrides and isolates, U+202E, that reorder what follows; zero-width ones), line
# and paragraph separators, and lone surrogates (which cannot be written at all).
_UNSHOWN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(text: str) -> str:
    """`text` as the command line prints it: every control, format (direction) and line or
    paragraph separator character as a visible escape (`\\n`, `\\x1b`, `\\u202e`), the rest as
    it is. Text from tags (a Name, a schedule or override value) and whatever quotes it goes
    through this before it reaches a terminal; JSON output escapes them itself."""
    if text.isprintable():  # the common case: nothing to escape (a space is printable)
        return text
    out = []
    for char in text:
        if unicodedata.category(char) not in _UNSHOWN:
            out.append(char)
        elif char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        else:
            point = ord(char)
            out.append(
                f"\\x{point:02x}"
                if point < 0x100
                else f"\\u{point:04x}"
                if point < 0x10000
                else f"\\U{point:08x}"
            )
    return "".join(out)


def _lines(text: str) -> str:
    """Several lines of output, each escaped: the line breaks are offhours' own."""
    return "\n".join(escaped(line) for line in text.split("\n"))


def parse_instant(text: str) -> datetime:
    """ISO 8601; a value without an offset is UTC."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--at {text[:60]!r} is not a time: expected ISO 8601, like 2026-03-27T16:00:00Z"
        ) from None
    try:
        at = (at.replace(tzinfo=UTC) if at.tzinfo is None else at).astimezone(UTC)
    except OverflowError:
        at = EARLIEST - timedelta(days=1)
    if not EARLIEST <= at <= LATEST:
        raise UsageError(
            f"--at {text[:60]!r} is outside the years {EARLIEST.year} to {LATEST.year} that "
            "offhours evaluates"
        )
    return at


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- check --------------------------------------------------------------------------------


def check_result(
    value: str, at: datetime, count: int, default_timezone: str, catalog: Catalog | None
) -> tuple[dict[str, Any], Schedule | None]:
    """The `check --json` object for one value (DESIGN §5), and the schedule if valid.

    A value with `holidays=` has `skipped` too: the closed dates on which a start was skipped,
    from `at` to the last of the `next` events, each once, in order, with what closes it. A
    value with `size=` has `size` too: ``{"min": 1, "desired": 2, "max": 4}``. An invalid
    value's has `code`, its troubleshooting code (`offhours.codes`)."""
    if is_opt_out(value):
        return {"valid": True, "timezone": None, "desired": None, "last": None, "next": []}, None
    try:
        schedule = parse_schedule(value, default_timezone=default_timezone, catalog=catalog)
    except ScheduleError as exc:
        return {"valid": False, "error": exc.describe(), "code": exc.code}, None
    tl = timeline(schedule)
    last, upcoming = tl.around(at, count)
    if last is not None:
        desired: DesiredState | None = last.action.state
    else:
        desired = DesiredState.RUNNING if tl.always_running else None
    result = {
        "valid": True,
        "timezone": schedule.timezone,
        "desired": desired.value if desired is not None else None,
        "last": {"action": last.action.value, "at": iso(last.at)} if last else None,
        "next": [{"action": e.action.value, "at": iso(e.at)} for e in upcoming],
    }
    if schedule.holidays:
        skipped = tl.skipped_between(at, upcoming[-1].at) if upcoming else []
        result["skipped"] = [{"date": day.isoformat(), "name": name} for day, name in skipped]
    if schedule.size is not None:
        result["size"] = dict(zip(("min", "desired", "max"), schedule.size, strict=True))
    return result, schedule


def _human(value: str, result: dict[str, Any], schedule: Schedule | None, at: datetime) -> str:
    lines = [f"Schedule   {value!r}"]
    if not result["valid"]:
        lines.append(f"Invalid    {result['error']}")
        code = result["code"]
        lines.append(f"Code       {code}  (docs/troubleshooting.md#{anchor(code)})")
        return "\n".join(lines)
    if schedule is None:
        lines.append("Opted out  offhours leaves instances with this value alone")
        return "\n".join(lines)
    tz = schedule.timezone
    lines.append(f"Meaning    {describe(schedule)}")
    lines.append(f"Time zone  {tz}")
    lines.append(f"At         {iso(at)}  ({local_text(at, tz)})")
    desired = result["desired"] or "no opinion yet (no event in the year before)"
    lines.append(f"Desired    {desired}")
    last, events = timeline(schedule).around(at, len(result["next"]))
    if last is not None:
        lines.append(
            f"Last       {last.action.value:<5}  {iso(last.at)}  ({local_text(last.at, tz)})"
        )
    for i, event in enumerate(events):
        label = "Next" if i == 0 else ""
        lines.append(
            f"{label:<10} {event.action.value:<5}  {iso(event.at)}  ({local_text(event.at, tz)})"
        )
    if not events:
        lines.append("Next       none" + (" (runs all the time)" if result["desired"] else ""))
    for i, skipped in enumerate(result.get("skipped", [])):
        label = "Skipped" if i == 0 else ""
        closed = day_text(date.fromisoformat(skipped["date"]))
        lines.append(f"{label:<10} {closed}: {skipped['name']}, no start")
    week = week_at_a_glance(schedule, at)
    lines.append("")
    lines.append(f"Week of {week.start.astimezone(timeline(schedule).tz):%Y-%m-%d} in {tz}")
    lines.append("      " + "".join(f"{h:<3d}" if h % 3 == 0 else "" for h in range(24)).rstrip())
    for day, row in zip(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), week.rows, strict=True):
        lines.append(f"{day}   {row}")
    lines.append(
        f"      {FULL} running  {PART} part of the hour  {EMPTY} stopped  {UNKNOWN} no opinion"
    )
    if week.running_hours is not None and week.share is not None:
        lines.append(
            f"Runs {week.running_hours:g} of {week.hours:g} hours that week ({week.share:.0%}); "
            f"saves {1 - week.share:.0%} of an always-on instance."
        )
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    at = parse_instant(args.at) if args.at else _now()
    if not 0 <= args.count <= MAX_COUNT:
        raise UsageError(f"--count must be 0 to {MAX_COUNT} (it was {args.count})")
    if args.instance:
        if args.value is not None:
            raise UsageError("give a VALUE or --instance ID, not both")
        config = _run_config(args)
        return _check_instance(args, at, config, _catalog_for(args, config), out)
    if args.region or args.tag_key:
        raise UsageError("--region and --tag-key go with --instance ID")
    catalog = load_catalog(args.catalog) if args.catalog else default_catalog()
    default_tz = _default_timezone(args.default_timezone)
    if args.value is None:
        raise UsageError("give the tag VALUE to check (or - for standard input, or --instance)")
    values = [line.rstrip("\r\n") for line in stdin] if args.value == "-" else [args.value]
    status = 0
    for value in values:
        result, schedule = check_result(value, at, args.count, default_tz, catalog)
        if not result["valid"]:
            status = EXIT_INVALID
        if args.json:
            out.write(json.dumps(result) + "\n")
        else:
            out.write(_lines(_human(value, result, schedule, at)) + "\n")
            if len(values) > 1:
                out.write("\n")
    return status


def _check_instance(
    args: argparse.Namespace, at: datetime, config: Config, catalog: Catalog, out: TextIO
) -> int:
    """`check --instance ID`: the instance's own schedule, its override in force (if any), and
    when the schedule resumes."""

    from offhours.override import OverrideError, override_tag_key, parse_override

    tag_key, default_tz = config.tag_key, config.default_timezone
    tags = _Resources(config.regions[0]).tags([args.instance]).get(args.instance)
    if tags is None:
        raise UsageError(f"--instance {args.instance}: not found")
    value = tags.get(tag_key)
    if value is None:
        raise UsageError(f"--instance {args.instance} carries no {tag_key} tag")
    result, schedule = check_result(value, at, args.count, default_tz, catalog)
    raw = tags.get(override_tag_key(tag_key))
    zone_name = schedule.timezone if schedule is not None else default_tz
    overriding: dict[str, Any] | None = None
    line = "none"
    if raw is not None:
        try:
            held = parse_override(raw, zone_name, at)
        except OverrideError as exc:
            overriding = {"value": raw, "error": str(exc), "code": exc.code}
            line = f"{raw!r} is ignored: {exc} ({exc.code})"
        else:
            then = _then(schedule, held.until)
            over = held.until <= at
            overriding = {
                "value": raw,
                "state": held.state.value,
                "until": iso(held.until),
                "over": over,
            }
            line = (
                f"{raw!r}: over since {iso(held.until)}; the next run removes it"
                if over
                else f"{raw!r}: {held.state.value} {held.describe(zone_name)}; {then}"
            )
    if args.json:
        out.write(json.dumps({"instance": args.instance, **result, "override": overriding}) + "\n")
    else:
        out.write(escaped(f"Instance   {args.instance}") + "\n")
        out.write(_lines(_human(value, result, schedule, at)) + "\n")
        out.write(escaped(f"Override   {line}") + "\n")
    return 0 if result["valid"] else EXIT_INVALID


def _default_timezone(given: str | None) -> str:
    name = given or os.environ.get("DEFAULT_TIMEZONE") or "UTC"
    try:
        return resolve_zone(name)
    except UnknownZone as exc:
        raise UsageError(f"default time zone: {exc}") from None


# --- plan and run -------------------------------------------------------------------------


def _run_config(args: argparse.Namespace) -> Config:
    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    changes: dict[str, Any] = {}
    if args.region:
        changes["regions"] = tuple(args.region)
    elif not config.regions:
        import boto3

        region = boto3.Session().region_name
        if not region:
            raise UsageError("no region: give --region, or set AWS_REGION or REGIONS")
        changes["regions"] = (region,)
    for region in changes.get("regions", config.regions):
        problem = region_problem(region)
        if problem is not None:
            raise UsageError(f"region {problem}")
    if args.tag_key:
        changes["tag_key"] = args.tag_key
    if args.default_timezone:
        changes["default_timezone"] = _default_timezone(args.default_timezone)
    return replace(config, **changes)


def _catalog_for(args: argparse.Namespace, config: Config) -> Catalog:
    """--catalog, else the deployment's SSM parameter (CATALOG_PARAMETER), else CATALOG_FILE,
    else the built-in catalogue: `plan` and `run` must read the schedules a run would read."""
    if args.catalog:
        return load_catalog(args.catalog)
    if config.catalog_parameter:
        import boto3

        try:
            ssm = boto3.client("ssm", region_name=config.regions[0] if config.regions else None)
            text = ssm.get_parameter(Name=config.catalog_parameter)["Parameter"]["Value"]
        except Exception as exc:
            raise UsageError(
                f"cannot read the catalogue parameter {config.catalog_parameter!r}: {exc}; "
                "give --catalog FILE instead"
            ) from None
        return parse_catalog(text, source=f"SSM parameter {config.catalog_parameter}")
    if config.catalog_file:
        return load_catalog(config.catalog_file)
    return default_catalog()


def _table(rows: list[list[str]], header: list[str]) -> str:
    """Columns of text; each cell escaped (a Name or a value is tag text), then measured."""
    rows = [[escaped(str(cell)) for cell in row] for row in rows]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, str(row[-1])]))
    return "\n".join(lines)


def _report_out(report: RunReport, out: TextIO, as_json: bool) -> None:
    records = [decision_record(o) for t in report.targets for o in t.outcomes]
    if as_json:
        for record in records:
            out.write(json.dumps(record) + "\n")
        for t in report.targets:
            if t.error:
                out.write(
                    json.dumps(
                        {
                            "kind": "target-error",
                            "region": t.target.region,
                            "account": t.target.account or "",
                            "error": t.error,
                            "code": t.code or "OH-TARGET-FAILED",
                        }
                    )
                    + "\n"
                )
        summary = {
            "kind": "summary",
            "run_time": iso(report.at),
            "dry_run": report.dry_run,
            **report.counts(),
            **report.details(),
            "resources": report.by_resource(),
        }
        out.write(json.dumps(summary) + "\n")
        return
    header = [
        "RESOURCE",
        "TYPE",
        "NAME",
        "REGION",
        "STATE",
        "SCHEDULE",
        "DESIRED",
        "ACTION",
        "OUTCOME",
        "REASON",
    ]
    rows = [
        [
            r["instance_id"],
            r["resource_type"],
            r["instance_name"] or "-",
            r["region"],
            r["previous_state"],
            r["schedule"],
            r["desired_state"] or "-",
            r["action"],
            r["outcome"],
            r["reason"],
        ]
        for r in records
    ]
    errors = [(t.code or "OH-TARGET-FAILED", t.error) for t in report.targets if t.error]
    if rows:
        out.write(_table(rows, header) + "\n")
    elif not errors:
        out.write("No instance or database carries the schedule tag.\n")
    for code, error in errors:
        out.write(escaped(f"error {code}: {error}") + "\n")
    c = report.counts()
    out.write(
        f"\nAt {iso(report.at)}: {c['evaluated']} evaluated, {c['started']} started, "
        f"{c['stopped']} stopped, {c['skipped']} skipped, {c['invalid']} invalid, "
        f"{c['failed']} failed"
        + (" (dry run: nothing was changed)" if report.dry_run else "")
        + "\n"
    )


def _reconcile(args: argparse.Namespace, out: TextIO, *, dry: bool, converge: bool) -> int:
    from offhours.aws import Clients

    config = _run_config(args)
    at = parse_instant(args.at) if args.at else _now()
    if not dry and abs(at - _now()) > MAX_EVENT_SKEW:  # acts for real: as the Lambda does
        raise UsageError(
            f"--at {iso(at)} is more than 15 minutes from now: --apply acts only at the "
            "present time (without --apply, any time can be shown)"
        )
    report = service_run(
        config,
        at,
        clients=Clients(),
        catalog=_catalog_for(args, config),
        dry=dry,
        converge=converge,
    )
    _report_out(report, out, args.json)
    failed = report.counts()["failed"] > 0
    return EXIT_AWS if failed else 0


def cmd_plan(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    del stdin
    return _reconcile(args, out, dry=True, converge=False)


def cmd_run(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    del stdin
    if args.converge and not args.apply:
        out.write("--converge without --apply: showing what converging would do.\n")
    return _reconcile(args, out, dry=not args.apply, converge=args.converge)


# --- override -----------------------------------------------------------------------------


def cmd_override(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    """Write (or remove) the override tag of instances, after checking it, and say what will
    happen and when the schedule resumes."""
    del stdin

    from offhours.override import OverrideError, override_tag_key, parse_override, pinned_text

    if not args.clear and (args.until is None or args.state is None):
        raise UsageError("give --running or --stopped with --until TIME, or --clear")
    if args.clear and (args.until is not None or args.state is not None):
        raise UsageError("--clear removes the override: it takes no --until and no state")
    config = _run_config(args)
    region = config.regions[0]
    tag_key = config.tag_key
    key = override_tag_key(tag_key)
    catalog = _catalog_for(args, config)
    default_tz = config.default_timezone
    resources = _Resources(region)
    found = resources.tags(list(args.instance))
    now = _now()
    status = 0
    for instance_id in args.instance:
        tags = found.get(instance_id)
        if tags is None:
            where = region_of(instance_id) or region
            out.write(escaped(f"{instance_id}: not found in {where}") + "\n")
            status = EXIT_INVALID
            continue
        name = f" ({tags['Name']})" if tags.get("Name") else ""
        value = tags.get(tag_key)
        if value is None:
            out.write(
                escaped(
                    f"{instance_id}{name}: it carries no {tag_key} tag, and offhours acts only "
                    "on instances that do; nothing written"
                )
                + "\n"
            )
            status = EXIT_INVALID
            continue
        schedule = _schedule_or_none(value, default_tz, catalog)
        zone_name = schedule.timezone if schedule is not None else default_tz
        if args.clear:
            resources.untag(instance_id, key)
            out.write(
                escaped(
                    f"{instance_id}{name}: override removed; its schedule {value!r} governs "
                    "from its next event"
                )
                + "\n"
            )
            continue
        try:
            override = parse_override(
                f"{args.state} until {args.until}", zone_name, now, config.max_override_hours
            )
        except OverrideError as exc:
            raise UsageError(f"--until {args.until!r}: {exc}") from None
        if override.until <= now:
            raise UsageError(f"--until {args.until!r} is not in the future")
        text = pinned_text(override.state, override.until, zone_name)
        resources.tag(instance_id, key, text)
        then = _then(schedule, override.until)
        out.write(
            escaped(f"{instance_id}{name}: {key} = {text!r}")
            + "\n"
            + escaped(
                f"  the next run makes it {override.state.value} and keeps it so "
                f"{override.describe(zone_name)}; {then}"
            )
            + "\n"
        )
    return status


class _Resources:
    """Resources of any kind, by the ids the command line takes for them (`Kind.ids`: an EC2
    instance id, a database's, group's or node group's ARN), read and written with the
    caller's credentials."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._kinds: dict[str, ByHand] = {}

    def _of(self, resource: str) -> ByHand:
        name = kind_of_id(resource)
        if name is None:
            raise UsageError(
                f"{resource!r} is not the id of anything offhours schedules (an EC2 instance "
                "id, or the ARN of a database, cluster, Auto Scaling group or EKS node group)"
            )
        if name not in self._kinds:
            self._kinds[name] = by_hand(name, self.region)
        return self._kinds[name]

    def tags(self, ids: list[str]) -> dict[str, dict[str, str]]:
        by_kind: dict[ByHand, list[str]] = {}  # each kind's resources, read in one go
        for resource in ids:
            by_kind.setdefault(self._of(resource), []).append(resource)
        found: dict[str, dict[str, str]] = {}
        for kind, resources in by_kind.items():
            found.update(kind.tags(resources))
        return found

    def tag(self, resource: str, key: str, value: str) -> None:
        self._of(resource).tag(resource, key, value)

    def untag(self, resource: str, key: str) -> None:
        self._of(resource).untag(resource, key)


def _schedule_or_none(value: str, default_tz: str, catalog: Catalog) -> Schedule | None:
    if is_opt_out(value):
        return None
    try:
        return parse_schedule(value, default_timezone=default_tz, catalog=catalog)
    except ScheduleError:
        return None


def _then(schedule: Schedule | None, until: datetime) -> str:
    """What follows an override: the schedule's desired state at its end."""
    if schedule is None:
        return "then offhours leaves it as it is (its schedule tag opts out or is invalid)"
    last, upcoming = timeline(schedule).around(until, 1)
    if last is None and not timeline(schedule).always_running:
        return "then its schedule has no opinion, and leaves it as it is"
    state = "running" if last is None else last.action.state.value
    resume = f"; the schedule's next event: {upcoming[0].action.value} at {iso(upcoming[0].at)}"
    return f"then the schedule wants it {state}" + (resume if upcoming else "")


def cmd_demo(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    del stdin
    from offhours import demo

    if not 1 <= args.days <= 14:
        raise UsageError("--days must be 1 to 14")
    return demo.main(svg=args.svg, days=args.days, out=out, log=args.log)


def cmd_report(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from offhours import report

    return report.command(args, out, stdin)


def _account_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--region",
        action="append",
        metavar="R",
        help="a region to look at (repeat for more; default REGIONS or your region)",
    )
    p.add_argument("--at", help="the run's time (ISO 8601; default now)")
    p.add_argument("--json", action="store_true", help="print JSON Lines, as the Lambda logs")
    p.add_argument("--tag-key", metavar="KEY", help="the schedule tag key (default Schedule)")
    _schedule_options(p)


def _schedule_options(p: argparse.ArgumentParser) -> None:
    """How values are read: shared by check, plan and run."""
    p.add_argument("--catalog", metavar="FILE", help="catalogue of named schedules (YAML)")
    p.add_argument(
        "--default-timezone",
        metavar="ZONE",
        help="zone for values without one (env DEFAULT_TIMEZONE)",
    )


# --- the parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offhours", description="Start and stop EC2 instances on the hours their tags give."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="explain a Schedule tag value")
    check.add_argument(
        "value", nargs="?", help="the tag value, or - to read one value a line from stdin"
    )
    check.add_argument(
        "--instance",
        metavar="ID",
        help="check an instance's (or a database's ARN's) own schedule and override instead",
    )
    check.add_argument("--region", action="append", metavar="R", help="the instance's region")
    check.add_argument("--tag-key", metavar="KEY", help="the schedule tag key (default Schedule)")
    check.add_argument("--at", help="the instant to evaluate at (ISO 8601; default now)")
    check.add_argument("--count", type=int, default=5, help="how many next events (default 5)")
    check.add_argument("--json", action="store_true", help="print JSON (JSON Lines with -)")
    _schedule_options(check)
    check.set_defaults(func=cmd_check)

    plan = sub.add_parser("plan", help="show what a run would do now (read-only)")
    _account_options(plan)
    plan.set_defaults(func=cmd_plan)

    run = sub.add_parser("run", help="reconcile now from this workstation (dry unless --apply)")
    _account_options(run)
    run.add_argument("--apply", action="store_true", help="really start and stop instances")
    run.add_argument(
        "--converge",
        action="store_true",
        help="bring every instance to its desired state now, once",
    )
    run.set_defaults(func=cmd_run)

    override = sub.add_parser(
        "override",
        help="keep instances or databases running or stopped until a time, whatever the schedule",
    )
    override.add_argument(
        "instance", nargs="+", help="EC2 instance ids, or the ARNs of RDS databases and clusters"
    )
    state = override.add_mutually_exclusive_group()
    state.add_argument("--running", dest="state", action="store_const", const="running")
    state.add_argument("--stopped", dest="state", action="store_const", const="stopped")
    override.add_argument(
        "--until", metavar="TIME", help="22:00, Mon 08:00 or 2026-12-02T09:00 (the schedule's zone)"
    )
    override.add_argument("--clear", action="store_true", help="remove the override")
    override.add_argument("--region", action="append", metavar="R", help="the instances' region")
    override.add_argument(
        "--tag-key", metavar="KEY", help="the schedule tag key (default Schedule)"
    )
    _schedule_options(override)
    override.set_defaults(func=cmd_override, at=None, json=False)

    demo = sub.add_parser("demo", help="a week of scheduling on a local EC2 endpoint (no AWS)")
    demo.add_argument("--svg", metavar="FILE", help="also write the timeline as an SVG picture")
    demo.add_argument(
        "--log", metavar="FILE", help="also write the week's log lines (for offhours report)"
    )
    demo.add_argument("--days", type=int, default=7, help=argparse.SUPPRESS)
    demo.set_defaults(func=cmd_demo)

    report = sub.add_parser(
        "report", help="hours stopped and dollars saved over a period, from the decision logs"
    )
    report.add_argument(
        "--since", default="30d", metavar="TIME", help="30d, 12h, 2w or an ISO time (default 30d)"
    )
    report.add_argument("--until", metavar="TIME", help="30d, 12h, 2w or an ISO time (default now)")
    source = report.add_mutually_exclusive_group()
    source.add_argument(
        "--stack",
        default="offhours",
        metavar="NAME",
        help="read /offhours/STACK (default offhours)",
    )
    source.add_argument("--log-group", metavar="NAME", help="read this log group instead")
    source.add_argument("--file", metavar="PATH", help="read exported JSON lines (- for stdin)")
    report.add_argument("--region", metavar="R", help="the stack's region (default your region)")
    form = report.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="print CSV")
    form.add_argument("--json", action="store_true", help="print one JSON object")
    report.add_argument("--svg", metavar="FILE", help="also write a bar chart of dollars saved")
    report.set_defaults(func=cmd_report)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args, sys.stdout, sys.stdin)
        return code
    except (UsageError, CatalogError) as exc:
        print(escaped(f"offhours: {exc}"), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, never a traceback
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, BotoCoreError | ClientError):
            print(escaped(f"offhours: AWS said: {exc}"), file=sys.stderr)
            return EXIT_AWS
        if os.environ.get("OFFHOURS_DEBUG"):
            raise
        print(
            escaped(
                f"offhours: unexpected error ({type(exc).__name__}: {exc}); set "
                "OFFHOURS_DEBUG=1 to see where"
            ),
            file=sys.stderr,
        )
        return EXIT_AWS
