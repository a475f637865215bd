"""The cost of one target (assume role, describe, act) on the local endpoint, and what follows.

Builds 20 targets (10 member accounts x 2 regions, 20 tagged instances each, half of them due
to stop), then reconciles them one after another and side by side (the inline pool), and prints
the time per target. From it: how many targets one invocation covers in five minutes, and how
many the fan-out covers at its worker concurrency. moto answers faster than EC2 does, so the
figures are also given for a per-call latency you choose (default: 150 ms a call, a cautious
figure for EC2 and STS from Lambda in-region). Prints figures; it is not a timed test.
Run: .venv/bin/python bench/fanout.py [latency-ms]
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offhours.local import LocalEndpoint, offline_environment

offline_environment()

from offhours import service  # noqa: E402
from offhours.aws import Clients  # noqa: E402
from offhours.catalog import default_catalog  # noqa: E402
from offhours.config import Config  # noqa: E402
from offhours.state import fingerprint  # noqa: E402

ACCOUNTS = [f"{100000000000 + i:012d}" for i in range(1, 11)]
REGIONS = ("us-east-1", "eu-west-1")
PER_TARGET = 20
OFFICE = "Mon-Fri 08:00-18:00 UTC"
AT = datetime(2026, 3, 27, 18, 5, tzinfo=UTC)
BUDGET_S = 300
WORKERS = 10  # the template's default WorkerMaxConcurrency


def build(clients: Clients) -> None:
    for account in ACCOUNTS:
        for region in REGIONS:
            ec2 = clients.ec2(region, account)
            tags = [
                {"Key": "Schedule", "Value": OFFICE},
                {"Key": "Schedule:offhours-handled", "Value": "2026-03-27T08:00:00Z"},
            ]
            spec = [{"ResourceType": "instance", "Tags": tags}]
            ids = [
                i["InstanceId"]
                for i in ec2.run_instances(
                    ImageId="ami-12c6146b",
                    MinCount=PER_TARGET,
                    MaxCount=PER_TARGET,
                    TagSpecifications=spec,
                )["Instances"]
            ]
            for iid in ids:  # a fleet offhours has handled before: each has its fingerprint
                ec2.create_tags(
                    Resources=[iid],
                    Tags=[
                        {"Key": "Schedule:offhours-fingerprint", "Value": fingerprint(iid, OFFICE)}
                    ],
                )
            ec2.stop_instances(InstanceIds=ids[: PER_TARGET // 2])


def reconcile(parallel: int, endpoint: LocalEndpoint) -> tuple[float, Counter[str], int]:
    endpoint.reset()
    setup = Clients()
    build(setup)
    clients = Clients()
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    clients.client("sts", "us-east-1").meta.events.register("before-call.*.*", count)
    original = clients.ec2

    def counted(region: str, account: str | None = None) -> Any:
        client = original(region, account)
        client.meta.events.unregister("before-call.*.*", count)
        client.meta.events.register("before-call.*.*", count)
        return client

    clients.ec2 = counted  # type: ignore[method-assign]
    service.MAX_PARALLEL_TARGETS = parallel
    config = Config(regions=REGIONS, target_accounts=tuple(ACCOUNTS), resources=("ec2",))
    started = time.perf_counter()
    report = service.run(
        config, AT, clients=clients, catalog=default_catalog(), own_account="123456789012"
    )
    seconds = time.perf_counter() - started
    return seconds, calls, report.counts()["stopped"]


def main() -> None:
    latency = float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.150
    endpoint = LocalEndpoint.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint.url
    try:
        targets = len(ACCOUNTS) * len(REGIONS)
        serial, calls, stopped = reconcile(1, endpoint)
        pooled, _, _ = reconcile(8, endpoint)
    finally:
        endpoint.stop()
    per_target_calls = sum(calls.values()) / targets
    print(f"{targets} targets x {PER_TARGET} instances; {stopped} stopped in the run")
    print(
        "calls per target: " + ", ".join(f"{op} {n / targets:g}" for op, n in sorted(calls.items()))
    )
    print(f"one after another : {serial:6.2f} s, {serial / targets * 1000:6.0f} ms a target")
    print(f"inline pool of 8  : {pooled:6.2f} s, {pooled / targets * 1000:6.0f} ms a target")
    on_aws = per_target_calls * latency
    print(
        f"\nOn paper, at {latency * 1000:.0f} ms a call ({per_target_calls:g} calls a target): "
        f"{on_aws:.2f} s a target"
    )
    inline = int(BUDGET_S * 8 / on_aws)
    print(f"  one invocation, pool of 8, in {BUDGET_S} s : about {inline:,} targets")
    fanned = int(BUDGET_S * WORKERS / on_aws)
    print(
        f"  fan-out, {WORKERS} workers, in {BUDGET_S} s     : about {fanned:,} targets "
        f"(x{1000 // WORKERS} at the account's default 1,000 concurrent executions)"
    )


if __name__ == "__main__":
    main()
