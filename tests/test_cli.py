"""The command line: check, plan and run, as a person types them."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest

from offhours import cli
from offhours.cli import main
from tests.fleet import Fleet

OFFICE = "Mon-Fri 08:00-18:00 UTC"
EVENING = "2026-03-27T18:05:00Z"


@pytest.fixture(autouse=True)
def evening(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workstation's clock reads Friday evening: `run --apply` acts only near now."""
    monkeypatch.setattr(cli, "_now", lambda: datetime.fromisoformat(EVENING))


def test_check_exits_0_for_a_valid_value_and_2_for_an_invalid_one(capsys):
    assert main(["check", OFFICE, "--at", EVENING, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["desired"] == "stopped"
    assert main(["check", "Mon-Fri 18:00-18:00", "--json"]) == 2
    assert "zero length" in json.loads(capsys.readouterr().out)["error"]


def test_check_reads_values_from_standard_input(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("07:00-19:00\nnonsense-value 99\n"))
    assert main(["check", "-", "--json", "--at", EVENING]) == 2
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["valid"] for x in lines] == [True, False]


def test_a_bad_at_is_one_clear_line_and_exit_2(capsys):
    assert main(["check", OFFICE, "--at", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("offhours: --at 'yesterday' is not a time")
    assert "Traceback" not in err


def test_a_missing_catalogue_file_is_one_clear_line(capsys, tmp_path):
    assert main(["check", "office-hours", "--catalog", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read catalogue" in capsys.readouterr().err


def test_plan_shows_every_tagged_instance_and_changes_nothing(fleet: Fleet, capsys):
    due = fleet.one(OFFICE, name="due", handled="2026-03-27T08:00:00Z")
    bad = fleet.one("Mon-Fri 8-18", name="bad")
    assert main(["plan", "--at", EVENING, "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert due in out and bad in out
    assert "dry run, would stop" in out
    assert "(dry run: nothing was changed)" in out
    assert fleet.state(due) == "running"
    assert fleet.anchor(due) == "2026-03-27T08:00:00Z"


def test_run_is_dry_unless_applied(fleet: Fleet, capsys):
    due = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    assert main(["run", "--at", EVENING]) == 0
    assert fleet.state(due) == "running"
    assert main(["run", "--apply", "--at", EVENING, "--json"]) == 0
    assert fleet.state(due) == "stopped"
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    summary = lines[-1]
    assert summary["kind"] == "summary" and summary["stopped"] == 1


def test_converge_brings_a_newly_tagged_instance_to_its_desired_state(fleet: Fleet, capsys):
    late = fleet.one(OFFICE)  # tagged after hours: a normal run would only adopt it
    assert main(["run", "--apply", "--at", EVENING]) == 0
    assert fleet.state(late) == "running"
    fresh = fleet.one(OFFICE)
    assert main(["run", "--apply", "--converge", "--at", EVENING]) == 0
    assert fleet.state(fresh) == "stopped"
    assert "converge" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["plan", "run"])
def test_an_unreachable_endpoint_is_reported_without_a_traceback(command, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    code = main([command, "--region", "us-east-1", "--at", EVENING])
    out = capsys.readouterr()
    assert code == 1
    assert "cannot be reached" in out.out
    assert "carries the schedule tag" not in out.out  # it does not know
    assert "Traceback" not in out.err


def test_plan_reads_the_deployments_catalogue_parameter(fleet: Fleet, capsys, monkeypatch):
    import boto3

    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(
        Name="/offhours/test/catalog",
        Type="String",
        Value="office-hours:\n  value: Mon-Fri 09:00-21:00 UTC\n",
    )
    monkeypatch.setenv("CATALOG_PARAMETER", "/offhours/test/catalog")
    named = fleet.one("office-hours", handled="2026-03-27T09:00:00Z")
    assert main(["plan", "--at", EVENING, "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    (decision,) = [x for x in lines if x.get("instance_id") == named]
    assert decision["desired_state"] == "running"  # 21:00 in SSM, not the built-in 18:00
    monkeypatch.setenv("CATALOG_PARAMETER", "/offhours/test/missing")
    assert main(["plan", "--at", EVENING]) == 2
    assert "cannot read the catalogue parameter" in capsys.readouterr().err


def test_one_malformed_catalogue_entry_invalidates_only_its_own_users(capsys, tmp_path):
    catalogue = tmp_path / "catalog.yaml"
    catalogue.write_text("good:\n  value: 07:00-19:00\nbroken:\n  valu: 07:00-19:00\n")
    assert main(["check", "good", "--catalog", str(catalogue), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True
    assert main(["check", "broken", "--catalog", str(catalogue), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert "names catalogue entry 'broken', which is invalid" in error


# -- never a traceback -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["check", OFFICE, "--at", "0001-01-01T00:00:00+01:00"], "outside the years 1970 to 2999"),
        (["check", OFFICE, "--at", "9999-12-31T23:59:59Z"], "outside the years 1970 to 2999"),
        (["check", OFFICE, "--at", "1969-12-31T23:59:59Z"], "outside the years"),
        (["check", "start=* * * * *", "--count", "100000000"], "--count must be 0 to 1000"),
        (["check", OFFICE, "--count", "-1"], "--count must be 0 to 1000"),
        (["plan", "--at", "9999-12-31T23:59:59Z", "--region", "us-east-1"], "outside the years"),
        (["plan", "--region", "xx-nowhere-9"], "not a known AWS region"),
        (["run", "--region", "us-east-1,../x"], "is not a region name"),
    ],
    ids=[
        "year-1",
        "year-9999",
        "1969",
        "count-huge",
        "count-negative",
        "plan-at",
        "region",
        "region-path",
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(capsys, argv, words):
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.err.startswith("offhours: ") and words in out.err
    assert out.err.count("\n") == 1 and "Traceback" not in out.err


@pytest.mark.parametrize("at", ["1970-01-01T00:00:00Z", "2999-12-31T23:59:59Z"])
def test_the_edges_of_the_range_are_answered(capsys, at):
    assert main(["check", OFFICE, "--at", at, "--json", "--count", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True


def test_a_catalogue_file_with_bad_bytes_is_one_clear_line(capsys, tmp_path):
    catalogue = tmp_path / "catalog.yaml"
    catalogue.write_bytes(b"office-hours: \xff\xfe\n")
    assert main(["check", "office-hours", "--catalog", str(catalogue)]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err and "Traceback" not in err


def test_run_apply_acts_only_near_the_present(fleet: Fleet, capsys):
    due = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    assert main(["run", "--apply", "--at", "2026-03-28T18:05:00Z"]) == 2
    assert "--apply acts only at the present time" in capsys.readouterr().err
    assert fleet.state(due) == "running"
    assert main(["plan", "--at", "2026-03-28T18:05:00Z"]) == 0  # showing is free


def test_an_unexpected_error_is_one_line_not_a_traceback(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(cli, "check_result", broken)
    assert main(["check", OFFICE]) == 1
    err = capsys.readouterr().err
    assert err.startswith("offhours: unexpected error (RuntimeError: something unforeseen)")
    assert "Traceback" not in err


# -- override ------------------------------------------------------------------------------------


def test_override_writes_the_instant_and_says_when_the_schedule_resumes(fleet: Fleet, capsys):
    berlin = fleet.one("Mon-Fri 08:00-18:00 Europe/Berlin", name="web")
    assert main(["override", berlin, "--running", "--until", "22:00", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    # 18:05 UTC is 19:05 in Berlin: 22:00 there is tonight, 21:00 UTC.
    assert fleet.tags(berlin)["Schedule:override"] == "running until 2026-03-27T22:00+01:00"
    assert "until Fri 2026-03-27 22:00 CET (2026-03-27T21:00:00Z)" in out
    assert "then the schedule wants it stopped" in out
    assert "next event: start at 2026-03-30T06:00:00Z" in out
    assert main(["override", berlin, "--clear", "--region", "us-east-1"]) == 0
    assert "Schedule:override" not in fleet.tags(berlin)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--running", "--until", "teatime"], "is not a time"),
        (["--running", "--until", "2026-04-30T09:00"], "more than 168 hours"),
        (["--running"], "give --running or --stopped with --until TIME, or --clear"),
        (["--clear", "--until", "22:00"], "--clear removes the override"),
    ],
)
def test_a_bad_override_is_one_clear_line_and_writes_nothing(fleet: Fleet, capsys, extra, words):
    iid = fleet.one(OFFICE)
    assert main(["override", iid, *extra, "--region", "us-east-1"]) == 2
    assert words in capsys.readouterr().err
    assert "Schedule:override" not in fleet.tags(iid)


def test_override_refuses_an_instance_without_the_schedule_tag(fleet: Fleet, capsys):
    iid = fleet.one(None, name="plain")
    assert main(["override", iid, "--stopped", "--until", "22:00", "--region", "us-east-1"]) == 2
    assert "carries no Schedule tag" in capsys.readouterr().out
    assert "Schedule:override" not in fleet.tags(iid)


def test_check_instance_shows_the_override_in_force_and_when_the_schedule_resumes(
    fleet: Fleet, capsys
):
    iid = fleet.one(OFFICE, name="web")
    fleet.ec2.create_tags(
        Resources=[iid],
        Tags=[{"Key": "Schedule:override", "Value": "running until 2026-03-27T21:00+00:00"}],
    )
    assert main(["check", "--instance", iid, "--at", EVENING, "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Instance   {iid}\nSchedule   '{OFFICE}'")
    assert (
        "Override   'running until 2026-03-27T21:00+00:00': running until Fri 2026-03-27 21:00 "
        "UTC (2026-03-27T21:00:00Z); then the schedule wants it stopped" in out
    )
    assert main(["check", "--instance", iid, "--at", EVENING, "--json", "--count", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["instance"] == iid and result["desired"] == "stopped"
    assert result["override"] == {
        "value": "running until 2026-03-27T21:00+00:00",
        "state": "running",
        "until": "2026-03-27T21:00:00Z",
        "over": False,
    }


def test_check_instance_without_an_override_says_none(fleet: Fleet, capsys):
    iid = fleet.one(OFFICE)
    assert main(["check", "--instance", iid, "--at", EVENING, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["override"] is None
    assert main(["check", OFFICE, "--instance", iid]) == 2
    assert "not both" in capsys.readouterr().err


def test_check_instance_names_what_is_wrong(fleet: Fleet, capsys):
    assert main(["check", "--instance", "i-0123456789abcdef0", "--region", "us-east-1"]) != 0
    err = capsys.readouterr().err
    assert "i-0123456789abcdef0" in err and "Traceback" not in err
    iid = fleet.one(None)
    assert main(["check", "--instance", iid]) == 2
    assert "carries no Schedule tag" in capsys.readouterr().err
    assert main(["check", OFFICE, "--region", "us-east-1"]) == 2
    assert "go with --instance" in capsys.readouterr().err


# -- a catalogue calendar named like a holidays code ---------------------------------------------

SHADOWING = "office-hours: 08:00-18:00\ncan:\n  dates: [2026-12-24]\n"


def test_a_catalogue_calendar_named_like_a_holidays_code_is_refused(fleet: Fleet, capsys, tmp_path):
    catalogue = tmp_path / "catalog.yaml"
    catalogue.write_text(SHADOWING)
    shadowed = "the calendar 'can' has the name of the holidays code CAN (Canada); rename it"
    for argv in (
        ["check", "08:00-18:00 holidays=can", "--catalog", str(catalogue)],
        ["plan", "--at", EVENING, "--region", "us-east-1", "--catalog", str(catalogue)],
    ):
        assert main(argv) == 2
        out = capsys.readouterr()
        assert out.err == f"offhours: {catalogue}: {shadowed}\n"
        assert out.out == ""
    # Without that catalogue, holidays=can is what it always was: Canada's holidays.
    assert main(["check", "08:00-18:00 holidays=can", "--at", "2026-12-24T12:00:00Z"]) == 0
    assert "Fri 25 Dec 2026: Christmas Day, no start" in capsys.readouterr().out


def test_plan_reads_a_shadowing_catalogue_parameter_as_an_error(fleet: Fleet, capsys, monkeypatch):
    import boto3

    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(
        Name="/offhours/test/shadowing", Type="String", Value=SHADOWING, Overwrite=True
    )
    monkeypatch.setenv("CATALOG_PARAMETER", "/offhours/test/shadowing")
    fleet.one("office-hours", handled="2026-03-27T08:00:00Z")
    assert main(["plan", "--at", EVENING, "--region", "us-east-1"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "offhours: SSM parameter /offhours/test/shadowing: the calendar 'can' has the name of "
        "the holidays code CAN (Canada); rename it\n"
    )


# -- tag text is printed escaped (DESIGN §7) ----------------------------------------------------

# A Name that would forge a row of the table, and reorder (U+202E) or break (U+2028) the text
# after it. (ANSI escapes cannot travel through EC2's XML; the stdin and catalogue tests below
# carry them.)
FORGED = "web\ni-0forged  ec2:instance  ok\u202eevil\u2028x\ty"
FORGED_SHOWN = "web\\ni-0forged  ec2:instance  ok\\u202eevil\\u2028x\\ty"
RAW = ("\n", "\x1b", "\u202e", "\u2028", "\u2029", "\t", "\r")


def _no_raw(text: str) -> None:
    for line in text.splitlines():
        assert not any(char in line for char in RAW), line


def test_escaped_shows_control_and_direction_characters_as_escapes():
    assert cli.escaped("plain Name, é 中 ✓") == "plain Name, é 中 ✓"
    assert cli.escaped("a\nb\r\tc") == "a\\nb\\r\\tc"
    assert cli.escaped("\x1b[2J\x00\x7f\x9b") == "\\x1b[2J\\x00\\x7f\\x9b"
    assert cli.escaped("\u202eabc\u2066\u200b\ufeff") == "\\u202eabc\\u2066\\u200b\\ufeff"
    assert cli.escaped("\u2028\u2029\U000e0041") == "\\u2028\\u2029\\U000e0041"
    assert cli.escaped("a\u00a0b") == "a\u00a0b"  # a no-break space is shown as it is


def test_plan_escapes_names_and_values_from_tags(fleet: Fleet, capsys):
    named = fleet.one(OFFICE, name=FORGED, handled="2026-03-27T08:00:00Z")
    bad = fleet.one("Mon-Fri 08:00-18:00\nstop\u202e", name="bad\u2029name")
    assert main(["plan", "--at", EVENING, "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    _no_raw(out.replace("\n", ""))
    rows = [line for line in out.splitlines() if line.startswith("i-")]
    assert len(rows) == 2  # no forged row
    (row,) = [line for line in rows if line.startswith(named)]
    assert FORGED_SHOWN in row and "dry run, would stop" in row
    (row,) = [line for line in rows if line.startswith(bad)]
    assert "bad\\u2029name" in row and "Mon-Fri 08:00-18:00\\nstop\\u202e" in row
    # JSON escapes them itself, and keeps the text: a script reads the real Name.
    assert main(["plan", "--at", EVENING, "--region", "us-east-1", "--json"]) == 0
    out = capsys.readouterr().out
    _no_raw(out.replace("\n", ""))
    records = [json.loads(x) for x in out.splitlines()]
    assert {r.get("instance_name") for r in records} >= {FORGED, "bad\u2029name"}


def test_override_escapes_the_name_and_values_it_prints(fleet: Fleet, capsys):
    iid = fleet.one(OFFICE + "\u202e", name=FORGED)
    assert main(["override", iid, "--running", "--until", "22:00", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    _no_raw(out.replace("\n", ""))
    lines = out.splitlines()
    assert len(lines) == 2
    assert (
        lines[0]
        == f"{iid} ({FORGED_SHOWN}): Schedule:override = {fleet.tags(iid)['Schedule:override']!r}"
    )
    assert lines[1].startswith("  the next run makes it running")
    assert main(["override", iid, "--clear", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    _no_raw(out.replace("\n", ""))
    assert out == (
        f"{iid} ({FORGED_SHOWN}): override removed; its schedule "
        f"'{OFFICE}\\u202e' governs from its next event\n"
    )
    plain = fleet.one(None, name="evil\u202e\nname")
    assert main(["override", plain, "--stopped", "--until", "22:00", "--region", "us-east-1"]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"{plain} (evil\\u202e\\nname): it carries no Schedule tag")
    assert out.count("\n") == 1


def test_check_instance_escapes_its_values(fleet: Fleet, capsys):
    iid = fleet.one("Mon-Fri 08:00-18:00\u2028UTC", name=FORGED)
    fleet.ec2.create_tags(
        Resources=[iid], Tags=[{"Key": "Schedule:override", "Value": "running\nuntil\u202e 22:00"}]
    )
    # U+2028 separates words as a space does: the value is valid.
    assert main(["check", "--instance", iid, "--at", EVENING, "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    _no_raw(out.replace("\n", ""))
    assert "Schedule   'Mon-Fri 08:00-18:00\\u2028UTC'" in out
    assert "Override   'running\\nuntil\\u202e 22:00' is ignored" in out


def test_check_escapes_values_read_from_standard_input_and_the_catalogue(
    capsys, monkeypatch, tmp_path
):
    catalogue = tmp_path / "catalog.yaml"
    catalogue.write_text(
        'office:\n  value: 08:00-18:00\n  description: "eight\\e[2J to six\\u202e"\n'
    )
    values = "office\n08:00-18:00 \x1b]0;pwned\x07\n\u202eoffice\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(values))
    assert main(["check", "-", "--at", EVENING, "--catalog", str(catalogue)]) == 2
    out = capsys.readouterr().out
    _no_raw(out.replace("\n", ""))
    assert "Meaning    named schedule 'office' (eight\\x1b[2J to six\\u202e): runs" in out
    assert "Schedule   '08:00-18:00 \\x1b]0;pwned\\x07'" in out
    assert "Schedule   '\\u202eoffice'" in out


def test_an_error_line_is_one_line_whatever_it_quotes(capsys, tmp_path):
    catalogue = tmp_path / "catalog.yaml"
    catalogue.write_text("office-hours: [unclosed\n")  # PyYAML's message has several lines
    assert main(["check", "office-hours", "--catalog", str(catalogue)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("offhours: ") and "not a usable YAML document" in err
    assert err.count("\n") == 1 and "\\n" in err


def test_check_explains_a_size_word_and_keeps_the_json_contract(capsys):
    sized = f"{OFFICE} size=1/2/4"
    assert main(["check", sized, "--at", EVENING]) == 0
    out = capsys.readouterr().out
    assert (
        "Meaning    runs Monday to Friday 08:00-18:00, UTC time; a group starts to min 1, "
        "desired 2, max 4 when its recorded size is lost\n"
    ) in out
    assert main(["check", sized, "--at", EVENING, "--json", "--count", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert main(["check", OFFICE, "--at", EVENING, "--json", "--count", "2"]) == 0
    plain = json.loads(capsys.readouterr().out)
    # The size changes no event; the contract's keys are there as for any valid value.
    assert {k: result[k] for k in plain} == plain
    assert main(["check", f"{OFFICE} size=4/2/1", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error.startswith("'4/2/1' at character 30: is not a size: the minimum (4)")
