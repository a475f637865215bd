"""Planner throughput: decisions for 100,000 instances sharing N distinct schedule values.

Each decision needs the schedule's desired state and last event at the run's instant. The cost
should grow with the number of distinct values (each is parsed and evaluated once), not with the
number of instances. Prints figures; it is not a timed test.
Run: .venv/bin/python bench/plan_throughput.py
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from offhours import timeline
from offhours.catalog import default_catalog
from offhours.cron import parse_cron
from offhours.instance import Instance
from offhours.planner import Settings, plan
from offhours.state import read_anchor

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Europe/London",
    "America/Los_Angeles",
    "Asia/Tokyo",
]
DAYS = ["Mon-Fri", "Mon-Sat", "Tue-Thu", "Sat,Sun", "Mon,Wed,Fri", ""]


def distinct_values(n: int, rng: random.Random) -> list[str]:
    values: set[str] = set()
    while len(values) < n:
        zone = rng.choice(ZONES)
        if rng.random() < 0.25:
            h1, h2 = rng.randrange(5, 11), rng.randrange(16, 23)
            m = rng.choice([0, 15, 30, 45])
            values.add(f"start={m} {h1} * * 1-5; stop={m} {h2} * * 1-5; tz={zone}")
        else:
            h1, h2 = rng.randrange(0, 12), rng.randrange(12, 24)
            m1, m2 = rng.choice([0, 30]), rng.choice([0, 15, 45])
            days = rng.choice(DAYS)
            values.add(f"{days} {h1:02d}:{m1:02d}-{h2:02d}:{m2:02d} {zone}".strip())
    return sorted(values)


def fleet(n_instances: int, values: list[str], rng: random.Random) -> list[Instance]:
    return [
        Instance(
            id=f"i-{k:017x}",
            state=rng.choice(["running", "stopped"]),
            schedule=values[k % len(values)],
            handled="2026-03-26T00:00:00Z",
        )
        for k in range(n_instances)
    ]


def measure(n_instances: int, n_values: int) -> tuple[float, int]:
    rng = random.Random(n_values)
    values = distinct_values(n_values, rng)
    instances = fleet(n_instances, values, rng)
    settings = Settings(catalog=default_catalog())
    at = datetime(2026, 3, 27, 16, 0, tzinfo=UTC)
    best = float("inf")
    for _ in range(3):
        timeline.timeline.cache_clear()
        parse_cron.cache_clear()
        read_anchor.cache_clear()
        start = time.perf_counter()
        result = plan(instances, at, settings)
        best = min(best, time.perf_counter() - start)
    acting = sum(1 for d in result.decisions if d.step.value in ("start", "stop"))
    return best, acting


def main() -> None:
    print("plan throughput (best of 3, one core, cold schedule caches)")
    print(f"{'instances':>10} {'distinct':>9} {'seconds':>9} {'instances/s':>13}  acting")
    for n_instances, n_values in [(100_000, 100), (100_000, 1_000), (10_000, 100), (1_000, 100)]:
        seconds, acting = measure(n_instances, n_values)
        print(
            f"{n_instances:>10,} {n_values:>9,} {seconds:>9.3f} {n_instances / seconds:>13,.0f}"
            f"  {acting:,}"
        )
    print("goal: 100,000 instances with 100 distinct values in under 1 s")


if __name__ == "__main__":
    main()
