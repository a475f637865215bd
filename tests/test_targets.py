"""Many regions and accounts (DESIGN §4): inline mode and the fan-out through SQS FIFO."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from offhours import fanout, handler, runtime, worker
from offhours.aws import Clients
from offhours.catalog import default_catalog
from offhours.config import Config
from offhours.service import RunReport, Target, rotated, run, targets_of
from tests.faults import query_error_response
from tests.fleet import Fleet

OWN = "123456789012"  # moto's default account: the scheduler's own
MEMBER_B, MEMBER_C = "111111111111", "222222222222"
OFFICE = "Mon-Fri 08:00-18:00 UTC"
HANDLED = "2026-03-27T08:00:00Z"
EVENING = datetime(2026, 3, 27, 18, 5, tzinfo=UTC)  # the 18:00 stop applies


@dataclass
class Context:
    function_name: str = "offhours"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{OWN}:function:offhours"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def refuse_role_of(clients: Clients, account: str) -> None:
    """Make STS refuse AssumeRole into `account`, as a missing member role would."""

    def refuse(request: Any, **_: Any) -> AWSResponse | None:
        body = request.body or b""
        if account not in (body.decode() if isinstance(body, bytes) else str(body)):
            return None
        message = "not authorized to perform sts:AssumeRole"
        return query_error_response(request, 403, "AccessDenied", message)

    clients.client("sts", "us-east-1").meta.events.register("before-send.sts.AssumeRole", refuse)


@pytest.fixture
def clients(fleet: Fleet) -> Clients:
    return Clients()  # fresh member sessions for every test: roles are refused per test


def reconcile(config: Config, clients: Clients, **options: Any) -> RunReport:
    """One inline run at EVENING, from the scheduler's own account."""
    return run(
        config, EVENING, clients=clients, catalog=default_catalog(), own_account=OWN, **options
    )


def member_fleet(clients: Clients, account: str, region: str) -> Fleet:
    return Fleet(clients.ec2(region, account))


def test_targets_are_every_account_and_region_and_the_own_account_needs_no_role():
    config = Config(regions=("us-east-1", "eu-west-1"), target_accounts=(OWN, MEMBER_B))
    assert targets_of(config, OWN) == [
        Target("us-east-1"),
        Target("eu-west-1"),
        Target("us-east-1", MEMBER_B),
        Target("eu-west-1", MEMBER_B),
    ]
    assert targets_of(Config(regions=("us-east-1",))) == [Target("us-east-1")]


def test_a_run_covers_member_accounts_in_two_regions_through_their_roles(fleet, clients):
    own = fleet.one(OFFICE, handled=HANDLED)
    b_east = member_fleet(clients, MEMBER_B, "us-east-1").one(OFFICE, handled=HANDLED)
    b_west_fleet = member_fleet(clients, MEMBER_B, "eu-west-1")
    b_west = b_west_fleet.one(OFFICE, handled=HANDLED)
    config = Config(regions=("us-east-1", "eu-west-1"), target_accounts=(OWN, MEMBER_B))
    report = reconcile(config, clients)
    assert report.counts()["stopped"] == 3
    assert fleet.state(own) == "stopped"
    assert member_fleet(clients, MEMBER_B, "us-east-1").state(b_east) == "stopped"
    assert b_west_fleet.state(b_west) == "stopped"
    accounts = {o.decision.instance.account for t in report.targets for o in t.outcomes}
    assert accounts == {OWN, MEMBER_B}


def test_a_member_whose_role_is_refused_fails_alone_and_the_others_proceed(fleet, clients):
    b = member_fleet(clients, MEMBER_B, "us-east-1").one(OFFICE, handled=HANDLED)
    c = member_fleet(clients, MEMBER_C, "us-east-1").one(OFFICE, handled=HANDLED)
    clients.clear()
    refuse_role_of(clients, MEMBER_C)
    config = Config(regions=("us-east-1",), target_accounts=(MEMBER_B, MEMBER_C))
    errors: list[str] = []
    codes: list[str] = []

    def said(target: Target, error: str, code: str) -> None:
        errors.append(error)
        codes.append(code)

    report = reconcile(config, clients, on_target_error=said)
    assert report.counts()["stopped"] == 1, errors
    assert report.counts()["failed"] == 1
    assert len(errors) == 1 and MEMBER_C in errors[0] and "AccessDenied" in errors[0]
    assert codes == ["OH-TARGET-REFUSED"]
    assert not report.all_targets_failed
    other = Clients()
    assert member_fleet(other, MEMBER_B, "us-east-1").state(b) == "stopped"
    assert member_fleet(other, MEMBER_C, "us-east-1").state(c) == "running"


