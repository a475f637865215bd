"""API calls that a run makes for N tagged RDS databases, on the local endpoint (moto).

RDS has no batch call: a start, a stop and a tag write are one call per database. Listing is
two filtered pages of the Resource Groups Tagging API (100 resources a page) and DescribeDB*
by ARN (100 a call) for the databases that may act. The figures, by situation:

- first sight: every database is adopted (A and its fingerprint, one AddTagsToResource each);
- the start event, the databases already up: A moves to the event (AddTagsToResource each);
- a day run with nothing due: the listing only;
- a night run with nothing due: the listing, and one DescribeEvents for starts by RDS after
  seven days stopped (the schedule wants them stopped);
- the stop event: the listing, DescribeDBInstances, a StopDBInstance and an
  AddTagsToResource per database.

Counts the calls by operation with botocore `before-call` hooks. Prints figures; not a test.
moto's GetResources puts at most 100 tags on a page as well as 100 resources (AWS takes one
limit or the other, and offhours asks for 100 resources a page), so on moto a listing of
databases with offhours' three tags takes about three times the pages it takes on AWS.
Run: .venv/bin/python bench/rds_calls.py
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
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
    HTTPS_PROXY="http://127.0.0.1:9",
    NO_PROXY="127.0.0.1,localhost",
)

import boto3
from tests.fleet import MotoEndpoint

from offhours.aws import Clients
from offhours.catalog import default_catalog
from offhours.config import Config
from offhours.service import run

OFFICE = "Mon-Fri 08:00-18:00 UTC"
SIZES = (10, 100, 250)
SITUATIONS = (
    ("first sight (adopt)", datetime(2026, 3, 27, 7, 0, tzinfo=UTC)),
    ("start, already up", datetime(2026, 3, 27, 8, 5, tzinfo=UTC)),
    ("day, nothing due", datetime(2026, 3, 27, 12, 0, tzinfo=UTC)),
    ("stop event", datetime(2026, 3, 27, 18, 5, tzinfo=UTC)),
    ("night, nothing due", datetime(2026, 3, 27, 22, 0, tzinfo=UTC)),
)


def measure(
    endpoint: MotoEndpoint, n: int
) -> list[tuple[str, Counter[str], float, dict[str, int]]]:
    endpoint.reset()
    rds = boto3.client("rds", region_name="us-east-1")
    for k in range(n):
        rds.create_db_instance(
            DBInstanceIdentifier=f"db-{k:04d}",
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUsername="bench",
            MasterUserPassword="bench-password",
            Tags=[{"Key": "Schedule", "Value": OFFICE}],
        )
    clients = Clients()
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    for service in ("rds", "resourcegroupstaggingapi"):
        client = clients.target(service, "us-east-1")
        client.meta.events.register("before-call.*", count)
    config = Config(regions=("us-east-1",), resources=("rds",))
    out = []
    for label, at in SITUATIONS:
        calls.clear()
        started = time.perf_counter()
        report = run(config, at, clients=clients, catalog=default_catalog(), read_all=False)
        seconds = time.perf_counter() - started
        out.append((label, Counter(calls), seconds, report.counts()))
    return out


def main() -> None:
    endpoint = MotoEndpoint.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint.url
    try:
        print("API calls of one run for N tagged RDS databases (Resources=rds, local endpoint)")
        print(
            f"{'N':>5}  {'situation':<20} {'calls':>6} {'per db':>7} {'seconds':>8}  by operation"
        )
        for n in SIZES:
            for label, calls, seconds, counts in measure(endpoint, n):
                total = sum(calls.values())
                ops = ", ".join(f"{op} {c}" for op, c in sorted(calls.items()))
                print(
                    f"{n:>5}  {label:<20} {total:>6} {total / n:>7.2f} {seconds:>8.2f}  {ops}"
                    f"  [stopped {counts['stopped']}, failed {counts['failed']}]"
                )
    finally:
        endpoint.stop()


if __name__ == "__main__":
    main()
