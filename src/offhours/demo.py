"""`offhours demo`: a week of scheduling against a local EC2 endpoint, no AWS account needed.

It starts moto's server (EC2, RDS and Auto Scaling) on loopback, creates a small fleet that
shows every behaviour, an RDS database and an Auto Scaling group among them (RESOURCES is
`ec2,rds,asg`), and replays a week through the real Lambda handler, one EventBridge event
every 15 simulated minutes. People act too: someone stops an enforced instance, someone starts
a box at night, someone keeps a box up until 21:00 with an override, someone scales the group
up to one box at night (respected until the next start, which restores the sizes recorded at
the stop); notices before stops are put on EventBridge.
Then it shows a timeline, the actions with their reasons, the group's sizes as they changed,
the instance-hours saved, the invalid schedules, and the JSON log lines of one hour, as
CloudWatch Logs would hold them.

Run from a checkout (`make demo`), the endpoint enforces IAM: the handler runs with the
temporary credentials of a role that carries exactly the policies of template.yaml (read by
tests/policies.py, loaded from the checkout; neither is part of the package), the people and
the fleet with an admin's (`offhours.local.IamLab`). Installed without the checkout, the demo
says that IAM is not enforced and runs without it.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from offhours.schedule import iso

if TYPE_CHECKING:
    from offhours.local import Credentials, IamLab, LocalEndpoint

WEEK_START = datetime(2026, 3, 27, tzinfo=UTC)  # a Friday; Europe springs forward on Sunday
TICK = timedelta(minutes=15)
LOG_HOUR = datetime(2026, 3, 30, 6, tzinfo=UTC)  # Monday: Berlin's first 08:00 in summer time
TAG = "Schedule"
RESOURCES = "ec2,rds,asg"  # the kinds the demo's handler schedules (and its role's rights)
SIZE_TAG = f"{TAG}:offhours-size"  # where offhours records a group's sizes at a stop
Size = tuple[int, int, int]  # an Auto Scaling group's minimum, desired and maximum size


@dataclass(frozen=True)
class Member:
    name: str
    schedule: str | None
    shows: str
    state: str = "running"
    tags: tuple[tuple[str, str], ...] = ()
    hibernation: bool = False
    kind: str = "ec2"  # or "rds": an RDS database; "asg": an Auto Scaling group
    size: Size = (0, 0, 0)  # an Auto Scaling group's min/desired/max when it is created
    instance_type: str = "m5.large"  # or the database's class


FLEET = (
    Member(
        "web-berlin",
        "Mon-Fri 08:00-18:00 Europe/Berlin",
        "office hours; DST on Sunday",
        state="stopped",
        instance_type="t3.medium",
    ),
    Member(
        "api-newyork",
        "Mon-Fri 08:00-18:00 America/New_York holidays=team-offsite",
        "office hours, another zone; no start on Tuesday's offsite",
        state="stopped",
        instance_type="m5.large",
    ),
    Member(
        "nightly-batch",
        "22:00-04:00",
        "an overnight window (default zone UTC)",
        instance_type="m5.xlarge",
    ),
    Member(
        "ci-runner", "stop=0 19 * * *", "stop-only cron; people start it", instance_type="t3.large"
    ),
    Member(
        "month-close",
        "start=0 9 * * thu#1; stop=0 17 * * thu#1; tz=Europe/London",
        "first Thursday of the month (cron #)",
        state="stopped",
        instance_type="t3.small",
    ),
    Member(
        "enforced-api",
        "Mon-Fri 09:00-17:00 UTC enforce",
        "enforce undoes manual changes",
        state="stopped",
        instance_type="t3.medium",
    ),
    Member(
        "gpu-notebook",
        "Mon-Fri 07:00-19:00 Europe/Paris hibernate",
        "hibernates",
        state="stopped",
        hibernation=True,
        instance_type="m5.xlarge",
    ),
    Member("broken-tag", "Mon-Fri 8am-6pm", "an invalid tag: left alone, error logged"),
    Member(
        "asg-worker",
        "Mon-Fri 08:00-18:00 UTC",
        "Auto Scaling member: never touched",
        tags=(("aws:autoscaling:groupName", "web-asg"),),
    ),
    Member("pinned-db", "off", "opted out"),
    Member("untagged-box", None, "no Schedule tag: offhours never sees it"),
    Member(
        "build-box",
        "Mon-Fri 08:00-18:00 UTC",
        "someone starts it at night",
        state="stopped",
        instance_type="t3.xlarge",
    ),
    Member(
        "orders-db",
        "Mon-Fri 07:00-20:00 UTC",
        "an RDS PostgreSQL database: stopped at night",
        kind="rds",
        instance_type="db.t4g.medium",
    ),
    Member(
        "web-tier",
        "Mon-Fri 08:00-18:00 UTC",
        "an Auto Scaling group, 1/2/4: 0/0/0 at night, its sizes back in the morning",
        kind="asg",
        size=(1, 2, 4),
    ),
)
# A database's status, as the timeline counts it.
DB_STATES = {"available": "running", "starting": "pending", "stopped": "stopped"}


@dataclass(frozen=True)
class PersonAction:
    at: datetime
    name: str
    action: str  # start | stop | override | resize (a group)
    why: str
    value: str = ""  # the override tag's value; a group's new sizes, MIN/DESIRED/MAX


OVERRIDE = f"{TAG}:override"
NOTICE_MINUTES = 15
# The demo's catalogue: the shipped one, and a closure in the replayed week.
CLOSURES = """
team-offsite:
  dates: {2026-03-31: Team offsite}
  description: The team is away; nothing needs to start
