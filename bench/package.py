"""The Lambda package as `sam build` makes it (src/Makefile, BuildMethod makefile): its size
zipped and unzipped, and what it must not carry (boto3, botocore and the X-Ray SDK come with
the runtime or the Powertools layer). Goal: at most 5 MB zipped for each function (both
functions are the same package). Prints figures; it is not a timed test.
Run: .venv/bin/python bench/package.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("boto3", "botocore", "aws_xray_sdk", "wrapt", "s3transfer")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "package"
        subprocess.run(
            ["make", "-s", "-C", str(ROOT / "src"), "package", f"ARTIFACTS_DIR={package}",
             f"PYTHON={sys.executable}"],
            check=True,
        )  # fmt: skip
        files = [p for p in package.rglob("*") if p.is_file()]
        unzipped = sum(p.stat().st_size for p in files)
        archive = Path(tmp) / "function.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                z.write(p, p.relative_to(package))
        tops = sorted({p.relative_to(package).parts[0] for p in files})
        found = [name for name in FORBIDDEN if name in tops]
        bytecode = sum(1 for p in files if p.suffix == ".pyc")
        print("the Lambda package (src/Makefile, as sam build runs it)")
        print(f"  unzipped {unzipped / 2**20:.1f} MiB, zipped {archive.stat().st_size / 2**20:.2f} "
              f"MiB (goal <= 5 MB); {bytecode} bytecode files")  # fmt: skip
        print(f"  carries boto3, botocore, X-Ray SDK, wrapt: {', '.join(found) or 'none'}")
        print(f"  top level: {', '.join(t for t in tops if not t.endswith('.dist-info'))}")
        print(f"  what offhours imports from it, under {_imports(package)}")


IMPORTS = (
    "import offhours.handler, offhours.worker, offhours.notices, offhours.override; "
    "import offhours.resources.ec2, offhours.resources.rds; "
    "from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, "
    "process_partial_response; "
    "from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord; "
    "from aws_lambda_powertools.utilities import parameters; "
    "from offhours.catalog import default_catalog; default_catalog().names(); "
    "from offhours.language import parse_schedule; parse_schedule('start=0 8 * * 1-5'); "
    "from datetime import datetime, UTC; from offhours.timeline import timeline; "
    "s = parse_schedule('Mon-Fri 08:00-18:00 Europe/Berlin holidays=DE-BY'); "
    "days = timeline(s).skipped_between(datetime(2026, 12, 20, tzinfo=UTC), "
    "datetime(2026, 12, 31, tzinfo=UTC)); "
    "print('imports fine; holidays read:', '; '.join(str(d) for d in days))"
)


def _imports(package: Path) -> str:
    """The package's imports, checked under the runtime's Python where this machine has it
    (boto3 from this interpreter stands in for the runtime's SDK)."""
    import shutil

    import boto3

    python = shutil.which("python3.13") or sys.executable
    sdk = str(Path(boto3.__file__).parent.parent)
    env = {
        "PYENV_VERSION": "3.13.0",
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{package}:{sdk}",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [python, "-c", IMPORTS], env=env, capture_output=True, text=True, check=False
    )
    version = subprocess.run([python, "--version"], env=env, capture_output=True, text=True)
    result = done.stdout.strip() or done.stderr.strip().splitlines()[-1]
    return f"{version.stdout.strip()}: {result}"


if __name__ == "__main__":
    main()
