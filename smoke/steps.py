"""The smoke test's steps after the deploy: launch, schedule, invoke, check, clean up.

Each step takes a `Clients` (boto3 clients of one account and region), a `Function` (a way to
invoke offhours and read the lines it logged) and a `Clock`; nothing here knows whether they
reach AWS or the local endpoint. The scene:

- `stopper`, an instance that runs, tagged `stop=<M H> * * *` (a cron stop a minute or two
  ahead): the first run adopts it (a new instance is never acted on at once), the second, once
  the stop's minute has passed, stops it;
- `starter`, an instance that is stopped, tagged `start=<M H> * * *; enforce`: the first run
  starts it (yesterday's start is the latest event, and `enforce` acts at once);
- `database` (unless `--no-database`), a db.t4g.micro PostgreSQL tagged like `stopper`:
  adopted by the first run, stopped by the second.

Every resource carries `offhours-smoke-run=<run id>`, so that `clean` finds it even after a run
that was killed; the stack is named after the run and reads a tag key of its own (the run id),
so it never touches anything but the run's resources, and the account's own offhours (tag
`Schedule`) never touches them.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

PREFIX = "offhours-smoke-"
RUN_TAG = "offhours-smoke-run"  # on every resource a run makes: its run id
SAM_BUCKET_STACK = "aws-sam-cli-managed-default"  # `sam deploy --resolve-s3` keeps its bucket here
AMI_PARAMETERS = {
    "arm64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
    "x86_64": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
}
LEAD = timedelta(seconds=60)  # the least time between the first run and the schedules' minute
DELETABLE_DB_WAIT = timedelta(minutes=20)  # a stopping database cannot be deleted until stopped


def new_run_id() -> str:
    return PREFIX + secrets.token_hex(4)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- what the steps are given ----------------------------------------------------------------


@dataclass
class Clients:
    """boto3 clients of one account and region."""

    ec2: Any
    rds: Any
    ssm: Any
    logs: Any
    cloudwatch: Any
    cloudformation: Any
    s3: Any
    sts: Any
    region: str

    @classmethod
    def of(cls, session: Any, region: str, **client_args: Any) -> Clients:
        def client(service: str) -> Any:
            return session.client(service, region_name=region, **client_args)

        return cls(
            ec2=client("ec2"),
            rds=client("rds"),
            ssm=client("ssm"),
            logs=client("logs"),
            cloudwatch=client("cloudwatch"),
            cloudformation=client("cloudformation"),
            s3=client("s3"),
            sts=client("sts"),
            region=region,
        )


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@dataclass
class Line:
    """One log line of the function: its timestamp (ms, as CloudWatch Logs stored it) and the
    JSON object it holds."""

    timestamp: int
    record: dict[str, Any]


class Function(Protocol):
    """offhours as deployed: invoke it with an event, read back the log group."""

    log_group: str

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """The handler's result (its six counts); raises when the function failed."""
        ...


@dataclass(frozen=True)
class Options:
    run_id: str
    database: bool = True
    instance_type: str = "t4g.nano"
    db_class: str = "db.t4g.micro"
    subnet_id: str | None = None
    metrics_wait: timedelta = timedelta(minutes=5)  # EMF metrics appear after a minute or two

    @property
    def stack(self) -> str:
        return self.run_id

    @property
    def tag_key(self) -> str:
        """The schedule tag of the throw-away stack: its own, so it schedules nothing else."""
        return self.run_id

    @property
    def state_key(self) -> str:
        return f"{self.tag_key}:offhours-handled"

    @property
    def db_identifier(self) -> str:
        return f"{self.run_id}-db"


def stack_parameters(options: Options, region: str) -> dict[str, str]:
    """The throw-away stack's parameters: its own tag key, its own region, acting for real,
    a schedule that never fires (the smoke test invokes it; a scheduled run in between would
    race with it), a day of logs, a metrics namespace of its own (the account's offhours
    alarms never see the smoke's counts)."""
    return {
        "TagKey": options.tag_key,
        "Resources": "ec2,rds" if options.database else "ec2",
        "Regions": region,
        "DryRun": "false",
        "ScheduleExpression": "cron(0 0 1 1 ? 2199)",
        "LogRetentionDays": "1",
        "MetricsNamespace": f"offhours-smoke/{options.run_id}",
    }


