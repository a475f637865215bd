"""Writes docs/cli.md, the manual's page on the command line, from `offhours.cli.build_parser()`.

    .venv/bin/python docs/gen_cli.py           # write docs/cli.md (`make docs` runs this)
    .venv/bin/python docs/gen_cli.py --check   # exit 1 if docs/cli.md is not what it would write

The page is rendered from the parser's actions, not from argparse's help text, so it does not
change with the Python version or the terminal's width. tests/test_docs.py checks that the
committed page is what this writes, so a new option or a changed help text shows up there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "cli.md"
WIDTH = 88  # the usage lines' width in the page's code blocks

INTRO = """\
`make install` puts the `offhours` command in `.venv/bin/`; `pip install .` puts it wherever
pip installs scripts. It reads and changes only what your own AWS credentials allow (the
Lambda function does the scheduling: the command line is for checking tag values, seeing what a
run would do, overrides, the demo and reports). Every command takes `-h` or `--help`.
"""


def _escape(text: str) -> str:
    """Help text as Markdown that shows it as written, fit for a table cell."""
    for char in "\\`*_[]<|":
        text = text.replace(char, "\\" + char)
    return text


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    if "%" in text:
        text = text % {**vars(action), "prog": prog}
    if not text and action.const is not None:  # a bare store_const: say what it sets
        text = f"the {action.dest}: {action.const}"
    return text


def _name(action: argparse.Action) -> str:
    metavar = action.metavar if isinstance(action.metavar, str) else None
    if not action.option_strings:
        return metavar or action.dest
    return metavar or action.dest.upper()


def _argument(action: argparse.Action) -> str:
    """How an argument is written: `--until TIME`, `--apply`, `instance [instance ...]`."""
    name = _name(action)
    if action.option_strings:
        flag = action.option_strings[-1]
        return flag if action.nargs == 0 else f"{flag} {name}"
    if action.nargs == "+":
        return f"{name} [{name} ...]"
    if action.nargs == "*":
        return f"[{name} ...]"
    return name


def _shown(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
    ]


def _exclusive(parser: argparse.ArgumentParser) -> list[list[argparse.Action]]:
    return [
        [a for a in group._group_actions if a.help != argparse.SUPPRESS]
        for group in parser._mutually_exclusive_groups
    ]


def _usage(prog: str, parser: argparse.ArgumentParser) -> str:
    """The synopsis, argparse's way: options first, then positionals; wrapped at WIDTH."""
    groups = _exclusive(parser)
    grouped = {id(a): g for g in groups for a in g}
    parts: list[str] = []
    done: set[int] = set()
    actions = _shown(parser)
    for action in [a for a in actions if a.option_strings] + [
        a for a in actions if not a.option_strings
    ]:
        if id(action) in done:
            continue
        group = grouped.get(id(action))
        if group is not None:
            done.update(id(a) for a in group)
            parts.append("[" + " | ".join(_argument(a) for a in group) + "]")
        elif (not action.required) if action.option_strings else action.nargs == "?":
            parts.append(f"[{_argument(action)}]")
        else:
            parts.append(_argument(action))
    lines = [prog]
    indent = " " * (len(prog) + 1)
    for part in parts:
        if len(lines[-1]) + 1 + len(part) > WIDTH and lines[-1].strip():
            lines.append(indent + part)
        else:
            lines[-1] += " " + part
    return "\n".join(lines)


def _commands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help or "" for choice in sub._choices_actions}
    return [(name, helps.get(name, ""), command) for name, command in sub.choices.items()]


def _section(name: str, summary: str, parser: argparse.ArgumentParser) -> list[str]:
    prog = f"offhours {name}"
    out = [f"## offhours {name} {{ #{name} }}", ""]
    if summary:
        out += [_escape(summary[0].upper() + summary[1:]) + ".", ""]
    out += ["```text", _usage(prog, parser), "```", ""]
    actions = _shown(parser)
    if actions:
        out += ["| Argument | What it does |", "| --- | --- |"]
        for action in actions:
            text = _escape(_help(action, prog))
            notes = []
            if not action.option_strings and action.nargs == "?":
                notes.append("optional")
            if isinstance(action, argparse._AppendAction) and "repeat" not in text:
                notes.append("repeat it for more")
            if action.required and action.option_strings:
                notes.append("required")
            if notes:
                text = f"{text} ({'; '.join(notes)})" if text else "; ".join(notes)
            out.append(f"| `{_argument(action)}` | {text} |")
        out.append("")
    for group in _exclusive(parser):
        flags = ", ".join(f"`{a.option_strings[-1]}`" for a in group)
        out += [f"At most one of {flags}.", ""]
    return out


def render() -> str:
    from offhours import cli

    parser = cli.build_parser()
    commands = _commands(parser)
    out = [
        "# The command line",
        "",
        "<!-- Generated from offhours.cli.build_parser() by docs/gen_cli.py: do not edit;",
        "     `make docs` (or `.venv/bin/python docs/gen_cli.py`) writes it again. -->",
        "",
        _escape(parser.description or ""),
        "",
        INTRO,
        "```text",
        "offhours COMMAND [ARGUMENTS]",
        "```",
        "",
        "| Command | What it does |",
        "| --- | --- |",
    ]
    out += [f"| [`{name}`](#{name}) | {_escape(summary)} |" for name, summary, _ in commands]
    out += [
        "",
        "## Exit status { #exit-status }",
        "",
        "| Status | Meaning |",
        "| --- | --- |",
        "| 0 | done; for `check`, every value given is valid |",
        f"| {cli.EXIT_AWS} | AWS refused or failed a call (for `run`, an action failed), or an "
        "unexpected error: one line on standard error, never a traceback |",
        f"| {cli.EXIT_INVALID} | an argument or a value that cannot be used: a usage error, an "
        "invalid tag value or catalogue, an override for a resource that is not found or has "
        "no schedule tag |",
        "| 130 | interrupted (Ctrl-C) |",
        "",
    ]
    for name, summary, command in commands:
        out += _section(name, summary, command)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    from generated import write_or_check  # docs/generated.py, beside this script

    return write_or_check(PAGE, render(), argv, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
