"""A steady run (no event due) over 600 tagged instances: CPU and log, beside bare boto3.

Side by side in one process, against moto in server mode in a process of its own (so that its
CPU is not counted): the CPU of a warm handler invocation (clients built, imports done) and the
CPU of a bare boto3 paginated DescribeInstances of the same instances (client built). Goal: the
handler at most 0.3 times the bare listing, and at most 20 KB of log a run. Best of several
rounds, interleaved, so that machine noise hits both alike. Also the CPU of the same run when
every instance is read in full (LogLevel=DEBUG, or the earlier versions' reading), for
comparison. Prints figures; it is not a timed test. Run: .venv/bin/python bench/steady_state.py
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
    HTTPS_PROXY="http://127.0.0.1:9",
    HTTP_PROXY="http://127.0.0.1:9",
    NO_PROXY="127.0.0.1,localhost",
    REGIONS="us-east-1",
    DRY_RUN="false",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_LOG_LEVEL="INFO",
)

N = 600
ROUNDS = 7
VALUE = "Mon-Fri 08:00-18:00 Europe/Berlin"
AT = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Friday noon: the 07:00 UTC start is handled


@dataclass
class Context:
    function_name: str = "offhours"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:offhours"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


def main() -> None:
    server, url = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        run(url)
    finally:
        server.terminate()


def run(url: str) -> None:
    import boto3

    from offhours import handler, runtime
    from offhours.state import fingerprint

    ec2 = boto3.client("ec2", endpoint_url=url)
    for k in range(N // 100):
        ids = [
            i["InstanceId"]
            for i in ec2.run_instances(
                ImageId="ami-12c6146b",
                MinCount=100,
                MaxCount=100,
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "Schedule", "Value": VALUE},
                            {"Key": "Schedule:offhours-handled", "Value": "2026-03-27T07:00:00Z"},
                            {"Key": "Name", "Value": f"dev-{k}"},
                            {"Key": "team", "Value": "platform"},
                        ],
                    }
                ],
            )["Instances"]
        ]
        for iid in ids:
            ec2.create_tags(
                Resources=[iid],
                Tags=[{"Key": "Schedule:offhours-fingerprint", "Value": fingerprint(iid, VALUE)}],
            )
    bare = boto3.client("ec2", endpoint_url=url)
    handler.clock = lambda: AT
    event = {"id": "bench", "time": "2026-03-27T12:00:00Z", "detail-type": "Scheduled Event"}

    def listing() -> None:
        pages = bare.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "tag-key", "Values": ["Schedule"]}],
            PaginationConfig={"PageSize": 1000},
        )
        assert sum(len(r["Instances"]) for p in pages for r in p["Reservations"]) == N

    def invoke() -> str:
        out = io.StringIO()
        with redirect_stdout(out):
            result = handler.lambda_handler(event, Context())
        assert result["evaluated"] == N and result["started"] == result["stopped"] == 0
        return out.getvalue()

    def full() -> str:
        runtime.logger.setLevel("DEBUG")
        try:
            return invoke()
        finally:
            runtime.logger.setLevel("INFO")

    invoke()  # warm: clients, caches, imports
    listing()
    cpu: dict[str, float] = {"bare": 9e9, "handler": 9e9, "full": 9e9}
    logs: dict[str, int] = {}
    for _ in range(ROUNDS):
        for name, work in (("bare", listing), ("handler", invoke), ("full", full)):
            start = time.process_time()
            out = work()
            cpu[name] = min(cpu[name], time.process_time() - start)
            if isinstance(out, str):
                logs[name] = len(out.encode())
    print(f"steady run, {N} tagged instances, no event due (best of {ROUNDS}, CPU seconds)")
    print(f"  bare boto3 paginated DescribeInstances  {cpu['bare']:.3f}")
    print(
        f"  handler, warm                           {cpu['handler']:.3f}   ratio "
        f"{cpu['handler'] / cpu['bare']:.2f} (goal <= 0.30)"
    )
    print(
        f"  handler reading every instance in full  {cpu['full']:.3f}   ratio "
        f"{cpu['full'] / cpu['bare']:.2f} (LogLevel=DEBUG)"
    )
    print(f"  log of a run: {logs['handler'] / 1024:.1f} KB (goal <= 20 KB); with every decision "
          f"(DEBUG): {logs['full'] / 1024:.1f} KB")  # fmt: skip


if __name__ == "__main__":
    main()
