"""One run: for every target, list the tagged instances, plan, apply, report.

The Lambda handler and the CLI both call `run`. It gathers inputs (the gateway), decides with
the pure planner, and applies (the executor); a dry run simply does not apply.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from botocore.exceptions import ClientError

from offhours.aws import Clients
from offhours.config import Config, region_problem
from offhours.executor import (
    Execution,
    Notifier,
    Outcome,
    Outcomes,
    background,
    dry_run,
    execute,
    on_event,
    share_fingerprints,
)
from offhours.instance import Instance
from offhours.language import CatalogLike
from offhours.pace import Pacer, buckets_for
from offhours.planner import (
    Decision,
    Plan,
    Reading,
    Settings,
    Step,
    Verdict,
    needs_details,
    plan_groups,
    read_value,
)
from offhours.resources import (
    DEFAULT_KINDS,
    KINDS,
    EndpointUnavailable,
    Gateway,
    OutOfTime,
    PartialBatch,
    family,
    make_gateway,
)
from offhours.savings import Saving, Tally, people_stop, stop_ended
from offhours.state import fingerprint_tag_key, read_anchor

COUNT_KEYS = ("evaluated", "started", "stopped", "skipped", "invalid", "failed")
T = TypeVar("T")


class Target(NamedTuple):
    region: str
    account: str | None = None  # None: the function's own account

    def __str__(self) -> str:
        return f"{self.account or 'own account'}/{self.region}"


def tally(c: Counter[str], o: Outcome) -> None:
    """Count one outcome: the handler's six counts (DESIGN §6) and the summary's others."""
    c["evaluated"] += 1
    step, outcome = o.decision.step, o.outcome
    if o.changed and step is Step.START:
        c["started"] += 1
    elif o.changed and step in (Step.STOP, Step.HIBERNATE):
        c["stopped"] += 1
    if outcome == Outcomes.SKIPPED or (outcome == Outcomes.DEFERRED and not o.changed):
        c["skipped"] += 1
    elif outcome == Outcomes.INVALID:
        c["invalid"] += 1
    elif outcome == Outcomes.FAILED:
        c["failed"] += 1
    if outcome == Outcomes.DRY_RUN:
        if step is Step.START:
            c["would_start"] += 1
        elif step in (Step.STOP, Step.HIBERNATE):
            c["would_stop"] += 1
        else:
            c["would_adopt"] += 1
    elif outcome not in (Outcomes.FAILED, Outcomes.SKIPPED, Outcomes.INVALID):
        c[outcome] += 1


@dataclass
class TargetReport:
    target: Target
    outcomes: list[Outcome] = field(default_factory=list)  # the kept ones (see `run`)
    error: str | None = None
    calls: int = 0
    deferred: bool = False  # not reached, or not finished: the run was near its time limit
    tallies: Counter[str] = field(default_factory=Counter)  # every outcome, kept or not
    # The tallies by the family of resource type (`ec2`, `rds`, `docdb`, `neptune`, `asg`, `eks`:
    # `resources.family`); what concerns a whole kind (its failure, what it could not read) under
    # the kind's name.
    kinds: dict[str, Counter[str]] = field(default_factory=dict)
    partial: bool = False  # the error is one kind's: another kind was reconciled
    savings: Tally = field(default_factory=Tally)  # the hours of stops ended, and their price
    code: str | None = None  # the error's troubleshooting code (`offhours.codes`)


@dataclass
class RunReport:
    at: datetime
    dry_run: bool
    targets: list[TargetReport] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The handler's result (DESIGN §6)."""
        c: Counter[str] = Counter()
        for report in self.targets:
            c.update(report.tallies)
            if report.error is not None:
                c["failed"] += 1
        return {key: c[key] for key in COUNT_KEYS}

    def details(self) -> dict[str, int]:
        """More counts for the summary line, next to `counts()` and `dry_run`: no key of theirs
        is repeated here with another meaning."""
        c: Counter[str] = Counter()
        for report in self.targets:
            c.update(report.tallies)
        for key in COUNT_KEYS:
            c.pop(key, None)
        c["targets"] = len(self.targets)
        c["failed_targets"] = sum(1 for t in self.targets if t.error is not None)
        c["deferred_targets"] = sum(1 for t in self.targets if t.deferred)
        c["calls"] = sum(t.calls for t in self.targets)
        return dict(c)

    def by_resource(self) -> dict[str, dict[str, int]]:
        """The handler's counts by family of resource type (ec2, rds, docdb, neptune, asg,
        eks), for the summary and the metrics; a failed target counts in none of them."""
        kinds: dict[str, Counter[str]] = {}
        for report in self.targets:
            for kind, tallies in report.kinds.items():
                kinds.setdefault(kind, Counter()).update(tallies)
        return {kind: {key: c[key] for key in COUNT_KEYS} for kind, c in kinds.items()}

    def savings(self) -> Tally:
        """The hours of offhours' stops that the run saw end, and their price."""
        total = Tally()
        for report in self.targets:
            total.merge(report.savings)
        return total

    @property
    def all_targets_failed(self) -> bool:
        return bool(self.targets) and all(
            t.error is not None and not t.partial for t in self.targets
        )


