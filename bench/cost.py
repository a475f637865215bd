"""What offhours costs a month, for 100, 10,000 and 100,000 instances, from measured figures.

Measured here (bench/large_region.py's fake EC2, real botocore): the CPU of a steady run and of
an event run per instance, and the bytes of a decision line and of a run's summary. Assumed,
and said: a run every 5 minutes (8,640 a month), office hours (two events a working day, 22
working days: 44 event runs a month), 0.2 s of latency an AWS call, 256 MB on arm64 (0.145 of
a vCPU: the CPU figures of this machine times 1769 / 256), us-east-1 prices: Lambda
$0.0000133334 a GB-second and $0.20 a million requests, CloudWatch Logs $0.50 a GB ingested and
$0.03 a GB-month kept (30 days), custom metrics $0.30 a month each, prorated by the hours in
which they get data, alarms $0.10 each. Goals: at most $1 at 100 instances and $3 at 10,000.
Prints figures; it is not a timed test. Run: .venv/bin/python bench/cost.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import large_region

RUNS = 8_640
EVENT_RUNS = 44
LATENCY = 0.2
GB = 0.25
CPU_FACTOR = 1769 / 256
LAMBDA_GB_S = 0.0000133334
REQUEST = 0.20 / 1e6
LOG_GB = 0.50
KEEP_GB = 0.03
METRIC = 0.30
ALARM = 0.10
ALARMS = 4  # failed actions, function errors, heartbeat, deferred targets
SUMMARY_BYTES = 900  # a summary line and its metrics blob, as bench/steady_state.py logs them
DECISION_BYTES = 1_000  # a decision line (an action), as the handler writes it
TAGS_PER_CALL = 1000 / 3  # DescribeTags: three offhours tags an instance, 1,000 a page
# With Resources=ec2,rds (the default), every run also lists the tagged databases: two
# GetResources calls (bench/rds_calls.py), even where there are none.
RDS_LISTING_CALLS = 2


def main() -> None:
    n = large_region.MEASURED
    steady_cpu, _, _, _ = large_region.measure("2026-03-27T18:00:00Z")
    event_cpu, event_calls, _, _ = large_region.measure("2026-03-27T08:00:00Z")
    steady_per, event_per = steady_cpu / n, event_cpu / n
    calls = event_calls / n
    print(
        f"measured CPU an instance on this machine: steady run {steady_per * 1e6:.0f} us, "
        f"event run {event_per * 1e6:.0f} us ({calls:.3f} calls an instance)"
    )
    print(f"{'':>24}{'100':>10}{'10,000':>10}{'100,000':>10}")
    rows: dict[str, list[float]] = {}
    for size in (100, 10_000, 100_000):
        pages = max(1.0, size / TAGS_PER_CALL)
        steady = (pages + RDS_LISTING_CALLS) * LATENCY + size * steady_per * CPU_FACTOR + 0.05
        event = size * (event_calls / n) * LATENCY + size * event_per * CPU_FACTOR
        compute = (RUNS * steady + EVENT_RUNS * event) * GB * LAMBDA_GB_S
        requests = RUNS * REQUEST
        log_gb = (RUNS * SUMMARY_BYTES + EVENT_RUNS * size * DECISION_BYTES) / 1e9
        logs = log_gb * LOG_GB + log_gb * KEEP_GB
        # "failed" at every run; "started" and "stopped" in the hours of the event runs, in
        # total and for the resource kind (resource=ec2).
        metrics = METRIC + 4 * METRIC * min(1.0, EVENT_RUNS / 730)
        alarms = ALARMS * ALARM
        for key, value in (
            ("Lambda duration", compute),
            ("Lambda requests", requests),
            ("Logs (ingested, kept)", logs),
            ("Metrics", metrics),
            ("Alarms", alarms),
            ("Total", compute + requests + logs + metrics + alarms),
        ):
            rows.setdefault(key, []).append(value)
        rows.setdefault("seconds a steady run", []).append(steady)
    for key, values in rows.items():
        if key == "seconds a steady run":
            print(f"{key:>24}" + "".join(f"{v:>9.1f}s" for v in values))
        else:
            print(f"{key:>24}" + "".join(f"{'$' + format(v, '.2f'):>10}" for v in values))
    total = rows["Total"]
    print(f"goals: $1 at 100 ({'met' if total[0] <= 1 else 'MISSED'}), "
          f"$3 at 10,000 ({'met' if total[1] <= 3 else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
