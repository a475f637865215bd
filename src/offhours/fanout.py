"""Fan-out: one SQS FIFO message per account-region target, carrying the run's time.

The scheduled function puts the messages; a second function, running the same code, consumes
them. The message group is the target, so two runs of one target never overlap while different
targets run side by side; the deduplication id is target + run time, so a repeated run is
dropped. Every target is evaluated at the run's time in the message, whatever the queue's delay.

The worker trusts nothing in a message but what its own configuration confirms (`vet`): the
queue's policy lets only the scheduler send, but a message is input like any other.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from offhours.config import Config
from offhours.schedule import iso
from offhours.service import Target, targets_of

SEND_BATCH = 10  # SendMessageBatch takes at most ten entries


class BadMessage(ValueError):
    """A queue message that is not a target of offhours."""

    code = "OH-MESSAGE-UNREADABLE"  # its troubleshooting code (`offhours.codes`)


class Problem(NamedTuple):
    """Why an event or a queue message is not acted on, and its troubleshooting code
    (`offhours.codes`)."""

    code: str
    text: str


def _group(target: Target) -> str:
    return f"{target.account or 'self'}/{target.region}"


def message_for(target: Target, at: datetime, index: int) -> dict[str, str]:
    stamp = iso(at)
    return {
        "Id": f"t{index}",
        "MessageBody": json.dumps(
            {"region": target.region, "account": target.account, "time": stamp}
        ),
        "MessageGroupId": _group(target),
        "MessageDeduplicationId": f"{_group(target)}/{stamp}",
    }


# A message body is a few dozen bytes; anything much larger is not ours.
MAX_BODY = 1024
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# The clock may run a little behind the scheduler's; a run from further ahead is not ours.
MAX_AHEAD = timedelta(minutes=1)
# A queued run older than this is dropped: a newer run of the same target has been queued since,
# and applying an old run's events late would replay transitions (DESIGN §3: missed runs are
# caught up with the latest event only).
MAX_AGE = timedelta(minutes=15)


def read_message(body: Any) -> tuple[Target, datetime]:
    """The target and the run's time of a message body; `BadMessage` for anything else."""
    if not isinstance(body, str) or len(body) > MAX_BODY:
        size = len(body) if isinstance(body, str) else type(body).__name__
        raise BadMessage(f"not an offhours target message (a body of {size} characters)")
    shown = repr(body[:200])
    try:
        data = json.loads(body)
    except ValueError:
        raise BadMessage(f"not an offhours target message (not JSON): {shown}") from None
    if not isinstance(data, dict) or set(data) != {"region", "account", "time"}:
        raise BadMessage(
            "not an offhours target message (expected exactly region, account and time): " + shown
        )
    region, account = data["region"], data["account"]
    if not isinstance(region, str) or not _REGION.match(region):
        raise BadMessage(f"not an offhours target message (region is not a region): {shown}")
    if not (account is None or (isinstance(account, str) and _ACCOUNT.match(account))):
        raise BadMessage(f"not an offhours target message (account is not an account): {shown}")
    at = read_instant(data["time"])
    if at is None:
        raise BadMessage(f"not an offhours target message (time is not an instant): {shown}")
    return Target(region, account), at


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?$", re.ASCII)


def read_instant(text: Any) -> datetime | None:
    """An ISO 8601 instant from outside (an event, a message), or None if it is not one; a
    time without an offset is UTC."""
    if not isinstance(text, str) or len(text) > 40 or not _TIME.match(text):
        return None
    try:
        at = datetime.fromisoformat(text)
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def vet(
    target: Target, at: datetime, config: Config, own_account: str, now: datetime
) -> tuple[Target, Problem | None]:
    """The target as this worker's configuration knows it, and why the message must be dropped
    (None if it may be run). Only what the configuration confirms is run: one of the targets
    that the scheduler itself would enqueue, at a time neither ahead of the clock nor stale."""
    known = Target(target.region, None if target.account == own_account else target.account)
    if known not in set(targets_of(config, own_account)):
        who = target.account or "this account"
        return known, Problem(
            "OH-MESSAGE-NOT-A-TARGET",
            f"target {who}/{target.region} is not one of this deployment's targets "
            "(TARGET_ACCOUNTS x REGIONS): dropped, no role assumed, nothing touched",
        )
    if at - now > MAX_AHEAD:
        return known, Problem(
            "OH-MESSAGE-AHEAD",
            f"target {known}: the run's time {iso(at)} is ahead of the clock ({iso(now)}): "
            "dropped, nothing touched",
        )
    if now - at > MAX_AGE:
        return known, Problem(
            "OH-MESSAGE-STALE",
            f"target {known}: the queued run of {iso(at)} is more than 15 minutes old "
            f"(now {iso(now)}); a newer run of this target catches up: dropped",
        )
    return known, None


def enqueue(
    sqs: Any, queue_url: str, targets: list[Target], at: datetime
) -> tuple[list[Target], list[tuple[Target, str]]]:
    """Put one message per target, ten to a call. Returns the targets sent and the failed."""
    sent: list[Target] = []
    failed: list[tuple[Target, str]] = []
    for start in range(0, len(targets), SEND_BATCH):
        batch = targets[start : start + SEND_BATCH]
        entries = [message_for(t, at, i) for i, t in enumerate(batch)]
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            failed += [(t, f"the queue refused the message: {exc}") for t in batch]
            continue
        by_id = dict(zip((e["Id"] for e in entries), batch, strict=True))
        for ok in response.get("Successful", []):
            sent.append(by_id[ok["Id"]])
        for bad in response.get("Failed", []):
            failed.append(
                (
                    by_id[bad["Id"]],
                    f"the queue refused the message: {bad.get('Code')}: {bad.get('Message', '')}",
                )
            )
    return sent, failed