"""


PEOPLE = (
    PersonAction(
        datetime(2026, 3, 27, 16, 30, tzinfo=UTC),
        "web-berlin",
        "override",
        "a developer keeps the Berlin box up until 21:00 tonight (17:30 in Berlin)",
        "running until 21:00",
    ),
    PersonAction(
        datetime(2026, 3, 30, 9, 20, tzinfo=UTC),
        "ci-runner",
        "start",
        "a developer starts the CI runner in the morning",
    ),
    PersonAction(
        datetime(2026, 3, 30, 11, 5, tzinfo=UTC),
        "enforced-api",
        "stop",
        "someone stops the enforced API by hand",
    ),
    PersonAction(
        datetime(2026, 3, 30, 21, 0, tzinfo=UTC),
        "web-tier",
        "resize",
        "someone needs one web box tonight and sets the group to 1/1/1",
        "1/1/1",
    ),
    PersonAction(
        datetime(2026, 3, 31, 21, 40, tzinfo=UTC),
        "build-box",
        "start",
        "an engineer starts the build box late at night",
    ),
)


_LABS = itertools.count(1)  # each run of the demo in a process has its own principals


@dataclass(frozen=True)
class DemoContext:
    """Enough of a Lambda context for the handler."""

    function_name: str = "offhours-demo"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:offhours-demo"
    aws_request_id: str = "demo"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class Mark:
    at: datetime
    symbol: str
    text: str


@dataclass
class Replay:
    ids: dict[str, str]
    states: dict[str, list[str]] = field(default_factory=dict)  # name -> state after each run
    # A group's name -> its sizes and its size record (the tag's value) after each run.
    sizes: dict[str, list[tuple[Size, str]]] = field(default_factory=dict)
    marks: dict[str, list[Mark]] = field(default_factory=dict)
    actions: list[tuple[datetime, str, str, str, str]] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    # The hours and dollars of offhours' stops, from the decision lines (`offhours.savings`):
    # name -> [hours, dollars, hours without a price].
    saved: dict[str, list[float]] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)
    every_line: list[str] = field(default_factory=list)  # the week's log, for `--log FILE`
    notices: list[dict[str, Any]] = field(default_factory=list)  # as EventBridge gets them
    runs: int = 0
    seconds: float = 0.0
    now: str = ""  # the simulated time of the run in progress


# --- the run ------------------------------------------------------------------------------


def _launch(ec2: Any, rds: Any, autoscaling: Any) -> dict[str, str]:
    ids: dict[str, str] = {}
    for member in FLEET:
        if member.kind == "rds":
            ids[member.name] = _create_database(rds, member)
            continue
        if member.kind == "asg":
            ids[member.name] = _create_group(autoscaling, member)
            continue
        tags = [{"Key": "Name", "Value": member.name}]
        if member.schedule is not None:
            tags.append({"Key": TAG, "Value": member.schedule})
        tags += [{"Key": k, "Value": v} for k, v in member.tags]
        args: dict[str, Any] = {
            "ImageId": "ami-760aaa0f",
            "MinCount": 1,
            "MaxCount": 1,
            "InstanceType": member.instance_type,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
        }
        if member.hibernation:
            args["HibernationOptions"] = {"Configured": True}
        instance_id = ec2.run_instances(**args)["Instances"][0]["InstanceId"]
        if member.state == "stopped":
            ec2.stop_instances(InstanceIds=[instance_id])
        ids[member.name] = instance_id
    return ids


def _create_database(rds: Any, member: Member) -> str:
    tags = [{"Key": TAG, "Value": member.schedule}] if member.schedule is not None else []
    created = rds.create_db_instance(
        DBInstanceIdentifier=member.name,
        Engine="postgres",
        DBInstanceClass=member.instance_type,
        AllocatedStorage=20,
        MasterUsername="demo",
        MasterUserPassword="demo-password",  # a local endpoint's, not a secret
        Tags=tags,
    )
    arn: str = created["DBInstance"]["DBInstanceArn"]
    return arn


def _create_group(autoscaling: Any, member: Member) -> str:
    """An Auto Scaling group of `member.size` (moto launches its instances, which do not
    carry the schedule tag: it is not propagated at launch); its id is its name."""
    template = "offhours-demo"
    if not autoscaling.describe_launch_configurations(LaunchConfigurationNames=[template])[
        "LaunchConfigurations"
    ]:
        autoscaling.create_launch_configuration(
            LaunchConfigurationName=template, ImageId="ami-760aaa0f", InstanceType="m5.large"
        )
    tags = [(TAG, member.schedule)] if member.schedule is not None else []
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=member.name,
        LaunchConfigurationName=template,
        MinSize=member.size[0],
        DesiredCapacity=member.size[1],
        MaxSize=member.size[2],
        AvailabilityZones=["us-east-1a"],
        Tags=[
            {
                "ResourceId": member.name,
                "ResourceType": "auto-scaling-group",
                "Key": key,
                "Value": value,
                "PropagateAtLaunch": False,
            }
            for key, value in [*tags, *member.tags]
        ],
    )
    return member.name


def _group_sizes(autoscaling: Any) -> dict[str, tuple[Size, str]]:
    """Each group's sizes and its size record (empty when there is none), as they are."""
    names = sorted(m.name for m in FLEET if m.kind == "asg")
    found: dict[str, tuple[Size, str]] = {}
    if not names:
        return found
    listed = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=names)
    for item in listed["AutoScalingGroups"]:
        size = (item["MinSize"], item["DesiredCapacity"], item["MaxSize"])
        record = next((t["Value"] for t in item.get("Tags", []) if t["Key"] == SIZE_TAG), "")
        found[item["AutoScalingGroupName"]] = (size, record)
    return found


