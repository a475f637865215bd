"""Notices before a stop (DESIGN §7): one EventBridge event per instance and stop.

With `NoticeMinutes` set, a run that finds a running instance whose next stop (the schedule's,
or the end of a running override) falls within that many minutes puts one event on the default
event bus of the function's own account and region: source `offhours`, detail-type
`Instance Stop Pending`, with the instance (or database), its name, account, region, schedule,
the stop time, and the commands that postpone it (an `offhours override`, and the equivalent
`aws ec2 create-tags` or `aws rds add-tags-to-resource`). The fact that the notice was sent is
kept on the instance (its state tag, `offhours.state`), so it is sent once per stop, even
across runs and cold starts.

Tag text is data, never markup. The name and the schedule in the detail have their control,
format (direction, zero-width, tag) and line-separator characters removed and are cut to a
bounded length (`clean`). The messages for people are built here, whole, and travel in the
detail as they are: `chat`, a ready custom notification of Amazon Q Developer in chat
applications (AWS Chatbot), and `text`, one line of plain text for an email. In both, `<`,
`>`, `@`, `&`, the backtick and `://` are replaced by look-alikes (`for_people`), so that a
Name such as `<!channel>` or `[x](https://...)` can neither mention, link, nor open code in a
chat, and no quote in a name can reach outside its own JSON string: a rule routes the prepared
field with `InputPath`, never through an input template that pastes tag text.

Notices go ten to a PutEvents call, the run's time budget asked before each call, and at most
MAX_PER_TARGET per target (an account-region pair) in one run: the others are put by the next
runs, still once each, since only the instances whose entry EventBridge accepted are
remembered as notified. An entry EventBridge refuses (a partial failure) is reported for its
instance alone.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from offhours.override import override_tag_key
from offhours.planner import Decision
from offhours.resources import tag_command
from offhours.schedule import DAY_NAMES, iso
from offhours.zones import zone

SOURCE = "offhours"
DETAIL_TYPE = "Instance Stop Pending"
BATCH = 10  # PutEvents takes at most ten entries
POSTPONE = timedelta(hours=2)  # what the suggested override asks for
# The notices one run puts for one target (account and region), at most: 50 PutEvents calls.
# The others wait for the next runs (a run every 5 minutes, NoticeMinutes 15: 1,500 a target).
MAX_PER_TARGET = 500

# Caps, in characters, of the texts that come from tags, and of the messages built from them.
NAME_CAP = 100
SCHEDULE_CAP = 256
TITLE_CAP = 250  # a custom notification's title
MESSAGE_CAP = 2000  # its description, and the plain text
_SCAN = 4096  # no more of a tag value is read, whatever its length

# Categories removed from tag text: controls (C0, DEL, C1), format characters (the direction
# marks, embeddings, overrides and isolates, zero-width characters, the tag block), surrogates,
# private use, and the line and paragraph separators; controls and separators become a space.
_AS_SPACE = frozenset({"Cc", "Zl", "Zp"})
_DROPPED = frozenset({"Cf", "Cs", "Co"})
# What a chat reads as markup, and the look-alikes that stand for it in a message for people.
_LOOKALIKES = str.maketrans(
    {
        "<": "\u2039",  # a Slack link, mention or command (<!channel>, <@U1>, <http://x|y>)
        ">": "\u203a",  # (single angle quotation marks)
        "@": "\uff20",  # a mention (@here, @someone): the fullwidth commercial at
        "&": "\uff06",  # an entity that would become < or > (&lt;!channel&gt;): fullwidth
        "`": "\u02cb",  # code: the modifier letter grave accent
    }
)
_SCHEME = "\ua789//"  # "://" with the modifier letter colon: no bare URL is made a link


def clean(text: str, cap: int) -> str:
    """Tag text as data: no control, format or separator character (controls and separators
    become a space), runs of white space made one space, at most `cap` characters (a text
    that is cut ends with an ellipsis)."""
    kept: list[str] = []
    for ch in text[:_SCAN]:
        category = unicodedata.category(ch)
        if category in _AS_SPACE:
            kept.append(" ")
        elif category not in _DROPPED:
            kept.append(ch)
    return _cap(" ".join("".join(kept).split()), cap)


def for_people(text: str, cap: int) -> str:
    """Text for a chat message or an email: clean, with what a chat reads as markup replaced
    by look-alikes, capped."""
    return _cap(clean(text, _SCAN).translate(_LOOKALIKES).replace("://", _SCHEME), cap)


def _cap(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[: cap - 1].rstrip() + "\u2026"


def detail(decision: Decision, tag_key: str) -> dict[str, Any]:
    """The event's detail for one instance whose stop is near: the data, and the messages for
    people built from it."""
    assert decision.notice is not None
    i = decision.instance
    stop = decision.notice
    tz = zone(decision.notice_zone or "UTC")
    local = stop.astimezone(tz)
    later = (stop + POSTPONE).astimezone(tz)
    day = "" if later.date() == local.date() else f"{DAY_NAMES[later.weekday()]} "
    until = f"{day}{later:%H:%M}"
    region = f" --region {i.region}" if i.region else ""
    key = override_tag_key(tag_key)
    data: dict[str, Any] = {
        "instance_id": i.id,
        "instance_name": clean(i.name, NAME_CAP),
        "account": i.account,
        "region": i.region,
        "schedule": clean(i.schedule, SCHEDULE_CAP),
        "stop_time": iso(stop),
        "stop_time_local": (
            f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {local.tzname()}"
        ),
        "resource_type": i.resource_type,
        "postpone": {
            "offhours": f"offhours override {i.id} --running --until {until}{region}",
            "aws_cli": _tag_command(i.id, i.resource_type, key, f"running until {until}", region),
        },
    }
    return {**data, **messages(data)}


def messages(data: dict[str, Any]) -> dict[str, Any]:
    """The messages for people, from the detail's data: `chat`, a custom notification of
    Amazon Q Developer in chat applications, and `text`, one line of plain text (an email).
    Every string in them goes through `for_people`."""
    name = data["instance_name"]
    who = f"{name} {data['instance_id']}" if name else data["instance_id"]
    where = f"{data['account']}/{data['region']}" if data["account"] else data["region"]
    when = f"{data['stop_time_local']} ({data['stop_time']})"
    postpone = data["postpone"]
    keep = "To keep it running two more hours"
    return {
        "chat": {
            "version": "1.0",
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": for_people(f":zzz: {who} stops at {data['stop_time_local']}", TITLE_CAP),
                "description": for_people(
                    f"offhours stops it at {when}, in {where}. Schedule: {data['schedule']}. "
                    f"{keep}: {postpone['offhours']}",
                    MESSAGE_CAP,
                ),
                "nextSteps": [for_people(f"With the AWS CLI: {postpone['aws_cli']}", MESSAGE_CAP)],
            },
        },
        "text": for_people(
            f"offhours stops {who} in {where} at {when}. Schedule: {data['schedule']}. "
            f"{keep}: {postpone['offhours']} (or, with the AWS CLI: {postpone['aws_cli']})",
            MESSAGE_CAP,
        ),
    }


def _tag_command(resource: str, resource_type: str, key: str, value: str, region: str) -> str:
    """The AWS CLI command that writes one tag on the resource (its kind's form)."""
    return tag_command(resource_type, resource, key, value) + region


def entries(decisions: list[Decision], tag_key: str) -> list[dict[str, Any]]:
    """PutEvents entries, one per decision with a notice."""
    return [
        {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(detail(d, tag_key), ensure_ascii=False),
        }
        for d in decisions
    ]


class Tally:
    """How many notices one run has put so far, per target (account, region); shared by the
    targets that run side by side."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_PER_TARGET if limit is None else limit
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def take(self, decisions: list[Decision]) -> tuple[list[Decision], list[Decision]]:
        """The decisions whose notice fits in the run's share of their target, counted as put,
        and the others."""
        taken: list[Decision] = []
        left: list[Decision] = []
        with self._lock:
            for d in decisions:
                target = (d.instance.account, d.instance.region)
                if self._counts[target] < self.limit:
                    self._counts[target] += 1
                    taken.append(d)
                else:
                    left.append(d)
        return taken, left


def send(
    client: Any,
    decisions: list[Decision],
    tag_key: str,
    may_call: Callable[[], bool] | None = None,
    tally: Tally | None = None,
) -> tuple[set[str], dict[str, str]]:
    """Put the notices, ten to a call, asking `may_call` (the run's time budget) before each
    call, and no more than the `tally` leaves to their target in this run. Returns the ids
    notified (EventBridge accepted their entry) and, for the others, why not; those are put by
    a later run."""
    sent: set[str] = set()
    failed: dict[str, str] = {}
    if tally is not None:
        decisions, over = tally.take(decisions)
        for d in over:
            failed[d.instance.id] = (
                f"not put in this run: {tally.limit} notices per target and run at most; "
                "the next run puts it"
            )
    stopped: str | None = None
    for start in range(0, len(decisions), BATCH):
        batch = decisions[start : start + BATCH]
        if stopped is None and may_call is not None and not may_call():
            stopped = "not put in this run: its time is up; the next run puts it"
        if stopped is not None:
            for d in batch:
                failed[d.instance.id] = stopped
            continue
        try:
            response = client.put_events(Entries=entries(batch, tag_key))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            why = f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"
            stopped = f"not put in this run: an earlier PutEvents failed ({why})"
            for d in batch:
                failed[d.instance.id] = why
            continue
        except BotoCoreError as exc:
            stopped = f"not put in this run: an earlier PutEvents failed ({exc})"
            for d in batch:
                failed[d.instance.id] = str(exc)
            continue
        results = response.get("Entries", [])
        for n, d in enumerate(batch):
            result = results[n] if n < len(results) else {}
            if result.get("EventId") and not result.get("ErrorCode"):
                sent.add(d.instance.id)
            elif result:
                failed[d.instance.id] = (
                    f"{result.get('ErrorCode', 'Error')}: {result.get('ErrorMessage', '')}"
                )
            else:
                failed[d.instance.id] = "PutEvents gave no result for its entry"
    return sent, failed
