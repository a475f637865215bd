"""The fan-out worker: each SQS FIFO message is one target at the run's time it carries.

It runs only what its own configuration confirms (`offhours.fanout.vet`): a message naming an
account or a region that is not one of the deployment's targets, a time ahead of the clock or
more than 15 minutes old, or a body it cannot read is dropped with an error line and counted as
failed (so the alarm fires); no role is assumed and no instance touched. A target that fails is
retried 30 seconds later, and after three tries its message goes to the dead-letter queue.
"""

from __future__ import annotations

import os
from typing import Any

import boto3  # noqa: F401  (the SDK first, as in offhours.handler: a faster cold start)
from aws_lambda_powertools.utilities.batch import (
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from offhours import fanout, handler, runtime, service
from offhours.config import Config
from offhours.runtime import logger, metrics
from offhours.schedule import iso

# A failed target is tried again this soon, not after the queue's visibility timeout, so that
# three tries (then the dead-letter queue and its alarm) take minutes and hold back little.
RETRY_AFTER_SECONDS = 30


class TargetFailed(RuntimeError):
    """A queued target failed; the message goes back to the queue and, after three tries, to
    the dead-letter queue."""


def _queue_url(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) != 6:
        return None
    _, partition, _, region, account, name = parts
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


def _retry_soon(record: SQSRecord) -> None:
    """Make a failed message visible again soon (best effort: the queue's own timeout holds
    if this call fails)."""
    url = _queue_url(record.event_source_arn or "")
    if url is None:
        return
    try:
        sqs = runtime.clients.client("sqs", record.aws_region or os.environ.get("AWS_REGION", ""))
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=RETRY_AFTER_SECONDS
        )
    except Exception as exc:  # the retry merely comes later
        logger.warning(
            f"could not shorten the retry delay of message {record.message_id}: {exc}",
            extra={"code": "OH-MESSAGE-RETRY-DELAY"},
        )


def _is_queue_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return False
    return all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)


@logger.inject_lambda_context(clear_state=True)
@runtime.traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run the target of each message; the partial batch response names the ones to retry."""
    if not _is_queue_event(event):
        counts = runtime.zero_counts()
        counts["failed"] = 1
        runtime.emit(counts, reconciled=False)
        logger.error(
            "this is the fan-out worker: it takes SQS messages only; nothing was done",
            extra={"kind": "event-rejected", "code": "OH-EVENT-WRONG-FUNCTION"},
        )
        return {"batchItemFailures": []}
    config = Config.from_env()
    own = runtime.own_account(context)
    now = handler.clock()
    reports: list[service.RunReport] = []
    dropped = 0

    def drop(problem: fanout.Problem, record: SQSRecord, **fields: str) -> None:
        nonlocal dropped
        dropped += 1
        logger.error(
            problem.text,
            extra={
                "kind": "message-dropped",
                "message_id": record.message_id,
                **fields,
                "code": problem.code,
            },
        )

    def handle(record: SQSRecord) -> None:
        try:
            target, at = fanout.read_message(record.body)
        except fanout.BadMessage as exc:
            drop(fanout.Problem(exc.code, str(exc)), record)
            return  # retrying cannot mend it: dropped, and said so
        target, problem = fanout.vet(target, at, config, own, now)
        if problem is not None:
            drop(problem, record, run_time=iso(at), **runtime.target_fields(target))
            return
        report = runtime.reconcile(config, at, context, targets=[target])
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
            runtime.summarise(
                report, {"message_count": len(event.get("Records", []))}, emit_metrics=False
            )
        # The batch's targets as one report: its counts, by resource type and what was saved.
        batch = (
            service.RunReport(
                reports[0].at, reports[0].dry_run, [t for r in reports for t in r.targets]
            )
            if reports
            else None
        )
        total = batch.counts() if batch is not None else runtime.zero_counts()
        total["failed"] += dropped
        deferred = batch.details()["deferred_targets"] if batch is not None else 0
        runtime.emit(total, deferred, reconciled=batch is not None)
        if batch is not None:
            runtime.emit_by_resource(batch.by_resource())
            runtime.emit_savings(batch.savings())
    return dict(response)
