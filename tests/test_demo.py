"""`offhours demo` shows the main job end to end on its own local endpoint."""

from __future__ import annotations

import io
import json
import os

import pytest

from offhours import demo


@pytest.fixture(scope="module")
def one_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    svg = tmp_path_factory.mktemp("demo") / "week.svg"
    out, err = io.StringIO(), io.StringIO()
    before = dict(os.environ)
    assert demo.main(svg=str(svg), days=1, out=out, err=err) == 0
    assert dict(os.environ) == before, "the demo must leave the environment as it found it"
    return out.getvalue(), err.getvalue(), svg.read_text()


def row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name + " "))


def test_the_demo_replays_a_day_through_the_real_handler(one_day):
    out, err, _ = one_day
    assert "96 runs of the real Lambda handler" in out
    assert "96/96 runs" in err


def test_the_timeline_shows_office_hours_in_berlin_time_and_the_overnight_window(one_day):
    out, _, _ = one_day
    # Friday 27 March 2026 is still winter time in Berlin: 08:00-18:00 is 07:00-17:00 UTC, but
    # at 16:30 UTC a person keeps it up until 21:00 (20:00 UTC) with an override.
    assert row(out, "web-berlin").split()[1] == "·······▲████████o███▼···"
    # 22:00-04:00 UTC: running at midnight, stopped at 04:00, started at 22:00.
    assert row(out, "nightly-batch").split()[1] == "████▼·················▲█"


def test_the_database_stops_at_night_like_an_instance(one_day):
    out, _, _ = one_day
    # Mon-Fri 07:00-20:00 UTC: the RDS database, created running, is adopted and stops at 20:00.
    assert row(out, "orders-db").split()[1] == "█" * 20 + "▼···"
    assert "orders-db     stop (done)            the schedule's stop at 2026-03-27T20:00:00Z" in out


def test_instances_that_must_not_be_touched_keep_running(one_day):
    out, _, _ = one_day
    for name in ("asg-worker", "pinned-db", "untagged-box", "broken-tag"):
        assert row(out, name).split()[1] == "█" * 24, name


def test_the_invalid_schedule_is_reported_with_its_error(one_day):
    out, _, _ = one_day
    assert "broken-tag: invalid schedule, left untouched: '8am' at character 9" in out


def test_actions_come_with_their_reasons_and_the_saving_is_counted(one_day):
    out, _, _ = one_day
    assert "gpu-notebook  hibernate (done)" in out
    assert "the schedule's stop at 2026-03-27T04:00:00Z applies" in out
    assert "Saved: 9 scheduled instances and databases were stopped for" in out


def test_the_log_lines_of_the_chosen_hour_are_what_cloudwatch_holds(one_day):
    out, _, _ = one_day
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    decisions = [x for x in lines if x.get("kind") == "decision"]
    summaries = [x for x in lines if x.get("kind") == "summary"]
    assert len(summaries) == 4  # four runs in the hour
    assert {d["instance_name"] for d in decisions} >= {"web-berlin", "broken-tag"}
    started = [d for d in decisions if d["action"] == "start" and d["outcome"] == "done"]
    assert [d["instance_name"] for d in started] == ["web-berlin"]
    assert any("_aws" in x for x in lines), "the EMF metrics blob is part of the log"


def test_the_svg_timeline_is_a_picture_of_every_instance(one_day):
    _, _, svg = one_day
    assert svg.startswith("<svg")
    for member in demo.FLEET:
        assert f">{member.name}<" in svg


def test_an_override_keeps_a_box_up_and_it_stops_when_the_override_ends(one_day):
    out, _, _ = one_day
    assert "override: 'running until 21:00'" in out
    assert "override by tag ended at 2026-03-27T20:00:00Z: the schedule wants it stopped" in out


def test_a_notice_is_shown_as_eventbridge_receives_it(one_day):
    out, _, _ = one_day
    start = out.index("The first, as EventBridge receives it:")
    text = out[start:]
    body = text[text.index("  {") : text.index("\n  }\n") + 4]
    notice = json.loads(body)
    assert notice["source"] == "offhours"
    assert notice["detail-type"] == "Instance Stop Pending"
    assert notice["detail"]["postpone"]["offhours"].startswith("offhours override i-")


def test_the_replayed_week_names_the_closure_that_skipped_a_start():
    assert demo.closures_text(7) == ["  api-newyork: Tue 31 Mar 2026: Team offsite, no start"]
    # The closure is on Tuesday: the first day of the replay has none.
    assert demo.closures_text(1) == []


def test_a_day_without_closures_says_so(one_day):
    out, _, _ = one_day
    start = out.index("Holidays and closures in the replay")
    assert out[start:].splitlines()[1] == "  none"
