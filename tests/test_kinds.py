"""Kinds are pluggable (issue 18, item 5): a kind is one module in `offhours/resources/` and its
line in `offhours.resources.KINDS`; the modules that plan, apply, notify and run name no kind."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from offhours import config, pace
from offhours.resources import (
    DEFAULT_KINDS,
    KINDS,
    hibernates,
    kind_words,
    make_gateway,
    service_of,
)

SOURCE = Path(__file__).resolve().parent.parent / "src" / "offhours"
KIND = re.compile(r"^(ec2|rds|asg|eks|docdb|neptune)(:[a-z]+)?$")
# Modules outside resources/ that still name kinds, and why. Everything else may not.
STILL_NAMING = {
    "aws.py": "builds boto3 clients by service name (ec2 gets the endpoint's own settings)",
    "demo.py": "builds the demo's fleet of every kind",
    "pricing.py": "the Price List's service codes for RDS's engines (docdb, neptune)",
}


def _names(path: Path) -> list[str]:
    """The kind names a module's code holds: string constants (not docstrings) that are a kind
    or a resource type, and imports of a kind's module."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and KIND.match(node.value)
        ):
            found.append(node.value)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "offhours.resources."
        ):
            found.append(f"import {node.module}")
    return found


def test_no_module_outside_resources_names_a_kind():
    named = {
        path.name: _names(path)
        for path in sorted(SOURCE.glob("*.py"))
        if path.name not in STILL_NAMING
    }
    assert {name: found for name, found in named.items() if found} == {}


def test_the_modules_that_still_name_kinds_do_and_say_why():
    for name in STILL_NAMING:
        assert _names(SOURCE / name), f"{name} names no kind any more: drop it from the list"


def test_every_kind_is_a_module_with_a_gateway_and_its_figures():
    from importlib import import_module

    for name, kind in KINDS.items():
        module = import_module(f"offhours.resources.{kind.module}")
        assert callable(module.gateway), name
        assert (name, "*") in pace.LIMITS, name
        for resource_type in kind.words:
            assert kind_words(resource_type) == kind.words[resource_type]
            assert service_of(resource_type) == kind.service
    assert tuple(KINDS) == config.RESOURCE_KINDS
    assert DEFAULT_KINDS == ("ec2", "rds")  # Auto Scaling groups only where RESOURCES says so
    assert hibernates("ec2:instance") and not hibernates("rds:db")
    assert callable(make_gateway)


@pytest.mark.parametrize(
    ("resource", "kind"),
    [
        ("i-0123456789abcdef0", "ec2"),
        ("arn:aws:rds:eu-west-1:123456789012:db:dev", "rds"),
        ("arn:aws:rds:eu-west-1:123456789012:cluster:docs", "rds"),
        (
            "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:"
            "8e1a2b3c-0000-4000-8000-000000000000:autoScalingGroupName/web",
            "asg",
        ),
        ("arn:aws:eks:eu-west-1:123456789012:nodegroup/dev/workers/1ac2-33", "eks"),
        ("web", None),
        ("arn:aws:s3:::bucket", None),
        ("i-xyz", None),
    ],
)
def test_the_command_line_knows_each_kind_by_its_ids_and_no_id_by_two(resource, kind):
    from offhours.resources import kind_of_id

    assert kind_of_id(resource) == kind
    matching = [n for n, k in KINDS.items() if re.fullmatch(k.ids, resource)]
    assert len(matching) == (kind is not None)