# --- what it costs ---------------------------------------------------------------------------

# AWS's public on-demand prices in us-east-1 (USD); other regions differ by a few percent.
PRICES = {
    "t4g.nano": 0.0042,  # an hour, Linux
    "t3.nano": 0.0052,
    "db.t4g.micro": 0.016,  # an hour, PostgreSQL, single-AZ, billed for at least 10 minutes
    "public-ipv4": 0.005,  # an hour per address (instances in a default subnet get one)
    "ebs-gp3-gb-month": 0.08,
    "rds-gp3-gb-month": 0.115,
}
HOURS_IN_MONTH = 730


def cost_estimate(options: Options) -> tuple[float, list[str]]:
    """Dollars for one run, and the lines that say where they go."""
    minutes = 20 if options.database else 10  # they wait for the database to be created
    instance_hours = 2 * minutes / 60
    lines = []
    compute = instance_hours * PRICES.get(options.instance_type, PRICES["t3.nano"])
    addresses = instance_hours * PRICES["public-ipv4"]
    disks = instance_hours * 8 * PRICES["ebs-gp3-gb-month"] / HOURS_IN_MONTH
    lines.append(
        f"2 x {options.instance_type} for ~{minutes} min: ${compute:.4f}, their public IPv4 "
        f"addresses ${addresses:.4f}, 8 GB root volumes ${disks:.4f}"
    )
    total = compute + addresses + disks
    if options.database:
        db = (20 / 60) * PRICES["db.t4g.micro"]
        storage = 20 * PRICES["rds-gp3-gb-month"] * (20 / 60) / HOURS_IN_MONTH
        lines.append(
            f"1 x {options.db_class} PostgreSQL for ~20 min: ${db:.4f}, 20 GB storage "
            f"${storage:.4f}"
        )
        total += db + storage
    other = 0.002  # Lambda, CloudWatch Logs and custom metrics, alarms for an hour, S3
    lines.append(
        f"Lambda (2 invocations), CloudWatch Logs (KBs), ~6 custom metrics and ~8 alarms "
        f"for an hour, the package in S3: < ${other:.3f}"
    )
    total += other
    return total, lines


def plan_text(options: Options, account: str, region: str) -> str:
    total, lines = cost_estimate(options)
    minutes = "about 25 minutes" if options.database else "about 10 minutes"
    made = [
        f"a CloudFormation stack {options.stack} (template.yaml, DryRun=false, its own tag key "
        f"{options.tag_key!r}, no schedule) and its log group /offhours/{options.stack}",
        f"2 EC2 instances {options.instance_type} (Amazon Linux 2023) in the default VPC",
    ]
    if options.database:
        made.append(
            f"1 RDS database {options.db_identifier} ({options.db_class}, PostgreSQL, 20 GB, "
            "no backups), which takes ~10 minutes to create"
        )
    text = [
        f"offhours smoke test {options.run_id} in account {account}, region {region}.",
        "It creates, all tagged " + f"{RUN_TAG}={options.run_id}:",
        *(f"  - {m}" for m in made),
        "and deletes all of it at the end, also when it fails or is interrupted "
        "(`make smoke-clean` finds what a killed run left).",
        f"Cost: about {100 * total:.1f} US cents (us-east-1 on-demand prices):",
        *(f"  - {line}" for line in lines),
        f"Duration: {minutes}, the stack's deploy and deletion included.",
    ]
    return "\n".join(text)


# --- the account ------------------------------------------------------------------------------


class Refused(Exception):
    """The smoke test will not run: said why."""


ACCOUNT_VARIABLE = "OFFHOURS_SMOKE_ACCOUNT"


