"""API calls that a run makes for N scheduled Auto Scaling groups, on the local endpoint (moto).

N groups (BENCH_GROUPS, default 100) of 1/2/4 tagged `Mon-Fri 08:00-18:00 UTC`, and the runs of
a day with Resources=asg (`offhours.service.run` as the Lambda calls it: tags first, a group read
in full only when its decision may depend on more): the first run, which adopts them; a quiet
run by day and one at night (no event due); the stop event; the start event (the next working
day). Each is set against its minimum, what no implementation of DESIGN §9 can do without:

- listing: DescribeTags filtered on offhours' keys (the schedule, its state, its fingerprint,
  an override) is the one way to find the scheduled groups and their state. AWS gives at most
  100 tags a page (MaxRecords; 50 when not asked), so its minimum is ceil(T / 100) pages for T
  tags: N at first sight (the schedule alone), 3N afterwards (the schedule, A, the fingerprint;
  the size record is not among the keys: it is read with the group). On a quiet run the tags
  decide everything (nothing is due, the state can be believed), so the minimum of a quiet run
  is those pages and nothing else;
- DescribeAutoScalingGroups, where a group acts: its sizes (recorded at a stop), its recorded
  size (restored at a start) and its identity (ARN and creation time, which the fingerprint
  binds) are not tags. 100 names a call at most (MaxRecords=100; 50 by default): ceil(N / 100);
- per group, Auto Scaling has no batch call: adoption is one CreateOrUpdateTags (A and the
  fingerprint together); a stop is the size record (CreateOrUpdateTags, before the group is
  resized, so that a failure never loses the sizes), UpdateAutoScalingGroup to 0/0/0 and the
  state tag A (after the resize succeeded): 3 calls, and for the whole run one listing of the
  account's scheduled actions (DescribeScheduledActions, 100 a page: one that would undo a stop
  is warned of); a start is UpdateAutoScalingGroup to the
  recorded sizes and A: 2 calls (the record is kept: nothing to write). CreateOrUpdateTags could
  carry several groups' tags in one call; offhours writes one group a call, so that a group that
  IAM refuses (its condition is per group) fails alone: that is the minimum counted here.

moto's DescribeTags does not paginate (every tag on one page), so the calls measured on moto
list in one DescribeTags; "on AWS" counts the pages that AWS would give at the page size that
offhours asks for, for the tags that moto returned. Auto Scaling's rate limit (modelled by
`offhours.pace`: a bucket of 40 calls, then 4 a second) is waited on paper, from a full bucket:
"tokens" are those the run took from the model, "rate wait" how long it waited for them.
Counts the calls by operation with botocore hooks. Prints figures; it is not a timed test.
Run: .venv/bin/python bench/asg_calls.py   (BENCH_GROUPS=500 for another N)
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
from tests.fleet import MotoEndpoint

from offhours import pace
from offhours.aws import Clients
from offhours.catalog import default_catalog
from offhours.config import Config
from offhours.service import run

N = int(os.environ.get("BENCH_GROUPS", "100"))
OFFICE = "Mon-Fri 08:00-18:00 UTC"
SIZE = (1, 2, 4)
PAGE_MAX = 100  # AWS's largest page of DescribeTags and DescribeAutoScalingGroups
PAGE_DEFAULT = 50  # the page when MaxRecords is not given
# (situation, run time, calls per group at least, groups read in full at least)
SITUATIONS = (
    ("first run (adopt)", datetime(2026, 3, 27, 12, 0, tzinfo=UTC), 1, True),
    ("quiet, day", datetime(2026, 3, 27, 14, 0, tzinfo=UTC), 0, False),
    ("stop event", datetime(2026, 3, 27, 18, 0, tzinfo=UTC), 3, True),
    ("quiet, night", datetime(2026, 3, 27, 22, 0, tzinfo=UTC), 0, False),
    ("start event", datetime(2026, 3, 30, 8, 0, tzinfo=UTC), 2, True),
)


class PaperClock:
    """offhours' pacing (`offhours.pace`) on paper: a wait for Auto Scaling's bucket advances
    this clock instead of sleeping; `waited` says how long the run would wait on AWS."""

    def __init__(self) -> None:
        self.waited = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.waited

    def sleep(self, seconds: float) -> None:
        self.waited += seconds


PAPER = PaperClock()
pace.monotonic = PAPER.monotonic
pace.sleep = PAPER.sleep
TOKENS: Counter[str] = Counter()  # tokens taken from the modelled buckets, by service
_acquire = pace.Pacer.acquire


def _counted_acquire(self: pace.Pacer, api: str, resources: int = 0, **kw: Any) -> bool:
    taken = _acquire(self, api, resources, **kw)
    TOKENS[self.buckets.service] += int(taken)
    return taken


pace.Pacer.acquire = _counted_acquire  # type: ignore[method-assign]


def create_groups(n: int) -> None:
    client = boto3.client("autoscaling", region_name="us-east-1")
    client.create_launch_configuration(
        LaunchConfigurationName="bench", ImageId="ami-12c6146b", InstanceType="t3.micro"
    )
    for k in range(n):
        name = f"group-{k:04d}"
        client.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchConfigurationName="bench",
            MinSize=SIZE[0],
            DesiredCapacity=SIZE[1],
            MaxSize=SIZE[2],
            AvailabilityZones=["us-east-1a"],
            Tags=[
                {
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                    "Key": "Schedule",
                    "Value": OFFICE,
                    "PropagateAtLaunch": False,
                }
            ],
        )


class Counted:
    """The calls of the autoscaling client, by operation, and what the listing carried."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.tags = 0  # tags that DescribeTags returned
        self.page = PAGE_DEFAULT  # the DescribeTags page offhours asks for
        self.names = 0  # groups named in DescribeAutoScalingGroups
        client.meta.events.register("before-parameter-build.*", self.before)
        client.meta.events.register("after-call.*", self.after)

    def clear(self) -> None:
        self.calls.clear()
        self.tags = self.names = 0

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """Each call as the code makes it, with its parameters (before botocore builds the
        request: a paginator's page is one call)."""
        self.calls[model.name] += 1
        if model.name == "DescribeTags" and params.get("MaxRecords"):
            self.page = int(params["MaxRecords"])
        if model.name == "DescribeAutoScalingGroups":
            self.names += len(params.get("AutoScalingGroupNames", []))

    def after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name == "DescribeTags":
            self.tags += len(parsed.get("Tags", []))

    def on_aws(self) -> int:
        """The calls, DescribeTags counted in the pages AWS gives at offhours' page size."""
        listed = self.calls["DescribeTags"]
        pages = max(1, math.ceil(self.tags / self.page)) if listed else 0
        return sum(self.calls.values()) - listed + pages


