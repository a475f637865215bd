"""The Lambda package as `sam build` makes it (src/Makefile, BuildMethod makefile): its size
zipped and unzipped, and what it must not carry (boto3, botocore and the X-Ray SDK come with
the runtime or the Powertools layer). Goal: at most 5 MB zipped for each function (both
functions are the same package). Prints figures; it is not a timed test.
Run: .venv/bin/python bench/package.py
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main()
