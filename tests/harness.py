"""The Lambda handler as Lambda calls it: an event, a context, the log lines it prints."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from offhours import handler, runtime
from offhours.codes import CODES
from offhours.local import Credentials, IamLab, credentials_in_environment
from tests import iam as lab
from tests.faults import Hooks
from tests.fleet import Fleet, MotoEndpoint

EVENT_FILE = Path(__file__).resolve().parent.parent / "events" / "scheduled.json"
EVENT_ID = "89d1a02d-5ec7-412e-82f5-13505f849b41"
EARLY = "Mon-Fri 08:00-15:00 UTC"  # its stop at 15:00 precedes the event's 16:00
FRIDAY_START = "2026-03-27T08:00:00Z"
RECORD_FIELDS = {
    "kind", "instance_id", "instance_name", "region", "account", "schedule", "previous_state",
    "desired_state", "action", "outcome", "reason", "event_time",
}  # fmt: skip


@dataclass
class LambdaContext:
    function_name: str = "offhours"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:offhours"
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000001"
    remaining_ms: int = 600_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def scheduled_event(**changes: Any) -> dict[str, Any]:
    if EVENT_FILE.exists():
        event: dict[str, Any] = json.loads(EVENT_FILE.read_text())
    else:
        event = {
            "version": "0",
            "id": EVENT_ID,
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-03-27T16:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/offhours"],
            "detail": {},
        }
    event.update(changes)
    return event


@dataclass
class Invocation:
    result: dict[str, int] | None
    lines: list[dict[str, Any]]
    error: Exception | None = None

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("kind") == kind]

    @property
    def decisions(self) -> dict[str, dict[str, Any]]:
        return {line["instance_id"]: line for line in self.of_kind("decision")}

    @property
    def summary(self) -> dict[str, Any]:
        (line,) = self.of_kind("summary")
        return line

    @property
    def emf(self) -> dict[str, Any]:
        """The run's metrics blob (the totals)."""
        (blob,) = [line for line in self.lines if "_aws" in line and "resource" not in line]
        return blob

    @property
    def emf_by_resource(self) -> list[dict[str, Any]]:
        """The metrics by resource kind: a blob per metric, with a `resource` dimension."""
        return [line for line in self.lines if "_aws" in line and "resource" in line]


def assert_coded(lines: list[dict[str, Any]]) -> None:
    """Every WARNING and ERROR line carries a troubleshooting code that `offhours.codes` (and
    so docs/troubleshooting.md) explains, and so does every line that names codes."""
    for line in lines:
        if line.get("level") in ("WARNING", "ERROR") or "code" in line:
            assert line.get("code") in CODES, f"a line without a known code: {line}"
        for code in line.get("codes", []):
            assert code in CODES, f"an unknown code {code!r}: {line}"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("REGIONS", "us-east-1")
    monkeypatch.setenv("DRY_RUN", "false")
    monkeypatch.delenv("SCHEDULE_TAG_KEY", raising=False)
    return monkeypatch


@pytest.fixture(scope="session")
def iam_lab(moto_endpoint: MotoEndpoint) -> IamLab:
    """moto's IAM with the admin user and the function's role (`tests.iam`)."""
    assert moto_endpoint.lab is not None
    return moto_endpoint.lab


@pytest.fixture
def function_credentials(iam_lab: IamLab) -> Credentials:
    """What the handler runs with: the temporary credentials of the role that carries exactly
    the stack's policies. A module may override this fixture to run it with other rights."""
    return iam_lab.roles[lab.FUNCTION]


@pytest.fixture
def function_role(
    iam_lab: IamLab, function_credentials: Credentials, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Credentials]:
    """The handler's clients carry `function_credentials` (everything else the admin's).
    Powertools keeps its SSM client, made with the credentials of the moment, across
    invocations: it starts afresh, so that the handler's first read makes it with these."""
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    monkeypatch.setattr(runtime, "clients", lab.clients_for(function_credentials))
    DEFAULT_PROVIDERS.clear()
    yield function_credentials
    DEFAULT_PROVIDERS.clear()


@pytest.fixture
def iam(iam_lab: IamLab, function_role: Credentials) -> Iterator[Credentials]:
    """moto's IAM authorization on for the whole test, not only while the handler runs."""
    with iam_lab.enforced():
        yield function_role


@pytest.fixture
def invoke(
    fleet: Fleet,
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    iam_lab: IamLab,
    function_role: Credentials,
) -> Callable[..., Invocation]:
    """Invoke the handler as Lambda would: with the function role's credentials in the
    environment, on an endpoint that enforces the stack's IAM policies while it runs (what
    sets the scene acts as the admin, unchecked: checking it would only cost time). The clock
    reads the event's own time unless `now` says otherwise: EventBridge delivers a scheduled
    event within moments of its time."""

    def go(
        event: dict[str, Any] | None = None,
        context: LambdaContext | None = None,
        now: datetime | None = None,
    ) -> Invocation:
        event = scheduled_event() if event is None else event
        if now is None and isinstance(event.get("time"), str):
            now = datetime.fromisoformat(event["time"])
        env.setattr(handler, "clock", (lambda: now) if now is not None else handler.clock)
        capsys.readouterr()
        result: dict[str, int] | None = None
        error: Exception | None = None
        try:
            with iam_lab.enforced(), credentials_in_environment(function_role):
                result = handler.lambda_handler(event, context or LambdaContext())
        except Exception as exc:
            error = exc
        out = capsys.readouterr().out
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert_coded(lines)
        return Invocation(result, lines, error)

    return go


@pytest.fixture
def hooks(moto_endpoint: Any) -> Iterator[Hooks]:
    h = Hooks(runtime.clients.ec2("us-east-1"))
    yield h
    h.clear()
