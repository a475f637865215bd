"""Fan-out: one SQS FIFO message per account-region target, carrying the run's time.

The scheduled function puts the messages; a second function, running the same code, consumes
them. The message group is the target, so two runs of one target never overlap while different
targets run side by side; the deduplication id is target + run time, so a repeated run is
dropped. Every target is evaluated at the run's time in the message, whatever the queue's delay.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from offhours.schedule import iso
from offhours.service import Target

SEND_BATCH = 10  # SendMessageBatch takes at most ten entries


class BadMessage(ValueError):
    """A queue message that is not a target of offhours."""


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


def read_message(body: str) -> tuple[Target, datetime]:
    """The target and the run's time of a message body."""
    try:
        data = json.loads(body)
        region = data["region"]
        account = data.get("account")
        at = datetime.fromisoformat(data["time"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadMessage(f"not an offhours target message ({exc}): {body[:200]!r}") from None
    if not isinstance(region, str) or not (account is None or isinstance(account, str)):
        raise BadMessage(f"not an offhours target message: {body[:200]!r}")
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return Target(region, account), at.astimezone(UTC)


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
