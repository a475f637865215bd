"""What people read: one record per decision, one per run (DESIGN §5)."""

from __future__ import annotations

from typing import Any

from offhours.executor import Outcome, Outcomes
from offhours.schedule import iso

LEVELS = {Outcomes.FAILED: "ERROR", Outcomes.INVALID: "WARNING"}


def decision_record(outcome: Outcome) -> dict[str, Any]:
    d = outcome.decision
    i = d.instance
    record: dict[str, Any] = {
        "kind": "decision",
        "instance_id": i.id,
        "instance_name": i.name,  # "name" is taken by LogRecord
        "region": i.region,
        "account": i.account,
        "schedule": i.schedule,
        "previous_state": i.state,
        # Powertools drops keys whose value is None: "" keeps every field on every line.
        "desired_state": d.desired.value if d.desired is not None else "",
        "action": d.action,
        "outcome": outcome.outcome,
        "reason": outcome.reason,
        "event_time": iso(d.event.at) if d.event is not None else "",
        "state_tag_before": outcome.state_before,
        "state_tag_after": outcome.state_tag_after,
    }
    if outcome.request_id:
        record["request_id"] = outcome.request_id
    if outcome.error_code:
        record["error_code"] = outcome.error_code
    if d.warning:
        record["warning"] = d.warning
    return record


def decision_message(outcome: Outcome) -> str:
    d = outcome.decision
    name = f" ({d.instance.name})" if d.instance.name else ""
    return f"{d.instance.id}{name}: {d.action}, {outcome.outcome}: {outcome.reason}"


def level_of(outcome: Outcome) -> str:
    if outcome.decision.warning and outcome.outcome != Outcomes.FAILED:
        return "WARNING"
    return LEVELS.get(outcome.outcome, "INFO")
