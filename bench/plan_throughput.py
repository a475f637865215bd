"""Planner throughput, and the planner beside Cloud Custodian's offhours filter.

1. 100,000 instances with 100 distinct values, decided by offhours' planner (`plan_groups`:
   instances grouped by what their decision depends on, each group decided once) and by Cloud
   Custodian's `offhour` filter, side by side on the same fleet, with the same decisions: the
   running instances that offhours stops at the run are exactly those Custodian's filter
   matches. Goal: offhours at least 100 times faster. Custodian runs in a virtual environment
   of its own (.venv/c7n, made on first use with `pip install c7n`), in a subprocess.
2. 100,000 instances with 10,000 distinct values. Goal: under 3 s.
3. 1,000,000 instances with 100 values, streamed: peak Python allocations. Goal: 256 MB.

Times are the best of three, cold caches (every value parsed and evaluated anew). Prints
figures; it is not a timed test. Run: .venv/bin/python bench/plan_throughput.py
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from offhours import timeline
from offhours.catalog import default_catalog
from offhours.cron import parse_cron
from offhours.instance import Instance
from offhours.planner import Settings, Step, plan_groups
from offhours.state import fingerprint, read_anchor
from offhours.zones import zone

ROOT = Path(__file__).resolve().parent.parent
C7N_VENV = ROOT / ".venv" / "c7n"
# Custodian's zone aliases and the zones they stand for.
ZONES = {
    "pt": "America/Los_Angeles",
    "et": "America/New_York",
    "ct": "America/Chicago",
    "mt": "America/Denver",
    "utc": "UTC",
    "cet": "Europe/Berlin",
    "bst": "Europe/London",
    "jst": "Asia/Tokyo",
    "aet": "Australia/Sydney",
    "sgt": "Asia/Singapore",
}
# A Wednesday at a whole hour: somewhere it is 19:00, the hour some schedules stop at.
AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
SETTINGS = Settings(catalog=default_catalog())


def pairs(n: int) -> list[tuple[str, str]]:
    """n distinct schedules, each in Custodian's form and in offhours' own."""
    rng = random.Random(n)
    seen: dict[str, str] = {}
    aliases = sorted(ZONES)
    while len(seen) < n:
        alias = rng.choice(aliases)
        on, off = rng.randrange(5, 10), rng.randrange(17, 23)
        minute = rng.randrange(0, 60) if n > 300 else 0  # more values than hours: vary minutes
        c7n = f"off=(M-F,{off});on=(M-F,{on});tz={alias}#{minute}"
        ours = f"Mon-Fri {on:02d}:{minute:02d}-{off:02d}:00 {ZONES[alias]}"
        seen[c7n] = ours
    return sorted(seen.items())


def handled_for(value: str) -> str:
    """The state of a fleet run hourly: handled up to 55 minutes before the run."""
    del value
    return (AT - timedelta(minutes=55)).strftime("%Y-%m-%dT%H:%M:%SZ")


def instances(n: int, values: list[str]) -> Iterator[Instance]:
    for k in range(n):
        value = values[k % len(values)]
        iid = f"i-{k:017x}"
        yield Instance(
            iid,
            "running",
            value,
            handled=handled_for(value),
            fingerprint=fingerprint(iid, value),
        )


def raw_items(n: int, values: list[str]) -> list[dict[str, object]]:
    """The same fleet as EC2 describes it (what Custodian's filter gets), before it is read."""
    items = []
    for instance in instances(n, values):
        tags = [
            {"Key": "Name", "Value": f"box-{instance.id[-4:]}"},
            {"Key": "Schedule", "Value": instance.schedule},
            {"Key": "Schedule:offhours-handled", "Value": instance.handled},
            {"Key": "Schedule:offhours-fingerprint", "Value": instance.fingerprint},
        ]
        items.append(
            {
                "InstanceId": instance.id,
                "State": {"Name": "running"},
                "RootDeviceType": "ebs",
                "Tags": tags,
            }
        )
    return items


def from_raw(n: int, values: list[str]) -> float:
    """Reading each instance (its tags, its fingerprint) and deciding, from the raw items."""
    from offhours.resources.ec2 import Ec2Gateway

    gateway = Ec2Gateway.__new__(Ec2Gateway)
    gateway.tag_key, gateway.region, gateway.account = "Schedule", "us-east-1", ""
    gateway.state_key = "Schedule:offhours-handled"
    gateway.fp_key = "Schedule:offhours-fingerprint"
    gateway.override_key = "Schedule:override"
    items = raw_items(n, values)
    best = float("inf")
    for _ in range(3):
        cold()
        start = time.perf_counter()
        plan_groups((gateway._snapshot(i, {}) for i in items), AT, SETTINGS)
        best = min(best, time.perf_counter() - start)
    return best


def cold() -> None:
    timeline.timeline.cache_clear()
    clear = getattr(timeline.to_instant, "cache_clear", None)  # cached since it was measured
    if clear is not None:
        clear()
    parse_cron.cache_clear()
    read_anchor.cache_clear()
    zone.cache_clear()


def ours(n: int, values: list[str]) -> tuple[float, set[str]]:
    fleet = list(instances(n, values))
    best = float("inf")
    stopped: set[str] = set()
    for _ in range(3):
        cold()
        start = time.perf_counter()
        groups = plan_groups(fleet, AT, SETTINGS)
        best = min(best, time.perf_counter() - start)
        stopped = {i.id for g in groups if g.decision.step is Step.STOP for i in g.members or ()}
    return best, stopped


CUSTODIAN = r"""
import datetime as real, hashlib, json, sys, time
import c7n.filters.offhours as offhours
from c7n.filters.offhours import OffHour

AT = real.datetime(2026, 11, 25, 18, 0, tzinfo=real.timezone.utc)

class Frozen(real.datetime):
    @classmethod
    def now(cls, tz=None):
        return AT.astimezone(tz)

offhours.datetime = type("m", (), {"datetime": Frozen, "timedelta": real.timedelta})
values = json.loads(sys.argv[2])
n = int(sys.argv[1])
fleet = [
    {"InstanceId": f"i-{k:017x}", "State": {"Name": "running"},
     "Tags": [{"Key": "maid_offhours", "Value": values[k % len(values)].split("#")[0]}]}
    for k in range(n)
]
f = OffHour({"type": "offhour", "default_tz": "et", "offhour": 19})
best = 1e9
for _ in range(3):
    start = time.perf_counter()
    matched = f.process(fleet)
    best = min(best, time.perf_counter() - start)
ids = sorted(r["InstanceId"] for r in matched)
print(json.dumps({"seconds": best, "matched": len(ids),
                  "digest": hashlib.sha256("\n".join(ids).encode()).hexdigest()}))
"""


def custodian(n: int, values: list[str]) -> dict[str, object] | None:
    python = C7N_VENV / "bin" / "python"
    if not python.exists():
        print("  (making .venv/c7n with Cloud Custodian: pip install c7n)")
        made = subprocess.run([sys.executable, "-m", "venv", str(C7N_VENV)], check=False)
        pip = [str(python), "-m", "pip", "install", "--quiet", "c7n"]
        if made.returncode != 0 or subprocess.run(pip, check=False).returncode != 0:
            return None
    out = subprocess.run(
        [str(python), "-c", CUSTODIAN, str(n), json.dumps(values)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        print(out.stderr[-2000:])
        return None
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def streamed_peak(n: int, values: list[str]) -> tuple[float, int, int]:
    cold()
    tracemalloc.start()
    start = time.perf_counter()
    groups = plan_groups(instances(n, values), AT, SETTINGS)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kept = sum(len(g.members or ()) for g in groups)
    return seconds, peak, kept


def main() -> None:
    print("planner throughput (best of 3, one core, cold caches)")
    hundred = pairs(100)
    ours_seconds, stopped = ours(100_000, [v for _, v in hundred])
    print(f"  offhours, 100,000 instances, 100 values:    {ours_seconds:6.3f} s  "
          f"({100_000 / ours_seconds:,.0f} a second); stops {len(stopped):,}")  # fmt: skip
    c7n = custodian(100_000, [c for c, _ in hundred])
    if c7n is None:
        print("  Cloud Custodian could not be installed or run: no comparison")
    else:
        digest = hashlib.sha256("\n".join(sorted(stopped)).encode()).hexdigest()
        same = digest == c7n["digest"]
        c7n_seconds = float(str(c7n["seconds"]))
        print(f"  Custodian offhour filter, the same fleet:   {c7n_seconds:6.3f} s; "
              f"matches {c7n['matched']:,}; same instances: {'yes' if same else 'NO'}")  # fmt: skip
        print(f"  offhours is {c7n_seconds / ours_seconds:,.0f} times faster (goal >= 100)")
        raw = from_raw(100_000, [v for _, v in hundred])
        print(
            f"  from the raw items, as Custodian gets them (reading every instance's tags and "
            f"checking its fingerprint, then deciding): {raw:.3f} s, "
            f"{c7n_seconds / raw:,.0f} times faster"
        )
    many = pairs(10_000)
    seconds, _ = ours(100_000, [v for _, v in many])
    print(f"  offhours, 100,000 instances, 10,000 values: {seconds:6.3f} s (goal < 3 s)")
    _, peak, kept = streamed_peak(1_000_000, [v for _, v in hundred])
    print(f"  offhours, 1,000,000 instances streamed, 100 values: peak allocations "
          f"{peak / 2**20:.1f} MiB (goal <= 256 MiB); {kept:,} kept to act on")  # fmt: skip


if __name__ == "__main__":
    main()
