"""What the page generators of docs/ share (gen_cli.py, gen_troubleshooting.py): write the page
they render, or check that the committed one is what they would write."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(page: Path, text: str, argv: list[str], usage: str) -> int:
    """`script` writes `page` (left untouched when it holds `text` already, so that `mkdocs
    serve` rests); `script --check` exits 1 when it does not. Anything else prints `usage`."""
    script = Path(argv[0]).name
    if argv[1:] == ["--check"]:
        if page.exists() and page.read_text(encoding="utf-8") == text:
            return 0
        print(f"{page} is out of date: run .venv/bin/python docs/{script}", file=sys.stderr)
        return 1
    if argv[1:]:
        print(usage, file=sys.stderr)
        return 2
    if not page.exists() or page.read_text(encoding="utf-8") != text:
        page.write_text(text, encoding="utf-8")
    return 0
