"""Writes docs/troubleshooting.md, the manual's page of warning and error codes, from
`offhours.codes` (`CODES`, and `troubleshooting_markdown()`).

    .venv/bin/python docs/gen_troubleshooting.py           # write docs/troubleshooting.md
    .venv/bin/python docs/gen_troubleshooting.py --check   # exit 1 if it is not what it writes

tests/test_codes.py checks that the committed page is what this writes, so a new code, or a
changed cause or fix, shows up there: edit src/offhours/codes.py, never the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "troubleshooting.md"


def render() -> str:
    from offhours.codes import troubleshooting_markdown

    return troubleshooting_markdown()


def main(argv: list[str]) -> int:
    from generated import write_or_check  # docs/generated.py, beside this script

    return write_or_check(PAGE, render(), argv, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
