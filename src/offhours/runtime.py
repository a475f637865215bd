"""What the two Lambda entry points share: Powertools' Logger and Metrics, the catalogue, one
reconcile with its log lines, and the run's summary.

The scheduled run lives in `offhours.handler`, the queue worker in `offhours.worker`; both read
"now" only through `offhours.handler.clock` (DESIGN §6).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from offhours import service
from offhours.aws import DEFAULT_CLIENTS, Clients
from offhours.catalog import Catalog, LazyCatalog, default_catalog, load_catalog, parse_catalog
from offhours.config import Config
from offhours.executor import Outcome
from offhours.records import DecisionLog
from offhours.savings import Tally
from offhours.schedule import iso
from offhours.service import COUNT_KEYS, Target

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "offhours")


class _Stdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time (Lambda's never changes; the demo and the
    tests redirect it to read the log lines)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        del value


logger = Logger(service=SERVICE, logger_handler=_Stdout())
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "offhours"), service=SERVICE
)

# Stop starting new calls when less than this is left of the invocation; the state tags of
# instances just started or stopped are still written down to RECORD_RESERVE_MS.
RESERVE_MS = 20_000
RECORD_RESERVE_MS = 5_000
# A run with nothing to count puts no metric (the fan-out scheduler): not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")

clients: Clients = DEFAULT_CLIENTS


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() not in ("true", "1")


def traced(handler: Callable[..., Any]) -> Callable[..., Any]:
    """X-Ray tracing through Powertools' Tracer, only when the deployment turns it on: the
    X-Ray SDK adds about 130 ms to a cold start (bench/cold_start.py), so it is not imported
    otherwise."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE).capture_lambda_handler(handler, capture_response=False)


def load_catalog_for(config: Config) -> LazyCatalog:
    """The deployment's catalogue (the SSM parameter, a file, or the built-in one), read when
    a value first names a schedule. If it cannot be read, named schedules are invalid in this
    run (their state tags are kept) and one error line says why."""

    def load() -> Catalog:
        if config.catalog_parameter:
            from aws_lambda_powertools.utilities import parameters

            text = parameters.get_parameter(config.catalog_parameter, max_age=60)
            source = f"SSM parameter {config.catalog_parameter}"
            return parse_catalog(str(text), source=source)
        if config.catalog_file:
            return load_catalog(config.catalog_file)
        return default_catalog()

    def said(error: str) -> None:
        logger.error(
            f"the catalogue of named schedules cannot be used, so named schedules are invalid "
            f"in this run (their state tags are kept): {error}",
            extra={"kind": "catalog-error", "code": "OH-CATALOG-UNAVAILABLE"},
        )

    return LazyCatalog(load, said)


decisions = DecisionLog(
    context=logger.get_current_keys,
    level=lambda: logger.log_level,
    stream=lambda: sys.stdout,
)


def log_outcome(outcome: Outcome) -> None:
    """One decision line, at its level (DEBUG lines only with LogLevel=DEBUG)."""
    decisions.write(outcome)


def target_fields(target: Target) -> dict[str, str]:
    return {"region": target.region, "account": target.account or ""}


def log_target_error(target: Target, error: str, code: str) -> None:
    """A target that failed, with its troubleshooting code (`offhours.codes`)."""
    logger.error(
        error,
        extra={
            "kind": "target-error",
            **target_fields(target),
            "outcome": "failed",
            "code": code,
        },
    )


def own_account(context: Any) -> str:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


# Put when not zero: they change at events, so they cost for a few hours a month.
SPARSE_METRICS = frozenset(
    {"started", "stopped", "failed", "invalid", "deferred_targets", "deferred_work"}
)
# What offhours saved (`offhours.savings`): put by resource family when not zero.
SAVINGS_METRICS = ("stopped_hours", "saved_usd")


def detailed_metrics() -> bool:
    return os.environ.get("DETAILED_METRICS", "").strip().lower() in ("true", "1", "yes")


def emit_by_resource(by_resource: dict[str, dict[str, int]]) -> None:
    """`started`, `stopped` and `failed` of each family of resource type, with a `resource`
    dimension (`ec2`, `rds`, `docdb`, `neptune`, `asg`, `eks`), when not zero (all of them
    with DetailedMetrics), next to the totals."""
    detailed = detailed_metrics()
    for kind, counts in by_resource.items():
        for key in ("started", "stopped", "failed"):
            value = counts.get(key, 0)
            if value or detailed:
                _put_by_resource(key, MetricUnit.Count, value, kind)


def _put_by_resource(name: str, unit: MetricUnit, value: float, family: str) -> None:
    """One metric with the `resource` dimension (a blob of its own, beside the run's totals)."""
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=metrics.namespace,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="resource", value=family)