def _states(ec2: Any, rds: Any, ids: dict[str, str]) -> dict[str, str]:
    by_id: dict[str, str] = {}
    groups = {m.name for m in FLEET if m.kind == "asg"}
    instances = [i for n, i in ids.items() if not i.startswith("arn:") and n not in groups]
    for page in ec2.get_paginator("describe_instances").paginate(InstanceIds=instances):
        for reservation in page["Reservations"]:
            for item in reservation["Instances"]:
                by_id[item["InstanceId"]] = item["State"]["Name"]
    if any(m.kind == "rds" for m in FLEET):
        for item in rds.describe_db_instances()["DBInstances"]:
            status = item["DBInstanceStatus"]
            by_id[item["DBInstanceArn"]] = DB_STATES.get(status, status)
    return {name: by_id.get(i, "?") for name, i in ids.items()}


def _event(at: datetime, n: int) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"demo-{n:04d}-{at:%Y%m%dT%H%M}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": iso(at),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/offhours-demo"],
        "detail": {},
    }


def log_hour(days: int) -> datetime:
    """The hour whose log lines the demo prints: Monday's first start in Berlin summer time,
    or, in a shorter replay, Friday's."""
    return LOG_HOUR if days >= 4 else WEEK_START + timedelta(hours=7)


def replay(
    days: int = 7,
    progress: Callable[[int, int, datetime], None] | None = None,
    function: Credentials | None = None,
) -> Replay:
    """Run the week. Needs the local endpoint already in AWS_ENDPOINT_URL. The fleet and the
    people act with the environment's credentials, the handler with `function`'s when given
    (put in the environment while it runs, as Lambda gives its role's)."""
    import boto3

    from offhours import handler, pace

    ec2 = boto3.client("ec2", region_name="us-east-1")
    rds = boto3.client("rds", region_name="us-east-1")
    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    ids = _launch(ec2, rds, autoscaling)
    result = Replay(ids)
    _watch_notices(result)
    names = {v: k for k, v in ids.items()}
    result.states = {name: [] for name in ids}
    result.sizes = {m.name: [] for m in FLEET if m.kind == "asg"}
    result.marks = {name: [] for name in ids}
    people = sorted(PEOPLE, key=lambda p: p.at)
    total = int(timedelta(days=days) / TICK)
    started = time.perf_counter()
    real_clock, real_monotonic = handler.clock, pace.monotonic
    # The rate limits' buckets refill in the week's time too: 15 minutes pass between two runs
    # (Auto Scaling's bucket, 40 calls then 4 a second, would otherwise make the replay wait).
    handler.clock = lambda: WEEK_START
    pace.monotonic = lambda: real_monotonic() + (handler.clock() - WEEK_START).total_seconds()
    pace.forget_all()
    try:
        for n in range(total):
            clients = (ec2, rds, autoscaling)
            _tick(n, clients, ids, names, people, result, days, progress, total, function)
    finally:
        handler.clock, pace.monotonic = real_clock, real_monotonic
        pace.forget_all()  # buckets that the week's clock dated
    result.seconds = time.perf_counter() - started
    return result