def check_account(sts: Any, wanted: str | None) -> str:
    """The caller's account, when it is the one named by OFFHOURS_SMOKE_ACCOUNT; Refused
    otherwise. `wanted` is read before any client is made (see smoke.account.main)."""
    wanted = (wanted or "").strip()
    if not (len(wanted) == 12 and wanted.isdigit()):
        raise Refused(
            f"set {ACCOUNT_VARIABLE} to the 12-digit id of the account the smoke test may "
            "create resources in (it must be the account of your credentials)"
        )
    try:
        account = str(sts.get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as error:
        raise Refused(f"could not ask STS whose credentials these are: {error}") from error
    if account != wanted:
        raise Refused(
            f"your credentials are for account {account}, not {ACCOUNT_VARIABLE}={wanted}: "
            "nothing was made"
        )
    return account


# --- launch -----------------------------------------------------------------------------------


@dataclass
class Scene:
    """What a run made: ids, and when the schedules' minute falls."""

    stopper: str = ""
    starter: str = ""
    database: str | None = None  # the DB instance's ARN
    stop_at: datetime | None = None


def _architecture(instance_type: str) -> str:
    family = instance_type.split(".")[0]
    return "arm64" if "g" in family.lstrip("abcdefghijklmnopqrstuvwxyz")[1:] else "x86_64"


def _run_tags(options: Options, name: str) -> list[dict[str, str]]:
    return [{"Key": RUN_TAG, "Value": options.run_id}, {"Key": "Name", "Value": name}]


def create_database(clients: Clients, options: Options, say: Callable[[str], None]) -> str:
    """Ask for the database first: it takes longest."""
    created = clients.rds.create_db_instance(
        DBInstanceIdentifier=options.db_identifier,
        Engine="postgres",
        DBInstanceClass=options.db_class,
        AllocatedStorage=20,
        StorageType="gp3",
        MasterUsername="smoke",
        MasterUserPassword=secrets.token_urlsafe(24),  # never used, never kept
        BackupRetentionPeriod=0,
        MultiAZ=False,
        PubliclyAccessible=False,
        DeletionProtection=False,
        Tags=_run_tags(options, options.db_identifier),
    )["DBInstance"]
    say(f"creating database {options.db_identifier} (about 10 minutes)")
    return str(created["DBInstanceArn"])


def launch(clients: Clients, options: Options, scene: Scene, say: Callable[[str], None]) -> Scene:
    """The instances (and the database), up; `starter` stopped. Fills `scene` as it goes, so
    that a failure half-way still leaves its ids to clean up (clean finds them by tag anyway)."""
    if options.database:
        scene.database = create_database(clients, options, say)
    parameter = AMI_PARAMETERS[_architecture(options.instance_type)]
    image = clients.ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    args: dict[str, Any] = {
        "ImageId": image,
        "InstanceType": options.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "MetadataOptions": {"HttpTokens": "required"},
    }
    if options.subnet_id:
        args["SubnetId"] = options.subnet_id
    ids = []
    for name in ("stopper", "starter"):
        tags = _run_tags(options, f"{options.run_id}-{name}")
        spec = [{"ResourceType": t, "Tags": tags} for t in ("instance", "volume")]
        (instance,) = clients.ec2.run_instances(**args, TagSpecifications=spec)["Instances"]
        ids.append(instance["InstanceId"])
    scene.stopper, scene.starter = ids
    say(f"launched {scene.stopper} (stopper) and {scene.starter} (starter) from {image}")
    clients.ec2.get_waiter("instance_running").wait(InstanceIds=ids)
    clients.ec2.stop_instances(InstanceIds=[scene.starter])
    clients.ec2.get_waiter("instance_stopped").wait(InstanceIds=[scene.starter])
    say(f"{scene.stopper} running, {scene.starter} stopped")
    if options.database:
        clients.rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=options.db_identifier,
            WaiterConfig={"Delay": 30, "MaxAttempts": 60},
        )
        say(f"database {options.db_identifier} available")
    return scene


