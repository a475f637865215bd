"""Cold start: importing the handler and building its first EC2 client, against a bare
`import boto3; boto3.client("ec2")`, side by side in one run, in fresh interpreters.

Goal: at most 1.25 times the bare figure. Prints medians of several runs, with tracing off (the
template's default) and on. Prints figures; it is not a timed test.
Run: .venv/bin/python bench/cold_start.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

RUNS = 9
BARE = "import boto3; boto3.client('ec2')"
OURS = (
    "import offhours.handler; from offhours.aws import DEFAULT_CLIENTS; "
    "DEFAULT_CLIENTS.ec2('us-east-1')"
)
TIMER = "import time; t = time.perf_counter(); exec({code!r}); print(time.perf_counter() - t)"


def once(code: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(code=code)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONDONTWRITEBYTECODE="1",
    )
    traced_off = {**base, "POWERTOOLS_TRACE_DISABLED": "true"}
    traced_on = {
        **base,
        "POWERTOOLS_TRACE_DISABLED": "false",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    # Our modules are compiled from source in every interpreter (PYTHONDONTWRITEBYTECODE), as
    # in Lambda, whose read-only /var/task holds no bytecode cache for them.
    once(OURS, traced_off)
    samples: dict[str, list[float]] = {"bare": [], "off": [], "on": []}
    for _ in range(RUNS):  # interleaved, so that machine noise hits all alike
        samples["bare"].append(once(BARE, base))
        samples["off"].append(once(OURS, traced_off))
        samples["on"].append(once(OURS, traced_on))
    bare = statistics.median(samples["bare"])
    print(f"median of {RUNS} fresh interpreters, seconds")
    print(f"  bare boto3 + client          {bare:.3f}")
    for key, label in (("off", "handler, tracing off"), ("on", "handler, tracing on ")):
        value = statistics.median(samples[key])
        print(f"  {label}         {value:.3f}   ratio {value / bare:.2f} (goal <= 1.25)")


if __name__ == "__main__":
    main()
