"""The scheduled run: an EventBridge event in, a reconcile (or, in fan-out mode, one queue
message per target) out.

The run's time is the event's `time` (DESIGN §2): the same event always gives the same plan. An
event whose time is more than 15 minutes from the clock, either way (a replay from an archive,
the sample `events/scheduled.json` sent to a real account, a retry hours later) changes nothing:
the run logs an error, counts a failed target so that the alarm fires, and returns without
raising (a retry would carry the same time). `clock` is the only source of "now" for this
function and the worker; the demo and the tests replace it to simulate their weeks.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

# The SDK first: imported after Powertools and offhours, the same modules cost about 0.07 s
# more at a cold start. Part of it is the garbage collector, whose passes grow with what is
# already loaded (turning it off during the imports recovers a part, not all). Side by side,
# 21 fresh interpreters each, on the built package: 1.09x a bare boto3 client in this order,
# 1.22x in the other (bench/cold_start.py: 1.06-1.16x over three runs, 1.22-1.24x before).
import boto3  # noqa: F401
from aws_lambda_powertools.utilities.typing import LambdaContext

from offhours import fanout, runtime, service
from offhours.config import Config
from offhours.fanout import Problem
from offhours.runtime import logger, metrics
from offhours.schedule import MAX_EVENT_SKEW, iso

RESERVE_MS = runtime.RESERVE_MS


class RunFailed(RuntimeError):
    """Every target failed: raised so that the Lambda's error metric and the alarm fire."""


def clock() -> datetime:
    """Now, as an aware UTC datetime: the only clock of the handler and the worker."""
    return datetime.now(UTC).replace(microsecond=0)


def run_time(event: Any, now: datetime) -> tuple[datetime | None, Problem | None]:
    """The scheduled time of the event (the clock only when it has none), or why the event
    must not be acted on."""
    text = event.get("time") if isinstance(event, dict) else None
    if text is None:
        logger.warning("the event has no time; using the clock", extra={"code": "OH-EVENT-NO-TIME"})
        return now, None
    at = fanout.read_instant(text)
    if at is None:
        return None, Problem(
            "OH-EVENT-TIME-INVALID",
            f"the event's time {str(text)[:60]!r} is not an ISO 8601 instant",
        )
    if abs(at - now) > MAX_EVENT_SKEW:
        return None, Problem(
            "OH-EVENT-TIME-SKEW",
            f"the event's time {iso(at)} is {_distance(at - now)} the clock ({iso(now)}): a "
            "replayed, sample or late event is not acted on",
        )
    return at, None


def _distance(delta: timedelta) -> str:
    minutes = abs(delta) // timedelta(minutes=1)
    words = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"{words} {'ahead of' if delta > timedelta(0) else 'behind'}"


def _refuse(problem: Problem, kind: str) -> dict[str, int]:
    """Change nothing, say why, and count a failed target so that the alarm fires."""
    counts = runtime.zero_counts()
    counts["failed"] = 1
    runtime.emit(counts, reconciled=False)
    logger.error(
        f"{problem.text}; nothing was done", extra={"kind": kind, **counts, "code": problem.code}
    )
    return counts


def _fan_out(config: Config, at: datetime, context: LambdaContext) -> dict[str, int]:
    """The scheduled run in fan-out mode: one message per target, nothing else."""
    queue_url = config.fanout_queue_url or ""
    targets = service.rotated(service.targets_of(config, runtime.own_account(context)), at)
    region = queue_url.split(".")[1] if queue_url.startswith("https://sqs.") else None
    sqs = runtime.clients.client("sqs", region or os.environ.get("AWS_REGION", "us-east-1"))
    sent, failed = fanout.enqueue(sqs, queue_url, targets, at)
    for target, error in failed:
        runtime.log_target_error(target, f"target {target}: {error}", "OH-QUEUE-SEND-FAILED")
    counts = runtime.zero_counts()
    counts["failed"] = len(failed)
    runtime.emit(counts, reconciled=False)
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


def _is_queue_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and bool(records)


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@runtime.traced
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A scheduled event reconciles every target (or, in fan-out mode, enqueues them)."""
    if _is_queue_event(event):
        return _refuse(
            Problem(
                "OH-EVENT-WRONG-FUNCTION",
                "this is the scheduler: queue messages are for offhours.worker.lambda_handler",
            ),
            "event-rejected",
        )
    config = Config.from_env()
    at, problem = run_time(event, clock())
    if at is None:
        problem = problem or Problem("OH-EVENT-TIME-INVALID", "the event cannot be used")
        return _refuse(problem, "event-rejected")
    if config.fanout_queue_url:
        return _fan_out(config, at, context)
    report = runtime.reconcile(config, at, context)
    counts = runtime.summarise(report)
    if report.all_targets_failed:
        raise RunFailed(
            f"every target failed ({len(report.targets)}): "
            + "; ".join(t.error or "" for t in report.targets)
        )
    return counts
