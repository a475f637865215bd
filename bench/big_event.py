"""A big event: 10,000, 20,000 and 40,000 instances acting in one target, on the fake EC2 of
bench/large_region.py (real botocore, no sleeps). The run must be linear: the CPU per instance
stays flat as the fleet doubles (no list membership in loops, no quadratic batch splitting).
Also a run whose time budget runs out: it stops where it is, and the next run goes on from
there instead of starting over. Prints figures; it is not a timed test.
Run: .venv/bin/python bench/big_event.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import boto3
import large_region
from large_region import AT, FakeEc2

from offhours.catalog import default_catalog
from offhours.planner import Settings
from offhours.resources.ec2 import Ec2Gateway
from offhours.service import Target, reconcile_target

SETTINGS = Settings(catalog=default_catalog())


def event_run(n: int, budget_calls: int | None = None) -> tuple[float, dict[str, int], FakeEc2]:
    fake = FakeEc2(n, "2026-03-27T08:00:00Z")
    fake.answer(large_region._warm_request())
    fake.calls.clear()
    client = boto3.client("ec2", region_name="us-east-1")
    client.meta.events.register("before-send.ec2.*", fake.answer)
    client.describe_tags(MaxResults=5)  # load the client's models before the clock starts
    fake.calls.clear()
    gateway = Ec2Gateway(client, tag_key="Schedule", region="us-east-1")
    left = [budget_calls]

    def may_call() -> bool:
        if left[0] is None:
            return True
        left[0] -= 1
        return left[0] >= 0

    large_region.PAPER.reset()  # waits for EC2's buckets on paper: the CPU alone is measured
    start = time.process_time()
    report = reconcile_target(
        Target("us-east-1"), gateway, AT, SETTINGS, dry=False, read_all=False,
        may_call=may_call, may_record=lambda: True, keep=lambda o: False,
    )  # fmt: skip
    return time.process_time() - start, dict(report.tallies), fake


LINEAR = 1.5  # what "linear" allows on a shared machine


def main() -> None:
    print("a big event: every instance of one target stops (CPU on this machine)")
    base = None
    ratio = 1.0
    for n in (10_000, 20_000, 40_000):
        cpu, tallies, fake = event_run(n)
        per = cpu / n * 1e6
        base = base or per
        ratio = per / base
        print(f"  {n:>6,} instances: {cpu:6.2f} s, {per:5.1f} us an instance "
              f"({ratio:.2f}x the first); stopped {tallies.get('stopped', 0):,}; "
              f"{sum(fake.calls.values()):,} calls")  # fmt: skip
    print(f"  40,000 against 10,000: {ratio:.2f}x the CPU an instance; goal: linear (at most "
          f"{LINEAR:.2f}x, this machine's noise; a quadratic step would be 4x)")  # fmt: skip
    cpu, tallies, _ = event_run(10_000, budget_calls=60)
    stopped, deferred = tallies.get("stopped", 0), tallies.get("deferred", 0)
    print(
        f"  out of time after 60 calls: stopped {stopped:,} of 10,000, deferred {deferred:,} "
        "(the next run finds those still due; the stopped ones are handled)"
    )


if __name__ == "__main__":
    main()