def emit_savings(savings: Tally) -> None:
    """What the run saw saved (`offhours.savings`): `stopped_hours` and `saved_usd` in all and
    by family of resource type (dimension `resource`), put only when not zero, so that
    CloudWatch sums them by day and month. A quiet run puts none: stops are counted when they
    end, at events."""
    totals = {"stopped_hours": 0.0, "saved_usd": 0.0}
    for family, figures in savings.summary().items():
        for name in SAVINGS_METRICS:
            value = float(figures[name])
            if not value:
                continue
            totals[name] += value
            _put_by_resource(name, MetricUnit.NoUnit, value, family)
    for name, value in totals.items():
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.NoUnit, value=round(value, 4))


def emit(
    counts: dict[str, int],
    deferred_targets: int = 0,
    *,
    reconciled: bool = True,
    deferred_work: int = 0,
) -> None:
    """The run's metrics. A custom metric costs $0.30 a month for every hour in which it gets
    data, so by default (DESIGN §5, the README's cost table):

    - `failed` at every run that reconciled, zeros included: the failed-actions alarm, and the
      heartbeat (its samples are the completed runs);
    - `started`, `stopped`, `failed`, `deferred_targets` and `deferred_work` (decisions and
      first fingerprints left for the next run: the run's time or AWS's rate limits ran out)
      whenever they are not zero.

    `DetailedMetrics` (env DETAILED_METRICS) puts all of them at every run. The scheduler in
    fan-out mode (`reconciled` False) does not feed the heartbeat: the workers do."""
    detailed = detailed_metrics()
    values = {**counts, "deferred_targets": deferred_targets, "deferred_work": deferred_work}
    for key, value in values.items():
        if detailed or (value and key in SPARSE_METRICS) or (key == "failed" and reconciled):
            metrics.add_metric(name=key, unit=MetricUnit.Count, value=value)


def summarise(
    report: service.RunReport, extra: dict[str, Any] | None = None, *, emit_metrics: bool = True
) -> dict[str, int]:
    counts = report.counts()
    details = report.details()
    by_resource = report.by_resource()
    savings = report.savings()
    if emit_metrics:
        emit(
            counts,
            details.get("deferred_targets", 0),
            deferred_work=details.get("deferred", 0) + details.get("background_deferred", 0),
        )
        emit_by_resource(by_resource)
        emit_savings(savings)
    stamp = iso(report.at)
    summary = {
        "kind": "summary",
        "run_time": stamp,
        "dry_run": report.dry_run,
        **counts,
        **details,
        "resources": by_resource,
        **({"savings": savings.summary()} if savings.hours else {}),
        **(extra or {}),
    }
    logger.info(
        f"run at {stamp}: {counts['evaluated']} evaluated, {counts['started']} "
        f"started, {counts['stopped']} stopped, {counts['skipped']} skipped, "
        f"{counts['invalid']} invalid, {counts['failed']} failed"
        + (" (dry run: nothing was changed)" if report.dry_run else ""),
        extra=summary,
    )
    return counts


def reconcile(
    config: Config,
    at: Any,
    context: LambdaContext,
    targets: list[Target] | None = None,
) -> service.RunReport:
    """One run of the given targets (default: all of the configuration's), logged."""
    if not config.regions and targets is None:
        logger.error(
            "no region to look after: set REGIONS, or run where AWS_REGION is set",
            extra={"code": "OH-CONFIG-NO-REGION"},
        )
    report = service.run(
        config,
        at,
        clients=clients,
        catalog=load_catalog_for(config),
        own_account=own_account(context),
        may_call=lambda: context.get_remaining_time_in_millis() > RESERVE_MS,
        may_record=lambda: context.get_remaining_time_in_millis() > RECORD_RESERVE_MS,
        time_left=lambda: (context.get_remaining_time_in_millis() - RESERVE_MS) / 1000,
        record_slack=(RESERVE_MS - RECORD_RESERVE_MS) / 1000,
        on_outcome=log_outcome,
        on_target_error=log_target_error,
        targets=targets,
        # Read every instance in full only when every decision is shown (LogLevel=DEBUG); the
        # lines are written as the outcomes come, so the report keeps only the counts.
        read_all=logger.log_level <= logging.DEBUG,
        keep=lambda outcome: False,
    )
    for t in report.targets:
        if not t.deferred:
            continue
        left, later = t.tallies.get("deferred", 0), t.tallies.get("background_deferred", 0)
        if left or later:
            code = "OH-RUN-DEFERRED"
            message = (
                f"target {t.target}: {left} decision(s) and {later} first fingerprint(s) left "
                "for the next run (the run's time, or AWS's rate limits, ran out: throttling is "
                "not a failure); the next runs finish them"
            )
        else:
            code = "OH-RUN-TIME-LIMIT"
            message = (
                f"target {t.target}: not reached, the run was near its time limit; "
                "the next run does it"
            )
        logger.warning(
            message,
            extra={
                "kind": "target-deferred",
                **target_fields(t.target),
                "deferred": left,
                "background_deferred": later,
                "code": code,
            },
        )
    return report