def targets_of(config: Config, own_account: str = "") -> list[Target]:
    """Every account-region pair; the function's own account needs no role."""
    accounts: list[str | None] = [
        None if a == own_account else a for a in config.target_accounts
    ] or [None]
    unique = dict.fromkeys(
        Target(region, account) for account in accounts for region in config.regions
    )
    return list(unique)


def rotated(targets: list[T], at: datetime) -> list[T]:
    """The targets (or the resource kinds of a target) in an order that turns with the run's
    time: a run near its time limit leaves the last ones for the next run, and the same ones
    must not always be last."""
    if len(targets) < 2:
        return list(targets)
    shift = random.Random(int(at.timestamp())).randrange(len(targets))
    return targets[shift:] + targets[:shift]


# Targets reconciled side by side in one invocation (inline mode).
MAX_PARALLEL_TARGETS = 8


class _Budget(NamedTuple):
    may_call: Callable[[], bool] | None
    may_record: Callable[[], bool] | None
    read_all: bool
    keep: Callable[[Outcome], bool] | None
    notify: Notifier | None
    time_left: Callable[[], float] | None = None  # seconds before new calls must stop
    record_slack: float = 0.0  # the seconds more that an action's state tags may take
    price: Pricer | None = None  # what an hour of a resource costs (`offhours.savings`)


# A resource's price an hour (None: unknown), from its `Instance.rates`.
Pricer = Callable[[Instance], "float | None"]
OutcomeSink = Callable[[Outcome], None]
TargetErrorSink = Callable[[Target, str, str], None]  # the target, the error, its code


