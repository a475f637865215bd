"""API calls for one reconcile of 1,000 tagged instances on the local endpoint, half changing.

Counts the calls by operation with a botocore `before-call` hook and compares them to the
minimum: describe pages + one call per batch of starts and of stops + one CreateTags call per
batch of instances that share a state-tag value. Goal: at most 1.2 times the minimum, never a
call per instance. Then the first sight of the same number of instances, never seen before:
adopting them writes their state tags and fingerprints together (`offhours.state`), 42
instances to a call (a fingerprint tag holds 42 instances' entries), once in their life.
Prints figures; it is not a timed test.
Run: .venv/bin/python bench/api_calls.py
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
    HTTPS_PROXY="http://127.0.0.1:9",
    NO_PROXY="127.0.0.1,localhost",
)

import boto3
from tests.fleet import Fleet, MotoEndpoint

from offhours.aws import Clients
from offhours.catalog import default_catalog
from offhours.config import Config
from offhours.resources.ec2 import DEFAULT_BATCH_SIZE
from offhours.service import run

N = 1_000
OFFICE = "Mon-Fri 08:00-18:00 UTC"


def main() -> None:
    endpoint = MotoEndpoint.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint.url
    try:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        fleet = Fleet(ec2)
        # Half must stop at 18:00 (running, handled up to the 08:00 start), half are already
        # stopped (handled up to 18:00 the day before... but the stop event is newer: tag only).
        for _ in range(N // 2 // 100):
            fleet.launch(OFFICE, handled="2026-03-27T08:00:00Z", count=100, fingerprinted=True)
            fleet.launch(
                OFFICE,
                handled="2026-03-27T08:00:00Z",
                count=100,
                state="stopped",
                fingerprinted=True,
            )
        clients = Clients()
        calls: Counter[str] = Counter()

        def count(model: Any, **_: Any) -> None:
            calls[model.name] += 1

        client = clients.ec2("us-east-1")
        client.meta.events.register("before-call.ec2.*", count)
        config = Config(regions=("us-east-1",), resources=("ec2",))
        started = time.perf_counter()
        report = run(
            config,
            datetime(2026, 3, 27, 18, 5, tzinfo=UTC),
            clients=clients,
            catalog=default_catalog(),
        )
        seconds = time.perf_counter() - started
        counts = report.counts()
        pages = calls["DescribeInstances"]
        minimum = (
            pages
            + math.ceil(counts["stopped"] / DEFAULT_BATCH_SIZE)
            + math.ceil(N / DEFAULT_BATCH_SIZE)
        )
        total = sum(calls.values())
        print(
            f"instances: {N:,}; stopped by the run: {counts['stopped']:,}; "
            f"already stopped (state tag only): {N - counts['stopped']:,}"
        )
        for op, n in sorted(calls.items()):
            print(f"  {op:<24} {n:>5}")
        print(f"calls: {total}; minimum: {minimum}; ratio: {total / minimum:.2f} (goal <= 1.2)")
        print(f"calls per instance: {total / N:.3f}; run took {seconds:.2f} s on moto")

        endpoint.reset()
        for _ in range(N // 100):
            fleet.launch(OFFICE, count=100)
        calls.clear()
        run(
            config,
            datetime(2026, 3, 27, 18, 5, tzinfo=UTC),
            clients=clients,
            catalog=default_catalog(),
        )
        adopted = sum(calls.values())
        print(
            f"first sight of {N:,} new instances (adoption): {adopted} calls "
            f"({calls['CreateTags']} CreateTags: A and the fingerprint together, "
            f"42 instances to a call, once; minimum {-(-N // 42)})"
        )
    finally:
        endpoint.stop()


if __name__ == "__main__":
    main()
