"""100,000 instances in one region: what a run takes, on paper and measured on a fake EC2.

The fake answers at the HTTP layer of a real boto3 client (botocore's `before-send` hook), so
botocore serialises, signs and parses every call as against AWS: DescribeTags and
DescribeInstances pages of up to 1,000 items, instances as moto describes them (about 3.5 KB of
XML each), and StopInstances and CreateTags. It never sleeps: every call is counted and charged
0.5 s of latency on paper (pessimistic: DescribeInstances pages of 1,000 take about that on
AWS, the other calls less). The CPU is measured on 10,000 instances and scaled to 100,000 (the
run is linear in the instances: bench/big_event.py).

Lambda gives CPU in proportion to memory: one vCPU at 1,769 MB, so at 256 MB the same work
takes 1769 / 256 = 6.9 times longer. The figures: a steady run (no event due: tags only) and
an event run (every instance stops), at 256 MB and at 1,769 MB, against the 900 s that a
function may run. Prints figures; it is not a timed test.
Run: .venv/bin/python bench/large_region.py
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
    HTTPS_PROXY="http://127.0.0.1:9",
    HTTP_PROXY="http://127.0.0.1:9",
)

import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402

from offhours import pace  # noqa: E402
from offhours.catalog import default_catalog  # noqa: E402
from offhours.planner import Settings  # noqa: E402
from offhours.resources.ec2 import Ec2Gateway  # noqa: E402
from offhours.service import Target, reconcile_target  # noqa: E402
from offhours.state import fingerprint  # noqa: E402


class PaperClock:
    """offhours' pacing to EC2's rate limits (`offhours.pace`) on paper: a wait for a bucket
    advances this clock instead of sleeping, so the CPU is measured alone and `waited` says how
    long the run would wait at AWS's limits."""

    def __init__(self) -> None:
        self.waited = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.waited

    def sleep(self, seconds: float) -> None:
        self.waited += seconds

    def reset(self) -> None:
        self.waited = 0.0
        pace.forget_all()


PAPER = PaperClock()
pace.monotonic = PAPER.monotonic
pace.sleep = PAPER.sleep