def reconcile_target(
    target: Target,
    gateway: Gateway,
    at: datetime,
    settings: Settings,
    *,
    dry: bool,
    may_call: Callable[[], bool] | None = None,
    may_record: Callable[[], bool] | None = None,
    on_outcome: OutcomeSink | None = None,
    read_all: bool = True,
    keep: Callable[[Outcome], bool] | None = None,
    notify: Notifier | None = None,
    price: Pricer | None = None,
) -> TargetReport:
    """List, plan and apply for one account-region target, a slice at a time: each slice of
    instances is read, planned and applied before the next is read, so that a target too large
    for one invocation makes progress at every run instead of starting over. Raises on an
    unreachable endpoint or a refused listing; a failing instance is an outcome, never an
    exception.

    How instances are read (`read_all` False, the Lambda's way): a run with no event due must
    cost little, and DescribeInstances is the cost. Measured on the local endpoint for 600
    tagged instances (bench/steady_state.py): parsing their DescribeInstances took 0.52 s of
    CPU, DescribeTags filtered on the keys that decide (the schedule, the state, the fingerprint,
    the override and the Auto Scaling group's) 0.03 s. So the run lists the tags, decides
    from them alone whatever does not depend on more (`planner.needs_details`: no event newer
    than the state, not enforced, a state that can be believed), and reads in full, by id, only
    the instances that may act or whose decision is logged. `read_all` (the CLI, and a
    LogLevel of DEBUG, which shows every decision with its instance's state) reads every
    instance in full. `keep` says which outcomes the report keeps (default: all); every outcome
    is counted.
    """
    report = TargetReport(target)
    # Decisions wait here across the slices of the run, so that an event shared by many
    # instances is one call per batch, and background work follows every event's calls.
    acting: list[Decision] = []
    background: list[Decision] = []
    fingerprints: dict[str, dict[str, str]] = {}
    gone: list[str] = []  # the service went away in the middle of the run: why
    unpriced: list[Ended] = []  # lines that wait for their price (`_priced`)

    def take(decisions: list[Decision]) -> None:
        for d in decisions:
            urgent = on_event(d) or d.override_pin is not None or d.override_clear
            (acting if urgent else background).append(d)
        if len(acting) >= FLUSH_ACTING:
            flush(acting)
        if len(background) >= FLUSH_BACKGROUND:  # memory stays bounded in a huge first run
            flush(acting)
            flush(background)

    def flush(decisions: list[Decision]) -> None:
        batch = decisions[:]
        decisions.clear()
        apply(batch)

    def apply(decisions: list[Decision]) -> None:
        if not decisions:
            return
        the_plan = Plan(at, decisions)
        if dry:
            execution = Execution(dry_run(the_plan))
        else:
            execution = execute(
                the_plan,
                gateway,
                tag_key=settings.tag_key,
                may_call=may_call,
                may_record=may_record,
                notify=notify,
                defer_fingerprints=True,
                gone=gone[0] if gone else None,
            )
            if execution.endpoint_error is not None and not gone:
                gone.append(execution.endpoint_error)
            fingerprints.update(execution.fingerprints)
        report.calls += execution.calls
        if execution.endpoint_error is not None and report.error is None:
            report.error = (
                f"{gateway.service} went away in the middle of the run: {execution.endpoint_error}"
            )
            report.code = "OH-TARGET-UNREACHABLE"
        if dry:
            say(execution.outcomes)
        else:
            now, later = _ended_stops(execution.outcomes)
            say(now)
            unpriced.extend(later)

    def say(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            tally(report.tallies, outcome)
            tally(_by_type(report, outcome.decision.instance.resource_type), outcome)
            if keep is None or keep(outcome):
                report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

    readings: dict[str, Reading] = {}

    def decide(instances: list[Instance]) -> list[Decision]:
        """The decisions to apply; quiet ones are only counted unless every decision is
        shown (`read_all`)."""
        decisions: list[Decision] = []
        groups = plan_groups(instances, at, settings, readings, keep_quiet=read_all)
        consider = getattr(gateway, "consider", None)
        if consider is not None:  # what a kind needs from a value besides the decision
            consider([(i, readings[i.schedule]) for i in instances if i.schedule in readings])
        for group in groups:
            if group.members is None:
                skipped = group.decision.verdict is Verdict.SKIPPED
                _quiet(report, group.decision.instance.resource_type, skipped, group.count)
            else:
                decisions += group.decisions()
        return decisions

    try:
        if read_all:
            for page in gateway.pages(may_call, at):
                take(decide(page))
                if report.error is not None:
                    break
            return report
        needed: list[str] = []
        entries: list[tuple[Instance, Reading]] = []
        quiet: Counter[tuple[str, bool]] = Counter()  # (resource type, skipped): how many
        unread = 0  # instances whose value the run had no time left to read
        for instance_id, tags in gateway.tagged(may_call).items():
            value, handled, fingerprint, override, skip = tags
            if value is None and handled is None and fingerprint is None:
                continue  # an override or a group alone: offhours acts where the schedule is
            instance = Instance(
                instance_id,
                "unknown",
                value or "",
                handled=handled,
                fingerprint=fingerprint,
                override=override,
                untagged=value is None,
                region=gateway.region,
                account=gateway.account,
                skip_reason=skip,
                resource_type=gateway.resource_type(instance_id),
            )
            reading = readings.get(instance.schedule)
            if reading is None:
                if unread or (may_call is not None and not may_call()):
                    unread += 1  # no value is read once time is short: the next run's
                    continue
                reading = readings[instance.schedule] = read_value(instance.schedule, at, settings)
            entries.append((instance, reading))
        if unread:
            _not_read(report, gateway.kind, unread)
        # What the tags do not say and a decision may need (a start that EC2 undid, a start by
        # RDS after seven days stopped): a call only when a reading says it may matter.
        gateway.amend(entries, at)
        for instance, reading in entries:
            if needs_details(instance, at, settings, reading):
                needed.append(instance.id)
            else:
                skipped = reading.opt_out or instance.skip_reason is not None
                quiet[(instance.resource_type, skipped)] += 1
        for (resource_type, skipped), count in quiet.items():
            _quiet(report, resource_type, skipped, count)
        del entries
        for start in range(0, len(needed), SLICE):
            if may_call is not None and not may_call():
                _not_read(report, gateway.kind, len(needed) - start)
                break
            try:
                instances = gateway.details(needed[start : start + SLICE])
            except OutOfTime:  # the rate limit or the time: the rest is the next run's
                _not_read(report, gateway.kind, len(needed) - start)
                break
            take(decide(instances))
            if report.error is not None:
                break
    except OutOfTime:
        report.deferred = True
    except Exception as exc:
        # What was decided before the error is still applied below and counted in this report,
        # which goes with the error to the caller (`_run_kind` keeps its counts).
        exc.offhours_report = report  # type: ignore[attr-defined]
        raise
    finally:  # what was decided is applied (or counted deferred), whatever cut the reading
        for waiting in (acting, background):
            try:
                flush(waiting)
            except Exception as exc:  # one failure never hides the other buffer
                if report.error is None:
                    report.error = f"{gateway.service}: {type(exc).__name__}: {exc}"
                    report.code = "OH-TARGET-FAILED"
        try:  # the lines of stops that ended, priced after every action of the run
            say(_priced(unpriced, gateway, report, price))
        except Exception:  # never lose the lines: their price is unknown, they are said
            report.savings = Tally()
            say(_priced(unpriced, gateway, report, None))
        if fingerprints and not gone and report.error is None:
            _write_fingerprints(gateway, fingerprints, settings.tag_key, may_call, report)
        elif fingerprints:
            report.tallies["background_deferred"] += len(fingerprints)
    if report.tallies.get("deferred"):
        report.deferred = True  # some work was left for the next run: the alarm says so
    return report


# Instances read and planned together: a DescribeInstances call by id.
SLICE = 195  # resources read in full at a time (a gateway reads them in batches of its own)
# Acting decisions applied together (batches of the gateway's size, across slices), and the
# background decisions kept waiting at most (then applied, after the acting ones so far).
FLUSH_ACTING = 1000
FLUSH_BACKGROUND = 5000


def _not_read(report: TargetReport, kind: str, count: int) -> None:
    """Instances that may act but were not read in this run: counted (under their kind: what
    they are was not read either), and left to the next."""
    report.deferred = True
    for c in (report.tallies, report.kinds.setdefault(kind, Counter())):
        c["evaluated"] += count
        c["skipped"] += count
        c["deferred"] += count


def _by_type(report: TargetReport, resource_type: str) -> Counter[str]:
    """The tallies of a resource type's family in a target's report."""
    name = family(resource_type)
    c = report.kinds.get(name)
    if c is None:
        c = report.kinds[name] = Counter()
    return c


def _write_fingerprints(
    gateway: Gateway,
    fingerprints: dict[str, dict[str, str]],
    tag_key: str,
    may_call: Callable[[], bool] | None,
    report: TargetReport,
) -> None:
    """The first fingerprints of the run (42 to a call: background work, after every event's
    calls, leaving the reserve of the rate limits to events). Those the run cannot
    write are counted (`background_deferred`) and written at a later run: until then the state
    tag reads as one written by an earlier version."""
    with background(gateway):
        try:
            shared = share_fingerprints(gateway, fingerprints, fingerprint_tag_key(tag_key))
            result = gateway.tag_each(shared, may_call)
        except PartialBatch as exc:
            result = exc.result
            if report.error is None:
                report.error = f"{gateway.service} went away: {exc}"
                report.code = "OH-TARGET-UNREACHABLE"
    report.calls += result.calls
    left = len(result.not_attempted) + len(result.failed)
    if left:
        report.tallies["background_deferred"] += left


# An outcome whose line waits for its price, with the stop it ended (`_priced`).
Ended = tuple[Outcome, tuple[datetime, datetime]]


def _ended_stops(outcomes: list[Outcome]) -> tuple[list[Outcome], list[Ended]]:
    """The outcomes to say now (each with the hours a person kept it stopped, where it ended
    such a stop), and those that ended one of offhours' stops, whose price is asked after the
    run's actions (background work: it never delays an event)."""
    now: list[Outcome] = []
    later: list[Ended] = []
    for outcome in outcomes:
        d = outcome.decision
        i = d.instance
        written = outcome.state_tag_after
        if (
            d.anchor is None
            or i.handled is None
            or written == outcome.state_before
            or read_anchor(written.split(" ", 1)[0])[0] != d.anchor  # A was not written
            or i.fingerprint_ok is not True  # only a state tag that is the resource's own
            or i.fingerprint_legacy
        ):
            now.append(outcome)
            continue
        theirs = people_stop(i.handled, d.anchor, i.state, i.stopped_at, i.launch_time)
        if theirs is not None:
            outcome = replace(outcome, people=theirs)
        stop = stop_ended(i.handled, d.anchor, i.state, i.launch_time or i.auto_started, i.created)
        if stop is None:
            now.append(outcome)
        else:
            later.append((outcome, stop))
    return now, later


def _priced(
    later: list[Ended], gateway: Gateway, report: TargetReport, price: Pricer | None
) -> list[Outcome]:
    """The outcomes that ended offhours' stops, with their hours priced and counted in the
    report (`offhours.savings`). A kind whose resources' prices need more than their
    description (a cluster's members) reads it now, for these only: stops end at events, so a
    quiet run pays nothing for it."""
    if not later:
        return []
    complete = getattr(gateway, "complete_rates", None)
    with background(gateway):
        if complete is not None and price is not None:
            complete([outcome.decision.instance for outcome, _ in later])
        out: list[Outcome] = []
        for outcome, (since, until) in later:
            i = outcome.decision.instance
            saving = Saving(since, until, price(i) if price is not None and i.rates else None)
            report.savings.add(family(i.resource_type), saving)
            out.append(replace(outcome, saving=saving))
    return out


def _quiet(report: TargetReport, resource_type: str, skipped: bool, count: int = 1) -> None:
    """Count decisions that change nothing and say nothing (not kept, not logged)."""
    for c in (report.tallies, _by_type(report, resource_type)):
        c["evaluated"] += count
        c["skipped" if skipped else "unchanged"] += count


def run(
    config: Config,
    at: datetime,
    *,
    clients: Clients,
    catalog: CatalogLike | None,
    catalog_error: str | None = None,
    dry: bool | None = None,
    converge: bool = False,
    own_account: str = "",
    may_call: Callable[[], bool] | None = None,
    may_record: Callable[[], bool] | None = None,
    on_outcome: OutcomeSink | None = None,
    on_target_error: TargetErrorSink | None = None,
    targets: list[Target] | None = None,
    read_all: bool = True,
    keep: Callable[[Outcome], bool] | None = None,
    time_left: Callable[[], float] | None = None,
    record_slack: float = 0.0,
) -> RunReport:
    """Reconcile every target of `config` (or the `targets` given) at the run's time `at`,
    up to MAX_PARALLEL_TARGETS side by side, in an order that turns from run to run. One
    failing target never stops the others. `catalog_error` says why the deployment's catalogue
    could not be loaded, if it could not. `time_left` (seconds before new calls must stop) is how
    long a call may wait for its rate limit's tokens (`offhours.pace`); `record_slack` is the
    longer wait allowed to the state tags of an action just done."""
    settings = Settings(
        tag_key=config.tag_key,
        default_timezone=config.default_timezone,
        catalog=catalog,
        converge=converge,
        catalog_error=catalog_error,
        max_override_hours=config.max_override_hours,
        notice_minutes=config.notice_minutes,
    )
    is_dry = config.dry_run if dry is None else dry
    report = RunReport(at, is_dry)
    chosen = rotated(targets_of(config, own_account) if targets is None else targets, at)
    clients.configure(config.member_role_name, config.member_external_id)
    notify = _notifier(config, clients) if config.notice_minutes > 0 and not is_dry else None
    price = None if is_dry else _pricer(clients, may_call)
    budget = _Budget(may_call, may_record, read_all, keep, notify, time_left, record_slack, price)

    def one(target: Target) -> TargetReport:
        if may_call is not None and not may_call():
            return TargetReport(target, deferred=True)  # the next run reaches it
        return _run_target(
            target, config, at, settings, clients, is_dry, own_account, budget, on_outcome
        )

    if len(chosen) <= 1:
        results = [one(t) for t in chosen]
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_TARGETS, len(chosen))) as pool:
            results = list(pool.map(one, chosen))
    for target_report in results:
        report.targets.append(target_report)
        if target_report.error is not None and on_target_error is not None:
            code = target_report.code or "OH-TARGET-FAILED"
            on_target_error(target_report.target, target_report.error, code)
    return report


