"""Errors point to their page (issue 20): every warning and error line carries a troubleshooting
code of `offhours.codes`, the troubleshooting page has a section (and an anchor) for each, and
`offhours check` gives the code of an invalid value."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters

from offhours.cli import main
from offhours.codes import CODES, SECTIONS, anchor, area, troubleshooting_markdown
from offhours.executor import Outcome, Outcomes
from offhours.instance import Instance
from offhours.planner import Decision, Step, Verdict
from offhours.records import decision_record
from tests.harness import EARLY, FRIDAY_START, scheduled_event

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "offhours"
PAGE = ROOT / "docs" / "troubleshooting.md"
CODE = re.compile(r"\bOH-[A-Z]+(?:-[A-Z]+)+\b")
SHAPE = re.compile(r"^OH-[A-Z]+(-[A-Z]+)+$")


def _written() -> dict[str, list[str]]:
    """Every code that the source (all but the registry itself) writes: code -> its files."""
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name == "codes.py" and path.parent == SOURCE:
            continue
        for code in CODE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return found


# -- the registry and the page ------------------------------------------------------------------


def test_the_troubleshooting_page_is_what_the_registry_writes():
    assert PAGE.read_text(encoding="utf-8") == troubleshooting_markdown(), (
        "docs/troubleshooting.md is out of date: edit src/offhours/codes.py, then run "
        ".venv/bin/python docs/gen_troubleshooting.py"
    )


def test_every_code_the_source_writes_is_explained_and_every_explained_code_is_written():
    written = _written()
    unknown = {code: files for code, files in written.items() if code not in CODES}
    assert not unknown, f"codes written but not in offhours.codes.CODES: {unknown}"
    unused = sorted(set(CODES) - set(written))
    assert not unused, f"codes in offhours.codes.CODES that nothing writes: {unused}"


def test_codes_are_unique_stable_names_each_in_a_section():
    text = (SOURCE / "codes.py").read_text(encoding="utf-8")
    keys = re.findall(r'^    "(OH-[^"]+)": Code\(', text, re.M)
    assert [k for k, n in Counter(keys).items() if n > 1] == []  # a repeated key would hide one
    assert set(keys) == set(CODES)
    areas = {a for _, group in SECTIONS for a in group}
    for code, c in CODES.items():
        assert SHAPE.match(code), code
        assert area(code) in areas, f"{code}: its area is in no section of the page"
        assert c.title and c.cause and c.fix and c.line, code
        assert c.level in ("ERROR", "WARNING", "INFO"), code
        assert c.example_key in ("reason", "warning", "message"), code


def test_the_page_has_an_explicit_anchor_for_every_code_and_only_those():
    text = PAGE.read_text(encoding="utf-8")
    headings = re.findall(r"^### (OH-[A-Z-]+): .* \{#([a-z-]+)\}$", text, re.M)
    assert [code for code, _ in headings] == [
        code for _, group in SECTIONS for code in CODES if area(code) in group
    ]
    assert all(anchor(code) == slug for code, slug in headings)
    links = set(re.findall(r"\]\(#(oh-[a-z-]+)\)", text))
    assert links <= {anchor(code) for code in CODES}


def test_a_decision_line_names_its_main_code_first():
    """A failure's code first, then the decision's warnings; `codes` only with more than one."""
    box = Instance("i-0123456789abcdef0", "running", "Mon-Fri 08:00-18:00 hibernate")
    warned = Decision(
        box,
        Step.STOP,
        Verdict.ACT,
        "the schedule's stop applies",
        warning="a; b",
        codes=("OH-STATE-UNTRUSTED", "OH-HIBERNATE-UNCONFIGURED"),
    )
    done = decision_record(Outcome(warned, Outcomes.DONE, "stopped"))
    assert done["code"] == "OH-STATE-UNTRUSTED"
    assert done["codes"] == ["OH-STATE-UNTRUSTED", "OH-HIBERNATE-UNCONFIGURED"]
    failed = Outcome(warned, Outcomes.FAILED, "stop failed", codes=("OH-ACTION-FAILED",))
    record = decision_record(failed)
    assert record["code"] == "OH-ACTION-FAILED"
    assert record["codes"] == ["OH-ACTION-FAILED", *warned.codes]
    plain = Decision(box, Step.STOP, Verdict.ACT, "the schedule's stop applies")
    assert "code" not in decision_record(Outcome(plain, Outcomes.DONE, "stopped"))
    late = Outcome(plain, Outcomes.DEFERRED, "not attempted", codes=("OH-RUN-TIME-LIMIT",))
    assert decision_record(late)["code"] == "OH-RUN-TIME-LIMIT"
    assert "codes" not in decision_record(late)


# -- offhours check -----------------------------------------------------------------------------


def test_check_gives_the_code_of_an_invalid_value(capsys):
    cases = {
        "Mon-Fri 25:00-18:00": "OH-VALUE-INVALID",
        "Mon-Fri 08:00-18:00 Europe/Berln": "OH-VALUE-TIMEZONE",
        "start=0 8 * * 1-5; tz=Europe/Berln": "OH-VALUE-TIMEZONE",
        "no-such-schedule": "OH-VALUE-NAME-UNKNOWN",
        "Mon-Fri 08:00-18:00 holidays=DE-BZ": "OH-VALUE-HOLIDAYS-UNKNOWN",
    }
    for value, code in cases.items():
        assert main(["check", value, "--json"]) == 2
        result = json.loads(capsys.readouterr().out)
        assert result["valid"] is False and result["error"], value
        assert result["code"] == code, value
        assert main(["check", value]) == 2
        text = capsys.readouterr().out
        assert f"Invalid    {result['error']}" in text  # the message, as before
        assert f"Code       {code}  (docs/troubleshooting.md#{anchor(code)})" in text


def test_a_valid_value_has_no_code(capsys):
    assert main(["check", EARLY, "--json", "--at", "2026-03-27T16:00:00Z"]) == 0
    assert "code" not in json.loads(capsys.readouterr().out)


# -- real lines, through the handler ------------------------------------------------------------
# (tests/harness.py checks every line of every invocation: a WARNING or ERROR line without a
# known code fails the test that made it.)


def _coded(lines: list[dict[str, Any]]) -> dict[str, str]:
    return {line["instance_id"]: line["code"] for line in lines if "code" in line}


def test_the_lines_of_a_run_carry_the_code_of_what_went_wrong(fleet, invoke, env, hooks):
    env.setenv("REGIONS", "us-east-1,eu-nowhere-1")
    bad = fleet.one("Mon-Fri 25:00-18:00")
    zone = fleet.one("Mon-Fri 08:00-15:00 Europe/Berln")
    liar = fleet.one(EARLY, handled="last tuesday")
    refused = fleet.one(EARLY, handled=FRIDAY_START)
    plain = fleet.one(f"{EARLY} hibernate", handled=FRIDAY_START)
    both = fleet.one(f"{EARLY} enforce hibernate", handled="last tuesday")
    fine = fleet.one(EARLY, handled=FRIDAY_START)
    hooks.refuse_batches_with("StopInstances", refused, "UnauthorizedOperation")
    run = invoke()
    decisions = run.decisions
    assert _coded(list(decisions.values())) == {
        bad: "OH-VALUE-INVALID",
        zone: "OH-VALUE-TIMEZONE",
        liar: "OH-STATE-UNTRUSTED",
        refused: "OH-ACTION-FAILED",
        plain: "OH-HIBERNATE-UNCONFIGURED",
        both: "OH-STATE-UNTRUSTED",
    }
    assert decisions[bad]["level"] == "WARNING" and decisions[bad]["outcome"] == "invalid"
    assert decisions[liar]["level"] == "WARNING" and decisions[liar]["outcome"] == "adopted"
    assert decisions[refused]["level"] == "ERROR"
    assert decisions[refused]["error_code"] == "UnauthorizedOperation"  # AWS's, beside ours
    assert decisions[both]["codes"] == ["OH-STATE-UNTRUSTED", "OH-HIBERNATE-UNCONFIGURED"]
    assert "code" not in decisions[fine] and "codes" not in decisions[bad]
    (error,) = run.of_kind("target-error")
    assert error["code"] == "OH-TARGET-REGION" and error["region"] == "eu-nowhere-1"
    assert "code" not in run.summary


def test_a_refused_event_carries_its_code(fleet, invoke, env):
    run = invoke(
        scheduled_event(time="2026-03-27T16:00:00Z"), now=datetime(2026, 3, 27, 19, tzinfo=UTC)
    )
    (rejected,) = run.of_kind("event-rejected")
    assert rejected["level"] == "ERROR" and rejected["code"] == "OH-EVENT-TIME-SKEW"
    run = invoke(scheduled_event(time="the day before"), now=datetime(2026, 3, 27, 16, tzinfo=UTC))
    (rejected,) = run.of_kind("event-rejected")
    assert rejected["code"] == "OH-EVENT-TIME-INVALID"
    event = scheduled_event()
    del event["time"]
    run = invoke(event)
    (warning,) = [line for line in run.lines if line.get("level") == "WARNING"]
    assert warning["code"] == "OH-EVENT-NO-TIME"


def test_a_catalogue_that_cannot_be_read_says_so_with_its_code(fleet, invoke, env):
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(
        Name="/offhours/test/catalog", Value="office-hours: [", Type="String", Overwrite=True
    )
    env.setenv("CATALOG_PARAMETER", "/offhours/test/catalog")
    parameters.clear_caches()
    named = fleet.one("office-hours", handled=FRIDAY_START)
    try:
        run = invoke()
    finally:
        parameters.clear_caches()
    (error,) = run.of_kind("catalog-error")
    assert error["code"] == "OH-CATALOG-UNAVAILABLE"
    assert run.decisions[named]["code"] == "OH-CATALOG-UNAVAILABLE"
    assert run.decisions[named]["outcome"] == "invalid"
