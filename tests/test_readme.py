"""The manual cannot drift from the code: the commands and examples of the README and of every
page of docs/ (tests/manual.py) are run or checked here."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from offhours.catalog import default_catalog, parse_catalog
from offhours.cli import build_parser
from offhours.state import fingerprint_tag_key, state_tag_key
from tests import manual
from tests.manual import blocks
from tests.test_template import template

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def console_examples() -> list[tuple[str, str]]:
    examples = []
    for block in blocks("console"):
        command: str | None = None
        output: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    examples.append((command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
        if command is not None:
            examples.append((command, "\n".join(output)))
    return examples


def shell_commands() -> list[str]:
    commands = []
    for block in blocks("sh"):
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


@pytest.mark.parametrize(("command", "expected"), console_examples(), ids=lambda x: x[:60])
def test_every_console_example_prints_what_the_manual_shows(command, expected):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DEFAULT_TIMEZONE", None)
    done = subprocess.run(
        command, shell=True, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert done.stdout.rstrip("\n") == expected.rstrip("\n"), done.stderr


def test_the_manual_shows_enough_console_examples():
    assert len(console_examples()) >= 8


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, re.M))


def _check_aws(words: list[str]) -> None:
    session = botocore.session.get_session()
    service, operation = words[1], words[2]
    model = session.get_service_model(service)
    by_cli = {xform_name(name, "-"): name for name in model.operation_names}
    assert operation in by_cli, f"aws {service} {operation}: no such operation"
    members = model.operation_model(by_cli[operation]).input_shape.members
    known = {xform_name(name, "-") for name in members}
    for word in words[3:]:
        if word.startswith("--"):
            option = word[2:].split("=")[0]
            option = option[3:] if option.startswith("no-") else option
            assert option in known | {"query", "output", "region", "profile"}, (
                f"aws {service} {operation}: no option --{option}"
            )


def _check_sam(words: list[str]) -> None:
    assert words[1] in {"build", "deploy", "delete", "logs", "validate", "local"}, words
    if "--parameter-overrides" in words:
        parameters = template()["Parameters"]
        i = words.index("--parameter-overrides")
        for pair in words[i + 1 :]:
            if pair.startswith("--"):
                break
            assert pair.split("=")[0] in parameters, pair


def _check_offhours(words: list[str]) -> None:
    if any("[" in w for w in words):  # a synopsis line
        assert words[1] in {"check", "plan", "run", "demo", "override", "report"}
        return
    args = build_parser().parse_args(words[1:])
    assert args.command in {"check", "plan", "run", "demo", "override", "report"}


def _segments(command: str) -> list[list[str]]:
    return [shlex.split(part) for part in command.split(" | ")]


def test_every_shell_command_in_the_manual_exists_as_written():
    checked = 0
    for command in shell_commands():
        for words in _segments(command):
            if words[0] == "make":
                assert words[1] in _makefile_targets(), f"make {words[1]}: no such target"
            elif words[0] == "aws":
                _check_aws(words)
            elif words[0] == "sam":
                _check_sam(words)
            elif words[0] == "offhours":
                _check_offhours(words)
            elif words[0] == "export":  # a variable that the repository's own scripts read
                name = words[1].split("=", 1)[0]
                scripts = [*ROOT.glob("smoke/*.py"), *ROOT.glob("src/offhours/*.py")]
                assert any(name in p.read_text() for p in scripts), f"nothing reads {name}"
            else:
                assert words[0] in {"tr", "sort"}, f"unchecked command in the manual: {command}"
                continue
            checked += 1
    assert checked >= 15


def test_the_parameter_table_lists_every_template_parameter():
    (rows,) = [
        t[1:]
        for t in manual.tables()
        if t[0][0].lower() == "parameter" and any(row[0] == "`TagKey`" for row in t)
    ]
    table = {m[1] for row in rows if (m := re.fullmatch(r"`([A-Za-z]+)`", row[0]))}
    parameters = set(template()["Parameters"])
    assert parameters <= table | {"WorkerTimeouts"}
    assert table <= parameters


def test_the_catalogue_example_is_the_shipped_one():
    example = manual.example("yaml", lambda b: "office-hours" in b)
    shipped = {e.name: e.value for e in default_catalog().entries}
    for entry in parse_catalog(example).entries:
        assert shipped[entry.name] == entry.value


def test_the_calendar_example_reads_as_calendars_and_ships_the_first():
    example = manual.example("yaml", lambda b: "dates:" in b)
    catalog = parse_catalog(example)
    assert catalog.names() == []
    for name in catalog.calendars():
        assert catalog.calendar(name) is not None
    assert default_catalog().calendar("company-closures") == catalog.calendar("company-closures")


def test_the_terraform_example_ignores_the_real_state_tag():
    hcl = manual.example("hcl", lambda b: True)
    keys = f'"{state_tag_key("Schedule")}", "{fingerprint_tag_key("Schedule")}"'
    assert f"keys = [{keys}]" in hcl
    assert state_tag_key("Schedule") in manual.text()


def test_the_cloudformation_example_is_a_valid_resource(tmp_path):
    snippet = manual.example("yaml", lambda b: "AWS::EC2::Instance" in b)
    body = "Resources:\n" + "".join(f"  {line}\n" for line in snippet.splitlines())
    path = tmp_path / "example.yaml"
    path.write_text(body)
    done = subprocess.run(
        [str(BIN / "cfn-lint"), str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_log_line_example_has_the_fields_the_code_writes():
    example = manual.example("json", lambda b: '"kind": "decision"' in b)
    for key in (
        "instance_id",
        "instance_name",
        "region",
        "account",
        "schedule",
        "previous_state",
        "desired_state",
        "action",
        "outcome",
        "reason",
        "event_time",
    ):
        assert f'"{key}"' in example, key


def test_the_service_control_policy_reserves_every_tag_key_offhours_reads():
    scp = json.loads(manual.example("json", lambda b: "ReserveOffhoursTags" in b))
    statements = {s["Sid"]: s for s in scp["Statement"]}
    reserve = statements["ReserveOffhoursTags"]
    assert reserve["Effect"] == "Deny"
    # Every action that writes or removes tags on what offhours schedules: EC2, RDS, Auto
    # Scaling groups and EKS node groups.
    assert set(reserve["Action"]) == {
        "ec2:CreateTags",
        "ec2:DeleteTags",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
        "autoscaling:CreateOrUpdateTags",
        "autoscaling:DeleteTags",
        "eks:TagResource",
        "eks:UntagResource",
    }
    assert set(reserve["Resource"]) == {
        "arn:aws:ec2:*:*:instance/*",
        "arn:aws:rds:*:*:db:*",
        "arn:aws:rds:*:*:cluster:*",
        "arn:aws:autoscaling:*:*:autoScalingGroup:*",
        "arn:aws:eks:*:*:nodegroup/*",
    }
    own = statements["OffhoursWritesOnlyItsOwnTags"]
    assert set(own["Action"]) == set(reserve["Action"])
    assert set(own["Resource"]) == set(reserve["Resource"])
    keys = set(reserve["Condition"]["ForAnyValue:StringEquals"]["aws:TagKeys"])
    assert keys == {
        "Schedule",
        state_tag_key("Schedule"),
        fingerprint_tag_key("Schedule"),
        "Schedule:offhours-size",  # an Auto Scaling group's recorded sizes
        "Schedule:override",
    }
    delete_all = statements["NoDeleteAllTags"]
    assert delete_all["Condition"]["Null"] == {"aws:TagKeys": "true"}


def _notice_detail() -> dict[str, Any]:
    from datetime import UTC, datetime

    from offhours.instance import Instance
    from offhours.notices import detail
    from offhours.planner import Decision, Step, Verdict

    web = Instance(
        "i-0123456789abcdef0",
        "running",
        "Mon-Fri 08:00-18:00 Europe/Berlin",
        name='web "blue"',  # a quote in a name must not break the message
        region="eu-central-1",
        account="111122223333",
    )
    stop = datetime(2026, 11, 27, 17, tzinfo=UTC)
    decision = Decision(
        web, Step.NONE, Verdict.UNCHANGED, "x", notice=stop, notice_zone="Europe/Berlin"
    )
    return detail(decision, "Schedule")


def test_the_notice_example_is_what_a_notice_holds():
    example = json.loads(manual.example("json", lambda b: '"Instance Stop Pending"' in b[:80]))
    real = _notice_detail()
    assert set(example["detail"]) == set(real)
    assert set(example["detail"]["postpone"]) == set(real["postpone"])
    assert example["detail"]["postpone"]["aws_cli"] == real["postpone"]["aws_cli"]
    assert example["detail"]["stop_time_local"] == real["stop_time_local"]


def test_the_slack_target_routes_the_custom_notification_offhours_built():
    """The manual's target hands Amazon Q Developer the custom notification that offhours
    wrote in the notice, as it is (`InputPath`): no input template pastes tag text, and the
    message must be the custom-notification JSON, or Slack shows nothing."""
    block = manual.example("json", lambda b: b.lstrip().startswith('[{"Id": "slack"'))
    (target,) = json.loads(block)
    assert set(target) == {"Id", "Arn", "InputPath"}
    event = {
        "source": "offhours",
        "detail-type": "Instance Stop Pending",
        "detail": _notice_detail(),
    }
    message: Any = event
    for part in target["InputPath"].removeprefix("$.").split("."):
        message = message[part]  # a path the event lacks would drop the delivery
    assert message["version"] == "1.0" and message["source"] == "custom"
    assert message["content"]["textType"] == "client-markdown"
    assert message["content"]["title"].startswith(':zzz: web "blue" i-0123456789abcdef0 stops')
    assert "offhours override i-0123456789abcdef0" in message["content"]["description"]


def test_the_slack_rule_matches_offhours_own_account_and_source():
    (put_rule,) = {c for c in shell_commands() if "put-rule --name offhours-notices" in c}
    words = shlex.split(put_rule)
    pattern = json.loads(words[words.index("--event-pattern") + 1])
    assert set(pattern) == {"account", "source", "detail-type"}
    assert pattern["source"] == ["offhours"]