# The Price List API answers in us-east-1 (and a few other regions) for every region.
PRICING_REGION = "us-east-1"


def _pricer(clients: Clients, may_call: Callable[[], bool] | None) -> Pricer:
    """Prices for the run's savings, asked only when a stop ends (`offhours.pricing`: cached
    for the day in a warm function; unknown, never zero, where they cannot be had)."""
    from offhours.pricing import Prices

    prices = Prices(lambda: clients.client("pricing", PRICING_REGION), may_call=may_call)
    return lambda instance: prices.hourly(instance.rates)


def _notifier(config: Config, clients: Clients) -> Notifier:
    """Notices go to the default event bus of the function's own account and region."""
    from offhours import notices

    region = os.environ.get("AWS_REGION") or (config.regions[0] if config.regions else "us-east-1")

    tally = notices.Tally()  # the run's notices per target (notices.MAX_PER_TARGET)

    def notify(
        decisions: list[Decision], may_call: Callable[[], bool] | None
    ) -> tuple[set[str], dict[str, str]]:
        events = clients.client("events", region)
        return notices.send(events, decisions, config.tag_key, may_call, tally)

    return notify


def _run_target(
    target: Target,
    config: Config,
    at: datetime,
    settings: Settings,
    clients: Clients,
    is_dry: bool,
    own_account: str,
    budget: _Budget,
    on_outcome: OutcomeSink | None,
) -> TargetReport:
    """Every resource kind of the configuration in one target, one after the other: a kind
    that fails (RDS refused, EC2 unreachable) is the target's error, and the others still run."""
    problem = region_problem(target.region)
    if problem is not None:
        return TargetReport(target, error=f"target {target}: {problem}", code="OH-TARGET-REGION")
    merged = TargetReport(target)
    errors: list[str] = []
    codes: list[str] = []
    failed_kinds = 0
    for kind in rotated(list(config.resources), at):
        report = _run_kind(
            kind, target, config, at, settings, clients, is_dry, own_account, budget, on_outcome
        )
        merged.outcomes += report.outcomes
        merged.calls += report.calls
        merged.deferred = merged.deferred or report.deferred
        merged.tallies.update(report.tallies)
        merged.savings.merge(report.savings)
        merged.kinds.setdefault(kind, Counter())  # a kind with nothing to count is said too
        for name, tallies in report.kinds.items():
            merged.kinds.setdefault(name, Counter()).update(tallies)
        if report.error is not None:
            # the kind's count: RDS refused, EC2 unreachable
            merged.kinds.setdefault(kind, Counter())["failed"] += 1
            failed_kinds += 1
            if report.error not in errors:
                errors.append(report.error)
                codes.append(report.code or "OH-TARGET-FAILED")
    if errors:
        merged.error = "; ".join(errors)
        merged.code = codes[0]
        merged.partial = failed_kinds < len(config.resources)
    return merged


