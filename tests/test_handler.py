"""The Lambda handler end to end: an EventBridge event in, JSON log lines, EMF metrics and the
six counts out (DESIGN §5, §6), against the local EC2 endpoint."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from offhours import handler, runtime
from offhours.service import COUNT_KEYS
from tests.fleet import Fleet
from tests.harness import (
    EARLY,
    EVENT_FILE,
    EVENT_ID,
    FRIDAY_START,
    RECORD_FIELDS,
    LambdaContext,
    scheduled_event,
)

POWERTOOLS_KEYS = {"level", "location", "message", "timestamp", "service", "cold_start"}


def test_each_decision_is_one_json_line_with_the_record_fields(fleet, invoke):
    web = fleet.one(EARLY, name="web", handled=FRIDAY_START)
    bad = fleet.one("Mon-Fri 25:00-18:00", name="broken")
    new = fleet.one(EARLY, name="new")
    run = invoke()
    assert run.error is None
    assert set(run.decisions) == {web, bad, new}
    for line in run.decisions.values():
        # Powertools leaves out fields whose value is None (an invalid schedule has no desired
        # state and no event); every other field of the record is there.
        assert line.keys() >= RECORD_FIELDS - {"desired_state", "event_time"}
        assert line["correlation_id"] == EVENT_ID
    assert run.decisions[web].keys() >= RECORD_FIELDS
    assert {k: run.decisions[web][k] for k in RECORD_FIELDS - {"reason"}} == {
        "kind": "decision",
        "instance_id": web,
        "instance_name": "web",
        "region": "us-east-1",
        "account": "123456789012",
        "schedule": EARLY,
        "previous_state": "running",
        "desired_state": "stopped",
        "action": "stop",
        "outcome": "done",
        "event_time": "2026-03-27T15:00:00Z",
    }
    assert run.decisions[web]["level"] == "INFO"
    assert run.decisions[bad]["outcome"] == "invalid"
    assert run.decisions[bad]["level"] == "WARNING"
    assert "25:00" in run.decisions[bad]["reason"]
    assert run.decisions[new]["action"] == "adopt"
    assert run.decisions[new]["outcome"] == "adopted"
    assert fleet.state(web) == "stopped"


def test_the_handler_returns_exactly_the_six_integer_counts(fleet, invoke):
    fleet.one(EARLY, handled=FRIDAY_START)
    fleet.one("nonsense-name")
    run = invoke()
    assert list(run.result or {}) == list(COUNT_KEYS)
    assert all(type(v) is int for v in (run.result or {}).values())
    assert run.result == {
        "evaluated": 2, "started": 0, "stopped": 1, "skipped": 0, "invalid": 1, "failed": 0
    }  # fmt: skip


def test_one_summary_line_per_run_agrees_with_the_result(fleet, invoke):
    fleet.one(EARLY, handled=FRIDAY_START)
    run = invoke()
    summary = run.summary
    assert summary["correlation_id"] == EVENT_ID
    assert summary["run_time"] == "2026-03-27T16:00:00Z"
    assert summary["dry_run"] is False
    assert {k: summary[k] for k in COUNT_KEYS} == run.result


def test_every_run_emits_failed_even_when_zero_and_only_that_by_default(invoke):
    run = invoke()  # nothing is tagged
    blob = run.emf
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "offhours"
    # A custom metric costs for every hour it gets data: `failed` feeds the failed-actions
    # alarm and the heartbeat, and the others come only when they are not zero.
    assert {m["Name"] for m in directive["Metrics"]} == {"failed"}
    assert blob["failed"] in (0, [0], [0.0])
    assert run.result == dict.fromkeys(COUNT_KEYS, 0)


def test_detailed_metrics_emit_all_counts_at_every_run(invoke, env):
    env.setenv("DETAILED_METRICS", "true")
    run = invoke()
    (directive,) = run.emf["_aws"]["CloudWatchMetrics"]
    assert {m["Name"] for m in directive["Metrics"]} == {
        *COUNT_KEYS,
        "deferred_targets",
        "deferred_work",
    }
    for key in COUNT_KEYS:
        assert run.emf[key] in (0, [0], [0.0])


def test_metrics_carry_the_counts_of_the_run(fleet, invoke):
    fleet.launch(EARLY, handled=FRIDAY_START, count=2)
    run = invoke()
    assert run.emf["stopped"] in (2, [2], [2.0])
    assert run.emf["failed"] in (0, [0], [0.0])
    assert "evaluated" not in run.emf


def test_the_run_time_is_the_events_time_not_the_clock(fleet, invoke):
    iid = fleet.one(EARLY, handled=FRIDAY_START)
    run = invoke(scheduled_event(time="2026-03-27T14:00:00Z"))  # before the stop at 15:00
    assert fleet.state(iid) == "running"
    assert run.summary["run_time"] == "2026-03-27T14:00:00Z"
    run = invoke(scheduled_event(time="2026-03-27T15:05:00Z"))
    assert fleet.state(iid) == "stopped"


def test_an_event_without_time_uses_the_clock_and_logs_a_warning(fleet, invoke):
    event = scheduled_event()
    del event["time"]
    before = datetime.now(UTC).replace(microsecond=0)
    run = invoke(event)
    after = datetime.now(UTC)
    assert run.error is None
    warnings = [line for line in run.lines if line.get("level") == "WARNING"]
    assert any("no time" in line["message"] for line in warnings)
    run_time = datetime.fromisoformat(run.summary["run_time"])
    assert before <= run_time <= after


def test_every_target_failing_raises_and_still_flushes_metrics(invoke, env):
    env.setenv("REGIONS", "eu-nowhere-1")
    run = invoke()
    assert isinstance(run.error, handler.RunFailed)
    assert "eu-nowhere-1" in str(run.error)
    (target_error,) = run.of_kind("target-error")
    assert target_error["level"] == "ERROR"
    assert target_error["region"] == "eu-nowhere-1"
    assert run.emf["failed"] in (1, [1], [1.0])
    assert run.summary["failed"] == 1


def test_a_failed_target_is_counted_with_failed_instances_and_the_run_goes_on(
    fleet, invoke, env, hooks
):
    env.setenv("REGIONS", "us-east-1,eu-nowhere-1")
    refused = fleet.one(EARLY, handled=FRIDAY_START)
    stopped = fleet.one(EARLY, handled=FRIDAY_START)
    hooks.refuse_batches_with("StopInstances", refused, "UnauthorizedOperation")
    run = invoke()
    assert run.error is None
    assert fleet.state(stopped) == "stopped"
    assert run.decisions[refused]["outcome"] == "failed"
    assert run.decisions[refused]["error_code"] == "UnauthorizedOperation"
    assert run.decisions[refused]["level"] == "ERROR"
    assert run.result is not None and run.result["failed"] == 2
    assert run.summary["failed"] == 2
    assert run.summary["failed_targets"] == 1
    assert run.emf["failed"] in (2, [2], [2.0])


def test_the_dry_run_setting_changes_nothing_and_the_summary_says_so(fleet, invoke, env):
    env.setenv("DRY_RUN", "true")
    iid = fleet.one(EARLY, handled=FRIDAY_START)
    new = fleet.one(EARLY)
    run = invoke()
    assert fleet.state(iid) == "running"
    assert fleet.anchor(iid) == FRIDAY_START
    assert fleet.anchor(new) is None
    assert run.decisions[iid]["outcome"] == "dry-run"
    assert run.summary["dry_run"] is True
    assert run.summary["would_stop"] == 1
    assert run.result is not None and run.result["stopped"] == 0
    assert "dry run" in run.summary["message"]


def test_the_schedule_tag_key_setting_is_honoured(fleet, invoke, env):
    env.setenv("SCHEDULE_TAG_KEY", "OffHours")
    custom = Fleet(fleet.ec2, tag_key="OffHours")
    iid = custom.one(EARLY, handled=FRIDAY_START)
    other = fleet.one(EARLY, handled=FRIDAY_START)  # carries `Schedule`, not `OffHours`
    run = invoke()
    assert set(run.decisions) == {iid}
    assert fleet.state(iid) == "stopped"
    assert custom.anchor(iid) == "2026-03-27T15:00:00Z"
    assert fleet.state(other) == "running"


def test_a_run_with_too_little_time_left_makes_no_change_and_defers(fleet, invoke):
    iid = fleet.one(EARLY, handled=FRIDAY_START)
    run = invoke(context=LambdaContext(remaining_ms=handler.RESERVE_MS - 1))
    assert fleet.state(iid) == "running"
    assert fleet.anchor(iid) == FRIDAY_START
    # Not even the listing is started: the whole target is left for the next run.
    (deferred,) = run.of_kind("target-deferred")
    assert "near its time limit" in deferred["message"]
    assert run.result is not None and run.result["stopped"] == 0
    assert run.result["failed"] == 0 and run.error is None


def test_a_run_whose_time_runs_out_midway_keeps_what_it_did_and_the_next_run_goes_on(
    fleet, invoke, hooks
):
    """The Lambda's way of reading (tags first, then slices of the instances that may act):
    time that runs out after the first batch is recorded leaves the rest deferred, never done
    and never lost; the next run stops them, and does not redo the first ones."""
    due = fleet.launch(EARLY, handled=FRIDAY_START, count=200, fingerprinted=True)
    context = LambdaContext()

    def time_runs_out(**_: Any) -> None:
        context.remaining_ms = runtime.RECORD_RESERVE_MS - 1

    hooks.on("after-call.ec2.CreateTags", time_runs_out)
    run = invoke(context=context)
    stopped = [i for i in due if fleet.state(i) == "stopped"]
    assert 0 < len(stopped) < len(due)
    assert all(fleet.anchor(i) == "2026-03-27T15:00:00Z" for i in stopped)
    assert all(fleet.anchor(i) == FRIDAY_START for i in set(due) - set(stopped))
    assert run.result is not None and run.result["stopped"] == len(stopped)
    assert run.summary["deferred_targets"] == 1 and run.result["failed"] == 0
    hooks.clear()
    stops = hooks.calls("StopInstances")
    run = invoke(context=LambdaContext())
    assert all(fleet.state(i) == "stopped" for i in due)
    assert run.result is not None and run.result["stopped"] == len(due) - len(stopped)
    asked = {v for call in stops for k, v in call.items() if k.startswith("InstanceId.")}
    assert asked == set(due) - set(stopped)


def test_the_dst_boundary_event_starts_a_schedule_whose_time_falls_in_the_gap(fleet, invoke):
    # events/scheduled-dst.json is 2026-03-29T01:00:00Z, the instant Berlin springs forward.
    # 02:00 Berlin does not exist that night: it happens when the clocks jump, 01:00 UTC.
    dst = json.loads((EVENT_FILE.parent / "scheduled-dst.json").read_text())
    assert dst["time"] == "2026-03-29T01:00:00Z"
    box = fleet.one(
        "start=0 2 * * *; stop=0 23 * * *; tz=Europe/Berlin",
        state="stopped",
        handled="2026-03-28T22:00:00Z",
    )
    run = invoke(dst)
    assert run.error is None
    assert fleet.state(box) == "running"
    assert run.decisions[box]["event_time"] == "2026-03-29T01:00:00Z"
    assert fleet.anchor(box) == "2026-03-29T01:00:00Z"


# -- the log bill follows what happens (DESIGN §5) ----------------------------------------------


def test_a_run_with_nothing_due_logs_only_its_summary(fleet, invoke):
    fleet.launch(EARLY, handled="2026-03-27T15:00:00Z", count=3, state="stopped")
    fleet.launch("off", count=2)
    run = invoke()
    assert run.of_kind("decision") == []
    assert run.summary["evaluated"] == 5
    assert run.summary["unchanged"] == 3


def test_log_level_debug_shows_every_decision(fleet, invoke, env):
    quiet = fleet.launch(EARLY, handled="2026-03-27T15:00:00Z", count=2, state="stopped")
    runtime.logger.setLevel("DEBUG")  # what LogLevel=DEBUG sets (POWERTOOLS_LOG_LEVEL)
    try:
        run = invoke()
    finally:
        runtime.logger.setLevel("INFO")
    assert set(run.decisions) == set(quiet)
    assert {line["level"] for line in run.decisions.values()} == {"DEBUG"}


def test_a_decision_line_is_the_line_powertools_would_write(fleet, invoke, capsys, env):
    env.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    iid = fleet.one(EARLY, name="web", handled=FRIDAY_START)
    run = invoke()
    ours = run.decisions[iid]
    # The same record through Powertools' own Logger, in the same Lambda context.
    outcome_record = {k: v for k, v in ours.items() if k not in POWERTOOLS_KEYS}
    # (A Logger of another name: Powertools configures one standard logger per service.)
    reference = Logger(service="reference", logger_handler=logging.StreamHandler(sys.stdout))

    @reference.inject_lambda_context(correlation_id_path="id", clear_state=True)
    def handler_like(event: dict[str, Any], context: LambdaContext) -> None:
        reference.info(ours["message"], extra=outcome_record)

    capsys.readouterr()
    handler_like(scheduled_event(), LambdaContext())
    (theirs,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert theirs.pop("service") == "reference" and ours.pop("service") == "offhours"
    assert ours["location"].startswith("log_outcome:")  # where the decision is logged from
    assert theirs["location"].startswith("handler_like:")
    assert ours["xray_trace_id"] == theirs["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    for line in (ours, theirs):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000", line.pop("timestamp"))
        assert re.fullmatch(r"\w+:\d+", line.pop("location"))
        line.pop("cold_start")
    assert list(ours) == list(theirs)
    assert ours == theirs


def test_a_run_with_nothing_due_reads_tags_only(fleet, invoke, hooks):
    fleet.launch(
        EARLY, handled="2026-03-27T15:00:00Z fp", count=4, state="stopped", fingerprinted=True
    )
    tags = hooks.calls("DescribeTags")
    described = hooks.calls("DescribeInstances")
    run = invoke()
    assert len(tags) == 1
    assert described == []
    assert run.summary["unchanged"] == 4


def test_a_run_at_an_event_reads_in_full_only_the_instances_that_may_act(fleet, invoke, hooks):
    quiet = fleet.launch(
        EARLY, handled="2026-03-27T15:00:00Z fp", count=3, state="stopped", fingerprinted=True
    )
    due = fleet.launch(EARLY, handled=FRIDAY_START, count=2)
    described = hooks.calls("DescribeInstances")
    run = invoke()
    assert len(described) == 1
    asked = {v for k, v in described[0].items() if k.startswith("Filter.1.Value.")}
    assert asked == set(due)
    assert all(fleet.state(i) == "stopped" for i in due + quiet)
    assert run.summary["stopped"] == 2 and run.summary["unchanged"] == 3


def test_both_ways_of_reading_decide_alike(fleet, invoke, env):
    fleet.launch(EARLY, handled=FRIDAY_START, count=2)  # due to stop
    fleet.launch(EARLY, handled="2026-03-27T15:00:00Z", count=2, state="stopped")  # quiet
    fleet.launch(EARLY, count=1)  # new: adopted
    fleet.launch("off", handled=FRIDAY_START, count=1)  # opted out: forgets its state
    fleet.launch("Mon-Fri 25:00-26:00", count=1)  # invalid
    fleet.launch(f"{EARLY} enforce", handled="2026-03-27T15:00:00Z", count=1)  # enforced
    fleet.launch(None, handled=FRIDAY_START, count=1)  # only a state tag
    dry = scheduled_event()
    env.setenv("DRY_RUN", "true")
    tags_way = invoke(dry).summary
    runtime.logger.setLevel("DEBUG")
    try:
        full_way = invoke(dry).summary
    finally:
        runtime.logger.setLevel("INFO")
    keys = [*COUNT_KEYS, "would_stop", "would_start", "would_adopt", "unchanged"]
    assert {k: tags_way.get(k) for k in keys} == {k: full_way.get(k) for k in keys}
    assert tags_way["would_stop"] == 3 and tags_way["would_adopt"] == 1


def test_every_due_instance_is_read_even_across_many_reservations(fleet, invoke):
    # 250 instances launched one at a time: as many reservations, more than a page of them.
    due = [fleet.one(EARLY) for _ in range(250)]
    run = invoke()
    assert run.summary["adopted"] == 250
    assert set(run.decisions) == set(due)


def test_both_ways_of_reading_make_the_same_decisions_instance_by_instance(fleet, invoke, env):
    fleet.launch(EARLY, handled=FRIDAY_START, count=3)  # due to stop
    for _ in range(3):
        fleet.one(EARLY, handled="2026-03-27T15:00:00Z fp", state="stopped", fingerprinted=True)
    fleet.one(EARLY)  # adopted
    fleet.one("off", handled=FRIDAY_START)  # forgets its state
    fleet.one("Mon-Fri 25:00-26:00")  # invalid
    fleet.one(f"{EARLY} enforce", handled="2026-03-27T15:00:00Z")  # enforced: stopped now
    fleet.one(None, handled=FRIDAY_START)  # only a state tag
    fleet.one(EARLY, tags={"aws:autoscaling:groupName": "web"})  # never touched
    env.setenv("DRY_RUN", "true")

    def decided(run: Any) -> dict[str, tuple[str, str]]:
        return {
            i: (line["action"], line["outcome"])
            for i, line in run.decisions.items()
            if line["level"] != "DEBUG"
        }

    tags_way = decided(invoke())
    runtime.logger.setLevel("DEBUG")
    try:
        full_way = decided(invoke())
    finally:
        runtime.logger.setLevel("INFO")
    assert tags_way == full_way
    assert len(tags_way) == 8  # all but the three quiet ones and the group member


def test_a_start_that_did_not_hold_is_found_without_reading_every_instance(fleet, invoke, hooks):
    failed = fleet.one(EARLY, handled=FRIDAY_START, state="stopped")
    # running, as the start wants
    fine = fleet.launch(EARLY, handled=f"{FRIDAY_START} fp", count=3, fingerprinted=True)
    asked: list[bool] = []

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or {}
        context["start_failures"] = "Client.InternalError" in str(body)
        asked.append(context["start_failures"])

    def answer(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        for reservation in parsed.get("Reservations", []):
            for item in reservation.get("Instances", []):
                if item["InstanceId"] == failed:
                    item["StateReason"] = {"Code": "Client.InternalError", "Message": "x"}
        if context.get("start_failures"):  # moto does not make this state reason itself
            parsed["Reservations"] = [
                {"Instances": [{"InstanceId": failed, "State": {"Name": "stopped"}}]}
            ]

    hooks.on("before-call.ec2.DescribeInstances", remember)
    hooks.on("after-call.ec2.DescribeInstances", answer)
    described = hooks.calls("DescribeInstances")
    run = invoke(scheduled_event(time="2026-03-27T08:10:00Z"))  # ten minutes after the start
    assert run.decisions[failed]["outcome"] == "failed"
    assert run.decisions[failed]["error_code"] == "Client.InternalError"
    assert asked[0] is True  # the filtered listing came first
    read = {v for call in described[1:] for k, v in call.items() if k.startswith("Filter.1.Value")}
    assert read == {failed}  # only that instance was read in full
    assert not set(fine) & set(run.decisions)
