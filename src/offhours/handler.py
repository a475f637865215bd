"""The Lambda function: a few lines that turn the event into plain values and call `run`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from offhours import service
from offhours.aws import DEFAULT_CLIENTS
from offhours.catalog import Catalog, default_catalog, load_catalog, parse_catalog
from offhours.config import Config
from offhours.executor import Outcome
from offhours.records import decision_message, decision_record, level_of
from offhours.service import COUNT_KEYS, Target

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "offhours")
logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "offhours"), service=SERVICE
)

def _tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").strip().lower() not in ("true", "1")


def _traced(handler: Callable[..., Any]) -> Callable[..., Any]:
    """X-Ray tracing through Powertools' Tracer, only when the deployment turns it on: the
    X-Ray SDK adds about 130 ms to a cold start (bench/cold_start.py), so it is not imported
    otherwise."""
    if not _tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE).capture_lambda_handler(handler, capture_response=False)


# Stop starting new calls when less than this is left of the invocation.
RESERVE_MS = 20_000


class RunFailed(RuntimeError):
    """Every target failed: raised so that the Lambda's error metric and the alarm fire."""


def run_time(event: Any) -> datetime:
    """The scheduled time of the event; the clock only when the event has none."""
    text = event.get("time") if isinstance(event, dict) else None
    if isinstance(text, str):
        try:
            at = datetime.fromisoformat(text)
            return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
        except ValueError:
            logger.warning(f"the event's time {text!r} is not ISO 8601; using the clock")
    else:
        logger.warning("the event has no time; using the clock")
    return datetime.now(UTC).replace(microsecond=0)


def load_catalog_for(config: Config) -> Catalog | None:
    """The deployment's catalogue: the SSM parameter, a file, or the built-in one."""
    try:
        if config.catalog_parameter:
            from aws_lambda_powertools.utilities import parameters

            text = parameters.get_parameter(config.catalog_parameter, max_age=60)
            return parse_catalog(str(text), source=f"SSM parameter {config.catalog_parameter}")
        if config.catalog_file:
            return load_catalog(config.catalog_file)
        return default_catalog()
    except Exception as exc:  # noqa: BLE001 - one bad catalogue must not stop the run
        logger.error(
            f"the catalogue of named schedules cannot be used, so named schedules are invalid "
            f"in this run: {exc}",
            extra={"kind": "catalog-error"},
        )
        return None


def _log_outcome(outcome: Outcome) -> None:
    level = level_of(outcome)
    record = decision_record(outcome)
    message = decision_message(outcome)
    if level == "ERROR":
        logger.error(message, extra=record)
    elif level == "WARNING":
        logger.warning(message, extra=record)
    else:
        logger.info(message, extra=record)


def _log_target_error(target: Target, error: str) -> None:
    logger.error(
        error,
        extra={
            "kind": "target-error",
            "region": target.region,
            "account": target.account or "",
            "outcome": "failed",
        },
    )


def _own_account(context: Any) -> str:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@_traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    config = Config.from_env()
    at = run_time(event)
    report = service.run(
        config,
        at,
        clients=DEFAULT_CLIENTS,
        catalog=load_catalog_for(config),
        own_account=_own_account(context),
        may_call=lambda: context.get_remaining_time_in_millis() > RESERVE_MS,
        on_outcome=_log_outcome,
        on_target_error=_log_target_error,
    )
    counts = report.counts()
    for key in COUNT_KEYS:
        metrics.add_metric(name=key, unit=MetricUnit.Count, value=counts[key])
    summary = {"kind": "summary", "run_time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "dry_run": report.dry_run, **counts, **report.details()}
    logger.info(
        f"run at {summary['run_time']}: {counts['evaluated']} evaluated, {counts['started']} "
        f"started, {counts['stopped']} stopped, {counts['skipped']} skipped, "
        f"{counts['invalid']} invalid, {counts['failed']} failed"
        + (" (dry run: nothing was changed)" if report.dry_run else ""),
        extra=summary,
    )
    if report.all_targets_failed:
        raise RunFailed(
            f"every target failed ({len(report.targets)}): "
            + "; ".join(t.error or "" for t in report.targets)
        )
    return counts
