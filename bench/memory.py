"""Memory of one run over 10,000 tagged instances in one target (DESIGN §4: the default 256 MB).

Feeds the gateway's snapshot code with DescribeInstances pages shaped like EC2's (1,000
instances a page, each with the fields and a dozen tags a real instance carries), then plans and
dry-runs, and prints the peak of Python's allocations (tracemalloc) and per instance.
Prints figures; it is not a timed test. Run: .venv/bin/python bench/memory.py
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from offhours import handler  # noqa: F401 - what the function imports, for its resident size
from offhours.catalog import default_catalog
from offhours.executor import dry_run
from offhours.planner import Settings, plan
from offhours.records import decision_record
from offhours.resources.ec2 import Ec2Gateway

N = 10_000
PAGE = 1_000
VALUES = ["Mon-Fri 08:00-18:00 Europe/Berlin", "office-hours", "stop=0 19 * * *", "off"]


def page(start: int) -> dict[str, Any]:
    instances = []
    for k in range(start, start + PAGE):
        tags = [{"Key": f"team-tag-{t}", "Value": f"value {t} of instance {k}"} for t in range(10)]
        tags += [
            {"Key": "Name", "Value": f"dev-box-{k}"},
            {"Key": "Schedule", "Value": VALUES[k % len(VALUES)]},
            {"Key": "Schedule:offhours-handled", "Value": "2026-03-27T07:00:00Z"},
        ]
        instances.append(
            {
                "InstanceId": f"i-{k:017x}",
                "State": {"Code": 16, "Name": "running"},
                "LaunchTime": datetime(2026, 3, 1, tzinfo=UTC),
                "RootDeviceType": "ebs",
                "Tags": tags,
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": "v"}}],
                "NetworkInterfaces": [{"PrivateIpAddress": "10.0.0.1", "Groups": []}],
                "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "default"}],
            }
        )
    return {"Reservations": [{"Instances": instances}]}


class Pages:
    """Stands in for the paginator: one page at a time, as EC2 returns them."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for start in range(0, N, PAGE):
            yield page(start)


def main() -> None:
    gateway = Ec2Gateway.__new__(Ec2Gateway)
    gateway.tag_key, gateway.region, gateway.account = "Schedule", "eu-central-1", "111122223333"
    gateway.state_key = "Schedule:offhours-handled"
    gateway.fp_key = "Schedule:offhours-fingerprint"
    gateway.override_key = "Schedule:override"

    def instances() -> Iterator[Any]:
        for p in Pages():
            raw = [i for r in p["Reservations"] for i in r["Instances"]]
            for item in raw:
                yield gateway._snapshot(item, {})

    tracemalloc.start()
    at = datetime(2026, 3, 27, 18, 5, tzinfo=UTC)
    outcomes = dry_run(plan(instances(), at, Settings(catalog=default_catalog())))
    lines = sum(1 for o in outcomes if decision_record(o))
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{N:,} instances, {lines:,} decisions; pages of {PAGE:,}")
    print(
        f"peak Python allocations: {peak / 2**20:.1f} MiB ({peak / N / 1024:.1f} KiB an "
        f"instance); held after the run: {current / 2**20:.1f} MiB"
    )
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"this process's peak resident size: {rss:.0f} MB (imports included), "
        "against the function's 256 MB"
    )


if __name__ == "__main__":
    main()
