"""The manual as a whole: the front page (README.md) stays a front page, the site's navigation
holds every page of docs/ and nothing else, and the command-line page is the parser's.

The site itself is built by `make test` (`mkdocs build --strict`, after pytest): a broken link or
anchor between pages, an absolute link or a page left out of the nav fails there. What the pages
say (commands, JSON shapes, the notice and Slack examples, the IAM table, the SCP) is checked in
test_readme.py, test_rights.py and test_scp.py, over README.md and every page (tests/manual.py)."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType
from typing import Any

import yaml
from markdown.extensions.toc import slugify

from tests import manual

ROOT = manual.ROOT
DOCS = manual.DOCS
README_LINES = 250
# A Markdown link's target: [text](target) or [text](target "title"), not an image's.
_LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav() -> list[str]:
    """The pages mkdocs.yml's nav names, in order (a section's pages in place)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def walk(entry: Any) -> list[str]:
        if isinstance(entry, str):
            return [entry]
        if isinstance(entry, list):
            return [page for item in entry for page in walk(item)]
        if isinstance(entry, dict):
            return [page for value in entry.values() for page in walk(value)]
        raise AssertionError(f"mkdocs.yml: a nav entry that is not a page: {entry!r}")

    return [page for page in walk(config["nav"]) if "://" not in page]


def _links(page: str) -> list[str]:
    return [m[1] for line in manual.prose(page) for m in _LINK.finditer(line)]


def _anchors(page: str) -> set[str]:
    """The ids of a page's headings: an explicit `{ #id }`, else what the toc extension makes."""
    ids = set()
    for line in manual.prose(page):
        if not line.startswith("#"):
            continue
        explicit = re.search(r"\{[^}]*#([\w-]+)[^}]*\}\s*$", line)
        if explicit:
            ids.add(explicit[1])
            continue
        title = re.sub(r"[`*_]", "", line.lstrip("#").strip().rstrip("#").strip())
        ids.add(slugify(title, "-"))
    for attribute in re.findall(r"\{[^}\n]*#([\w-]+)[^}\n]*\}", manual.PAGES[page]):
        ids.add(attribute)  # an id given to any other element
    return ids


# --- the front page -----------------------------------------------------------------------------


def test_the_readme_is_a_front_page_not_the_manual():
    lines = manual.PAGES["README.md"].count("\n")
    assert lines <= README_LINES, (
        f"README.md has {lines} lines, more than {README_LINES}: move sections into docs/"
    )


def test_the_readme_keeps_the_two_commands_of_a_fresh_clone():
    commands = {
        line.split("#")[0].strip()
        for block in manual.page_blocks("README.md", "sh")
        for line in block.splitlines()
    }
    assert {"make demo", "make test"} <= commands, "README.md: `make demo` and `make test`"


def test_every_relative_link_of_the_readme_resolves():
    """On GitHub the README links into docs/ by file: each such page (and anchor) exists."""
    checked = 0
    for target in _links("README.md"):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # https:, mailto:; the README's own headings are GitHub's to resolve
        path, _, anchor = target.partition("#")
        resolved = (ROOT / path).resolve()
        assert resolved.exists(), f"README.md links to {target}: no such file"
        assert ROOT in resolved.parents or resolved == ROOT, f"README.md: {target} leaves the repo"
        if resolved.is_relative_to(DOCS) and resolved.is_file():
            assert resolved.suffix == ".md", f"README.md links to {target}, not a page"
            page = resolved.relative_to(ROOT).as_posix()
            if anchor:
                assert anchor in _anchors(page), f"README.md links to {target}: no such anchor"
        checked += 1
    assert checked >= 5, "the README leads into the manual"


# --- the site -----------------------------------------------------------------------------------


def test_every_page_is_in_the_nav_once_and_the_nav_names_only_pages():
    nav = _nav()
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert len(nav) == len(set(nav)), f"mkdocs.yml names a page twice: {nav}"
    assert sorted(nav) == pages, (
        f"not in mkdocs.yml's nav: {sorted(set(pages) - set(nav))}; "
        f"in the nav but not in docs/: {sorted(set(nav) - set(pages))}"
    )
    assert nav[0] == "index.md", "the site opens on docs/index.md"


def test_every_page_has_one_title():
    for page in manual.PAGES:
        if page.startswith("docs/"):
            levels = [level for level, _ in manual.headings(page)]
            assert levels[:1] == [1] and levels.count(1) == 1, f"{page}: one `# Title`, first"


# --- the command-line page ----------------------------------------------------------------------


def test_the_command_line_page_is_what_the_parser_gives():
    page = DOCS / "cli.md"
    expected = _generator().render()
    written = page.read_text(encoding="utf-8") if page.exists() else ""
    assert written == expected, (
        "docs/cli.md is not what offhours.cli.build_parser() gives: run `make docs` "
        "(or `.venv/bin/python docs/gen_cli.py`) and commit docs/cli.md"
    )


def test_the_command_line_page_names_every_command_and_option():
    from offhours.cli import build_parser

    text = _generator().render()
    parser = build_parser()
    (commands,) = [a for a in parser._actions if hasattr(a, "choices") and a.dest == "command"]
    for name, command in commands.choices.items():
        assert f"## offhours {name} {{ #{name} }}" in text, name
        for action in command._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help") and action.help != "==SUPPRESS==":
                    assert f"`{option}" in text, f"offhours {name} {option}"
