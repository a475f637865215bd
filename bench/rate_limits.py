"""3,000 instances in one account-region under AWS's rate limits: what offhours takes, against
the floor that the limits set.

The local endpoint (moto in server mode, in a process of its own) sits behind the model of
EC2's and RDS's token buckets in tests/buckets.py, at AWS's figures (DESIGN §4): offhours' own
requests are refused as AWS refuses them when their tokens are not there; the bench's setup
is never throttled. Time is simulated: offhours' pacing (`offhours.pace.monotonic`, `.sleep`),
botocore's retry backoff, the buckets, `handler.clock` and the Lambda's remaining time all
read one clock that runs with the real one and jumps when slept, so that minutes of waiting
for tokens cost no real time. The handler is run as the schedule runs it: one invocation every
5 minutes, 300 s of function timeout each (offhours stops new calls 20 s before it); the runs
between the phases, which have nothing to do, are not simulated (one is: the quiet run).

Phases, each against its floor:
  (a) adoption: the first run over 3,000 newly tagged instances (state tags and fingerprints
      together, 42 instances to a CreateTags: 72 calls; background work keeps half of
      CreateTags' bucket for events: 50 calls at once, then 10 a second);
  (b) a stop of 3,000 (StopInstances' instance bucket: 1,000 at once, then 20 a second);
  (c) a start of 3,000 (StartInstances' instance bucket: 1,000 at once, then 2 a second);
  (d) a quiet run (no event due): no request may be throttled.
Prints figures; it asserts no timing. Run: .venv/bin/python bench/rate_limits.py
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from offhours.local import offline_environment  # noqa: E402
from offhours.state import ENTRIES_PER_TAG  # noqa: E402

offline_environment()  # dummy credentials, nothing but loopback reachable
os.environ.update(
    REGIONS="us-east-1",
    DRY_RUN="false",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_LOG_LEVEL="INFO",
)

N = int(os.environ.get("BENCH_INSTANCES", "3000"))
VALUE = "Mon-Fri 08:00-18:00 UTC"
TIMEOUT = 300.0  # the function's default timeout, seconds
TICK = timedelta(minutes=5)
MAX_RUNS = 12  # a phase that needs more is reported unfinished
ADOPTION = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)  # Monday noon: nothing due
STOP = datetime(2026, 3, 30, 18, 0, tzinfo=UTC)
QUIET = datetime(2026, 3, 30, 20, 0, tzinfo=UTC)
START = datetime(2026, 3, 31, 8, 0, tzinfo=UTC)  # Tuesday


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


@dataclass
class Context:
    """The Lambda's context, its remaining time read from the simulated clock."""

    clock: Any
    deadline: float
    function_name: str = "offhours"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:offhours"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


@dataclass
class Phase:
    name: str
    floor: str
    runs: int = 0
    seconds: float | None = None  # simulated, from the event to the last change
    longest_run: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)  # decision lines by outcome
    counts: Counter[str] = field(default_factory=Counter)  # the summaries' counts, summed
    done: bool = False
    real: float = 0.0
    note: str = ""


class Lab:
    def __init__(self, url: str) -> None:
        import boto3
        from tests.buckets import RateLimits, SimulatedClock, install, simulate

        from offhours import handler

        self.clock = SimulatedClock()
        self.model = RateLimits(clock=self.clock)
        install(self.model)  # before offhours makes its clients
        simulate(self.clock)
        self.handler = handler
        self.ec2 = boto3.client("ec2", endpoint_url=url, region_name="us-east-1")
        self.origin = (ADOPTION, self.clock())  # this instant of the simulation is that time
        handler.clock = self.now

    def now(self) -> datetime:
        at, then = self.origin
        return (at + timedelta(seconds=self.clock() - then)).replace(microsecond=0)

    def advance_to(self, at: datetime) -> None:
        ahead = (at - self.now()).total_seconds()
        self.clock.sleep(max(0.0, ahead))

    def launch(self, n: int) -> list[str]:
        ids: list[str] = []
        while len(ids) < n:
            count = min(500, n - len(ids))
            response = self.ec2.run_instances(
                ImageId="ami-12c6146b",
                MinCount=count,
                MaxCount=count,
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": VALUE}]}
                ],
            )
            ids += [i["InstanceId"] for i in response["Instances"]]
        return ids

    def invoke(self, at: datetime, phase: Phase) -> dict[str, Any]:
        """One scheduled run at `at` (the clock is moved there first)."""
        self.advance_to(at)
        began = self.clock()
        seen = len(self.model.answers)
        context = Context(self.clock, began + TIMEOUT)
        event = {
            "id": f"bench-{at:%H%M}",
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
        }
        out = io.StringIO()
        real = time.perf_counter()
        with redirect_stdout(out):
            self.handler.lambda_handler(event, context)
        phase.real += time.perf_counter() - real
        phase.runs += 1
        phase.longest_run = max(phase.longest_run, self.clock() - began)
        for answer in self.model.answers[seen:]:
            api = "RDS" if answer.service == "rds" else answer.api
            (phase.calls if answer.allowed else phase.throttled)[api] += 1
        summary: dict[str, Any] = {}
        for text in out.getvalue().splitlines():
            if not text.startswith("{"):
                continue
            line = json.loads(text)
            if line.get("kind") == "decision":
                phase.lines[line.get("outcome", "")] += 1
            elif line.get("kind") == "summary":
                summary = line
        for key, value in summary.items():
            if isinstance(value, int) and not isinstance(value, bool):
                phase.counts[key] += value
        return summary

    def last_change(self, api: str, since: int) -> float | None:
        times = [a.at for a in self.model.answers[since:] if a.allowed and a.api == api]
        return max(times) if times else None

    def tagged_with(self, key: str) -> int:
        pages = self.ec2.get_paginator("describe_tags").paginate(
            Filters=[
                {"Name": "resource-type", "Values": ["instance"]},
                {"Name": "key", "Values": [key]},
            ],
            PaginationConfig={"PageSize": 1000},
        )
        return sum(len(p["Tags"]) for p in pages)

    def in_state(self, state: str) -> int:
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": [state]}],
            PaginationConfig={"PageSize": 1000},
        )
        return sum(len(r["Instances"]) for p in pages for r in p["Reservations"])