def minimum(n: int, tags: int, per_group: int, read: bool) -> int:
    listing = max(1, math.ceil(tags / PAGE_MAX))
    details = math.ceil(n / PAGE_MAX) if read else 0
    return listing + details + per_group * n


def main() -> None:
    started = time.perf_counter()
    endpoint = MotoEndpoint.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint.url
    try:
        endpoint.reset()
        create_groups(N)
        created = time.perf_counter() - started
        clients = Clients()
        counted = Counted(clients.target("autoscaling", "us-east-1"))
        config = Config(regions=("us-east-1",), resources=("asg",))
        pace.forget_all()
        print(
            f"API calls of one run for {N} Auto Scaling groups of {SIZE[0]}/{SIZE[1]}/{SIZE[2]} "
            f"tagged {OFFICE!r} (Resources=asg, local endpoint; created in {created:.1f} s)"
        )
        print(
            f"{'situation':<18} {'moto':>5} {'on AWS':>6} {'minimum':>7} {'ratio':>6} "
            f"{'per group':>9} {'tokens':>6} {'rate wait':>9} {'seconds':>7}  by operation (moto)"
        )
        notes = []
        for label, at, per_group, read in SITUATIONS:
            counted.clear()
            TOKENS.clear()
            pace.forget_all()  # hours pass between two of these runs: the bucket is full
            waited = PAPER.waited
            began = time.perf_counter()
            report = run(config, at, clients=clients, catalog=default_catalog(), read_all=False)
            seconds = time.perf_counter() - began
            counts = report.counts()
            least = minimum(N, counted.tags, per_group, read) + (label == "stop event")
            aws = counted.on_aws()
            ops = ", ".join(f"{op} {c}" for op, c in sorted(counted.calls.items()))
            print(
                f"{label:<18} {sum(counted.calls.values()):>5} {aws:>6} {least:>7} "
                f"{aws / least:>6.2f} {aws / N:>9.2f} {TOKENS['asg']:>6} "
                f"{PAPER.waited - waited:>8.1f}s "
                f"{seconds:>7.2f}  {ops}  [tags listed {counted.tags}; started "
                f"{counts['started']}, stopped {counts['stopped']}, failed {counts['failed']}]"
            )
            moto_calls = sum(counted.calls.values())
            if TOKENS["asg"] < moto_calls:
                short = moto_calls - TOKENS["asg"]
                notes.append(
                    f"{label}: {moto_calls} calls took {TOKENS['asg']} tokens of the modelled "
                    f"bucket: on AWS the run "
                    f"would wait about {short / 4:.0f} s more, or be throttled"
                )
            if not read and counted.names:
                notes.append(
                    f"{label}: {counted.names} groups read in full (DescribeAutoScalingGroups) "
                    "although the tags decide: not at the minimum"
                )
        print(
            f"minimum: DescribeTags pages of {PAGE_MAX} tags (offhours asks for "
            f"{counted.page}); DescribeAutoScalingGroups of {PAGE_MAX} groups where they act; "
            "per group 1 tag write to adopt, 3 calls to stop (size record, resize, A) and a "
            "page of scheduled actions a run, 2 to start "
            "(resize, A)."
        )
        print(
            "tokens: taken from the modelled Auto Scaling bucket (40, then 4 a second); rate "
            "wait: the run's waits for it, from full, on paper."
        )
        for note in notes:
            print(f"note: {note}")
        print(f"{time.perf_counter() - started:.1f} s in all.")
    finally:
        endpoint.stop()


if __name__ == "__main__":
    main()
