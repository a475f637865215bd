"""`offhours report`: the decision lines' stop hours and dollars, added up per resource over a
period, printed as a table, CSV, JSON or an SVG chart; read from a file or from Logs Insights
(moto's, on the local endpoint)."""

from __future__ import annotations

import csv
import io
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from offhours import report
from offhours.cli import UsageError, main
from offhours.report import Period, aggregate, parse_when, read_lines
from offhours.schedule import iso

NOW = datetime(2026, 3, 27, 18, 5, tzinfo=UTC)
WEEK = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC))  # 168 h
WEB = "i-0123456789abcdef0"
DB = "arn:aws:rds:eu-central-1:111122223333:db:orders"


def line(
    resource: str,
    since: str,
    until: str,
    hourly: float | None,
    *,
    name: str = "",
    kind: str = "ec2:instance",
    **extra: Any,
) -> str:
    """A decision line as the function writes it, with a stop's figures."""
    start, end = datetime.fromisoformat(since), datetime.fromisoformat(until)
    hours = round((end - start).total_seconds() / 3600, 4)
    record = {
        "level": "INFO",
        "message": f"{resource}: start, done",
        "kind": "decision",
        "instance_id": resource,
        "instance_name": name,
        "resource_type": kind,
        "region": "eu-central-1",
        "account": "111122223333",
        "action": "start",
        "outcome": "done",
        "event_time": until,
        "stopped_hours": hours,
        "stopped_from": since,
        "stopped_until": until,
        "hourly_usd": hourly,
        "saved_usd": None if hourly is None else round(hours * hourly, 6),
        **extra,
    }
    return json.dumps(record)


def fleet_lines() -> list[str]:
    return [
        # the web server: a night cut by --since (8 of its 14 hours), a night, a repeat of it,
        # and a night that ended before the period
        line(WEB, "2026-02-28T18:00:00Z", "2026-03-01T08:00:00Z", 0.1, name="web"),
        line(WEB, "2026-03-02T18:00:00Z", "2026-03-03T08:00:00Z", 0.1, name="web"),
        line(WEB, "2026-03-02T18:00:00Z", "2026-03-03T08:00:00Z", 0.1, name="web"),
        line(WEB, "2026-02-26T18:00:00Z", "2026-02-27T08:00:00Z", 0.1, name="web"),
        # the database: a night without a price, then one with it, and 3 hours stopped by people
        line(
            DB, "2026-03-04T18:00:00Z", "2026-03-05T08:00:00Z", None, name="orders", kind="rds:db"
        ),
        line(
            DB,
            "2026-03-05T18:00:00Z",
            "2026-03-06T08:00:00Z",
            0.5,
            name="orders",
            kind="rds:db",
            people_stopped_hours=3,
        ),
    ]


@pytest.fixture(autouse=True)
def friday_evening(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "_now", lambda: NOW)


# --- adding up ------------------------------------------------------------------------------


def test_hours_and_dollars_add_up_per_resource_with_the_period_cut_at_since():
    result = aggregate(read_lines(fleet_lines()), WEEK, "test")
    db, web = result.rows  # sorted by dollars saved: 7.00 before 2.20
    assert web.resource_id == WEB and web.name == "web"
    assert web.stopped_hours == pytest.approx(8 + 14)
    assert web.saved_usd == pytest.approx(0.8 + 1.4)
    assert web.hourly_usd == 0.1
    assert web.running_hours == pytest.approx(168 - 22)
    assert web.stops == 2
    assert db.stopped_hours == pytest.approx(28)
    assert db.saved_usd is None  # some hours have no price: unknown, never 0
    assert db.saved_usd_priced == pytest.approx(7.0)
    assert db.unpriced_hours == pytest.approx(14)
    assert db.hourly_usd == 0.5  # the last price seen
    assert db.people_hours == 3
    assert db.running_hours == pytest.approx(168 - 28 - 3)
    t = result.totals
    assert (t.stopped_hours, t.people_hours, t.running_hours) == pytest.approx((50, 3, 283))
    assert t.saved_usd is None and t.saved_usd_priced == pytest.approx(9.2)
    assert t.stops == 4
    assert result.lines["duplicates"] == 1 and result.lines["outside"] == 1
    assert result.people_seen


def test_a_resource_with_no_price_at_all_says_unknown_not_zero():
    only = [line(DB, "2026-03-04T18:00:00Z", "2026-03-05T08:00:00Z", None, kind="rds:db")]
    result = aggregate(read_lines(only), WEEK, "test")
    (row,) = result.rows
    assert row.saved_usd is None and row.hourly_usd is None
    text = report.table(result)
    assert "unknown" in text and "0.00" not in text
    assert "Hours stopped by people: no decision line records them" in text


