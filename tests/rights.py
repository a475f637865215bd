"""Every AWS action the Lambda's code makes, recorded over the whole test session (the demo
included), and checked against the stack's own policies (DESIGN §4, "Rights").

A pytest plugin. botocore's event hooks, installed for every session the process makes
(`botocore.handlers.BUILTIN_HANDLERS`), see each call as the client sends it: its operation, its
parameters, the credentials that sign it. A call is recorded when offhours' own code makes it
(the first frame outside the SDK is in `src/offhours`, or in Powertools, which the code calls)
during a run: while a Lambda entry point runs (`offhours.handler.lambda_handler`,
`offhours.worker.lambda_handler`, which also tells the worker's calls from the scheduler's) or a
test drives the service directly (`offhours.service.run`, whose settings then stand for the
function's), with:
- the stack parameters that the function's environment at that moment stands for
  (`SCHEDULE_TAG_KEY` is `TagKey`, `RESOURCES` is `Resources`, a queue URL is `FanOut`, ...),
- the role that makes it: the scheduler's, the worker's, or a member account's role (a call
  signed with credentials from sts:AssumeRole),
- its resources as ARNs where the action has resource-level rights, with the tags each carried
  at that moment (read from the endpoint's own state, in this process), and the keys a tagging
  call names, and the other condition keys the policies use (events:source,
  events:detail-type).

At the end of the session each distinct call is evaluated against the Allow and Deny
statements of `template.yaml` (or `member.yaml`) resolved for its parameters
(`tests.policies`): a call the stack would refuse fails the run, naming the test that made it.
After a run of the whole suite, the reverse holds too: an action that some resolution of the
stack grants and that no test saw the code call is an error, unless `GRANTED_FOR_AWS` says
which AWS service calls it instead of the code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, wraps
from itertools import product
from pathlib import Path
from typing import Any

import botocore.handlers
import pytest

from tests.policies import allowed, listed, member, role_policies, stack_params, template

ACCOUNT = "123456789012"
# IAM's prefix where it is not the service's signing name.
IAM_PREFIXES = {"tagging": "tag"}
# Operations authorised by another action's right (SQS's batch calls: AWS's SQS API reference).
SAME_RIGHT_AS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
# Actions that need no right at all.
NEEDS_NO_RIGHT = frozenset({"sts:GetCallerIdentity"})
# Granted, yet called by AWS on the function's behalf rather than by its code.
GRANTED_FOR_AWS = {
    "logs:CreateLogStream": "Lambda writes the function's log lines",
    "logs:PutLogEvents": "Lambda writes the function's log lines",
    "xray:PutTraceSegments": "Lambda's X-Ray daemon, with Tracing=Active",
    "xray:PutTelemetryRecords": "Lambda's X-Ray daemon, with Tracing=Active",
    "kms:CreateGrant": "EC2, when it starts an instance whose EBS volume has a customer key",
    "sqs:ReceiveMessage": "Lambda's event source mapping, which feeds the worker",
    "sqs:DeleteMessage": "Lambda's event source mapping, which feeds the worker",
    "sqs:GetQueueAttributes": "Lambda's event source mapping, which feeds the worker",
    "sqs:ChangeMessageVisibility": "Lambda's event source mapping, which feeds the worker",
}


@dataclass(frozen=True)
class Call:
    action: str
    role: str  # OffhoursRole, WorkerRole, MemberRole
    params: tuple[tuple[str, str], ...]
    resources: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (ARN, its tags)
    tag_keys: tuple[str, ...] | None
    context: tuple[tuple[str, tuple[str, ...]], ...]


_entries: list[str] = []  # the Lambda entry points running (a list: one may call the other)
_configs: list[Any] = []  # the settings of the service runs in progress
_test: list[str] = ["(outside a test)"]
CALLS: dict[Call, str] = {}  # each distinct call, with the first test that made it


# -- recording --------------------------------------------------------------------------------


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["offhours_api_params"] = params


def _record(
    model: Any, params: dict[str, Any], request_signer: Any, context: dict[str, Any], **_: Any
) -> None:
    if not (_entries or _configs) or not _made_by_the_code():
        return  # the tests' own calls (setting the scene), not a run's
    prefix = model.service_model.signing_name
    action = f"{IAM_PREFIXES.get(prefix, prefix)}:{model.name}"
    action = SAME_RIGHT_AS.get(action, action)
    if action in NEEDS_NO_RIGHT:
        return
    api_params = context.get("offhours_api_params") or {}
    region = str(context.get("client_region") or "us-east-1")
    credentials = getattr(request_signer, "_credentials", None)
    in_member = getattr(credentials, "method", "") == "sts-assume-role"
    entry = _entries[-1] if _entries else "handler"
    stack, role = _stack_of(entry, in_member, region, action == "sqs:SendMessage")
    resources = tuple((arn, _tags_of(arn)) for arn in _resources(action, api_params, region))
    call = Call(
        action,
        role,
        tuple(sorted(stack.items())),
        resources,
        _tag_keys(action, api_params),
        tuple(sorted(_context_keys(action, api_params).items())),
    )
    CALLS.setdefault(call, _test[-1])


_SDK = ("/botocore/", "/boto3/", "/concurrent/futures/", "/threading.py", __file__)
_SRC = Path(__file__).resolve().parent.parent / "src" / "offhours"
_CODE = (str(_SRC), "aws_lambda_powertools")
# The lab (the local endpoint, the IAM lab, the demo's scene) and the workstation's own calls.
_NOT_THE_FUNCTION = tuple(str(_SRC / name) for name in ("local.py", "demo.py", "cli.py"))


def _made_by_the_code() -> bool:
    """Whether the call comes from offhours' own code (or Powertools, which it calls): the
    first frame outside the SDK (and the thread pool that runs the code's calls) decides."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not any(part in name for part in _SDK):
            if name.startswith(_NOT_THE_FUNCTION):
                return False
            return any(part in name for part in _CODE)
        frame = frame.f_back
    return False


def _stack_of(
    entry: str, in_member: bool, region: str, sending: bool = False
) -> tuple[dict[str, str], str]:
    """The stack parameters that the function's settings stand for, and the role. (A message
    is sent to the queue in fan-out mode only: `sending`.)"""
    from offhours.config import Config, ConfigError

    if _configs:
        config = _configs[-1]  # the service's own settings, however the test made them
    else:
        try:
            config = Config.from_env()
        except ConfigError:
            config = Config.from_env({})
    fan_out = entry == "worker" or bool(config.fanout_queue_url) or sending
    params = {
        "TagKey": config.tag_key,
        "Resources": ",".join(k for k in ("ec2", "rds", "asg", "eks") if k in config.resources),
        "FanOut": "true" if fan_out else "false",
        "NoticeMinutes": str(config.notice_minutes),
        "TargetAccounts": ",".join(config.target_accounts),
        "MemberRoleName": config.member_role_name,
        "CatalogParameter": config.catalog_parameter or "/offhours/offhours/catalog",
        "AWS::Region": region,
    }
    if in_member:
        return params, "MemberRole"
    return params, "WorkerRole" if entry == "worker" else "OffhoursRole"


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _resources(action: str, params: dict[str, Any], region: str) -> list[str]:
    """The ARNs a call acts on, where its action has resource-level rights; "*" otherwise."""
    service, operation = action.split(":", 1)
    if service == "ec2" and operation in ("StartInstances", "StopInstances"):
        return [_arn("ec2", region, f"instance/{i}") for i in params.get("InstanceIds", [])]
    if service == "ec2" and operation in ("CreateTags", "DeleteTags"):
        return [_arn("ec2", region, f"instance/{i}") for i in params.get("Resources", [])]
    if service == "rds" and "DBInstanceIdentifier" in params and not operation.startswith("Desc"):
        return [_arn("rds", region, f"db:{params['DBInstanceIdentifier']}")]
    if service == "rds" and "DBClusterIdentifier" in params and not operation.startswith("Desc"):
        return [_arn("rds", region, f"cluster:{params['DBClusterIdentifier']}")]
    if service == "rds" and "ResourceName" in params:
        return [_local_account(str(params["ResourceName"]))]
    if action == "autoscaling:UpdateAutoScalingGroup":
        return [_group_arn(region, str(params.get("AutoScalingGroupName", "")))]
    if action in ("autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"):
        names = sorted({str(t.get("ResourceId", "")) for t in params.get("Tags", [])})
        return [_group_arn(region, name) for name in names]
    if service == "eks" and operation == "ListNodegroups":
        return [_arn("eks", region, f"cluster/{params.get('clusterName', '')}")]
    if service == "eks" and operation in ("DescribeNodegroup", "UpdateNodegroupConfig"):
        cluster, name = params.get("clusterName", ""), params.get("nodegroupName", "")
        return [_nodegroup_arn(region, str(cluster), str(name))]
    if service == "eks" and operation in ("TagResource", "UntagResource"):
        return [_local_account(str(params.get("resourceArn", "")))]
    if action == "sts:AssumeRole":
        return [str(params.get("RoleArn", ""))]
    if action == "ssm:GetParameter":
        name = str(params.get("Name", ""))
        return [_arn("ssm", region, "parameter" + (name if name.startswith("/") else "/" + name))]
    if service == "events":
        buses = {str(e.get("EventBusName") or "default") for e in params.get("Entries", [])}
        return [_arn("events", region, f"event-bus/{bus}") for bus in sorted(buses)]
    if service == "sqs":
        return ["<TargetQueue.Arn>"]  # the stack's queue, as tests.policies resolves its GetAtt
    return ["*"]


def _group_arn(region: str, name: str) -> str:
    """An Auto Scaling group's ARN (its UUID does not matter to the policies)."""
    uuid = "00000000-0000-0000-0000-000000000000"
    return _arn("autoscaling", region, f"autoScalingGroup:{uuid}:autoScalingGroupName/{name}")


def _nodegroup_arn(region: str, cluster: str, name: str) -> str:
    """An EKS node group's ARN, as moto made it (its UUID), else with a placeholder."""
    try:
        from moto.eks.models import eks_backends

        for account in list(eks_backends):
            backend = eks_backends[account].get(region)
            found = backend.clusters.get(cluster) if backend is not None else None
            if found is not None and name in found.nodegroups:
                return _local_account(str(found.nodegroups[name].arn))
    except Exception:
        pass
    return _arn("eks", region, f"nodegroup/{cluster}/{name}/0")


def _local_account(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) > 4:
        parts[4] = ACCOUNT
    return ":".join(parts)


def _tag_keys(action: str, params: dict[str, Any]) -> tuple[str, ...] | None:
    if action in (
        "ec2:CreateTags",
        "ec2:DeleteTags",
        "rds:AddTagsToResource",
        "autoscaling:CreateOrUpdateTags",
        "autoscaling:DeleteTags",
    ):
        return tuple(str(t.get("Key")) for t in params.get("Tags", []))
    if action == "rds:RemoveTagsFromResource":
        return tuple(str(k) for k in params.get("TagKeys", []))
    if action == "eks:TagResource":
        return tuple(str(k) for k in (params.get("tags") or {}))
    if action == "eks:UntagResource":
        return tuple(str(k) for k in params.get("tagKeys", []))
    return None


def _context_keys(action: str, params: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    if action == "events:PutEvents":
        entries = params.get("Entries", [])
        return {
            "events:source": tuple(sorted({str(e.get("Source")) for e in entries})),
            "events:detail-type": tuple(sorted({str(e.get("DetailType")) for e in entries})),
        }
    return {}


def _tags_of(arn: str) -> tuple[tuple[str, str], ...]:
    """The tags a resource carries now, read from the local endpoint's own state (moto runs in
    this process): no call, so nothing to authorise and nothing recorded."""
    if arn == "*" or not arn.startswith("arn:aws:"):
        return ()
    service, region, resource = arn.split(":")[2], arn.split(":")[3], arn.split(":", 5)[5]
    found: dict[str, str] = {}
    try:
        if service == "ec2":
            from moto.ec2.models import ec2_backends

            instance_id = resource.split("/", 1)[1]
            for account in list(ec2_backends):
                backend = ec2_backends[account].get(region)
                if backend is not None and instance_id in backend.tags:
                    found = dict(backend.tags[instance_id])
                    break
        elif service == "autoscaling":
            from moto.autoscaling.models import autoscaling_backends

            name = resource.split("autoScalingGroupName/", 1)[1]
            for account in list(autoscaling_backends):
                backend = autoscaling_backends[account].get(region)
                group = backend.autoscaling_groups.get(name) if backend is not None else None
                if group is not None:
                    found = {str(t["Key"]): str(t.get("Value", "")) for t in group.tags}
                    break
        elif service == "eks" and resource.startswith("nodegroup/"):
            from moto.eks.models import eks_backends

            _, cluster_name, name = resource.split("/")[:3]
            for account in list(eks_backends):
                backend = eks_backends[account].get(region)
                cluster = backend.clusters.get(cluster_name) if backend is not None else None
                group = cluster.nodegroups.get(name) if cluster is not None else None
                if group is not None:
                    found = {str(k): str(v) for k, v in (group.tags or {}).items()}
                    break
        elif service == "rds":
            from moto.rds.models import rds_backends

            kind, name = resource.split(":", 1)
            for account in list(rds_backends):
                backend = rds_backends[account].get(region)
                if backend is None:
                    continue
                store = backend.databases if kind == "db" else backend.clusters
                item = store.get(name)
                if item is not None:
                    found = {t["Key"]: t["Value"] for t in getattr(item, "tags", []) or []}
                    break
    except Exception:  # the endpoint's internals moved: the conditions are then checked blind
        return ()
    return tuple(sorted(found.items()))


def _entry_point(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(function)
    def entry(*args: Any, **kwargs: Any) -> Any:
        _entries.append(name)
        try:
            return function(*args, **kwargs)
        finally:
            _entries.pop()

    return entry


def install() -> None:
    botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _keep_params))
    botocore.handlers.BUILTIN_HANDLERS.append(("before-call", _record))
    from offhours import handler, worker

    handler.lambda_handler = _entry_point("handler", handler.lambda_handler)
    worker.lambda_handler = _entry_point("worker", worker.lambda_handler)
    from offhours import service

    run = service.run

    @wraps(run)
    def with_settings(config: Any, *args: Any, **kwargs: Any) -> Any:
        _configs.append(config)
        try:
            return run(config, *args, **kwargs)
        finally:
            _configs.pop()

    service.run = with_settings


# -- checking ---------------------------------------------------------------------------------


def refused(call: Call) -> list[str]:
    """What the stack refuses of a call: one line per resource it may not act on."""
    document = member() if call.role == "MemberRole" else template()
    params = stack_params(document, **dict(call.params))
    params["AWS::AccountId"] = ACCOUNT
    policies = role_policies(document, params, call.role)
    problems = []
    for arn, tags in call.resources:
        if not allowed(
            policies,
            call.action,
            arn,
            dict(tags),
            list(call.tag_keys) if call.tag_keys is not None else None,
            {key: list(values) for key, values in call.context},
        ):
            problems.append(
                f"{call.action} on {arn} (tags {dict(tags)}, keys {call.tag_keys}, "
                f"context {dict(call.context)}) by {call.role} with "
                f"{json.dumps(dict(call.params), sort_keys=True)}"
            )
    return problems


def _variants() -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """Every resolution of the stacks that matters to their rights: each role of each stack
    for each value of Resources, FanOut, NoticeMinutes, TargetAccounts, KmsKeyArns and
    Tracing."""
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
    stacks = ((template(), ("OffhoursRole", "WorkerRole")), (member(), ("MemberRole",)))
    for kinds, fan_out, notices, accounts, keys, tracing in product(
        ("ec2,rds", "ec2", "rds", "ec2,rds,asg,eks", "asg", "eks"),
        ("false", "true"),
        (0, 10),
        ("", "111122223333"),
        ([""], [key]),
        ("PassThrough", "Active"),
    ):
        for document, roles in stacks:
            params = stack_params(
                document,
                Resources=kinds,
                FanOut=fan_out,
                NoticeMinutes=notices,
                TargetAccounts=accounts,
                KmsKeyArns=keys,
                Tracing=tracing,
            )
            for role in roles:
                yield document, role, params


@cache
def granted_actions() -> dict[str, str]:
    """Every action that an Allow statement of some resolution grants, with where."""
    found: dict[str, str] = {}
    for document, role, params in _variants():
        for policy in role_policies(document, params, role):
            for statement in listed(policy["Statement"]):
                if statement["Effect"] != "Allow":
                    continue
                for action in listed(statement.get("Action", [])):
                    found.setdefault(str(action), role)
    return found


def never_called(calls: dict[Call, str]) -> list[str]:
    called = {call.action for call in calls}
    return sorted(
        f"{action} (granted to {role})"
        for action, role in granted_actions().items()
        if action not in called and action not in GRANTED_FOR_AWS
    )


# -- the plugin -------------------------------------------------------------------------------

install()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Iterator[None]:
    _test.append(item.nodeid)
    yield
    _test.pop()


def _whole_suite(session: pytest.Session) -> bool:
    """Whether the run was the whole suite: every test of tests/, none deselected or failed."""
    config = session.config
    tests = Path(__file__).resolve().parent
    args = [Path(str(a).split("::")[0]).resolve() for a in config.args]
    return (
        args == [tests]
        and not config.option.keyword
        and not config.option.markexpr
        and session.testsfailed == 0
        and not session.shouldstop
        and os.environ.get("OFFHOURS_RIGHTS_PARTIAL") is None
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    problems = [
        f"{line} (first made by {where})" for call, where in CALLS.items() for line in refused(call)
    ]
    unused = never_called(CALLS) if _whole_suite(session) else []
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = []
    if problems:
        lines.append(f"the stack does not grant {len(problems)} call(s) the code made:")
        lines += [f"  {p}" for p in sorted(problems)]
    if unused:
        lines.append("the stack grants actions that no test saw the code call:")
        lines += [f"  {u}" for u in unused]
    if lines:
        text = "\nRIGHTS (DESIGN §4): " + "\n".join(lines) + "\n"
        if reporter is not None:
            reporter.write_line(text, red=True)
        else:
            print(text)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None and CALLS:
        actions = sorted({call.action for call in CALLS})
        whole = "; every granted action called" if _whole_suite(session) else ""
        reporter.write_line(
            f"rights: {len(CALLS)} distinct calls of {len(actions)} actions, all granted by the "
            f"stack{whole}"
        )