MEASURED = 10_000
SCALE = 10  # to 100,000
LATENCY = 0.5
VALUE = "Mon-Fri 08:00-18:00 UTC"
AT = datetime(2026, 3, 27, 18, 5, tzinfo=UTC)
NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
ITEM = (
    "<item><architecture>arm64</architecture><blockDeviceMapping><item><deviceName>/dev/xvda"
    "</deviceName><ebs><attachTime>2026-01-05T09:00:00.000Z</attachTime><deleteOnTermination>"
    "true</deleteOnTermination><status>attached</status><volumeId>vol-0{n:016x}</volumeId></ebs>"
    "</item></blockDeviceMapping><clientToken>token-{n}</clientToken><ebsOptimized>true"
    "</ebsOptimized><hypervisor>xen</hypervisor><networkInterfaceSet><item><attachment>"
    "<attachTime>2026-01-05T09:00:00.000Z</attachTime><attachmentId>eni-attach-0{n:016x}"
    "</attachmentId><deleteOnTermination>true</deleteOnTermination><deviceIndex>0</deviceIndex>"
    "<status>attached</status><networkCardIndex>0</networkCardIndex></attachment><description/>"
    "<groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>dev</groupName></item>"
    "</groupSet><ipv6AddressesSet/><macAddress>02:00:00:00:00:01</macAddress>"
    "<networkInterfaceId>eni-0{n:016x}</networkInterfaceId><ownerId>123456789012</ownerId>"
    "<privateDnsName>ip-10-0-0-1.ec2.internal</privateDnsName><privateIpAddress>10.0.0.1"
    "</privateIpAddress><privateIpAddressesSet><item><primary>true</primary><privateIpAddress>"
    "10.0.0.1</privateIpAddress></item></privateIpAddressesSet><sourceDestCheck>true"
    "</sourceDestCheck><status>in-use</status><subnetId>subnet-0123456789abcdef0</subnetId>"
    "<vpcId>vpc-0123456789abcdef0</vpcId><interfaceType>interface</interfaceType></item>"
    "</networkInterfaceSet><rootDeviceName>/dev/xvda</rootDeviceName><rootDeviceType>ebs"
    "</rootDeviceType><groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>dev"
    "</groupName></item></groupSet><sourceDestCheck>true</sourceDestCheck><stateReason><code/>"
    "<message/></stateReason><tagSet>{tags}</tagSet><virtualizationType>hvm"
    "</virtualizationType><hibernationOptions><configured>false</configured>"
    "</hibernationOptions><metadataOptions><state>applied</state><httpTokens>required"
    "</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled"
    "</httpEndpoint></metadataOptions><instanceId>{id}</instanceId><imageId>"
    "ami-0123456789abcdef0</imageId><instanceState><code>16</code><name>running</name>"
    "</instanceState><privateDnsName>ip-10-0-0-1.ec2.internal</privateDnsName><dnsName/>"
    "<reason/><amiLaunchIndex>0</amiLaunchIndex><productCodes/><instanceType>t4g.medium"
    "</instanceType><launchTime>2026-03-27T07:00:00.000Z</launchTime><placement>"
    "<availabilityZone>us-east-1a</availabilityZone><groupName/><tenancy>default</tenancy>"
    "</placement><monitoring><state>disabled</state></monitoring><subnetId>"
    "subnet-0123456789abcdef0</subnetId><vpcId>vpc-0123456789abcdef0</vpcId><privateIpAddress>"
    "10.0.0.1</privateIpAddress></item>"
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class FakeEc2:
    """An EC2 of `n` running instances, all scheduled; `handled` is their state tag."""

    def __init__(self, n: int, handled: str) -> None:
        self.ids = [f"i-0{k:016x}" for k in range(n)]
        self.tags = {
            iid: {
                "Name": f"dev-{k}",
                "Schedule": VALUE,
                "Schedule:offhours-handled": handled,
                "Schedule:offhours-fingerprint": fingerprint(iid, VALUE),
            }
            for k, iid in enumerate(self.ids)
        }
        self.calls: Counter[str] = Counter()
        # The fake's own work is done before the run, so that the run's CPU is the client's.
        self.index = {iid: n for n, iid in enumerate(self.ids)}
        self.items = {iid: self._item(n, iid) for n, iid in enumerate(self.ids)}
        self.rows: dict[frozenset[str], list[str]] = {}

    def _item(self, n: int, iid: str) -> str:
        tags = "".join(
            f"<item><key>{k}</key><value>{v}</value></item>" for k, v in self.tags[iid].items()
        )
        return ITEM.format(n=n, id=iid, tags=tags)

    def answer(self, request: Any, **_: Any) -> AWSResponse:
        body = request.body
        text = body.decode() if isinstance(body, bytes) else str(body)
        params = {k: v[0] for k, v in parse_qs(text).items()}
        action = params["Action"]
        self.calls[action] += 1
        if action == "DescribeTags":
            start = int(params.get("NextToken", "0"))
            keys = frozenset(v for k, v in params.items() if k.startswith("Filter.2.Value."))
            rows = self.rows.get(keys)
            if rows is None:
                rows = self.rows[keys] = [
                    f"<item><resourceId>{i}</resourceId><resourceType>instance</resourceType>"
                    f"<key>{k}</key><value>{v}</value></item>"
                    for i in self.ids
                    for k, v in self.tags[i].items()
                    if k in keys
                ]
            items = "".join(rows[start : start + 1000])
            more = f"<nextToken>{start + 1000}</nextToken>" if start + 1000 < len(rows) else ""
            body = f"<DescribeTagsResponse xmlns='{NS}'><requestId>r</requestId><tagSet>{items}"
            body += f"</tagSet>{more}</DescribeTagsResponse>"
        elif action == "DescribeInstances":
            wanted = [v for k, v in params.items() if k.startswith("Filter.1.Value.")]
            items = "".join(self.items[i] for i in wanted if i in self.items)
            body = (
                f"<DescribeInstancesResponse xmlns='{NS}'><requestId>r</requestId>"
                "<reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012"
                f"</ownerId><groupSet/><instancesSet>{items}</instancesSet></item>"
                "</reservationSet></DescribeInstancesResponse>"
            )
        elif action in ("StopInstances", "StartInstances"):
            ids = [v for k, v in params.items() if k.startswith("InstanceId.")]
            items = "".join(f"<item><instanceId>{i}</instanceId></item>" for i in ids)
            body = (
                f"<{action}Response xmlns='{NS}'><requestId>r</requestId><instancesSet>{items}"
                f"</instancesSet></{action}Response>"
            )
        elif action in ("CreateTags", "DeleteTags"):
            body = f"<{action}Response xmlns='{NS}'><requestId>r</requestId><return>true</return>"
            body += f"</{action}Response>"
        else:
            raise AssertionError(action)
        return AWSResponse(request.url, 200, {}, _Body(body.encode()))


def measure(handled: str) -> tuple[float, int, Counter[str], dict[str, int]]:
    fake = FakeEc2(MEASURED, handled)
    fake.answer(_warm_request())  # the first page of tags is made before the clock starts
    fake.calls.clear()
    client = boto3.client("ec2", region_name="us-east-1")
    client.meta.events.register("before-send.ec2.*", fake.answer)
    gateway = Ec2Gateway(client, tag_key="Schedule", region="us-east-1", account="123456789012")
    settings = Settings(catalog=default_catalog())
    PAPER.reset()
    start = time.process_time()
    report = reconcile_target(
        Target("us-east-1"), gateway, AT, settings, dry=False, read_all=False, keep=lambda o: False
    )
    cpu = time.process_time() - start
    return cpu, sum(fake.calls.values()), fake.calls, dict(report.tallies)


class _Request:
    url = "https://ec2.us-east-1.amazonaws.com/"
    body = (
        "Action=DescribeTags&Filter.2.Value.1=Schedule&Filter.2.Value.2=Schedule%3Aoffhours-"
        "handled&Filter.2.Value.3=Schedule%3Aoffhours-fingerprint"
    )


def _warm_request() -> Any:
    return _Request()


def wall(cpu: float, calls: int, memory: int) -> float:
    return calls * LATENCY + cpu * max(1.0, 1769 / memory)


def main() -> None:
    print(f"one region, CPU measured on {MEASURED:,} instances and scaled x{SCALE} to "
          f"{MEASURED * SCALE:,}; {LATENCY} s of latency a call on paper")  # fmt: skip
    for label, handled in (
        ("steady run (no event due)", "2026-03-27T18:00:00Z"),
        ("event run (every instance stops)", "2026-03-27T08:00:00Z"),
    ):
        cpu, calls, by_call, tallies = measure(handled)
        cpu, calls = cpu * SCALE, calls * SCALE
        detail = ", ".join(f"{n * SCALE:,} {op}" for op, n in sorted(by_call.items()))
        print(f"  {label}: {calls:,} calls ({detail}); {cpu:.1f} s of CPU on this machine")
        print(f"    counts: {tallies}")
        stops = tallies.get("stopped", 0) * SCALE
        if stops:
            floor = max(0.0, (stops - 1000) / 20)
            print(
                f"    EC2's rate limits: {PAPER.waited:.0f} s of waiting for {stops // SCALE:,} "
                f"stops measured; at {stops:,}, StopInstances' bucket alone (1,000 at once, "
                f"then 20 a second) sets a floor of {floor:,.0f} s, spread over the runs"
            )
        for memory in (256, 1769):
            seconds = wall(cpu, calls, memory)
            runs = -(-seconds // 880)
            print(
                f"    at {memory:>5} MB: {seconds:7.0f} s"
                + (
                    ""
                    if seconds <= 880
                    else f"  (more than one run: about {runs:.0f} runs of 900 s)"
                )
            )
    print(
        "  goal: a steady run within one invocation (900 s) at 256 MB or with a larger "
        "MemorySize; an event run that makes progress at every run and finishes in a few "
        "(each run applies what it planned: see the README's Large fleets)"
    )


if __name__ == "__main__":
    main()