def test_a_stop_that_began_before_since_counts_only_its_part_in_the_period():
    # began 2026-02-20, ended a day into the period: 24 of its 240 hours, and a tenth of its
    # dollars
    long = [line(WEB, "2026-02-20T00:00:00Z", "2026-03-02T00:00:00Z", 0.25)]
    (row,) = aggregate(read_lines(long), WEEK, "test").rows
    assert row.stopped_hours == pytest.approx(24)
    assert row.saved_usd == pytest.approx(6.0)


# --- the four outputs -----------------------------------------------------------------------


def test_table_is_aligned_and_escapes_tag_text():
    lines = [*fleet_lines()[:2], line(DB, "2026-03-04T18:00:00Z", "2026-03-05T08:00:00Z", 1.0)]
    lines[-1] = lines[-1].replace('"instance_name": ""', '"instance_name": "evil\\u001b[31m\\nX"')
    text = report.table(aggregate(read_lines(lines), WEEK, "test"))
    assert "\x1b" not in text and "evil\\x1b[31m\\nX" in text
    rows = [r for r in text.splitlines() if r.startswith(("RESOURCE", "i-", "arn:", "TOTAL"))]
    assert [r.index("SAVED USD") + len("SAVED USD") for r in rows[:1]] == [len(rows[0])]
    assert len({len(r) for r in rows}) == 1  # right-aligned numbers end in one column
    assert rows[-1].startswith("TOTAL (2)") and rows[-1].endswith("16.20")


def test_csv_parses_with_a_total_line_and_unknown_for_a_missing_price():
    out = report.csv_text(aggregate(read_lines(fleet_lines()), WEEK, "test"))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["resource_id"] for r in rows] == [DB, WEB, "TOTAL"]
    assert rows[0]["saved_usd"] == "unknown" and float(rows[0]["saved_usd_priced"]) == 7.0
    assert float(rows[1]["saved_usd"]) == pytest.approx(2.2)
    assert rows[2]["saved_usd"] == "unknown" and float(rows[2]["stopped_hours"]) == 50


def test_csv_never_hands_a_spreadsheet_a_formula():
    evil = line(WEB, "2026-03-02T18:00:00Z", "2026-03-03T08:00:00Z", 0.1, name="=HYPERLINK(1)")
    out = report.csv_text(aggregate(read_lines([evil]), WEEK, "test"))
    row, total = csv.DictReader(io.StringIO(out))
    assert row["name"] == "'=HYPERLINK(1)" and total["resource_id"] == "TOTAL"


def test_json_is_one_object_with_period_rows_and_totals():
    obj = report.json_object(aggregate(read_lines(fleet_lines()), WEEK, "test"))
    assert obj["period"] == {
        "since": "2026-03-01T00:00:00Z",
        "until": "2026-03-08T00:00:00Z",
        "hours": 168.0,
    }
    assert [r["resource_id"] for r in obj["rows"]] == [DB, WEB]
    assert obj["rows"][1]["saved_usd"] == 2.2 and obj["rows"][0]["saved_usd"] is None
    assert obj["totals"]["resources"] == 2 and obj["totals"]["saved_usd"] is None
    assert obj["totals"]["saved_usd_priced"] == 9.2
    assert obj["people_stopped_hours_seen"] is True
    json.dumps(obj)  # plain JSON


def test_svg_is_well_formed_and_shows_the_names_escaped():
    name = '<b>&"x"\x1b\ufffe'
    lines = [
        *fleet_lines()[:2],
        line(DB, "2026-03-04T18:00:00Z", "2026-03-05T08:00:00Z", 1.0, name=name),
    ]
    svg = report.svg_chart(aggregate(read_lines(lines), WEEK, "test"))
    root = ET.fromstring(svg)  # well-formed, control characters included
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("width") == "800"
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(t.startswith('<b>&"x"\\x1b\\ufffe') for t in texts)
    assert "&lt;b&gt;&amp;&quot;x&quot;" in svg
    assert any("2026-03-01 00:00 to 2026-03-08 00:00 UTC" in t for t in texts)
    assert any(t.startswith("Total: USD 16.20 over 2 resources") for t in texts)
    assert len(list(root.iter("{http://www.w3.org/2000/svg}rect"))) == 1 + 2  # background


def test_svg_shows_the_top_twenty_and_the_rest_in_one_line():
    many = [
        line(f"i-{n:017x}", "2026-03-02T18:00:00Z", "2026-03-03T08:00:00Z", 0.01 * (n + 1))
        for n in range(25)
    ]
    root = ET.fromstring(report.svg_chart(aggregate(read_lines(many), WEEK, "test")))
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert len(list(root.iter("{http://www.w3.org/2000/svg}rect"))) == 1 + 20
    assert any(t.startswith("and 5 more resources") for t in texts)


# --- the command: --file, --since -----------------------------------------------------------


