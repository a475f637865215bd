"""The SAM template agrees with the code: catalogue, state tag, environment, IAM policy."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from offhours.catalog import default_catalog_text
from offhours.override import override_tag_key
from offhours.state import fingerprint_tag_key, state_tag_key

ROOT = Path(__file__).resolve().parent.parent


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _tag)


def template() -> Any:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)


def test_the_stack_ships_the_same_catalogue_as_the_package():
    resources = template()["Resources"]
    params = [r for r in resources.values() if r["Type"] == "AWS::SSM::Parameter"]
    assert len(params) == 1
    assert params[0]["Properties"]["Value"] == default_catalog_text()


def environment_of(name: str) -> dict[str, Any]:
    """A function's environment as SAM makes it: the Globals' variables and its own."""
    document = template()
    shared = document["Globals"]["Function"]["Environment"]["Variables"]
    own = document["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


def test_the_function_gets_the_environment_the_code_reads():
    resources = template()["Resources"]
    function = resources["OffhoursFunction"]["Properties"]
    variables = environment_of("OffhoursFunction")
    for name in (
        "SCHEDULE_TAG_KEY",
        "DEFAULT_TIMEZONE",
        "REGIONS",
        "DRY_RUN",
        "TARGET_ACCOUNTS",
        "MEMBER_ROLE_NAME",
        "MEMBER_EXTERNAL_ID",
        "CATALOG_PARAMETER",
        "FANOUT_QUEUE_URL",
        "POWERTOOLS_SERVICE_NAME",
    ):
        assert name in variables, name
    assert function["Handler"] == "offhours.handler.lambda_handler"
    assert template()["Globals"]["Function"]["CodeUri"] == "src/"
    assert "CodeUri" not in function


def member() -> Any:
    return yaml.load((ROOT / "member.yaml").read_text(), Loader=_Loader)


def _ec2_policy_with(tag_key: str, document: Any = None) -> Any:
    """The EC2 policy as IAM gets it: the main stack's ReconcilePolicy (without its statement on
    the catalogue, which lives in the main account only), or the member role's `ec2` policy."""
    document = template() if document is None else document
    bodies = [
        resource["Properties"]["PolicyDocument"]["Sub"]
        for name, resource in document["Resources"].items()
        if name == "ReconcilePolicy"
    ] + [
        policy["PolicyDocument"]["Sub"]
        for resource in document["Resources"].values()
        for policy in resource.get("Properties", {}).get("Policies", [])
        if isinstance(policy, dict) and policy.get("PolicyName") == "ec2"
    ]
    assert len(bodies) == 1, "one EC2 policy document"
    body = bodies[0].replace("${TagKey}", tag_key).replace("${AWS::Partition}", "aws")
    body = body.replace("${AWS::Region}", "us-east-1").replace("${CatalogParameter}", "/c")
    policy = json.loads(body.replace("${AWS::AccountId}", "123456789012"))
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "ReadCatalog"]
    return policy


