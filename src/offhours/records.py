"""What people read: one record per decision, one per run (DESIGN §5).

Decisions that matter (an action, a failure, an adoption, a removed state, an invalid value,
a dry run's plan) are INFO or above; decisions that change nothing (unchanged, skipped for a
standing reason) are DEBUG, so the log bill follows what happens, not the size of the fleet.
A line with a warning, a failure, an invalid value or work put off carries `code` (and, with
more than one, `codes`, the main one first): `offhours.codes`, and the troubleshooting page.

Decision lines are written by `DecisionLog`, not through Powertools' Logger: its formatter
costs about 170 us a line (it copies and filters every LogRecord attribute), json.dumps of
the same record about 17 us. The line is the one Powertools would write: the same keys in the
same order (level, location, message, timestamp, service, the Lambda context and correlation
id that Powertools keeps), then the record's fields; a test compares the two.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from offhours.executor import Outcome, Outcomes
from offhours.planner import is_quiet, records_fingerprint_only
from offhours.schedule import iso

LEVELS = {Outcomes.FAILED: "ERROR", Outcomes.INVALID: "WARNING"}
# Outcomes that change nothing, and so are DEBUG lines (unless a warning comes with them).
QUIET = frozenset({Outcomes.UNCHANGED, Outcomes.SKIPPED})
_LEVEL_NUMBERS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING}
_LEVEL_NUMBERS["ERROR"] = logging.ERROR


def decision_record(outcome: Outcome) -> dict[str, Any]:
    d = outcome.decision
    i = d.instance
    record: dict[str, Any] = {
        "kind": "decision",
        "instance_id": i.id,  # an EC2 instance id, or a database's ARN
        "instance_name": i.name,  # "name" is taken by LogRecord
        "resource_type": i.resource_type,  # ec2:instance, rds:db, rds:cluster
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
    codes = outcome.all_codes  # `offhours.codes`: the page that explains each
    if codes:
        record["code"] = codes[0]
        if len(codes) > 1:
            record["codes"] = list(codes)
    if d.warning:
        record["warning"] = d.warning
    saving = outcome.saving
    if saving is not None:  # `offhours.savings`; null where the price is unknown
        record["stopped_hours"] = saving.hours
        record["stopped_from"] = iso(saving.since)
        record["stopped_until"] = iso(saving.until)
        record["hourly_usd"] = saving.hourly_usd
        record["saved_usd"] = saving.usd
    if outcome.people is not None:  # the hours a person kept it stopped (`offhours report`)
        since, until = outcome.people
        record["people_stopped_hours"] = round((until - since).total_seconds() / 3600, 4)
        record["people_stopped_from"] = iso(since)
    return record


def decision_message(outcome: Outcome) -> str:
    d = outcome.decision
    name = f" ({d.instance.name})" if d.instance.name else ""
    return f"{d.instance.id}{name}: {d.action}, {outcome.outcome}: {outcome.reason}"


def level_of(outcome: Outcome) -> str:
    if outcome.decision.warning and outcome.outcome != Outcomes.FAILED:
        return "WARNING"
    if outcome.saving is not None or outcome.people is not None:  # the report reads it
        level = LEVELS.get(outcome.outcome, "INFO")
        return level if level != "DEBUG" else "INFO"
    if outcome.outcome in QUIET and is_quiet(outcome.decision):
        return "DEBUG"
    if outcome.outcome == Outcomes.UNCHANGED and records_fingerprint_only(outcome.decision):
        return "DEBUG"
    return LEVELS.get(outcome.outcome, "INFO")


class DecisionLog:
    """Writes decision lines as Powertools' Logger would, at a fraction of the cost.

    `context` gives the Logger's current keys (service, the Lambda context, the correlation
    id); `level` its level; `stream` where the lines go. A record is built only for a line that
    is written.
    """

    def __init__(
        self,
        context: Callable[[], dict[str, Any]],
        level: Callable[[], int],
        stream: Callable[[], TextIO],
    ) -> None:
        self._context = context
        self._level = level
        self._stream = stream
        self._lock = threading.Lock()  # targets run side by side; a line is written whole

    def enabled(self, level: str) -> bool:
        return _LEVEL_NUMBERS[level] >= self._level()

    def write(self, outcome: Outcome) -> None:
        level = level_of(outcome)
        if not self.enabled(level):
            return
        text = self.line(level, decision_message(outcome), decision_record(outcome))
        with self._lock:
            self._stream().write(text)

    def line(self, level: str, message: str, record: dict[str, Any]) -> str:
        now = time.time()
        local = time.localtime(now)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", local)
        caller = sys._getframe(2)  # where the decision was logged from, as Powertools says
        head: dict[str, Any] = {
            "level": level,
            "location": f"{caller.f_code.co_name}:{caller.f_lineno}",
            "message": message,
            "timestamp": f"{stamp},{int(now * 1000) % 1000:03d}{time.strftime('%z', local)}",
        }
        for key, value in self._context().items():
            if key not in head and value is not None and not _is_placeholder(value):
                head[key] = value
        head.update(record)
        trace = os.environ.get("_X_AMZN_TRACE_ID")
        if trace:
            head["xray_trace_id"] = trace.split(";")[0].replace("Root=", "")
        return json.dumps(head, default=str, separators=(",", ":"), ensure_ascii=False) + "\n"


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("%(")
