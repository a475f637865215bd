"""Notices before a stop (DESIGN §7): one EventBridge event per instance and stop.

With `NoticeMinutes` set, a run that finds a running instance whose next stop (the schedule's,
or the end of a running override) falls within that many minutes puts one event on the default
event bus of the function's own account and region: source `offhours`, detail-type
`Instance Stop Pending`, with the instance (or database), its name, account, region, schedule,
the stop time, and the commands that postpone it (an `offhours override`, and the equivalent
`aws ec2 create-tags` or `aws rds add-tags-to-resource`). The fact that the notice was sent is
kept on the instance (its state tag, `offhours.state`), so it is sent once per stop, even
across runs and cold starts. A rule
on the bus routes it anywhere: the stack's optional `NoticeEmail` topic, Slack through AWS
Chatbot (the README shows how).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from offhours.override import override_tag_key
from offhours.planner import Decision
from offhours.schedule import DAY_NAMES, iso
from offhours.zones import zone

SOURCE = "offhours"
DETAIL_TYPE = "Instance Stop Pending"
BATCH = 10  # PutEvents takes at most ten entries
POSTPONE = timedelta(hours=2)  # what the suggested override asks for


def detail(decision: Decision, tag_key: str) -> dict[str, Any]:
    """The event's detail for one instance whose stop is near."""
    assert decision.notice is not None
    i = decision.instance
    stop = decision.notice
    tz = zone(decision.notice_zone or "UTC")
    local = stop.astimezone(tz)
    later = (stop + POSTPONE).astimezone(tz)
    day = "" if later.date() == local.date() else f"{DAY_NAMES[later.weekday()]} "
    until = f"{day}{later:%H:%M}"
    region = f" --region {i.region}" if i.region else ""
    key = override_tag_key(tag_key)
    return {
        "instance_id": i.id,
        "instance_name": i.name,
        "account": i.account,
        "region": i.region,
        "schedule": i.schedule,
        "stop_time": iso(stop),
        "stop_time_local": (
            f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()}"
        ),
        "resource_type": i.resource_type,
        "postpone": {
            "offhours": f"offhours override {i.id} --running --until {until}{region}",
            "aws_cli": _tag_command(i.id, i.resource_type, key, f"running until {until}", region),
        },
    }


def _tag_command(resource: str, resource_type: str, key: str, value: str, region: str) -> str:
    """The AWS CLI command that writes one tag on the resource."""
    if resource_type.startswith("rds:"):
        return (
            f"aws rds add-tags-to-resource --resource-name {resource} --tags "
            f"'Key={key},Value={value}'{region}"
        )
    return f"aws ec2 create-tags --resources {resource} --tags 'Key={key},Value={value}'{region}"


def entries(decisions: list[Decision], tag_key: str) -> list[dict[str, Any]]:
    """PutEvents entries, one per decision with a notice."""
    return [
        {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail(d, tag_key))}
        for d in decisions
    ]


def send(client: Any, decisions: list[Decision], tag_key: str) -> tuple[set[str], dict[str, str]]:
    """Put the notices, ten to a call. Returns the ids notified and, for the others, why not."""
    sent: set[str] = set()
    failed: dict[str, str] = {}
    for start in range(0, len(decisions), BATCH):
        batch = decisions[start : start + BATCH]
        try:
            response = client.put_events(Entries=entries(batch, tag_key))
        except (ClientError, BotoCoreError) as exc:
            for d in batch:
                failed[d.instance.id] = str(exc)
            continue
        for d, result in zip(batch, response.get("Entries", []), strict=False):
            if result.get("EventId"):
                sent.add(d.instance.id)
            else:
                failed[d.instance.id] = f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"
    return sent, failed