def test_the_external_id_is_passed_to_assume_role(fleet, clients):
    seen: list[dict[str, Any]] = []
    clients.client("sts", "us-east-1").meta.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: seen.append(dict(params))
    )
    config = Config(
        regions=("us-east-1",),
        target_accounts=(MEMBER_B,),
        member_role_name="scheduler-member",
        member_external_id="ext-123",
    )
    reconcile(config, clients)
    assert seen and seen[0]["ExternalId"] == "ext-123"
    assert seen[0]["RoleArn"] == f"arn:aws:iam::{MEMBER_B}:role/scheduler-member"


def test_targets_not_reached_before_the_time_limit_are_left_for_the_next_run(fleet, clients):
    own = fleet.one(OFFICE, handled=HANDLED)
    config = Config(regions=("us-east-1", "eu-west-1"), target_accounts=(OWN, MEMBER_B))
    report = reconcile(config, clients, may_call=lambda: False)
    assert [t.deferred for t in report.targets] == [True] * 4
    assert report.counts()["failed"] == 0 and not report.all_targets_failed
    assert report.details()["deferred_targets"] == 4
    assert fleet.state(own) == "running"


# --- fan-out ------------------------------------------------------------------------------


@pytest.fixture
def queue(fleet: Fleet, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> Any:
    sqs = clients.client("sqs", "us-east-1")
    url = sqs.create_queue(QueueName="offhours-targets.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    monkeypatch.setenv("REGIONS", "us-east-1,eu-west-1")
    monkeypatch.setenv("TARGET_ACCOUNTS", f"{OWN},{MEMBER_B}")
    monkeypatch.setenv("DRY_RUN", "false")
    monkeypatch.setattr(runtime, "clients", clients)
    # The worker runs a minute after the run's time (older runs are dropped as stale).
    monkeypatch.setattr(handler, "clock", lambda: datetime(2026, 3, 27, 18, 6, tzinfo=UTC))
    return sqs, url


def scheduled_event(time: str = "2026-03-27T18:05:00Z") -> dict[str, Any]:
    return {
        "id": "evt-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": time,
        "region": "us-east-1",
        "account": OWN,
        "detail": {},
    }


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not got:
            return messages
        messages += got
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def as_sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:{OWN}:offhours-targets.fifo",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def test_the_scheduled_run_puts_one_message_per_target_and_a_repeat_is_dropped(
    queue, monkeypatch, capsys
):
    sqs, url = queue
    monkeypatch.setenv("FANOUT_QUEUE_URL", url)
    counts = handler.lambda_handler(scheduled_event(), Context())
    handler.lambda_handler(scheduled_event(), Context())  # the same run again
    assert counts["failed"] == 0
    messages = drain(sqs, url)
    bodies = sorted(
        (json.loads(m["Body"]) for m in messages), key=lambda b: (str(b["account"]), b["region"])
    )
    assert bodies == [
        {"region": "eu-west-1", "account": MEMBER_B, "time": "2026-03-27T18:05:00Z"},
        {"region": "us-east-1", "account": MEMBER_B, "time": "2026-03-27T18:05:00Z"},
        {"region": "eu-west-1", "account": None, "time": "2026-03-27T18:05:00Z"},
        {"region": "us-east-1", "account": None, "time": "2026-03-27T18:05:00Z"},
    ]
    groups = {m["Attributes"]["MessageGroupId"] for m in messages}
    assert groups == {
        "self/us-east-1",
        "self/eu-west-1",
        f"{MEMBER_B}/us-east-1",
        f"{MEMBER_B}/eu-west-1",
    }
    assert any(
        '"enqueued": 4' in line or '"enqueued":4' in line
        for line in capsys.readouterr().out.splitlines()
    )


def test_the_worker_runs_each_target_at_the_run_time_and_reports_a_failing_one(
    queue, fleet, clients, monkeypatch, capsys
):
    sqs, url = queue
    own = fleet.one(OFFICE, handled=HANDLED)
    b = member_fleet(clients, MEMBER_B, "eu-west-1").one(OFFICE, handled=HANDLED)
    monkeypatch.setenv("TARGET_ACCOUNTS", f"{OWN},{MEMBER_B},{MEMBER_C}")
    monkeypatch.setenv("REGIONS", "us-east-1,eu-west-1")
    at = datetime(2026, 3, 27, 18, 5, tzinfo=UTC)
    # The failing target comes first: the others in the same batch must still be done.
    targets = [Target("us-east-1", MEMBER_C), Target("us-east-1"), Target("eu-west-1", MEMBER_B)]
    sent, failed = fanout.enqueue(sqs, url, targets, at)
    assert len(sent) == 3 and not failed
    messages = drain(sqs, url)
    refuse_role_of(clients, MEMBER_C)
    capsys.readouterr()
    # The worker's clock is 18:06: it evaluates at the run's time in the message, 18:05.
    response = worker.lambda_handler(as_sqs_event(messages), Context())
    failing = [m["MessageId"] for m in messages if MEMBER_C in m["Body"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": failing[0]}]}
    assert fleet.state(own) == "stopped"
    assert member_fleet(Clients(), MEMBER_B, "eu-west-1").state(b) == "stopped"
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    summaries = [x for x in lines if x.get("kind") == "summary"]
    assert {s["run_time"] for s in summaries} == {"2026-03-27T18:05:00Z"}
    errors = [x for x in lines if x.get("kind") == "target-error"]
    assert [e["account"] for e in errors] == [MEMBER_C]


def test_a_message_that_is_not_a_target_is_dropped_with_an_error(queue, capsys):
    event = as_sqs_event(
        [
            {
                "MessageId": "m-1",
                "ReceiptHandle": "r",
                "Body": "{not json",
                "MD5OfBody": "x",
                "Attributes": {"MessageGroupId": "g"},
            }
        ]
    )
    response = worker.lambda_handler(event, Context())
    assert response == {"batchItemFailures": []}
    assert "not an offhours target message" in capsys.readouterr().out


def test_a_queued_run_older_than_fifteen_minutes_is_dropped_not_replayed(
    queue, fleet, monkeypatch, capsys
):
    sqs, url = queue
    own = fleet.one(OFFICE, handled=HANDLED)
    fanout.enqueue(sqs, url, [Target("us-east-1")], EVENING)
    messages = drain(sqs, url)
    monkeypatch.setattr(handler, "clock", lambda: datetime(2026, 3, 27, 20, 0, tzinfo=UTC))
    response = worker.lambda_handler(as_sqs_event(messages), Context())
    assert response == {"batchItemFailures": []}
    assert fleet.state(own) == "running"  # nothing replayed two hours late
    assert "more than 15 minutes old" in capsys.readouterr().out


def test_a_lone_failing_target_still_logs_its_summary_and_failed_metric(
    queue, clients, capsys, monkeypatch
):
    sqs, url = queue
    monkeypatch.setenv("TARGET_ACCOUNTS", f"{OWN},{MEMBER_B},{MEMBER_C}")
    fanout.enqueue(sqs, url, [Target("us-east-1", MEMBER_C)], EVENING)
    messages = drain(sqs, url)
    refuse_role_of(clients, MEMBER_C)
    capsys.readouterr()
    with pytest.raises(Exception, match="All records failed"):
        worker.lambda_handler(as_sqs_event(messages), Context())
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    (summary,) = [x for x in lines if x.get("kind") == "summary"]
    assert summary["failed"] == 1
    (emf,) = [x for x in lines if "_aws" in x and "resource" not in x]
    assert emf["failed"] == [1.0]


# --- the worker trusts only its own configuration (DESIGN §4) ------------------------------


def genuine(sqs: Any, url: str, target: Target, at: datetime = EVENING) -> dict[str, Any]:
    """A message as the scheduler puts it on the queue, taken back from the queue."""
    sent, failed = fanout.enqueue(sqs, url, [target], at)
    assert sent == [target] and not failed
    (message,) = drain(sqs, url)
    return message


def altered(message: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {**json.loads(message["Body"]), **changes}
    return {**message, "Body": json.dumps(body)}


def worker_run(
    message: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    capsys.readouterr()
    response = worker.lambda_handler(as_sqs_event([message]), Context())
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    return response, lines


def assume_role_calls(clients: Clients) -> list[Any]:
    calls: list[Any] = []
    clients.client("sts", "us-east-1").meta.events.register(
        "before-call.sts.AssumeRole", lambda params, **_: calls.append(params)
    )
    return calls


def dropped(lines: list[dict[str, Any]]) -> dict[str, Any]:
    (line,) = [x for x in lines if x.get("kind") == "message-dropped"]
    assert line["level"] == "ERROR"
    (emf,) = [x for x in lines if "_aws" in x and "resource" not in x]
    assert emf["failed"] in (1, [1], [1.0])  # counted: the failed alarm fires
    return line


def test_a_message_naming_an_account_outside_target_accounts_assumes_no_role(
    queue, fleet, clients, capsys
):
    sqs, url = queue
    stranger = "999999999999"
    # The victim is made through clients of its own, so that the worker's clients have no
    # session for that account cached: the worker would have to assume the role itself.
    victim = member_fleet(Clients(), stranger, "us-east-1").one(OFFICE, handled=HANDLED)
    assumed = assume_role_calls(clients)
    message = altered(genuine(sqs, url, Target("us-east-1", MEMBER_B)), account=stranger)
    response, lines = worker_run(message, capsys)
    assert response == {"batchItemFailures": []}  # dropped for good: a retry cannot mend it
    assert assumed == []
    assert member_fleet(Clients(), stranger, "us-east-1").state(victim) == "running"
    line = dropped(lines)
    assert stranger in line["message"] and "not one of this deployment's targets" in line["message"]
    assert not [x for x in lines if x.get("kind") == "decision"]


def test_a_message_naming_a_region_outside_regions_is_dropped(queue, fleet, capsys):
    sqs, url = queue
    message = altered(genuine(sqs, url, Target("us-east-1")), region="ap-south-1")
    response, lines = worker_run(message, capsys)
    assert response == {"batchItemFailures": []}
    assert "ap-south-1" in dropped(lines)["message"]


def test_a_message_dated_ahead_of_the_clock_stops_nothing(queue, fleet, capsys):
    sqs, url = queue
    # Eight hours ahead of the worker's 18:06: an office-hours box must not be stopped at
    # midday because somebody wrote tonight's time into a message.
    box = fleet.one(OFFICE, handled=HANDLED)
    message = altered(genuine(sqs, url, Target("us-east-1")), time="2026-03-28T02:06:00Z")
    response, lines = worker_run(message, capsys)
    assert response == {"batchItemFailures": []}
    assert fleet.state(box) == "running"
    assert fleet.anchor(box) == HANDLED
    assert "ahead of the clock" in dropped(lines)["message"]


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '{"region": "us-east-1", "account": null}',
        '{"region": "us-east-1", "account": null, "time": "2026-03-27T18:05:00Z", "x": 1}',
        '{"region": "us-east-1", "account": "12", "time": "2026-03-27T18:05:00Z"}',
        '{"region": "../../etc", "account": null, "time": "2026-03-27T18:05:00Z"}',
        '{"region": "us-east-1", "account": null, "time": "0001-01-01T00:00:00+01:00"}',
        '{"region": "us-east-1", "account": null, "time": "' + "9" * 5000 + '"}',
    ],
    ids=["not-json", "a-list", "no-time", "extra-key", "short-account", "path", "edge", "huge"],
)
def test_an_unreadable_body_is_dropped_with_an_error_and_counted(queue, fleet, capsys, body):
    sqs, url = queue
    box = fleet.one(OFFICE, handled=HANDLED)
    message = {**genuine(sqs, url, Target("us-east-1")), "Body": body}
    response, lines = worker_run(message, capsys)
    assert response == {"batchItemFailures": []}
    assert fleet.state(box) == "running"
    assert "not an offhours target message" in dropped(lines)["message"]


def test_a_genuine_message_is_run_by_the_worker(queue, fleet, capsys):
    sqs, url = queue
    box = fleet.one(OFFICE, handled=HANDLED)
    response, lines = worker_run(genuine(sqs, url, Target("us-east-1")), capsys)
    assert response == {"batchItemFailures": []}
    assert fleet.state(box) == "stopped"
    assert not [x for x in lines if x.get("kind") == "message-dropped"]


def test_the_scheduler_does_not_consume_queue_messages(queue, fleet, capsys):
    sqs, url = queue
    box = fleet.one(OFFICE, handled=HANDLED)
    message = genuine(sqs, url, Target("us-east-1"))
    capsys.readouterr()
    counts = handler.lambda_handler(as_sqs_event([message]), Context())
    assert counts["failed"] == 1
    assert fleet.state(box) == "running"
    assert "offhours.worker.lambda_handler" in capsys.readouterr().out


def test_the_order_of_targets_turns_from_run_to_run_so_none_is_always_last():
    targets = [Target(region) for region in ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1")]
    runs = [datetime(2026, 3, 27, 8, minute, tzinfo=UTC) for minute in range(0, 60, 5)]
    orders = [rotated(targets, at) for at in runs]
    assert all(sorted(o) == sorted(targets) for o in orders)  # every target, once
    assert {o[-1] for o in orders} == set(targets)  # each one is last in some run
    assert rotated(targets, runs[0]) == rotated(targets, runs[0])  # the same run, the same order