def _tick(
    n: int,
    clients: tuple[Any, Any, Any],
    ids: dict[str, str],
    names: dict[str, str],
    people: list[PersonAction],
    result: Replay,
    days: int,
    progress: Callable[[int, int, datetime], None] | None,
    total: int,
    function: Credentials | None = None,
) -> None:
    """One simulated run: people act, then the clock reads the event's time (a week is
    simulated: the handler acts only on events close to its clock), then the handler runs."""
    from offhours import handler
    from offhours.local import credentials_in_environment

    ec2, rds, autoscaling = clients
    at = WEEK_START + n * TICK
    while people and people[0].at <= at:
        person = people.pop(0)
        instance = ids[person.name]
        if person.action == "resize":
            low, desired, high = (int(x) for x in person.value.split("/"))
            autoscaling.update_auto_scaling_group(
                AutoScalingGroupName=instance, MinSize=low, DesiredCapacity=desired, MaxSize=high
            )
            what, symbol = f"resize to {person.value}", "+"
        elif person.action == "override":
            ec2.create_tags(Resources=[instance], Tags=[{"Key": OVERRIDE, "Value": person.value}])
            what, symbol = f"override: {person.value!r}", "o"
        else:
            call = ec2.start_instances if person.action == "start" else ec2.stop_instances
            call(InstanceIds=[instance])
            what = f"{person.action} (by a person)"
            symbol = "+" if person.action == "start" else "x"
        result.marks[person.name].append(Mark(person.at, symbol, person.why))
        result.actions.append((person.at, person.name, what, "manual", person.why))
    buffer = io.StringIO()
    handler.clock = lambda: at
    result.now = iso(at)
    with redirect_stdout(buffer):
        if function is None:
            handler.lambda_handler(_event(at, n), DemoContext())
        else:
            with credentials_in_environment(function):
                handler.lambda_handler(_event(at, n), DemoContext())
    lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
    result.every_line += lines
    if log_hour(days) <= at < log_hour(days) + timedelta(hours=1):
        result.log_lines += lines
    _read_lines(lines, at, names, result)
    for name, state in _states(ec2, rds, ids).items():
        result.states[name].append(state)
    for name, (size, record) in _group_sizes(autoscaling).items():
        result.states[name][-1] = "running" if size[1] > 0 else "stopped"
        result.sizes[name].append((size, record))
    result.runs += 1
    if progress is not None:
        progress(n + 1, total, at)


