"""The Lambda function: a few lines that turn the event into plain values and call `run`."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from offhours import fanout, service
from offhours.aws import DEFAULT_CLIENTS
from offhours.catalog import Catalog, default_catalog, load_catalog, parse_catalog
from offhours.config import Config
from offhours.executor import Outcome
from offhours.records import decision_message, decision_record, level_of
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


def clock() -> datetime:
    """The wall clock, for what the event does not say."""
    return datetime.now(UTC).replace(microsecond=0)


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
    return clock()


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
    except Exception as exc:
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


def _emit(counts: dict[str, int]) -> None:
    for key in COUNT_KEYS:
        metrics.add_metric(name=key, unit=MetricUnit.Count, value=counts[key])


def _summarise(report: service.RunReport, extra: dict[str, Any] | None = None) -> dict[str, int]:
    counts = report.counts()
    _emit(counts)
    stamp = iso(report.at)
    summary = {
        "kind": "summary",
        "run_time": stamp,
        "dry_run": report.dry_run,
        **counts,
        **report.details(),
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


def _reconcile(
    config: Config, at: datetime, context: LambdaContext, targets: list[Target] | None = None
) -> service.RunReport:
    if not config.regions and targets is None:
        logger.error("no region to look after: set REGIONS, or run where AWS_REGION is set")
    report = service.run(
        config,
        at,
        clients=DEFAULT_CLIENTS,
        catalog=load_catalog_for(config),
        own_account=_own_account(context),
        may_call=lambda: context.get_remaining_time_in_millis() > RESERVE_MS,
        on_outcome=_log_outcome,
        on_target_error=_log_target_error,
        targets=targets,
    )
    for t in report.targets:
        if t.deferred:
            logger.warning(
                f"target {t.target}: not reached, the run was near its time limit; "
                "the next run does it",
                extra={
                    "kind": "target-deferred",
                    "region": t.target.region,
                    "account": t.target.account or "",
                },
            )
    return report


def _fan_out(config: Config, at: datetime, context: LambdaContext) -> dict[str, int]:
    """The scheduled run in fan-out mode: one message per target, nothing else."""
    queue_url = config.fanout_queue_url or ""
    targets = service.targets_of(config, _own_account(context))
    region = queue_url.split(".")[1] if queue_url.startswith("https://sqs.") else None
    sqs = DEFAULT_CLIENTS.client("sqs", region or os.environ.get("AWS_REGION", "us-east-1"))
    sent, failed = fanout.enqueue(sqs, queue_url, targets, at)
    for target, error in failed:
        _log_target_error(target, f"target {target}: {error}")
    counts = {key: 0 for key in COUNT_KEYS}
    counts["failed"] = len(failed)
    _emit(counts)
    stamp = iso(at)
    logger.info(
        f"run at {stamp}: {len(sent)} targets put on the queue for the workers"
        + (f", {len(failed)} could not be" if failed else ""),
        extra={
            "kind": "fan-out",
            "run_time": stamp,
            "enqueued": len(sent),
            "failed_targets": len(failed),
            **counts,
        },
    )
    if targets and not sent:
        raise RunFailed(f"no target could be put on the queue ({len(failed)} failed)")
    return counts


class TargetFailed(RuntimeError):
    """A queued target failed; the message goes back to the queue and, after three tries, to
    the dead-letter queue."""


# A queued run older than this is dropped: a newer run of the same target has been queued
# since, and applying an old run's events late would replay transitions (DESIGN §3: missed
# runs are caught up with the latest event only).
MAX_MESSAGE_AGE = timedelta(minutes=15)
# A failed target is tried again this soon, not after the queue's visibility timeout, so that
# three tries (then the dead-letter queue and its alarm) take minutes and hold back little.
RETRY_AFTER_SECONDS = 30


def _queue_url(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) != 6:
        return None
    _, partition, _, region, account, name = parts
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


def _retry_soon(record: Any) -> None:
    """Make a failed message visible again soon (best effort: the queue's own timeout holds
    if this call fails)."""
    url = _queue_url(record.event_source_arn or "")
    if url is None:
        return
    try:
        sqs = DEFAULT_CLIENTS.client("sqs", record.aws_region or os.environ.get("AWS_REGION", ""))
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=RETRY_AFTER_SECONDS
        )
    except Exception as exc:  # the retry merely comes later
        logger.warning(f"could not shorten the retry delay of message {record.message_id}: {exc}")


def _consume(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The worker: each SQS record is one target at the run's time it carries."""
    from aws_lambda_powertools.utilities.batch import (
        SqsFifoPartialProcessor,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    config = Config.from_env()
    reports: list[service.RunReport] = []
    now = clock()

    def handle(record: SQSRecord) -> None:
        try:
            target, at = fanout.read_message(record.body)
        except fanout.BadMessage as exc:
            logger.error(str(exc), extra={"kind": "bad-message", "message_id": record.message_id})
            return  # retrying cannot mend it: dropped, and said so
        if now - at > MAX_MESSAGE_AGE:
            logger.warning(
                f"target {target}: the queued run of {iso(at)} is too old to apply "
                "(a newer run of this target catches up); dropped",
                extra={
                    "kind": "stale-message",
                    "region": target.region,
                    "account": target.account or "",
                    "run_time": f"{iso(at)}",
                },
            )
            return
        report = _reconcile(config, at, context, targets=[target])
        reports.append(report)
        if report.all_targets_failed:
            _retry_soon(record)
            raise TargetFailed(report.targets[0].error or f"target {target} failed")

    # A failing target holds back only its own later messages (its message group), never
    # another target's.
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    try:
        response = process_partial_response(
            event=event, record_handler=handle, processor=processor, context=context
        )
    finally:  # the summary and the metrics, even when every record failed
        for report in reports:
            _summarise(report, {"message_count": len(event.get("Records", []))})
        if not reports:
            _emit({key: 0 for key in COUNT_KEYS})
    return dict(response)


def _is_queue_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return False
    return all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@_traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Scheduled events reconcile (or, in fan-out mode, enqueue); SQS events are a worker's."""
    if _is_queue_event(event):
        return _consume(event, context)
    config = Config.from_env()
    at = run_time(event)
    if config.fanout_queue_url:
        return _fan_out(config, at, context)
    report = _reconcile(config, at, context)
    counts = _summarise(report)
    if report.all_targets_failed:
        raise RunFailed(
            f"every target failed ({len(report.targets)}): "
            + "; ".join(t.error or "" for t in report.targets)
        )
    return counts
