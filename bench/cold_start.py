"""Cold start: importing the handler and building its first EC2 client, against a bare
`import boto3; boto3.client("ec2")`, side by side in one run, in fresh interpreters.

Goal: at most 1.25 times the bare figure. Prints medians of several runs, with tracing off (the
template's default) and on, for our modules as `make build` ships them (bytecode compiled with
unchecked hashes, which Lambda's read-only /var/task can use) and compiled from source at every
start (a package without bytecode). Prints figures; it is not a timed test.
Run: .venv/bin/python bench/cold_start.py
"""

from __future__ import annotations

import compileall
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

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
    source = Path(__file__).resolve().parent.parent / "src" / "offhours"
    with tempfile.TemporaryDirectory() as shipped, tempfile.TemporaryDirectory() as plain:
        # As `make build` ships the package: with bytecode that needs no source timestamps.
        shutil.copytree(source, Path(shipped) / "offhours", ignore=_no_cache)
        compileall.compile_dir(
            Path(shipped) / "offhours",
            quiet=1,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        # Without bytecode: compiled from source at every start (nothing is written).
        shutil.copytree(source, Path(plain) / "offhours", ignore=_no_cache)
        variants = {
            "built, tracing off": {**traced_off, "PYTHONPATH": shipped},
            "built, tracing on": {**traced_on, "PYTHONPATH": shipped},
            "no bytecode, tracing off": {**traced_off, "PYTHONPATH": plain},
        }
        samples: dict[str, list[float]] = {"bare": [], **{k: [] for k in variants}}
        for _ in range(RUNS):  # interleaved, so that machine noise hits all alike
            samples["bare"].append(once(BARE, base))
            for key, env in variants.items():
                samples[key].append(once(OURS, env))
    bare = statistics.median(samples["bare"])
    print(f"median of {RUNS} fresh interpreters, seconds")
    print(f"  bare boto3 + client               {bare:.3f}")
    for key in variants:
        value = statistics.median(samples[key])
        print(f"  handler, {key:<24} {value:.3f}   ratio {value / bare:.2f} (goal <= 1.25)")


def _no_cache(_: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__"]


if __name__ == "__main__":
    main()