def test_file_skips_what_is_not_a_decision_line_and_counts_it(tmp_path, capsys):
    lines = fleet_lines()
    export = tmp_path / "decisions.log"
    export.write_text(
        "\n".join(
            [
                "START RequestId: 6b0d Version: $LATEST",
                f"2026-03-03T08:00:05.123Z {lines[1]}",  # a CloudWatch Logs export's line
                json.dumps({"kind": "summary", "stopped": 1}),
                json.dumps({"kind": "decision", "instance_id": WEB, "action": "none"}),
                json.dumps({"@message": lines[4]}),  # an Insights row
                "{not json",
                "",
                json.dumps({"kind": "decision", "instance_id": WEB, "stopped_hours": 1}),
            ]
        )
    )
    argv = ["report", "--file", str(export), "--since", "2026-03-01", "--until", "2026-03-08"]
    assert main([*argv, "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["lines"] == {
        "read": 7,
        "skipped": 4,
        "outside": 0,
        "duplicates": 0,
        "unreadable": 1,
        "counted": 2,
    }
    assert obj["source"] == f"file {export}"
    assert [r["resource_id"] for r in obj["rows"]] == [WEB, DB]
    assert "could not be read" in obj["warnings"][0]


def test_file_dash_reads_standard_input_and_prints_a_table(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(fleet_lines())))
    assert main(["report", "--file", "-", "--since", "2026-03-01", "--until", "2026-03-08"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Savings from 2026-03-01T00:00:00Z to 2026-03-08T00:00:00Z (168.0 h)")
    assert "standard input: 4 stops counted" in out
    assert ">= 9.20" in out and "storage" in out


def test_csv_and_svg_from_the_command(tmp_path, capsys):
    export = tmp_path / "d.log"
    export.write_text("\n".join(fleet_lines()))
    chart = tmp_path / "saved.svg"
    argv = ["report", "--file", str(export), "--since", "2026-03-01", "--until", "2026-03-08"]
    assert main([*argv, "--csv", "--svg", str(chart)]) == 0
    assert next(csv.reader(io.StringIO(capsys.readouterr().out)))[0] == "resource_id"
    ET.parse(chart)
    with pytest.raises(SystemExit):  # argparse: one form at a time
        main([*argv, "--csv", "--json"])
    assert main([*argv, "--svg", str(tmp_path / "no" / "such.svg")]) == 2
    assert "--svg" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", NOW - timedelta(days=30)),
        ("12h", NOW - timedelta(hours=12)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 7D ", NOW - timedelta(days=7)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T08:00", datetime(2026, 3, 1, 8, tzinfo=UTC)),
        ("2026-03-01T08:00:00+02:00", datetime(2026, 3, 1, 6, tzinfo=UTC)),
        ("2026-03-01T08:00:00Z", datetime(2026, 3, 1, 8, tzinfo=UTC)),
    ],
)
def test_since_takes_a_length_before_now_or_an_iso_time(text, expected):
    assert parse_when(text, "--since", NOW) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "yesterday"], "--since 'yesterday' is not a time: give 30d, 12h, 2w"),
        (["--since", "3m"], "--since '3m' is not a time"),
        (["--since", "0d"], "must be before --until"),
        (["--since", "9999999w"], "is before 1970"),
        (["--since", "2026-03-08", "--until", "2026-03-01"], "must be before --until"),
        (["--until", "2027-01-01"], "is in the future"),
        (["--file", "/no/such/file"], "--file '/no/such/file'"),
        (["--file", "-", "--region", "eu-west-1"], "--region goes with the log group"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(["report", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("offhours: ") and message in err and err.count("\n") == 1


def test_the_period_refuses_nonsense_directly():
    with pytest.raises(UsageError):
        report.period("1h", "2h", NOW)


# --- Logs Insights on the local endpoint ----------------------------------------------------
# moto (5.x) answers StartQuery and GetQueryResults: it reads `fields` (only the @ fields:
# @timestamp, @message, @logStream, @log, and @ptr always), `sort` and `limit`, and the time
# range; it ignores `filter` (every line of the range comes back) and does not parse JSON
# fields. The report asks for @message and reads the JSON itself, so moto exercises the whole
# path (start, poll, rows, split at the row cap, non-decision lines skipped); a failed or
# endless query is answered in moto's place by a botocore before-send hook.


@dataclass
class _Body:
    data: bytes

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@pytest.fixture
def logs(moto_endpoint: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A logs client on the local endpoint, which the report uses; the clock is the real one
    (moto takes only events of the last 14 days)."""
    client = boto3.client("logs", region_name="us-east-1", endpoint_url=moto_endpoint.url)
    monkeypatch.setattr(report, "logs_client", lambda region: client)
    monkeypatch.setattr(report, "_now", lambda: datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(report, "POLL_SECONDS", 0.0)
    yield client


def _stack(client: Any, lines: list[tuple[datetime, str]]) -> str:
    """A stack's log group holding `lines` (logged at their instants); returns the stack."""
    stack = f"report-{uuid.uuid4().hex[:8]}"
    group = f"/offhours/{stack}"
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName="2026/03/27/[$LATEST]abc")
    events = [{"timestamp": int(at.timestamp() * 1000), "message": text} for at, text in lines]
    client.put_log_events(
        logGroupName=group,
        logStreamName="2026/03/27/[$LATEST]abc",
        logEvents=sorted(events, key=lambda e: e["timestamp"]),
    )
    return stack


def _nights(now: datetime, count: int) -> list[tuple[datetime, str]]:
    """`count` nights of the web server, each 14 hours, ending 1, 2, ... days ago; each line
    logged 5 minutes after its stop ended, with a run summary after it."""
    out = []
    for n in range(1, count + 1):
        until = (now - timedelta(days=n)).replace(minute=0, second=0)
        since = until - timedelta(hours=14)
        logged = until + timedelta(minutes=5)
        out.append((logged, line(WEB, iso(since), iso(until), 0.1, name="web")))
        out.append((logged + timedelta(seconds=1), json.dumps({"kind": "summary"})))
    return out


def _queries(logs: Any) -> list[dict[str, Any]]:
    """The parameters of every StartQuery the report makes, as they go out."""
    started: list[dict[str, Any]] = []
    logs.meta.events.register(
        "provide-client-params.cloudwatch-logs.StartQuery",
        lambda params, **_: started.append(params),
    )
    return started


def test_the_report_reads_the_stacks_log_group_through_logs_insights(logs, capsys):
    now = datetime.now(UTC)
    stack = _stack(logs, _nights(now, 3))
    started = _queries(logs)
    assert main(["report", "--stack", stack, "--since", "7d", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["source"] == f"log group /offhours/{stack}"
    (row,) = obj["rows"]
    assert row["resource_id"] == WEB and row["stopped_hours"] == 42 and row["saved_usd"] == 4.2
    assert obj["lines"]["skipped"] == 3  # the summaries, which moto's missing filter lets by
    (query,) = started
    assert "ispresent(stopped_hours)" in query["queryString"]
    assert query["logGroupName"] == f"/offhours/{stack}"


def test_an_answer_as_long_as_insights_allows_is_asked_again_in_halves(logs, capsys, monkeypatch):
    monkeypatch.setattr(report, "MAX_ROWS", 3)
    now = datetime.now(UTC)
    stack = _stack(logs, _nights(now, 4))  # 8 lines in the range: more than 3
    started = _queries(logs)
    assert main(["report", "--stack", stack, "--since", "5d", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["rows"][0]["stops"] == 4 and obj["lines"]["duplicates"] == 0
    assert len(started) > 2
    assert obj["lines"]["read"] == 8  # the halves share a second: repeats dropped by @ptr
    assert obj["warnings"] == []


def test_too_many_lines_in_one_second_is_a_warning(logs, capsys, monkeypatch):
    monkeypatch.setattr(report, "MAX_ROWS", 2)
    at = datetime.now(UTC) - timedelta(hours=2)
    lines = [
        (at, line(f"i-{n:017x}", iso(at - timedelta(hours=5)), iso(at), 0.1)) for n in range(3)
    ]
    stack = _stack(logs, lines)
    assert main(["report", "--stack", stack, "--since", "3h"]) == 0
    captured = capsys.readouterr()
    assert "Logs Insights answered no more, some stops may be missing" in captured.out


def _answer(status: str) -> Any:
    def send(request: Any, **_: Any) -> AWSResponse:
        body = json.dumps({"status": status, "results": []}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 200, headers, _Body(body))

    return send


def test_a_failed_query_is_one_line_and_exit_1(logs, capsys):
    stack = _stack(logs, _nights(datetime.now(UTC), 1))
    logs.meta.events.register("before-send.cloudwatch-logs.GetQueryResults", _answer("Failed"))
    assert main(["report", "--stack", stack]) == 1
    err = capsys.readouterr().err
    assert err == f"offhours: the Logs Insights query of /offhours/{stack} ended Failed\n"


def test_a_query_that_never_completes_is_given_up(logs, capsys, monkeypatch):
    monkeypatch.setattr(report, "QUERY_TIMEOUT", 0.0)
    stack = _stack(logs, _nights(datetime.now(UTC), 1))
    logs.meta.events.register("before-send.cloudwatch-logs.GetQueryResults", _answer("Running"))
    assert main(["report", "--stack", stack]) == 1
    assert "did not complete in 0 s; give a shorter --since" in capsys.readouterr().err


def test_a_missing_log_group_names_the_options_that_choose_it(logs, capsys):
    assert main(["report", "--log-group", "/offhours/none-such"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("offhours: no log group /offhours/none-such in us-east-1: give --stack")
