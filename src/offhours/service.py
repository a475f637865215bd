"""One run: for every target, list the tagged instances, plan, apply, report.

The Lambda handler and the CLI both call `run`. It gathers inputs (the gateway), decides with
the pure planner, and applies (the executor); a dry run simply does not apply.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from offhours.aws import Clients
from offhours.config import Config, region_problem
from offhours.ec2 import Ec2Gateway, EndpointUnavailable
from offhours.executor import Execution, Outcome, Outcomes, dry_run, execute
from offhours.language import CatalogLike
from offhours.planner import Settings, Step, plan

COUNT_KEYS = ("evaluated", "started", "stopped", "skipped", "invalid", "failed")


@dataclass(frozen=True, slots=True)
class Target:
    region: str
    account: str | None = None  # None: the function's own account

    def __str__(self) -> str:
        return f"{self.account or 'own account'}/{self.region}"


@dataclass
class TargetReport:
    target: Target
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None
    calls: int = 0
    deferred: bool = False  # not reached: the run was near its time limit


@dataclass
class RunReport:
    at: datetime
    dry_run: bool
    targets: list[TargetReport] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The handler's result (DESIGN §6)."""
        c: Counter[str] = Counter()
        for report in self.targets:
            if report.error is not None:
                c["failed"] += 1
            for o in report.outcomes:
                c["evaluated"] += 1
                if o.changed and o.decision.step is Step.START:
                    c["started"] += 1
                if o.changed and o.decision.step in (Step.STOP, Step.HIBERNATE):
                    c["stopped"] += 1
                if o.outcome == Outcomes.SKIPPED or (
                    o.outcome == Outcomes.DEFERRED and not o.changed
                ):
                    c["skipped"] += 1
                elif o.outcome == Outcomes.INVALID:
                    c["invalid"] += 1
                elif o.outcome == Outcomes.FAILED:
                    c["failed"] += 1
        return {key: c[key] for key in COUNT_KEYS}

    def details(self) -> dict[str, int]:
        """More counts for the summary line, next to `counts()` and `dry_run`: no key of theirs
        is repeated here with another meaning."""
        c: Counter[str] = Counter()
        for report in self.targets:
            for o in report.outcomes:
                if o.outcome == Outcomes.DRY_RUN:
                    if o.decision.step is Step.START:
                        c["would_start"] += 1
                    elif o.decision.step in (Step.STOP, Step.HIBERNATE):
                        c["would_stop"] += 1
                    else:
                        c["would_adopt"] += 1
                elif o.outcome not in (Outcomes.FAILED, Outcomes.SKIPPED, Outcomes.INVALID):
                    c[o.outcome] += 1
        c["targets"] = len(self.targets)
        c["failed_targets"] = sum(1 for t in self.targets if t.error is not None)
        c["deferred_targets"] = sum(1 for t in self.targets if t.deferred)
        c["calls"] = sum(t.calls for t in self.targets)
        return dict(c)

    @property
    def all_targets_failed(self) -> bool:
        return bool(self.targets) and all(t.error is not None for t in self.targets)


def targets_of(config: Config, own_account: str = "") -> list[Target]:
    """Every account-region pair; the function's own account needs no role."""
    accounts: list[str | None] = [
        None if a == own_account else a for a in config.target_accounts
    ] or [None]
    unique = dict.fromkeys(
        Target(region, account) for account in accounts for region in config.regions
    )
    return list(unique)


def rotated(targets: list[Target], at: datetime) -> list[Target]:
    """The targets in an order that turns with the run's time: a run near its time limit
    leaves the last ones for the next run, and the same ones must not always be last."""
    if len(targets) < 2:
        return list(targets)
    digest = hashlib.sha256(at.isoformat().encode()).digest()
    shift = int.from_bytes(digest[:8], "big") % len(targets)
    return targets[shift:] + targets[:shift]


# Targets reconciled side by side in one invocation (inline mode).
MAX_PARALLEL_TARGETS = 8


@dataclass(frozen=True)
class _Budget:
    may_call: Callable[[], bool] | None
    may_record: Callable[[], bool] | None


OutcomeSink = Callable[[Outcome], None]
TargetErrorSink = Callable[[Target, str], None]


def reconcile_target(
    target: Target,
    gateway: Ec2Gateway,
    at: datetime,
    settings: Settings,
    *,
    dry: bool,
    may_call: Callable[[], bool] | None = None,
    may_record: Callable[[], bool] | None = None,
    on_outcome: OutcomeSink | None = None,
) -> TargetReport:
    """List, plan and apply for one account-region target. Raises on an unreachable endpoint
    or a refused listing; a failing instance is an outcome, never an exception."""
    the_plan = plan(gateway.instances(), at, settings)
    if dry:
        execution = Execution(dry_run(the_plan))
    else:
        execution = execute(
            the_plan, gateway, tag_key=settings.tag_key, may_call=may_call, may_record=may_record
        )
    report = TargetReport(target, execution.outcomes, calls=execution.calls)
    if execution.endpoint_error is not None:
        report.error = f"EC2 went away in the middle of the run: {execution.endpoint_error}"
    if on_outcome is not None:
        for outcome in execution.outcomes:
            on_outcome(outcome)
    return report


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
) -> RunReport:
    """Reconcile every target of `config` (or the `targets` given) at the run's time `at`,
    up to MAX_PARALLEL_TARGETS side by side, in an order that turns from run to run. One
    failing target never stops the others. `catalog_error` says why the deployment's catalogue
    could not be loaded, if it could not."""
    settings = Settings(
        tag_key=config.tag_key,
        default_timezone=config.default_timezone,
        catalog=catalog,
        converge=converge,
        catalog_error=catalog_error,
    )
    is_dry = config.dry_run if dry is None else dry
    report = RunReport(at, is_dry)
    chosen = rotated(targets_of(config, own_account) if targets is None else targets, at)
    clients.configure(config.member_role_name, config.member_external_id)
    budget = _Budget(may_call, may_record)

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
            on_target_error(target_report.target, target_report.error)
    return report


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
    problem = region_problem(target.region)
    if problem is not None:
        return TargetReport(target, error=f"target {target}: {problem}")
    try:
        client = clients.ec2(target.region, target.account)
        gateway = Ec2Gateway(
            client,
            tag_key=config.tag_key,
            region=target.region,
            account=target.account or own_account,
        )
        return reconcile_target(
            target,
            gateway,
            at,
            settings,
            dry=is_dry,
            may_call=budget.may_call,
            may_record=budget.may_record,
            on_outcome=on_outcome,
        )
    except EndpointUnavailable as exc:
        return TargetReport(target, error=f"target {target}: EC2 cannot be reached: {exc}")
    except ClientError as exc:
        error: Any = exc.response.get("Error", {})
        return TargetReport(
            target,
            error=f"target {target}: {error.get('Code', 'Error')}: {error.get('Message', exc)}",
        )
    except Exception as exc:  # one target never stops the others (DESIGN §4)
        return TargetReport(target, error=f"target {target}: {type(exc).__name__}: {exc}")