def gateway_for(
    kind: str,
    target: Target,
    config: Config,
    clients: Clients,
    own_account: str,
    budget: _Budget | None = None,
) -> Gateway:
    """The gateway of one resource kind in one target, pacing its calls to the target's rate
    limits within the run's time (`budget`)."""
    account = target.account or own_account
    pacer = Pacer(
        buckets_for(kind, account, target.region),
        budget.time_left if budget is not None else None,
        record_slack=budget.record_slack if budget is not None else 0.0,
    )
    return make_gateway(
        kind,
        clients=clients,
        region=target.region,
        account=target.account,
        own_account=account,
        tag_key=config.tag_key,
        pacer=pacer,
    )


def _run_kind(
    kind: str,
    target: Target,
    config: Config,
    at: datetime,
    settings: Settings,
    clients: Clients,
    is_dry: bool,
    own_account: str,
    budget: _Budget,
    on_outcome: OutcomeSink | None,
) -> TargetReport:
    service = KINDS[kind].service
    # The first kind's errors name the target alone, as they did when it was the only kind.
    named = f"target {target}" if kind == DEFAULT_KINDS[0] else f"target {target} ({service})"
    try:
        gateway = gateway_for(kind, target, config, clients, own_account, budget)
        return reconcile_target(
            target,
            gateway,
            at,
            settings,
            dry=is_dry,
            may_call=budget.may_call,
            may_record=budget.may_record,
            on_outcome=on_outcome,
            read_all=budget.read_all,
            keep=budget.keep,
            notify=budget.notify,
            price=budget.price,
        )
    except EndpointUnavailable as exc:
        text = f"{named}: {service} cannot be reached: {exc}"
        return _failed(target, text, exc, "OH-TARGET-UNREACHABLE")
    except ClientError as exc:
        error: Any = exc.response.get("Error", {})
        text = f"{named}: {error.get('Code', 'Error')}: {error.get('Message', exc)}"
        return _failed(target, text, exc, "OH-TARGET-REFUSED")
    except Exception as exc:  # one target never stops the others (DESIGN §4)
        return _failed(target, f"{named}: {type(exc).__name__}: {exc}", exc, "OH-TARGET-FAILED")


def _failed(target: Target, error: str, exc: Exception, code: str) -> TargetReport:
    """The report of a kind that failed: the error and its troubleshooting code, with the
    counts of what was done before it (`reconcile_target` attaches them to the exception)."""
    partial: TargetReport | None = getattr(exc, "offhours_report", None)
    if partial is None:
        return TargetReport(target, error=error, code=code)
    partial.error, partial.code = error, code
    return partial