def _watch_notices(result: Replay) -> None:
    """Keep the notices the handler puts, shaped as EventBridge delivers them to a rule."""
    from offhours import runtime

    events = runtime.clients.client("events", "us-east-1")

    def keep(params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b"{}"
        for entry in json.loads(body).get("Entries", []):
            detail = json.loads(entry["Detail"])
            result.notices.append(
                {
                    "version": "0",
                    "id": f"notice-{len(result.notices) + 1}",
                    "detail-type": entry["DetailType"],
                    "source": entry["Source"],
                    "account": "123456789012",
                    "time": result.now,
                    "region": "us-east-1",
                    "resources": [],
                    "detail": detail,
                }
            )

    events.meta.events.register("before-call.eventbridge.PutEvents", keep)


def _read_lines(lines: list[str], at: datetime, names: dict[str, str], result: Replay) -> None:
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("kind") != "decision":
            continue
        name = names.get(record.get("instance_id", ""))
        if name is None:  # not one of the demo's instances
            continue
        outcome, action = record.get("outcome"), record.get("action")
        if isinstance(record.get("stopped_hours"), int | float):
            figures = result.saved.setdefault(name, [0.0, 0.0, 0.0])
            figures[0] += record["stopped_hours"]
            if isinstance(record.get("saved_usd"), int | float):
                figures[1] += record["saved_usd"]
            else:
                figures[2] += record["stopped_hours"]
        if outcome == "invalid":
            result.invalid[name] = record.get("reason", "")
        if outcome in ("done", "failed") and action in ("start", "stop", "hibernate"):
            symbol = {"start": "^", "stop": "v", "hibernate": "z"}[action]
            if outcome == "failed":
                symbol = "!"
            result.marks[name].append(Mark(at, symbol, record.get("reason", "")))
            result.actions.append(
                (at, name, f"{action} ({outcome})", "offhours", record.get("reason", ""))
            )


# --- what people see ----------------------------------------------------------------------

RUN, PART, OFF = "█", "▒", "·"
SYMBOLS = {"^": "▲", "v": "▼", "z": "z", "+": "+", "x": "×", "!": "!", "o": "o"}


def _hour_cells(result: Replay, name: str, days: int) -> list[str]:
    per_hour = int(timedelta(hours=1) / TICK)
    states = result.states[name]
    cells = []
    for hour in range(days * 24):
        chunk = states[hour * per_hour : (hour + 1) * per_hour]
        running = sum(1 for s in chunk if s in ("running", "pending"))
        cells.append(RUN if running == len(chunk) and chunk else PART if running else OFF)
    for mark in result.marks[name]:
        index = int((mark.at - WEEK_START) / timedelta(hours=1))
        if 0 <= index < len(cells):
            cells[index] = SYMBOLS[mark.symbol]
    return cells


def timeline_text(result: Replay, days: int, width: int) -> str:
    label = max(len(n) for n in result.ids) + 2
    per_block = max(1, min(days, (width - label) // 25))
    out = []
    cells = {name: _hour_cells(result, name, days) for name in result.ids}
    for first in range(0, days, per_block):
        block = range(first, min(days, first + per_block))
        header = " " * label + " ".join(
            f"{(WEEK_START + timedelta(days=d)):%a %d %b}".ljust(24) for d in block
        )
        hours = " " * label + " ".join("0     6     12    18    " for _ in block)
        out += [header.rstrip(), hours.rstrip()]
        for name in result.ids:
            row = " ".join("".join(cells[name][d * 24 : (d + 1) * 24]) for d in block)
            out.append(f"{name:<{label}}{row}")
        out.append("")
    out.append(
        f"{RUN} running  {PART} part of the hour  {OFF} stopped   "
        "▲ started by offhours  ▼ stopped  z hibernated  "
        "+ started (a group: sized up) by a person  × stopped by a person  "
        "o override set by a person"
    )
    out.append("Times are UTC; each cell is one hour.")
    return "\n".join(out)


def _managed(result: Replay) -> list[Member]:
    return [
        m
        for m in FLEET
        if m.schedule not in (None, "off") and m.name not in result.invalid and not m.tags
    ]


def savings(result: Replay) -> tuple[float, float, int]:
    """Instance-hours stopped and possible, over the instances and databases offhours manages
    and the instances of its Auto Scaling groups (their desired size as created: a group at a
    desired size of 1 instead of 2 saves one instance); and how many instances and databases."""
    hours_per_tick = TICK / timedelta(hours=1)
    stopped = possible = 0.0
    for m in _managed(result):
        if m.kind == "asg":
            stopped += sum(max(0, m.size[1] - size[1]) for size, _ in result.sizes[m.name])
            possible += m.size[1] * result.runs
        else:
            stopped += sum(1 for s in result.states[m.name] if s == "stopped")
            possible += result.runs
    count = sum(1 for m in _managed(result) if m.kind != "asg")
    return stopped * hours_per_tick, possible * hours_per_tick, count


def priced_text(result: Replay) -> list[str]:
    """What offhours' own figures say it saved (the decision lines' `stopped_hours` and
    `saved_usd`, as the metrics and `offhours report` count them), at the prices that the
    local endpoint answers for the Price List API."""
    from offhours.prices import RECORDED

    hours = sum(f[0] for f in result.saved.values())
    dollars = sum(f[1] for f in result.saved.values())
    unpriced = sum(f[2] for f in result.saved.values())
    replayed = result.runs * TICK
    year = timedelta(days=365) / replayed if result.runs else 0.0
    lines = [
        f"Priced: the stops offhours made that ended in the replay, {hours:,.1f} hours: "
        f"${dollars:,.2f} at on-demand prices,",
        f"        about ${dollars * year:,.0f} a year (Price List API: {RECORDED}).",
        "        A stop counts when it ends (the next event); disks and database storage bill",
        "        while stopped and are in no figure; a group's hours are the group's.",
    ]
    for name, (h, usd, none) in sorted(result.saved.items()):
        price = f"${usd:,.2f}" if not none else "no price (unknown)" if not usd else f"${usd:,.2f}+"
        member = next((m for m in FLEET if m.name == name), None)
        kind = member.instance_type if member is not None and member.kind != "asg" else "group"
        lines.append(f"    {name:<14} {kind:<14} {h:>6.1f} h  {price}")
    if unpriced:
        lines.append(
            f"    ({unpriced:,.1f} hours have no price: Auto Scaling groups are not priced)"
        )
    return lines


def _groups_saved(result: Replay) -> str:
    """`, and the 2 instances of 1 Auto Scaling group,` as the saving counts them."""
    groups = [m for m in _managed(result) if m.kind == "asg"]
    if not groups:
        return ""
    plural = "s" if len(groups) > 1 else ""
    return (
        f", and the {sum(m.size[1] for m in groups)} instances of {len(groups)} Auto Scaling "
        f"group{plural},"
    )


def _size(size: Size) -> str:
    return "/".join(map(str, size))


def group_sizes_text(result: Replay) -> list[str]:
    """Each Auto Scaling group's sizes (min/desired/max) as they changed in the replay, who
    changed them, and what offhours recorded at its stops."""
    out = []
    for name, seen in result.sizes.items():
        if not seen:
            continue
        out.append(f"  {name:<13} {WEEK_START:%a %d %b %H:%M}Z  {_size(seen[0][0]):<7} as created")
        changed = [n for n in range(1, len(seen)) if seen[n][0] != seen[n - 1][0]]
        for k, n in enumerate(changed):
            at = WEEK_START + n * TICK
            size, record = seen[n]
            marks = [m for m in result.marks[name] if m.at == at]
            symbol = marks[-1].symbol if marks else ""
            if symbol == "v":
                why = f"offhours stops it; records {SIZE_TAG}={record!r}"
            elif symbol == "^":
                why = f"offhours starts it: the sizes recorded at its stop ({record.split()[0]})"
            elif symbol == "+":
                until = changed[k + 1] if k + 1 < len(changed) else len(seen)
                why = (
                    f"a person: {marks[-1].text}; offhours' {until - n} runs from then leave "
                    "it so until the next event"
                )
            else:
                why = "changed outside offhours"
            out.append(f"  {'':<13} {at:%a %d %b %H:%M}Z  {_size(size):<7} {why}")
    return out


def report_text(result: Replay, days: int, width: int) -> str:
    out = ["", "The fleet", ""]
    for m in FLEET:
        value = "(no Schedule tag)" if m.schedule is None else repr(m.schedule)
        out.append(f"  {m.name:<14} {value:<62} {m.shows}")
    out += [
        "",
        f"A week, one run every 15 minutes ({result.runs} runs of the real Lambda handler)",
        "",
        timeline_text(result, days, width),
        "",
        "What happened, and why",
        "",
    ]
    for at, name, what, who, why in sorted(result.actions):
        actor = "person  " if who == "manual" else "offhours"
        seen = result.sizes.get(name, [])
        index = int((at - WEEK_START) / TICK)
        if who != "manual" and 0 <= index < len(seen):  # a group: the sizes it was left at
            what = f"{what} → {_size(seen[index][0])}"
        out.append(f"  {at:%a %d %b %H:%M}Z  {actor}  {name:<13} {what:<22} {why}")
    hour = log_hour(days)
    stopped, possible, managed = savings(result)
    share = stopped / possible if possible else 0.0
    if result.sizes:
        out += [
            "",
            "Auto Scaling groups: their sizes (min/desired/max) as they changed",
            "",
            *group_sizes_text(result),
        ]
    out += [
        "",
        f"Saved: {managed} scheduled instances and databases{_groups_saved(result)} were "
        f"stopped for {stopped:,.0f} of {possible:,.0f} instance-hours ({share:.0%}) against "
        "leaving them always on;",
        *priced_text(result),
        "",
        "Invalid schedules (left untouched, logged at every run)",
    ]
    for name, reason in sorted(result.invalid.items()):
        out.append(f"  {name}: {reason}")
    if not result.invalid:
        out.append("  none")
    out += ["", "Holidays and closures in the replay"]
    out += closures_text(days) or ["  none"]
    out += [
        "",
        f"Notices before a stop (NoticeMinutes={NOTICE_MINUTES}): {len(result.notices)} in the "
        "replay, once per resource and stop. The first, as EventBridge receives it:",
        "",
    ]
    if result.notices:
        out += ["  " + line for line in json.dumps(result.notices[0], indent=2).splitlines()]
    out += [
        "",
        f"The JSON log lines of one hour ({hour:%a %d %b %H:%M}-{hour + timedelta(hours=1):%H:%M} "
        "UTC), as CloudWatch Logs holds them. Their timestamp is the real clock; run_time and",
        "event_time are the simulated times. A line per decision that matters (an action, an",
        "adoption, a failure, an invalid value), a summary line and the metrics, every run:",
        "",
    ]
    out += result.log_lines
    return "\n".join(out)


def closures_text(days: int) -> list[str]:
    """The starts that a holiday or a closure skipped in the replayed days, by instance."""
    from offhours.catalog import default_catalog_text, parse_catalog
    from offhours.language import parse_schedule
    from offhours.timeline import timeline

    catalog = parse_catalog(default_catalog_text() + CLOSURES, source="the demo's catalogue")
    lines = []
    for m in FLEET:
        if m.schedule is None or "holidays=" not in m.schedule:
            continue
        schedule = parse_schedule(m.schedule, catalog=catalog)
        end = WEEK_START + timedelta(days=days)
        for day, name in timeline(schedule).skipped_between(WEEK_START, end):
            lines.append(f"  {m.name}: {day:%a %d %b %Y}: {name}, no start")
    return lines


def timeline_svg(result: Replay, days: int) -> str:
    cell, row_h, label = 6, 22, 130
    names = list(result.ids)
    width = label + days * 24 * cell + 20
    height = 50 + len(names) * row_h + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="16" font-size="13" font-weight="bold">offhours: a week from '
        f"{WEEK_START:%d %b %Y}, one cell per hour (UTC)</text>",
    ]
    for d in range(days):
        x = label + d * 24 * cell
        parts.append(
            f'<line x1="{x}" y1="26" x2="{x}" y2="{40 + len(names) * row_h}" stroke="#999"/>'
        )
        parts.append(f'<text x="{x + 2}" y="36">{(WEEK_START + timedelta(days=d)):%a %d %b}</text>')
    colours = {RUN: "#2e7d32", PART: "#a5d6a7", OFF: "#eeeeee"}
    for r, name in enumerate(names):
        y = 42 + r * row_h
        parts.append(f'<text x="10" y="{y + 13}">{escape(name)}</text>')
        states = result.states[name]
        per_hour = int(timedelta(hours=1) / TICK)
        for hour in range(days * 24):
            chunk = states[hour * per_hour : (hour + 1) * per_hour]
            running = sum(1 for s in chunk if s in ("running", "pending"))
            key = RUN if chunk and running == len(chunk) else PART if running else OFF
            parts.append(
                f'<rect x="{label + hour * cell}" y="{y}" width="{cell}" '
                f'height="{row_h - 6}" fill="{colours[key]}"/>'
            )
        for mark in result.marks[name]:
            mark_x = label + (mark.at - WEEK_START) / timedelta(hours=1) * cell
            fill = "#c62828" if mark.symbol in ("v", "z", "x") else "#1565c0"
            parts.append(
                f'<text x="{mark_x - 3:.1f}" y="{y + 12}" fill="{fill}" font-weight="bold">'
                f"{escape(SYMBOLS[mark.symbol])}<title>{escape(mark.text)}</title></text>"
            )
    legend_y = 42 + len(names) * row_h + 20
    parts.append(
        f'<text x="10" y="{legend_y}">dark: running; light: part of the hour; grey: '
        "stopped; ▲ ▼ z: started, stopped, hibernated by offhours; + ×: by a person (+: a group "
        "sized up); "
        "o: an override set by a person</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)


# --- the command --------------------------------------------------------------------------


def _progress(out: TextIO) -> Callable[[int, int, datetime], None]:
    tty = out.isatty()

    def show(done: int, total: int, at: datetime) -> None:
        if not tty:
            if done % 96 == 0 or done == total:
                out.write(f"  replayed to {at + TICK:%a %d %b %H:%M} UTC: {done}/{total} runs\n")
                out.flush()
            return
        if done % 8 and done != total:
            return
        filled = math.floor(30 * done / total)
        out.write(
            f"\r  replaying {at:%a %d %b %H:%M} UTC  [{'#' * filled}{'.' * (30 - filled)}] "
            f"{done}/{total} runs"
        )
        if done == total:
            out.write("\n")
        out.flush()

    return show


def stack_policies() -> list[Any] | None:
    """The policies of the role that reconciles, as IAM receives them from template.yaml for
    the demo's parameters, read by the tests' reader, tests/policies.py; None when the package
    does not run from a checkout (neither file is in the package)."""
    root = Path(__file__).resolve().parents[2]
    reader, stack = root / "tests" / "policies.py", root / "template.yaml"
    if not (reader.is_file() and stack.is_file()):
        return None
    spec = importlib.util.spec_from_file_location("offhours_demo_policies", reader)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    document = module.template()
    params = module.stack_params(
        document, TagKey=TAG, NoticeMinutes=NOTICE_MINUTES, Resources=RESOURCES
    )
    found: list[Any] = module.reconciling_policies(document, params)
    return found


def _replay_with_iam(endpoint: LocalEndpoint, days: int, err: TextIO) -> Replay:
    """The week on an endpoint that enforces the stack's IAM policies, when they can be read:
    the admin's keys in the environment for the fleet and the people, the role's for the
    handler's clients; moto's authorization and the handler's clients as they were after."""
    from offhours import runtime
    from offhours.aws import Clients
    from offhours.local import IamLab, credentials_in_environment

    policies = stack_policies()
    if policies is None:
        err.write("  IAM not enforced: template.yaml is not next to the package (make demo)\n")
        return replay(days, _progress(err))
    lab: IamLab = IamLab.create(endpoint, prefix=f"offhours-demo-{os.getpid()}-{next(_LABS)}")
    function = lab.role("function", policies)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(lab.admin.environment())
    with credentials_in_environment(function):
        import boto3

        session = boto3.Session()
        session.get_credentials()  # read from the environment, as in Lambda, and kept
    err.write(
        f"  IAM enforced: the handler runs as a role with the {len(policies)} policies of "
        "template.yaml\n"
    )
    saved = runtime.clients
    runtime.clients = Clients(session)
    try:
        with lab.enforced():
            return replay(days, _progress(err), function)
    finally:
        runtime.clients = saved


def main(
    svg: str | None = None,
    days: int = 7,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    log: str | None = None,
) -> int:
    from offhours.local import LocalEndpoint, offline_environment

    saved = dict(os.environ)
    try:
        return _main(svg, days, out, err, LocalEndpoint, offline_environment, log)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _main(
    svg: str | None,
    days: int,
    out: TextIO,
    err: TextIO,
    endpoint_type: Any,
    offline_environment: Callable[[], None],
    log: str | None = None,
) -> int:
    offline_environment()
    os.environ.update(
        {
            "SCHEDULE_TAG_KEY": TAG,
            "REGIONS": "us-east-1",
            "DRY_RUN": "false",
            "DEFAULT_TIMEZONE": "UTC",
            "POWERTOOLS_SERVICE_NAME": "offhours",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "offhours",
            "NOTICE_MINUTES": str(NOTICE_MINUTES),
            "RESOURCES": RESOURCES,
        }
    )
    for name in (
        "TARGET_ACCOUNTS",
        "CATALOG_PARAMETER",
        "FANOUT_QUEUE_URL",
        "AWS_ENDPOINT_URL_AUTO_SCALING",
    ):
        os.environ.pop(name, None)
    from offhours.catalog import default_catalog_text

    folder = tempfile.TemporaryDirectory()
    catalogue = os.path.join(folder.name, "catalog.yaml")
    with open(catalogue, "w", encoding="utf-8") as handle:
        handle.write(default_catalog_text() + CLOSURES)
    os.environ["CATALOG_FILE"] = catalogue
    err.write(
        "offhours demo: starting a local EC2, RDS and Auto Scaling endpoint (moto, 127.0.0.1)\n"
    )
    endpoint = endpoint_type.start()
    endpoint.reset()  # moto keeps its state per process: start from an empty EC2
    os.environ["AWS_ENDPOINT_URL"] = endpoint.url
    try:
        kinds = [m.kind for m in FLEET]
        err.write(
            f"  endpoint {endpoint.url}; creating {kinds.count('ec2')} instances, "
            f"{kinds.count('rds')} database and {kinds.count('asg')} Auto Scaling group\n"
        )
        result = _replay_with_iam(endpoint, days, err)
    finally:
        endpoint.stop()
        folder.cleanup()
    width = shutil.get_terminal_size((120, 40)).columns
    out.write(report_text(result, days, width) + "\n")
    out.write(f"\n{result.runs} runs in {result.seconds:.1f} s.\n")
    if svg:
        with open(svg, "w", encoding="utf-8") as handle:
            handle.write(timeline_svg(result, days))
        out.write(f"Timeline written to {svg}\n")
    if log:
        with open(log, "w", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in result.every_line)
        out.write(
            f"The week's log ({len(result.every_line)} lines) written to {log}: "
            f"offhours report --file {log} --since {iso(WEEK_START)} "
            f"--until {iso(WEEK_START + timedelta(days=days))}\n"
        )
    return 0