@pytest.mark.parametrize("document", [template, member], ids=["template", "member"])
def test_the_policy_lets_offhours_write_only_its_own_state_tag(document):
    policy = _ec2_policy_with("Schedule", document())
    statements = {s.get("Sid"): s for s in policy["Statement"]}
    tagging = statements["WriteStateTag"]
    assert tagging["Action"] == "ec2:CreateTags"
    allowed = tagging["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
    assert allowed == [
        state_tag_key("Schedule"),
        fingerprint_tag_key("Schedule"),
        override_tag_key("Schedule"),  # to pin an override's instant
    ]
    # ForAllValues holds for a request that names no key at all: Null rules that out.
    assert tagging["Condition"]["Null"] == {
        "aws:ResourceTag/Schedule": "false",
        "aws:TagKeys": "false",
    }
    removing = statements["RemoveStateTag"]
    assert removing["Action"] == "ec2:DeleteTags"
    assert removing["Condition"] == {
        "Null": {"aws:TagKeys": "false"},
        "ForAllValues:StringEquals": {
            "aws:TagKeys": [
                state_tag_key("Schedule"),
                fingerprint_tag_key("Schedule"),
                override_tag_key("Schedule"),  # an override that is over
            ]
        },
    }
    start_stop = statements["StartStopScheduled"]
    assert start_stop["Condition"] == {"Null": {"aws:ResourceTag/Schedule": "false"}}
    assert "ec2:DescribeSpotInstanceRequests" in statements["Read"]["Action"]


def test_the_member_policy_is_the_functions_policy():
    assert _ec2_policy_with("Env", member()) == _ec2_policy_with("Env", template())


def test_the_member_stack_agrees_with_the_main_stack_on_shared_parameters():
    main, mem = template()["Parameters"], member()["Parameters"]
    assert "Transform" not in member()
    for name in ("TagKey", "KmsKeyArns"):
        assert {k: v for k, v in mem[name].items() if k != "Description"} == {
            k: v for k, v in main[name].items() if k != "Description"
        }, name
    for mine, theirs in (("MemberRoleName", "MemberRoleName"), ("ExternalId", "MemberExternalId")):
        assert mem[mine]["Default"] == main[theirs]["Default"]
        assert mem[mine]["AllowedPattern"] == main[theirs]["AllowedPattern"]
    assert mem["ExternalId"]["NoEcho"] is True and main["MemberExternalId"]["NoEcho"] is True


def test_only_the_scheduler_role_may_assume_the_member_role():
    document = member()
    role = document["Resources"]["MemberRole"]["Properties"]
    assert role["RoleName"] == {"Ref": "MemberRoleName"}
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {
        "AWS": {
            "If": [
                "HasWorkerRole",
                [{"Ref": "SchedulerRoleArn"}, {"Ref": "WorkerRoleArn"}],
                {"Ref": "SchedulerRoleArn"},
            ]
        }
    }
    assert statement["Condition"] == {
        "If": [
            "HasExternalId",
            {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert document["Conditions"]["HasExternalId"] == {
        "Not": [{"Equals": [{"Ref": "ExternalId"}, ""]}]
    }
    pattern = re.compile(document["Parameters"]["SchedulerRoleArn"]["AllowedPattern"])
    assert pattern.match("arn:aws:iam::123456789012:role/offhours-eu-west-1-offhours")
    assert pattern.match("arn:aws-us-gov:iam::123456789012:role/path/offhours")
    assert not pattern.match("arn:aws:iam::123456789012:root")
    assert not pattern.match("arn:aws:iam::123456789012:user/alice")
    assert not pattern.match("*")


def test_the_member_stack_trusts_the_roles_the_main_stack_outputs():
    document = template()
    resources = document["Resources"]
    role = resources["OffhoursRole"]["Properties"]
    assert role["RoleName"] == {"Sub": "${AWS::StackName}-${AWS::Region}-offhours"}
    worker = resources["WorkerRole"]["Properties"]
    assert worker["RoleName"] == {"Sub": "${AWS::StackName}-${AWS::Region}-worker"}
    assert document["Outputs"]["SchedulerRoleArn"]["Value"] == {"GetAtt": "OffhoursRole.Arn"}
    assert document["Outputs"]["WorkerRoleArn"]["Value"] == {"GetAtt": "WorkerRole.Arn"}
    assert resources["OffhoursFunction"]["Properties"]["Role"] == {"GetAtt": "OffhoursRole.Arn"}
    assert resources["OffhoursWorkerFunction"]["Properties"]["Role"] == {"GetAtt": "WorkerRole.Arn"}
    pattern = re.compile(member()["Parameters"]["WorkerRoleArn"]["AllowedPattern"])
    assert pattern.match("") and pattern.match("arn:aws:iam::123456789012:role/offhours-worker")
    assert not pattern.match("*")


def test_the_fan_out_resources_exist_only_with_fan_out():
    document = template()
    resources = document["Resources"]
    assert document["Conditions"]["IsFanOut"] == {"Equals": [{"Ref": "FanOut"}, "true"]}
    for name in (
        "TargetQueue",
        "TargetDeadLetterQueue",
        "OffhoursWorkerFunction",
        "DeadLetterAlarm",
        "WorkerErrorsAlarm",
    ):
        assert resources[name]["Condition"] == "IsFanOut", name
    for name in ("TargetQueueUrl", "TargetDeadLetterQueueUrl", "WorkerFunctionName"):
        assert document["Outputs"][name]["Condition"] == "IsFanOut", name
    for name in ("TargetQueue", "TargetDeadLetterQueue"):
        queue = resources[name]["Properties"]
        assert queue["FifoQueue"] is True and queue["ContentBasedDeduplication"] is False
        assert queue["SqsManagedSseEnabled"] is True
    scheduler = resources["OffhoursFunction"]["Properties"]["Environment"]["Variables"]
    assert scheduler["FANOUT_QUEUE_URL"] == {"If": ["IsFanOut", {"Ref": "TargetQueue"}, ""]}


def test_the_worker_runs_the_same_package_and_reports_batch_item_failures():
    resources = template()["Resources"]
    worker = resources["OffhoursWorkerFunction"]["Properties"]
    for key in ("CodeUri", "Runtime", "Architectures", "LoggingConfig", "Tracing", "MemorySize"):
        assert key not in worker, key  # from Globals, as the scheduler's
    assert worker["Handler"] == "offhours.worker.lambda_handler"
    assert "ReservedConcurrentExecutions" not in worker
    expected = environment_of("OffhoursFunction")
    del expected["FANOUT_QUEUE_URL"]
    assert environment_of("OffhoursWorkerFunction") == expected
    (event,) = worker["Events"].values()
    assert event["Type"] == "SQS"
    properties = event["Properties"]
    assert properties["Queue"] == {"GetAtt": "TargetQueue.Arn"}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= properties["BatchSize"] <= 10
    assert properties["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}


def test_failed_targets_go_to_the_dead_letter_queue_after_three_receives():
    resources = template()["Resources"]
    queue = resources["TargetQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"GetAtt": "TargetDeadLetterQueue.Arn"},
        "maxReceiveCount": 3,
    }
    assert resources["TargetDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    alarm = resources["DeadLetterAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"GetAtt": "TargetDeadLetterQueue.QueueName"}}
    ]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_visibility_timeout_is_six_times_the_workers_timeout():
    document = template()
    queue = document["Resources"]["TargetQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == {
        "FindInMap": ["WorkerTimeouts", {"Ref": "WorkerTimeoutSeconds"}, "VisibilityTimeout"]
    }
    worker = document["Resources"]["OffhoursWorkerFunction"]["Properties"]
    assert worker["Timeout"] == {"Ref": "WorkerTimeoutSeconds"}
    allowed = document["Parameters"]["WorkerTimeoutSeconds"]["AllowedValues"]
    mapping = document["Mappings"]["WorkerTimeouts"]
    assert sorted(int(k) for k in mapping) == sorted(allowed)
    for timeout in allowed:
        assert mapping[str(timeout)]["VisibilityTimeout"] == 6 * timeout


def test_the_queue_is_written_by_the_scheduler_and_read_by_the_worker():
    resources = template()["Resources"]
    policies = resources["OffhoursRole"]["Properties"]["Policies"]
    (fan_out,) = [p["If"] for p in policies if "If" in p and p["If"][0] == "IsFanOut"]
    (sends,) = fan_out[1]["PolicyDocument"]["Statement"]
    assert sends["Action"] == "sqs:SendMessage"
    assert sends["Resource"] == {"GetAtt": "TargetQueue.Arn"}
    worker = resources["WorkerRole"]["Properties"]["Policies"]
    worker_policies = {p["PolicyName"]: p for p in worker if "PolicyName" in p}
    (consumes,) = worker_policies["consume"]["PolicyDocument"]["Statement"]
    assert set(consumes["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    assert consumes["Resource"] == {"GetAtt": "TargetQueue.Arn"}
    assert "sqs:SendMessage" not in json.dumps(resources["WorkerRole"])


# -- issue 8: trust, least privilege, silence alarmed -----------------------------------------


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


PARAMS = {"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "MemberRoleName": "m"}


@pytest.mark.parametrize(
    ("accounts", "allowed", "refused"),
    [
        ("111111111111", ["111111111111"], ["222222222222", "123456789012"]),
        (
            "111111111111,222222222222,333333333333",
            ["111111111111", "222222222222", "333333333333"],
            ["444444444444"],
        ),
    ],
)
def test_assume_role_reaches_the_member_role_of_target_accounts_only(accounts, allowed, refused):
    resource = template()["Resources"]["AssumeMemberPolicy"]
    assert resource["Condition"] == "HasTargetAccounts"
    document = resolve(
        resource["Properties"]["PolicyDocument"], {**PARAMS, "TargetAccounts": accounts}
    )
    statements = {s["Sid"]: s for s in document["Statement"]}
    allow, deny = statements["MemberRole"], statements["OnlyTargetAccounts"]
    assert allow["Effect"] == "Allow" and allow["Resource"] == "arn:aws:iam::*:role/m"
    assert deny["Effect"] == "Deny" and deny["Action"] == allow["Action"] == "sts:AssumeRole"

    def may_assume(account: str, role: str = "m") -> bool:
        arn = f"arn:aws:iam::{account}:role/{role}"
        matches_allow = fnmatch.fnmatchcase(arn, allow["Resource"])
        denied = not any(fnmatch.fnmatchcase(arn, pattern) for pattern in deny["NotResource"])
        return matches_allow and not denied

    for account in allowed:
        assert may_assume(account), account
        assert not may_assume(account, role="admin")
    for account in refused:
        assert not may_assume(account), account


def test_kms_grants_are_for_ec2_on_behalf_of_aws_resources_only():
    for document in (template(), member()):
        text = json.dumps(document)
        assert text.count('"kms:ViaService": "ec2.*.amazonaws.com"') == 1
        assert text.count('"kms:GrantIsForAWSResource": true') == 1


def test_the_audit_trail_outlives_the_stack():
    group = template()["Resources"]["OffhoursLogGroup"]
    assert group["DeletionPolicy"] == "Retain"
    assert group["UpdateReplacePolicy"] == "Retain"


def test_only_the_scheduler_may_send_to_the_queue_and_only_over_tls():
    resources = template()["Resources"]
    policy = resources["TargetQueuePolicy"]
    assert policy["Condition"] == "IsFanOut"
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    others = statements["OnlyTheSchedulerSends"]
    assert others["Effect"] == "Deny" and others["Principal"] == "*"
    assert others["Action"] == "sqs:SendMessage"
    assert others["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": {"GetAtt": "OffhoursRole.Arn"}}
    }
    tls = statements["TlsOnly"]
    assert tls["Effect"] == "Deny" and tls["Action"] == "sqs:*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    dead = resources["TargetDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in dead] == ["TlsOnly"]


def test_the_scheduler_does_not_reconcile_with_fan_out_so_it_holds_no_ec2_rights_then():
    resources = template()["Resources"]
    for name in ("ReconcilePolicy", "KmsPolicy", "AssumeMemberPolicy"):
        roles = resources[name]["Properties"]["Roles"]
        assert roles == [{"If": ["IsFanOut", {"Ref": "WorkerRole"}, {"Ref": "OffhoursRole"}]}]
    assert "ec2:" not in json.dumps(resources["OffhoursRole"])
    assert "ec2:" not in json.dumps(resources["WorkerRole"])


def test_silence_is_alarmed_by_a_heartbeat_and_deferred_targets():
    resources = template()["Resources"]
    heartbeat = resources["HeartbeatAlarm"]["Properties"]
    assert heartbeat["MetricName"] == "failed"  # every run that reconciled puts it, zeros too
    assert heartbeat["Statistic"] == "SampleCount"
    assert heartbeat["Period"] * heartbeat["EvaluationPeriods"] == 15 * 60
    assert heartbeat["ComparisonOperator"] == "LessThanThreshold" and heartbeat["Threshold"] == 1
    assert heartbeat["TreatMissingData"] == "breaching"
    deferred = resources["DeferredTargetsAlarm"]["Properties"]
    assert deferred["MetricName"] == "deferred_targets"
    assert deferred["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    for alarm in (heartbeat, deferred):
        assert alarm["Namespace"] == {"Ref": "MetricsNamespace"}
        assert alarm["AlarmActions"] == {
            "If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]
        }


def test_reserved_concurrency_is_a_parameter_that_can_reserve_nothing():
    document = template()
    parameter = document["Parameters"]["ReservedConcurrency"]
    assert parameter["Default"] == "1"
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.match("1") and pattern.match("none") and pattern.match("25")
    assert not pattern.match("0") and not pattern.match("")
    function = document["Resources"]["OffhoursFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }


def test_catalogue_changes_are_mailed_with_the_alarms():
    resources = template()["Resources"]
    rule = resources["CatalogChangedRule"]
    assert rule["Condition"] == "HasAlarmEmail"
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.ssm"]
    assert pattern["detail"] == {"name": [{"Ref": "CatalogParameter"}]}
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": "AlarmTopic"}
    statements = resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Principal"] == {"Service": "events.amazonaws.com"} for s in statements)


def test_the_package_carries_no_tracing_sdk_and_tracing_brings_the_powertools_layer():
    document = template()
    function = document["Globals"]["Function"]
    assert function["Layers"]["If"][0] == "IsTracingActive"
    (arn,) = function["Layers"]["If"][1]
    assert "AWSLambdaPowertoolsPythonV3-python313-arm64:${PowertoolsLayerVersion}" in arn["Sub"]
    assert function["Layers"]["If"][2] == {"Ref": "AWS::NoValue"}
    requirements = (ROOT / "src" / "requirements.txt").read_text()
    lines = [x.split("#")[0].strip() for x in requirements.splitlines()]
    wanted = [x for x in lines if x]
    assert not any(x.startswith(("boto3", "botocore", "aws-xray-sdk")) for x in wanted)
    assert not any("[" in x for x in wanted), "no extras (tracer would bring the X-Ray SDK)"
    for name in ("OffhoursFunction", "OffhoursWorkerFunction"):
        assert document["Resources"][name]["Metadata"] == {"BuildMethod": "makefile"}
    makefile = (ROOT / "src" / "Makefile").read_text()
    assert "build-OffhoursFunction build-OffhoursWorkerFunction:" in makefile


def test_detailed_metrics_and_memory_are_parameters_the_functions_read():
    document = template()
    assert document["Globals"]["Function"]["MemorySize"] == {"Ref": "MemorySize"}
    variables = document["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["DETAILED_METRICS"] == {"Ref": "DetailedMetrics"}
    assert document["Parameters"]["DetailedMetrics"]["Default"] == "false"


def test_waiting_queue_messages_are_alarmed_with_fan_out():
    alarm = template()["Resources"]["QueueAgeAlarm"]
    assert alarm["Condition"] == "IsFanOut"
    assert alarm["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Properties"]["Threshold"] == 900


def test_notices_go_to_the_default_bus_with_offhours_as_source_and_by_mail_if_asked():
    document = template()
    resources = document["Resources"]
    policy = resources["NoticePolicy"]
    assert policy["Condition"] == "HasNotices"
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"]["Sub"].endswith(":event-bus/default")
    assert statement["Condition"] == {"StringEquals": {"events:source": "offhours"}}
    rule = resources["NoticeRule"]
    assert rule["Condition"] == "HasNoticeEmail"
    assert rule["Properties"]["EventPattern"] == {
        "source": ["offhours"],
        "detail-type": ["Instance Stop Pending"],
    }
    variables = document["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["NOTICE_MINUTES"] == {"Ref": "NoticeMinutes"}
    assert variables["MAX_OVERRIDE_HOURS"] == {"Ref": "MaxOverrideHours"}
    assert document["Parameters"]["NoticeMinutes"]["Default"] == 0
    assert document["Parameters"]["MaxOverrideHours"]["Default"] == 168
