"""Cold start: importing the handler and building its first EC2 client, against a bare
`import boto3; boto3.client("ec2")`, side by side in fresh interpreters, interleaved.

As Lambda runs it: the package that `sam build` makes (src/Makefile, built here into a
temporary folder: the wheels for python3.13, bytecode compiled with unchecked hashes) on top of
a boto3 of its own with bytecode (the runtime's SDK), under python3.13 when it is on this
machine (else this interpreter, with offhours from src/). Also the same with tracing on (the
X-Ray SDK as the Powertools layer brings it). Goal: at most 1.15 times the bare figure with
tracing off. Medians of several runs. Prints figures; it is not a timed test.
Run: .venv/bin/python bench/cold_start.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 21
BARE = "import boto3; boto3.client('ec2')"
OURS = "import offhours.handler; from offhours import runtime; runtime.clients.ec2('us-east-1')"
TIMER = "import time; t = time.perf_counter(); exec({code!r}); print(time.perf_counter() - t)"


def python313() -> str | None:
    found = shutil.which("python3.13")
    env = {**os.environ, "PYENV_VERSION": "3.13.0"}
    if found is None:
        return None
    probe = subprocess.run(
        [found, "-c", "import sys; print(sys.executable)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() or None if probe.returncode == 0 else None


def once(python: str, code: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [python, "-c", TIMER.format(code=code)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def install(python: str, target: Path, *packages: str) -> None:
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(target), *packages],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         str(target)],
        check=True,
    )  # fmt: skip


def main() -> None:
    python = python313() or sys.executable
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    base.update(
        PYENV_VERSION="3.13.0",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONDONTWRITEBYTECODE="1",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sdk, package, layer = work / "sdk", work / "package", work / "layer"
        install(python, sdk, "boto3")
        built = subprocess.run(
            ["make", "-s", "-C", str(ROOT / "src"), "package",
             f"ARTIFACTS_DIR={package}", f"PYTHON={sys.executable}", f"PY313={python}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if built.returncode != 0:
            print("the package could not be built here; measuring src/ instead")
            package = ROOT / "src"
        install(python, layer, "aws-xray-sdk")
        variants = {
            "bare boto3 + client": (BARE, {**base, "PYTHONPATH": str(sdk)}),
            "handler, tracing off": (OURS, {**base, "PYTHONPATH": f"{package}:{sdk}"}),
            "handler, tracing on": (
                OURS,
                {
                    **base,
                    "PYTHONPATH": f"{package}:{layer}:{sdk}",
                    "POWERTOOLS_TRACE_DISABLED": "false",
                    "AWS_LAMBDA_FUNCTION_NAME": "bench",
                    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
                },
            ),
        }
        samples: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(RUNS):  # interleaved, so that machine noise hits all alike
            for key, (code, env) in variants.items():
                samples[key].append(once(python, code, env))
    bare = statistics.median(samples["bare boto3 + client"])
    version = subprocess.run([python, "--version"], capture_output=True, text=True).stdout
    print(f"cold start, median of {RUNS} fresh interpreters ({version.strip()}), seconds")
    for key in variants:
        value = statistics.median(samples[key])
        goal = " (goal <= 1.15)" if key == "handler, tracing off" else ""
        print(f"  {key:<22} {value:.3f}   ratio {value / bare:.2f}{goal}")


if __name__ == "__main__":
    main()
