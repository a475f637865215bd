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
    text = render()
    if argv[1:] == ["--check"]:
        if PAGE.exists() and PAGE.read_text(encoding="utf-8") == text:
            return 0
        print(
            f"{PAGE} is out of date: run .venv/bin/python docs/gen_troubleshooting.py",
            file=sys.stderr,
        )
        return 1
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
        PAGE.write_text(text, encoding="utf-8")  # unchanged, untouched: `mkdocs serve` rests
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
