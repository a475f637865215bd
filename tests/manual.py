"""The manual's text, for the tests that keep it true: README.md and every page of docs/.

The tests read examples, tables and sections from the manual as a whole, not from one file, so a
section can move between the README and the pages (or between pages) without breaking them.
What must stay on the front page is checked in tests/test_docs.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _read() -> dict[str, str]:
    pages = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    for path in sorted(DOCS.glob("*.md")):
        pages[path.relative_to(ROOT).as_posix()] = path.read_text(encoding="utf-8")
    return pages


# Path (from the repository's root) -> text, README.md first.
PAGES: dict[str, str] = _read()

# A fenced code block: ```lang, optionally with attributes (```sh title="x"), optionally indented
# (inside an admonition or a list); it ends at a fence of the same indentation.
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)(?P<attrs>[ \t][^\n]*)?\n"
    r"(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*(?:\{[^}]*\})?[ \t]*#*[ \t]*$")


def text() -> str:
    """Every page, joined."""
    return "\n\n".join(PAGES.values())


def _dedent(body: str, indent: str) -> str:
    return "".join(
        line[len(indent) :] if line.startswith(indent) else line
        for line in body.splitlines(keepends=True)
    )


def page_blocks(page: str, language: str) -> list[str]:
    """The fenced code blocks of one page in one language, in order, each ending in a newline."""
    return [
        _dedent(m["body"], m["indent"])
        for m in _FENCE.finditer(PAGES[page])
        if m["lang"] == language
    ]


def blocks(language: str) -> list[str]:
    """The fenced code blocks in one language (`sh`, `json`, ...) of every page, in order."""
    return [block for page in PAGES for block in page_blocks(page, language)]


def example(language: str, where: Callable[[str], bool]) -> str:
    """The one example (a code block in `language` for which `where` holds) that a test checks.
    The manual may show it on more than one page, but then as the same text everywhere."""
    found = [block for block in blocks(language) if where(block)]
    pages = [p for p in PAGES for block in page_blocks(p, language) if where(block)]
    assert found, f"no {language} block of that kind in the manual"
    assert len(set(found)) == 1, f"{len(found)} different {language} blocks of that kind: {pages}"
    return found[0]


def prose(page: str) -> list[str]:
    """A page's lines outside code blocks (a `# comment` in a shell block is not a heading)."""
    body = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), PAGES[page])
    return body.splitlines()


def headings(page: str) -> list[tuple[int, str]]:
    """A page's headings, (level, title), an explicit `{ #anchor }` left off."""
    found = []
    for line in prose(page):
        match = _HEADING.match(line)
        if match:
            found.append((len(match[1]), match[2]))
    return found


def section(title: str) -> str:
    """The text under the one heading (of any level, on any page) titled `title`, to the next
    heading of the same or a higher level."""
    found = []
    for page in PAGES:
        lines = PAGES[page].splitlines()
        outside = prose(page)
        for i, line in enumerate(outside):
            match = _HEADING.match(line)
            if match and match[2] == title:
                level, end = len(match[1]), len(lines)
                for j in range(i + 1, len(outside)):
                    other = _HEADING.match(outside[j])
                    if other and len(other[1]) <= level:
                        end = j
                        break
                found.append("\n".join(lines[i + 1 : end]))
    assert len(found) == 1, f"{len(found)} headings titled {title!r} in the manual"
    return found[0]


def tables(body: str | None = None) -> list[list[list[str]]]:
    """The Markdown tables of `body` (default: every page), each a list of rows, each a list of
    cells as written (stripped), the header first, the `---` line left out."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*(text() if body is None else body).splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found
