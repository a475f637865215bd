"""`offhours demo` shows the main job end to end on its own local endpoint."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import timedelta

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


@pytest.fixture(scope="module")
def group_week() -> str:
    """The week of the Auto Scaling group alone, with its person, one run an hour (the fleet's
    fifteen minutes would take minutes; the group's events and the person's resize are all on
    the hour)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "FLEET", tuple(m for m in demo.FLEET if m.kind == "asg"))
        patch.setattr(demo, "PEOPLE", tuple(p for p in demo.PEOPLE if p.name == "web-tier"))
        patch.setattr(demo, "TICK", timedelta(hours=1))
        assert demo.main(days=7, out=out, err=err) == 0
    return out.getvalue()


def row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name + " "))


def days_of(text: str, name: str) -> list[str]:
    """A row of the timeline, a day a string, across the blocks that the width makes."""
    return [
        day for line in text.splitlines() if line.startswith(name + " ") for day in line.split()[1:]
    ]


def sizes(text: str, name: str) -> list[tuple[str, str, str]]:
    """The group's section of sizes: (when, min/desired/max, why) of each change."""
    section = text[text.index("Auto Scaling groups: their sizes") :].splitlines()[2:]
    found = []
    for line in section:
        change = re.match(r"^  (\S+)?\s+(\w{3} \d\d \w{3} \d\d:\d\dZ)  (\d+/\d+/\d+)\s+(.*)$", line)
        if change is None:
            break
        if change.group(1) not in (None, name):
            break
        found.append((change.group(2), change.group(3), change.group(4)))
    return found


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


def test_the_auto_scaling_group_goes_to_zero_at_night_and_its_sizes_are_recorded(one_day):
    out, _, _ = one_day
    # Mon-Fri 08:00-18:00 UTC: the group, created at 1/2/4 on Friday night, is adopted (a tag
    # never resizes a group on the spot) and goes to 0/0/0 at 18:00.
    assert row(out, "web-tier").split()[1] == "█" * 18 + "▼·····"
    assert (
        "offhours  web-tier      stop (done) → 0/0/0    the schedule's stop at "
        "2026-03-27T18:00:00Z applies"
    ) in out
    changes = sizes(out, "web-tier")
    assert [(when, size) for when, size, _ in changes] == [
        ("Fri 27 Mar 00:00Z", "1/2/4"),
        ("Fri 27 Mar 18:00Z", "0/0/0"),
    ]
    assert re.fullmatch(
        r"offhours stops it; records Schedule:offhours-size='1/2/4 2026-03-27T18:00:00Z \S{6}'",
        changes[1][2],
    )


def test_the_handler_schedules_the_three_kinds(one_day):
    out, _, _ = one_day
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    summaries = [x for x in lines if x.get("kind") == "summary"]
    assert summaries and all(
        set(x["resources"]) == {"ec2", "rds", "asg"} and x["resources"]["asg"]["evaluated"] == 1
        for x in summaries
    )


def test_the_group_is_sized_back_in_the_morning_and_a_person_is_respected_at_night(group_week):
    out = group_week
    changes = sizes(out, "web-tier")
    assert [(when, size) for when, size, _ in changes] == [
        ("Fri 27 Mar 00:00Z", "1/2/4"),
        ("Fri 27 Mar 18:00Z", "0/0/0"),
        ("Mon 30 Mar 08:00Z", "1/2/4"),
        ("Mon 30 Mar 18:00Z", "0/0/0"),
        ("Mon 30 Mar 21:00Z", "1/1/1"),  # a person: one box tonight, left so by offhours...
        ("Tue 31 Mar 08:00Z", "1/2/4"),  # ...until the start, which restores the recorded sizes
        ("Tue 31 Mar 18:00Z", "0/0/0"),
        ("Wed 01 Apr 08:00Z", "1/2/4"),
        ("Wed 01 Apr 18:00Z", "0/0/0"),
        ("Thu 02 Apr 08:00Z", "1/2/4"),
        ("Thu 02 Apr 18:00Z", "0/0/0"),
    ]
    whys = [why for _, _, why in changes]
    # Every stop records 1/2/4: the person's 1/1/1 is never taken for the group's size.
    assert all("'1/2/4 " in why for why in whys if why.startswith("offhours stops it"))
    assert all(why.endswith("(1/2/4)") for why in whys if why.startswith("offhours starts it"))
    assert whys[4].startswith("a person: someone needs one web box tonight")
    assert "11 runs from then leave it so until the next event" in whys[4]  # 21:00-07:00
    assert days_of(out, "web-tier")[3:5] == ["········▲█████████▼··+██", "████████▲█████████▼·····"]
    assert "person    web-tier      resize to 1/1/1" in out
    assert (
        "offhours  web-tier      start (done) → 1/2/4   the schedule's start at 2026-03-31" in out
    )
    # Two instances for a week: 336 instance-hours; up 58 hours (Friday until 18:00, then
    # 08:00-18:00 Monday to Thursday), stopped the other 110 but for the one box that the
    # person kept up for 11 hours: 2 * 110 - 11 = 209 stopped.
    assert "the 2 instances of 1 Auto Scaling group, were stopped for 209 of 336" in out


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
    assert (
        "Saved: 9 scheduled instances and databases, and the 2 instances of 1 Auto Scaling "
        "group, were stopped for"
    ) in out
    # At the prices the local endpoint answers for the Price List API (one day: the night's
    # stops that ended by the morning).
    priced = next(line for line in out.splitlines() if line.startswith("Priced: "))
    assert "hours: $" in priced and "at on-demand prices" in priced
    assert "enforced-api   t3.medium" in out


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