def schedule(clients: Clients, options: Options, scene: Scene, now: datetime) -> Scene:
    """Tag the scene with schedules whose minute is a minute or two ahead of `now`."""
    stop_at = (now + LEAD + timedelta(minutes=1)).replace(second=0, microsecond=0)
    cron = f"{stop_at.minute} {stop_at.hour} * * *"
    values = {scene.stopper: f"stop={cron}", scene.starter: f"start={cron}; enforce"}
    for instance_id, value in values.items():
        clients.ec2.create_tags(
            Resources=[instance_id], Tags=[{"Key": options.tag_key, "Value": value}]
        )
    if scene.database:
        clients.rds.add_tags_to_resource(
            ResourceName=scene.database, Tags=[{"Key": options.tag_key, "Value": f"stop={cron}"}]
        )
    scene.stop_at = stop_at
    return scene


# --- invoke and read back -------------------------------------------------------------------


def scheduled_event(run_id: str, n: int, at: datetime, account: str, region: str) -> dict[str, Any]:
    """An EventBridge scheduled event as the stack's rule would send it at `at`."""
    return {
        "version": "0",
        "id": f"{run_id}-run-{n}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": iso(at),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{run_id}"],
        "detail": {},
    }


@dataclass
class Run:
    """One invocation: its event, result and the lines it logged (from the log group)."""

    event: dict[str, Any]
    result: dict[str, Any]
    lines: list[Line] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)  # EMF blobs

    def decisions(self) -> dict[str, dict[str, Any]]:
        """The decision lines by resource id (the instance id, or the database's ARN)."""
        return {
            str(line.record.get("instance_id")): line.record
            for line in self.lines
            if line.record.get("kind") == "decision"
        }

    def summary(self) -> dict[str, Any] | None:
        found = [line.record for line in self.lines if line.record.get("kind") == "summary"]
        return found[-1] if found else None

    def totals(self) -> dict[str, Any] | None:
        """The run's metrics blob of totals (no `resource` dimension)."""
        found = [m for m in self.metrics if "resource" not in m]
        return found[-1] if found else None


def _records(events: list[dict[str, Any]]) -> Iterator[Line]:
    for event in events:
        try:
            record = json.loads(event["message"])
        except ValueError:
            continue  # Lambda's own START, END and REPORT lines
        if isinstance(record, dict):
            yield Line(int(event["timestamp"]), record)


def _filter(logs: Any, group: str, pattern: str, start: int, end: int | None = None) -> list[Any]:
    args: dict[str, Any] = {"logGroupName": group, "filterPattern": pattern, "startTime": start}
    if end is not None:
        args["endTime"] = end
    events: list[Any] = []
    for page in logs.get_paginator("filter_log_events").paginate(**args):
        events += page.get("events", [])
    return events


def read_back(
    clients: Clients,
    function: Function,
    event: dict[str, Any],
    since: datetime,
    clock: Clock,
    patience: timedelta = timedelta(minutes=2),
) -> tuple[list[Line], list[dict[str, Any]]]:
    """The run's decision and summary lines (every line carries the event's id as its
    correlation id) and its metrics blobs (printed within moments of its summary), from the
    log group; CloudWatch Logs shows them after a few seconds."""
    start = int(since.timestamp() * 1000) - 60_000
    pattern = (
        f'{{ ($.kind = "decision" || $.kind = "summary") && $.correlation_id = "{event["id"]}" }}'
    )
    deadline = clock.now() + patience
    while True:
        events = _filter(clients.logs, function.log_group, pattern, start)
        lines = [
            line
            for line in _records(events)
            if line.record.get("correlation_id") == event["id"]
            and line.record.get("kind") in ("decision", "summary")
        ]
        if any(line.record.get("kind") == "summary" for line in lines) or clock.now() > deadline:
            break
        clock.sleep(5)
    if not lines:
        return lines, []
    first = min(line.timestamp for line in lines) - 2_000
    last = max(line.timestamp for line in lines) + 5_000
    emf = _filter(clients.logs, function.log_group, "{ $._aws.Timestamp > 0 }", first, last)
    blobs = [line.record for line in _records(emf) if "_aws" in line.record]
    return lines, blobs


