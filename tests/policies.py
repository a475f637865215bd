"""The stack's IAM policies as IAM receives them, read from `template.yaml` and `member.yaml`
for any parameters (conditions, Fn::If, Ref, Sub, Join, Split), and an evaluator of IAM's rules
for the operators they use. Shared by the template tests, the rights test (every action the
code calls is granted), the IAM-enforcing endpoint and the README's service control policy
test (`tests/test_scp.py`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


class Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


Loader.add_multi_constructor("!", _tag)


def template() -> Any:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)


def member() -> Any:
    return yaml.load((ROOT / "member.yaml").read_text(), Loader=Loader)


def inline_policies(resource: Any) -> list[tuple[str | None, Any]]:
    """A role's inline policies with the condition each depends on: `- !If [Cond, policy,
    !Ref AWS::NoValue]` in the list gives (Cond, policy), a plain entry (None, policy)."""
    found = []
    for entry in resource.get("Properties", {}).get("Policies", []):
        if "If" in entry:
            condition, policy, otherwise = entry["If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            found.append((condition, policy))
        else:
            found.append((None, entry))
    return found


def resolve(node: Any, params: dict[str, Any]) -> Any:
    """Enough of CloudFormation's intrinsics (Ref, Sub, Join, Split) to read a document as
    IAM receives it for the given parameters."""
    if isinstance(node, list):
        return [resolve(n, params) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return params[node["Ref"]]
    if set(node) == {"Sub"}:
        body = node["Sub"]
        variables = dict(params)
        if isinstance(body, list):
            body, extra = body
            variables.update({k: resolve(v, params) for k, v in extra.items()})
        return re.sub(r"\$\{([\w:]+)\}", lambda m: str(variables[m.group(1)]), body)
    if set(node) == {"Join"}:
        delimiter, parts = node["Join"]
        assert isinstance(delimiter, str), "a Join's delimiter must be a literal"
        return delimiter.join(resolve(parts, params))
    if set(node) == {"Split"}:
        delimiter, text = node["Split"]
        return resolve(text, params).split(delimiter)
    return {k: resolve(v, params) for k, v in node.items()}


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard(pattern: str, text: str, *, ignore_case: bool = False) -> bool:
    """IAM's matching of an action, a resource or a StringLike value: `*` any run of
    characters, `?` any one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ArnLike (and ArnEquals, which is the same): each of the six colon-separated parts
    of the ARN matched on its own, case-sensitively, `*` and `?` within a part only."""
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(given) == 6 and all(map(wildcard, wanted, given))


def condition_holds(operator: str, key: str, wanted: Any, context: dict[str, list[str]]) -> bool:
    """One condition key of one operator, as IAM evaluates it, for the operators the policies
    (and the README's service control policy) use. `context` maps each key present in the
    request to its values. A negated operator holds when the key is absent, as in IAM."""
    values = [str(v) for v in listed(wanted)]
    present = context.get(key)
    if operator == "Null":
        (flag,) = values
        return (present is None) == (flag == "true")
    if operator == "StringEquals":
        return present is not None and any(v in values for v in present)
    if operator == "StringLike":
        return present is not None and any(wildcard(w, v) for v in present for w in values)
    if operator == "Bool":
        flags = [w.lower() for w in values]
        return present is not None and any(v.lower() in flags for v in present)
    if operator == "ForAllValues:StringEquals":
        return all(v in values for v in present or [])  # true for no values: Null guards that
    if operator == "ForAnyValue:StringEquals":
        return any(v in values for v in present or [])  # false for no values
    if operator in ("ArnLike", "ArnEquals"):
        return present is not None and any(arn_like(w, v) for v in present for w in values)
    if operator in ("ArnNotLike", "ArnNotEquals"):
        return not any(arn_like(w, v) for v in present or [] for w in values)
    raise AssertionError(f"the evaluator does not know {operator}")


def allowed(
    policies: list[Any],
    action: str,
    resource: str,
    resource_tags: dict[str, str] | None = None,
    tag_keys: list[str] | None = None,
    context: dict[str, list[str]] | None = None,
) -> bool:
    """Whether identity policies allow a request as IAM decides it: an explicit Deny that
    applies refuses it; otherwise an Allow that applies grants it; otherwise it is refused
    (an implicit deny). `tag_keys` are the keys a tagging request names, `context` any other
    condition keys of the request."""
    context = dict(context or {})
    context.update({f"aws:ResourceTag/{k}": [v] for k, v in (resource_tags or {}).items()})
    if tag_keys is not None:
        context["aws:TagKeys"] = list(tag_keys)
    granted = False
    for policy in policies:
        for statement in listed(policy["Statement"]):
            if not _applies(statement, action, resource, context):
                continue
            if statement["Effect"] == "Deny":
                return False
            granted = True
    return granted


def _applies(statement: Any, action: str, resource: str, context: dict[str, list[str]]) -> bool:
    """Whether a statement's Action (or NotAction), Resource (or NotResource) and conditions
    all match the request."""
    if "NotAction" in statement:
        if any(wildcard(a, action, ignore_case=True) for a in listed(statement["NotAction"])):
            return False
    elif not any(wildcard(a, action, ignore_case=True) for a in listed(statement["Action"])):
        return False
    if "NotResource" in statement:
        if any(wildcard(r, resource) for r in listed(statement["NotResource"])):
            return False
    elif not any(wildcard(r, resource) for r in listed(statement["Resource"])):
        return False
    conditions = statement.get("Condition", {})
    return all(
        condition_holds(operator, key, wanted, context)
        for operator, block in conditions.items()
        for key, wanted in block.items()
    )


_NO_VALUE = object()


def realize(node: Any, document: Any, params: dict[str, Any]) -> Any:
    """A template fragment as CloudFormation makes it for the given parameters: conditions,
    Fn::If (AWS::NoValue drops the entry), Ref, Sub, Join, Split; GetAtt gives a placeholder."""
    if isinstance(node, list):
        items = [realize(n, document, params) for n in node]
        return [i for i in items if i is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Ref" and argument == "AWS::NoValue":
            return _NO_VALUE
        if function == "If":
            condition, yes, no = argument
            return realize(yes if holds(document, condition, params) else no, document, params)
        if function == "Condition":
            return holds(document, argument, params)
        if function == "Equals":
            left, right = (realize(a, document, params) for a in argument)
            return str(left) == str(right)
        if function == "Not":
            (inner,) = argument
            return not realize(inner, document, params)
        if function == "And":
            return all(realize(a, document, params) for a in argument)
        if function == "Or":
            return any(realize(a, document, params) for a in argument)
        if function == "GetAtt":
            return f"<{argument}>"
        if function in ("Ref", "Sub", "Join", "Split"):
            return resolve(node, params)
    items = {k: realize(v, document, params) for k, v in node.items()}
    return {k: v for k, v in items.items() if v is not _NO_VALUE}


def holds(document: Any, condition: str, params: dict[str, Any]) -> bool:
    return bool(realize(document["Conditions"][condition], document, params))


def stack_params(document: Any, **given: Any) -> dict[str, Any]:
    """The parameters' defaults, overridden by `given`, with the pseudo parameters and what a
    Ref of the resources the policies name returns."""
    params = {name: p.get("Default", "") for name, p in document["Parameters"].items()}
    for name, p in document["Parameters"].items():
        if p["Type"] == "CommaDelimitedList":
            params[name] = str(params[name]).split(",")
    params.update(
        {
            "AWS::Partition": "aws",
            "AWS::AccountId": "123456789012",
            "AWS::Region": "eu-west-1",
            "AWS::StackName": "offhours",
            "CatalogParameter": "/offhours/offhours/catalog",
            "OffhoursRole": "scheduler-role",
            "WorkerRole": "worker-role",
            "SchedulerRoleArn": "arn:aws:iam::111122223333:role/scheduler-role",
        }
    )
    params.update(given)
    return params


def policy_document(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


def reconciling_policies(document: Any, params: dict[str, Any]) -> list[Any]:
    """The IAM policies that the role which reconciles gets for these parameters: in the main
    stack the scheduler's role (the worker's with FanOut), its inline policies and the managed
    policies that exist and are attached to it; in the member stack the member role's."""
    resources = document["Resources"]
    if "MemberRole" in resources:
        role_name = "MemberRole"
    else:
        role_name = "WorkerRole" if holds(document, "IsFanOut", params) else "OffhoursRole"
    return role_policies(document, params, role_name)


def role_policies(document: Any, params: dict[str, Any], role_name: str) -> list[Any]:
    """The IAM policies of one role of the stack (its logical id) for these parameters: its
    inline policies and the managed policies that exist and are attached to it; none when the
    role itself does not exist for these parameters."""
    resources = document["Resources"]
    role = resources.get(role_name)
    if role is None or (role.get("Condition") and not holds(document, role["Condition"], params)):
        return []
    policies = []
    for name, resource in resources.items():
        condition = resource.get("Condition")
        if condition is not None and not holds(document, condition, params):
            continue
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            properties = realize(resource["Properties"], document, params)
            if params[role_name] in properties["Roles"]:
                policies.append(policy_document(properties["PolicyDocument"]))
        elif name == role_name:
            inline = realize(resource["Properties"]["Policies"], document, params)
            policies += [policy_document(p["PolicyDocument"]) for p in inline]
    return policies