def adoption(lab: Lab) -> Phase:
    """Runs until every instance is adopted and a run writes nothing more (a fingerprint that
    a run had no time for is written when its instance next changes)."""
    calls = -(-N // ENTRIES_PER_TAG)  # A and 42 fingerprints a call
    floor = max(0.0, (calls - 50) / 10)  # background: half the bucket's 100, then 10/s
    phase = Phase("(a) adoption", f"{calls:,} calls; 50, then 10/s: {floor:.1f} s")
    since, event = len(lab.model.answers), ADOPTION
    lab.advance_to(event)
    began = lab.clock()
    while phase.runs < MAX_RUNS:
        before = phase.calls["CreateTags"]
        lab.invoke(event, phase)
        adopted = lab.tagged_with("Schedule:offhours-handled")
        if adopted >= N and phase.calls["CreateTags"] == before:
            phase.runs -= 1  # a run with nothing left to do is not part of the adoption
            break
        event += TICK
    phase.done = lab.tagged_with("Schedule:offhours-handled") >= N
    phase.note = f"{lab.tagged_with('Schedule:offhours-fingerprint'):,} fingerprints written"
    last = lab.last_change("CreateTags", since)
    phase.seconds = None if last is None else last - began
    return phase


def acting(lab: Lab, name: str, floor: str, event: datetime, api: str, state: str) -> Phase:
    phase = Phase(name, floor)
    since = len(lab.model.answers)
    lab.advance_to(event)
    began, at = lab.clock(), event
    while phase.runs < MAX_RUNS:
        lab.invoke(at, phase)
        if len(lab.model.ids_admitted(api)) >= N or phase.runs >= MAX_RUNS:
            break
        at += TICK
    phase.done = lab.in_state(state) >= N
    last = lab.last_change(api, since)
    phase.seconds = None if last is None else last - began
    twice = sum(1 for n in lab.model.ids_admitted(api).values() if n > 1)
    if twice:
        phase.floor += f" ({twice} instances {api} twice!)"
    return phase


def quiet(lab: Lab) -> Phase:
    phase = Phase("(d) quiet run", "throttled: 0")
    lab.invoke(QUIET, phase)
    phase.done = True
    return phase


def show(phases: list[Phase]) -> None:
    head = (
        f"{'phase':<16}{'floor':<38}{'sim s':>7}{'runs':>5}{'longest':>8}  "
        f"{'calls allowed':<46}{'throttled':<18}{'failed':>7}{'deferred':>9}"
    )
    print(head)
    print("-" * len(head))
    for p in phases:
        calls = ", ".join(
            f"{api.removesuffix('Instances')} {n}"
            for api, n in sorted(p.calls.items())
            if api in ("CreateTags", "StartInstances", "StopInstances", "DeleteTags")
        )
        describes = sum(n for api, n in p.calls.items() if api.startswith("Describe"))
        calls = "; ".join(
            part for part in (calls, f"Describe* {describes}", f"RDS {p.calls['RDS']}") if part
        )
        throttled = ", ".join(f"{api} {n}" for api, n in sorted(p.throttled.items())) or "0"
        seconds = "-" if p.seconds is None else f"{p.seconds:.0f}"
        print(
            f"{p.name:<16}{p.floor:<38}{seconds:>7}{p.runs:>5}{p.longest_run:>7.0f}s  "
            f"{calls:<46}{throttled:<18}{p.lines['failed']:>7}{p.lines['deferred']:>9}"
            + ("" if p.done else "  UNFINISHED")
        )
    print()
    for p in phases:
        counts = {k: p.counts[k] for k in ("started", "stopped", "failed", "deferred", "adopted")}
        note = f"; {p.note}" if p.note else ""
        print(f"  {p.name}: summaries {counts}{note}; {p.real:.1f} s of real time")


def main() -> None:
    server, url = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        real = time.perf_counter()
        lab = Lab(url)
        lab.launch(N)
        launched = time.perf_counter() - real
        print(
            f"{N:,} instances in one account-region on the local endpoint (moto launched them "
            f"in {launched:.0f} s); AWS's rate limits at scale 1; simulated clock; one run every "
            f"5 min, {TIMEOUT:.0f} s each"
        )
        print()
        phases = [adoption(lab)]
        phases.append(
            acting(
                lab,
                "(b) stop",
                "1,000 ids, then 20/s: 100 s",
                STOP,
                "StopInstances",
                "stopped",
            )
        )
        phases.append(quiet(lab))
        phases.append(
            acting(
                lab,
                "(c) start",
                "1,000 ids, then 2/s: 1,000 s",
                START,
                "StartInstances",
                "running",
            )
        )
        show(phases)
        print(f"\n  real time: {time.perf_counter() - real:.0f} s")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