def invoke(
    clients: Clients, function: Function, options: Options, n: int, account: str, clock: Clock
) -> Run:
    at = clock.now()
    event = scheduled_event(options.run_id, n, at, account, clients.region)
    result = function.invoke(event)
    lines, blobs = read_back(clients, function, event, at, clock)
    return Run(event, result, lines, blobs)


# --- check -------------------------------------------------------------------------------------


@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    say: Callable[[str], None] = print

    def check(self, what: str, ok: bool, detail: Any = "") -> bool:
        self.checks.append((what, ok, str(detail)))
        self.say(f"  {'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": {detail}"))
        return ok

    @property
    def failures(self) -> list[tuple[str, bool, str]]:
        return [c for c in self.checks if not c[1]]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not self.failures


def _instance(clients: Clients, instance_id: str) -> tuple[str, dict[str, str]]:
    reservations = clients.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    item = reservations[0]["Instances"][0]
    return str(item["State"]["Name"]), {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def _database(clients: Clients, options: Options) -> tuple[str, dict[str, str]]:
    found = clients.rds.describe_db_instances(DBInstanceIdentifier=options.db_identifier)
    item = found["DBInstances"][0]
    return str(item["DBInstanceStatus"]), {t["Key"]: t["Value"] for t in item.get("TagList", [])}


def _anchor(tags: dict[str, str], options: Options) -> str | None:
    """A, the instant of the state tag (its first word)."""
    value = tags.get(options.state_key)
    return value.split()[0] if value else None


def _metric_value(blob: dict[str, Any] | None, name: str) -> float | None:
    if blob is None or name not in blob:
        return None
    value = blob[name]
    return float(sum(value) if isinstance(value, list) else value)


def _decided(
    report: Report, run: Run, name: str, resource: str | None, action: str, outcome: str
) -> None:
    """The run logged a decision line for `resource` with this action and outcome."""
    line = run.decisions().get(str(resource))
    detail: Any = f"no decision line for {resource}"
    if line is not None:
        detail = {k: line.get(k) for k in ("action", "outcome", "reason")}
    ok = line is not None and (line.get("action"), line.get("outcome")) == (action, outcome)
    report.check(f"{name}: a decision line '{action}, {outcome}'", ok, detail)


def _counts(report: Report, run: Run, **wanted: int) -> None:
    got = {k: run.result.get(k) for k in wanted}
    report.check(f"the function returned {wanted}", got == wanted, run.result)
    summary = run.summary() or {}
    report.check(
        "a summary line in the log group says the same",
        {k: summary.get(k) for k in wanted} == wanted,
        summary or "no summary line",
    )


def check_first_run(
    report: Report, clients: Clients, options: Options, scene: Scene, run: Run
) -> None:
    """The first run, before the schedules' minute: `starter` started (enforce), the others
    adopted (their state tags say the run's time)."""
    say_at = run.event["time"]
    assert scene.stop_at is not None
    yesterday = iso(scene.stop_at - timedelta(days=1))
    _counts(report, run, started=1, stopped=0, failed=0, invalid=0)
    _decided(report, run, "starter", scene.starter, "start", "done")
    _decided(report, run, "stopper", scene.stopper, "adopt", "adopted")
    state, tags = _instance(clients, scene.starter)
    report.check("starter is starting", state in ("pending", "running"), state)
    report.check(
        "starter's state tag holds the start it applied (yesterday's)",
        _anchor(tags, options) == yesterday,
        tags.get(options.state_key),
    )
    state, tags = _instance(clients, scene.stopper)
    report.check("stopper still runs", state == "running", state)
    report.check(
        "stopper's state tag holds the run's time (adopted)",
        _anchor(tags, options) == say_at,
        tags.get(options.state_key),
    )
    if scene.database:
        _decided(report, run, "database", scene.database, "adopt", "adopted")
        status, tags = _database(clients, options)
        report.check("database is still available", status == "available", status)
        report.check(
            "database's state tag holds the run's time (adopted)",
            _anchor(tags, options) == say_at,
            tags.get(options.state_key),
        )
    report.check(
        "the run's metrics (EMF) count started=1",
        _metric_value(run.totals(), "started") == 1,
        run.totals() or "no metrics line",
    )


def check_second_run(
    report: Report, clients: Clients, options: Options, scene: Scene, run: Run
) -> None:
    """The second run, after the schedules' minute: `stopper` (and the database) stopped, their
    state tags and `starter`'s at that minute."""
    assert scene.stop_at is not None
    stop_at = iso(scene.stop_at)
    stopped = 2 if scene.database else 1
    _counts(report, run, started=0, stopped=stopped, failed=0, invalid=0)
    _decided(report, run, "stopper", scene.stopper, "stop", "done")
    state, tags = _instance(clients, scene.stopper)
    report.check("stopper is stopping", state in ("stopping", "stopped"), state)
    report.check(
        f"stopper's state tag holds the stop at {stop_at}",
        _anchor(tags, options) == stop_at,
        tags.get(options.state_key),
    )
    state, tags = _instance(clients, scene.starter)
    report.check("starter still runs", state in ("pending", "running"), state)
    report.check(
        f"starter's state tag holds today's start at {stop_at}",
        _anchor(tags, options) == stop_at,
        tags.get(options.state_key),
    )
    if scene.database:
        _decided(report, run, "database", scene.database, "stop", "done")
        status, tags = _database(clients, options)
        report.check("database is stopping", status in ("stopping", "stopped"), status)
        report.check(
            f"database's state tag holds the stop at {stop_at}",
            _anchor(tags, options) == stop_at,
            tags.get(options.state_key),
        )
    report.check(
        f"the run's metrics (EMF) count stopped={stopped}",
        _metric_value(run.totals(), "stopped") == stopped,
        run.totals() or "no metrics line",
    )


def metric_sums(
    clients: Clients, blob: dict[str, Any], names: list[str], since: datetime, until: datetime
) -> dict[str, float]:
    """What CloudWatch Metrics holds for the metrics of an EMF blob (its namespace and its
    first dimension set), summed over the time given."""
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    dimensions = [{"Name": d, "Value": str(blob[d])} for d in directive["Dimensions"][0]]
    queries = [
        {
            "Id": f"m{i}",
            "Label": name,
            "MetricStat": {
                "Metric": {
                    "Namespace": directive["Namespace"],
                    "MetricName": name,
                    "Dimensions": dimensions,
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }
        for i, name in enumerate(names)
    ]
    found = clients.cloudwatch.get_metric_data(
        MetricDataQueries=queries, StartTime=since, EndTime=until
    )["MetricDataResults"]
    return {r["Label"]: float(sum(r.get("Values", []))) for r in found}


def check_metrics(
    report: Report,
    clients: Clients,
    options: Options,
    runs: list[Run],
    since: datetime,
    clock: Clock,
) -> None:
    """CloudWatch Metrics (GetMetricData) holds what the runs' EMF lines said: started=1 and
    stopped=1 or 2. EMF metrics become readable a minute or two after the line."""
    blob = next((r.totals() for r in runs if r.totals() is not None), None)
    if blob is None:
        report.check("CloudWatch Metrics: the runs put metrics", False, "no EMF lines to follow")
        return
    wanted = {"started": 1.0, "stopped": 2.0 if options.database else 1.0}
    deadline = clock.now() + options.metrics_wait
    while True:
        sums = metric_sums(
            clients, blob, list(wanted), since - timedelta(minutes=5), clock.now() + LEAD
        )
        if sums == wanted or clock.now() > deadline:
            break
        clock.sleep(20)
    report.check(f"CloudWatch Metrics (GetMetricData) holds {wanted}", sums == wanted, sums)


# --- the whole run ---------------------------------------------------------------------------


def exercise(
    clients: Clients,
    function: Function,
    options: Options,
    account: str,
    clock: Clock,
    report: Report,
    scene: Scene,
) -> Report:
    """Everything after the deploy but the clean-up: launch, two runs, the checks."""
    say = report.say
    since = clock.now()
    launch(clients, options, scene, say)
    schedule(clients, options, scene, clock.now())
    assert scene.stop_at is not None
    say(f"tagged: stop/start at {iso(scene.stop_at)} (every day, UTC)")
    say("run 1 (before that minute)")
    first = invoke(clients, function, options, 1, account, clock)
    check_first_run(report, clients, options, scene, first)
    wait = (scene.stop_at + timedelta(seconds=5) - clock.now()).total_seconds()
    say(f"waiting {max(0, wait):.0f} s for the schedules' minute")
    clock.sleep(wait)
    say("run 2 (after it)")
    second = invoke(clients, function, options, 2, account, clock)
    check_second_run(report, clients, options, scene, second)
    check_metrics(report, clients, options, [first, second], since, clock)
    return report


# --- clean up -----------------------------------------------------------------------------------


def _is_mine(run_id: str | None, value: str) -> bool:
    return value == run_id if run_id else value.startswith(PREFIX)


def _instances(clients: Clients, run_id: str | None) -> list[str]:
    filters = [
        {"Name": "tag-key", "Values": [RUN_TAG]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ]
    found = []
    for page in clients.ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            for item in reservation["Instances"]:
                tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
                if _is_mine(run_id, tags.get(RUN_TAG, "")):
                    found.append(str(item["InstanceId"]))
    return found


def _databases(clients: Clients, run_id: str | None) -> list[tuple[str, str]]:
    found = []
    for page in clients.rds.get_paginator("describe_db_instances").paginate():
        for item in page["DBInstances"]:
            tags = {t["Key"]: t["Value"] for t in item.get("TagList", [])}
            if _is_mine(run_id, tags.get(RUN_TAG, "")):
                found.append((str(item["DBInstanceIdentifier"]), str(item["DBInstanceStatus"])))
    return found


def _stacks(clients: Clients, run_id: str | None) -> list[str]:
    if run_id:
        try:
            stacks = clients.cloudformation.describe_stacks(StackName=run_id)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return []
            raise
        return [run_id for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
    found = []
    for page in clients.cloudformation.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            name = str(summary["StackName"])
            if summary["StackStatus"] != "DELETE_COMPLETE" and name.startswith(PREFIX):
                found.append(name)
    return sorted(set(found))


def _log_groups(clients: Clients, run_id: str | None) -> list[str]:
    prefix = f"/offhours/{run_id or PREFIX}"
    found = []
    for page in clients.logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=prefix
    ):
        for group in page["logGroups"]:
            name = str(group["logGroupName"])
            if _is_mine(run_id, name.removeprefix("/offhours/")):
                found.append(name)
    return found


def _sam_artifacts(clients: Clients, run_id: str | None) -> tuple[str | None, list[Any]]:
    """The packages `sam deploy --resolve-s3 --s3-prefix <run id>` put in SAM's own bucket."""
    try:
        stack = clients.cloudformation.describe_stacks(StackName=SAM_BUCKET_STACK)["Stacks"][0]
    except ClientError:
        return None, []
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    bucket = outputs.get("SourceBucket")
    if not bucket:
        return None, []
    versions = []
    paginator = clients.s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{run_id or PREFIX}"):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            if _is_mine(run_id, str(item["Key"]).split("/")[0]):
                versions.append({"Key": item["Key"], "VersionId": item["VersionId"]})
    return bucket, versions


def clean(
    clients: Clients,
    run_id: str | None,
    say: Callable[[str], None] = print,
    clock: Clock | None = None,
    db_wait: timedelta = DELETABLE_DB_WAIT,
) -> list[str]:
    """Delete what one run (or, with no run id, every smoke run) made in this region:
    instances and databases tagged offhours-smoke-run, the stacks, their retained log groups,
    the packages SAM uploaded. Each kind on its own, so that one failure leaves the rest to be
    cleaned; returns what is left (empty when all is gone or going)."""
    clock = clock or RealClock()
    left: list[str] = []

    def attempt(what: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as error:  # keep going: the next kinds must still be cleaned
            left.append(f"{what}: {error}")
            say(f"  could not delete {what}: {error}")

    instances = _instances(clients, run_id)
    if instances:
        say(f"terminating {', '.join(instances)}")
        attempt("instances", lambda: clients.ec2.terminate_instances(InstanceIds=instances))
    pending = [
        (name, status) for name, status in _databases(clients, run_id) if status != "deleting"
    ]
    for name, status in pending:
        say(f"deleting database {name} ({status})")
    for stack in _stacks(clients, run_id):
        say(f"deleting stack {stack}")

        def delete_stack(stack: str = stack) -> None:
            clients.cloudformation.delete_stack(StackName=stack)
            clients.cloudformation.get_waiter("stack_delete_complete").wait(
                StackName=stack, WaiterConfig={"Delay": 10, "MaxAttempts": 90}
            )

        attempt(f"stack {stack}", delete_stack)
    for group in _log_groups(clients, run_id):
        say(f"deleting log group {group}")

        def delete_group(group: str = group) -> None:
            clients.logs.delete_log_group(logGroupName=group)

        attempt(f"log group {group}", delete_group)
    attempt("SAM's uploads", lambda: _delete_artifacts(clients, run_id, say))
    deadline = clock.now() + db_wait
    while pending:
        retry = []
        for name, status in pending:
            try:
                clients.rds.delete_db_instance(
                    DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code == "DBInstanceNotFound":
                    continue
                if code == "InvalidDBInstanceState" and clock.now() < deadline:
                    retry.append((name, status))  # stopping or starting: deletable once done
                    continue
                left.append(f"database {name}: {error}")
                say(f"  could not delete database {name}: {error}")
        pending = retry
        if pending:
            say(f"  waiting for {', '.join(n for n, _ in pending)} to finish stopping")
            clock.sleep(30)
    return left


def _delete_artifacts(clients: Clients, run_id: str | None, say: Callable[[str], None]) -> None:
    bucket, versions = _sam_artifacts(clients, run_id)
    if bucket and versions:
        say(f"deleting {len(versions)} uploads in s3://{bucket}")
        for start in range(0, len(versions), 1000):
            clients.s3.delete_objects(
                Bucket=bucket, Delete={"Objects": versions[start : start + 1000], "Quiet": True}
            )


def leftovers(clients: Clients, run_id: str | None) -> list[str]:
    """What a run (or any smoke run) still has in this region."""
    found = [f"instance {i}" for i in _instances(clients, run_id)]
    found += [f"database {n} ({s})" for n, s in _databases(clients, run_id) if s != "deleting"]
    found += [f"stack {s}" for s in _stacks(clients, run_id)]
    found += [f"log group {g}" for g in _log_groups(clients, run_id)]
    return found


def smoke(
    clients: Clients,
    deploy: Callable[[], Function],
    options: Options,
    account: str,
    clock: Clock,
    say: Callable[[str], None] = print,
    cleanup_guard: AbstractContextManager[Any] | None = None,
) -> Report:
    """Deploy, exercise, and clean up whatever happens (a failure, Ctrl-C, a signal that the
    caller turns into an exception: see smoke.account.signals_raise). `cleanup_guard` is
    entered for the clean-up (smoke.account.signals_held: no signal cuts it short)."""
    report = Report(say=say)
    scene = Scene()
    try:
        say(f"deploying stack {options.stack}")
        function = deploy()
        exercise(clients, function, options, account, clock, report, scene)
    finally:
        say(f"cleaning up {options.run_id}")
        with cleanup_guard or nullcontext():
            left = clean(clients, options.run_id, say, clock)
        report.check("everything the run made is deleted", not left, left)
    return report
