"""The SAM template agrees with the code: catalogue, state tag, environment, IAM policy."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest

from offhours.catalog import default_catalog_text
from offhours.override import override_tag_key
from offhours.state import fingerprint_tag_key, state_tag_key
from tests.policies import (
    allowed as _allowed,
    holds as _holds,
    inline_policies as _inline_policies,
    listed as _listed,
    member,
    reconciling_policies as _reconciling_policies,
    resolve,
    stack_params as _stack_params,
    template,
)

ROOT = Path(__file__).resolve().parent.parent


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
        "RESOURCES",
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
    assert variables["RESOURCES"] == {"Ref": "Resources"}
    assert function["Handler"] == "offhours.handler.lambda_handler"
    assert template()["Globals"]["Function"]["CodeUri"] == "src/"
    assert "CodeUri" not in function


# The managed policy of the main stack and the inline policy of the member role that hold the
# rights on each kind of resource, and the condition (on Resources) that creates them.
_KIND_POLICIES = {
    "ec2": ("ReconcilePolicy", "ec2", "SchedulesEc2"),
    "rds": ("RdsPolicy", "rds", "SchedulesRds"),
    "asg": ("AsgPolicy", "asg", "SchedulesAsg"),
    "eks": ("EksPolicy", "eks", "SchedulesEks"),
}


def _policy_body(kind: str, document: Any) -> str:
    """The !Sub text of the kind's policy: the main stack's managed policy or the member role's
    inline policy, whichever the document has (exactly one)."""
    managed, inline, _ = _KIND_POLICIES[kind]
    bodies = [
        resource["Properties"]["PolicyDocument"]["Sub"]
        for name, resource in document["Resources"].items()
        if name == managed
    ] + [
        policy["PolicyDocument"]["Sub"]
        for resource in document["Resources"].values()
        for _, policy in _inline_policies(resource)
        if policy.get("PolicyName") == inline
    ]
    assert len(bodies) == 1, f"one {kind} policy document"
    return bodies[0]


def _kind_policy_with(kind: str, tag_key: str, document: Any = None) -> Any:
    """The kind's policy as IAM gets it, for the schedule tag key `tag_key`."""
    document = template() if document is None else document
    body = _policy_body(kind, document).replace("${TagKey}", tag_key)
    body = body.replace("${AWS::Partition}", "aws")
    return json.loads(body.replace("${AWS::AccountId}", "123456789012"))


def _ec2_policy_with(tag_key: str, document: Any = None) -> Any:
    """The EC2 policy as IAM gets it: the main stack's ReconcilePolicy (the catalogue is read
    through CatalogPolicy, in the main account only), or the member role's `ec2` policy."""
    return _kind_policy_with("ec2", tag_key, document)


def _rds_policy_with(tag_key: str, document: Any = None) -> Any:
    """The RDS and Aurora policy: the main stack's RdsPolicy, or the member role's `rds`."""
    return _kind_policy_with("rds", tag_key, document)


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
    assert _rds_policy_with("Env", member()) == _rds_policy_with("Env", template())


def test_the_member_stack_agrees_with_the_main_stack_on_shared_parameters():
    main, mem = template()["Parameters"], member()["Parameters"]
    assert "Transform" not in member()
    for name in ("TagKey", "Resources", "KmsKeyArns"):
        assert {k: v for k, v in mem[name].items() if k != "Description"} == {
            k: v for k, v in main[name].items() if k != "Description"
        }, name
    for mine, theirs in (("MemberRoleName", "MemberRoleName"), ("ExternalId", "MemberExternalId")):
        assert mem[mine]["Default"] == main[theirs]["Default"]
        assert mem[mine]["AllowedPattern"] == main[theirs]["AllowedPattern"]
    assert mem["ExternalId"]["NoEcho"] is True and main["MemberExternalId"]["NoEcho"] is True
    for name in ("SchedulesEc2", "SchedulesRds", "HasKmsKeys", "HasEc2KmsKeys"):
        assert member()["Conditions"][name] == template()["Conditions"][name], name


def test_only_the_role_that_reconciles_may_assume_the_member_role():
    """The scheduler's role, or with FanOut only the worker's (the scheduler then only puts
    messages on the queue)."""
    document = member()
    role = document["Resources"]["MemberRole"]["Properties"]
    assert role["RoleName"] == {"Ref": "MemberRoleName"}
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"] == {
        "AWS": {"If": ["HasWorkerRole", {"Ref": "WorkerRoleArn"}, {"Ref": "SchedulerRoleArn"}]}
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
    managed = [n for n, r in resources.items() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert {"CatalogPolicy", "ReconcilePolicy", "RdsPolicy", "KmsPolicy"} <= set(managed)
    for name in managed:
        roles = resources[name]["Properties"]["Roles"]
        assert roles == [{"If": ["IsFanOut", {"Ref": "WorkerRole"}, {"Ref": "OffhoursRole"}]}]
    for role in ("OffhoursRole", "WorkerRole"):
        text = json.dumps(resources[role])
        assert "ec2:" not in text and "rds:" not in text and "tag:" not in text, role


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
    assert statement["Condition"] == {
        "StringEquals": {
            "events:source": "offhours",
            "events:detail-type": "Instance Stop Pending",
        }
    }
    rule = resources["NoticeRule"]
    assert rule["Condition"] == "HasNoticeEmail"
    assert rule["Properties"]["EventPattern"] == {
        "account": [{"Ref": "AWS::AccountId"}],
        "source": ["offhours"],
        "detail-type": ["Instance Stop Pending"],
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["InputPath"] == "$.detail.text" and "InputTransformer" not in target
    variables = document["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["NOTICE_MINUTES"] == {"Ref": "NoticeMinutes"}
    assert variables["MAX_OVERRIDE_HOURS"] == {"Ref": "MaxOverrideHours"}
    assert document["Parameters"]["NoticeMinutes"]["Default"] == 0
    assert document["Parameters"]["MaxOverrideHours"]["Default"] == 168


# -- RDS and Aurora (DESIGN 8): least privilege, and a Resources parameter --------------------


@pytest.mark.parametrize("document", [template, member], ids=["template", "member"])
def test_the_rds_policy_starts_stops_and_tags_only_scheduled_databases(document):
    policy = _rds_policy_with("Schedule", document())
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert set(statements) == {"Read", "StartStopScheduled", "WriteStateTag", "RemoveStateTag"}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    databases = [
        "arn:aws:rds:*:123456789012:db:*",
        "arn:aws:rds:*:123456789012:cluster:*",
    ]
    read = statements["Read"]
    # The tagging API and DescribeEvents have no resource types; the Describe calls list all.
    assert set(read["Action"]) == {
        "tag:GetResources",
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
        "rds:DescribeEvents",
    }
    assert read["Resource"] == "*" and "Condition" not in read
    start_stop = statements["StartStopScheduled"]
    assert set(start_stop["Action"]) == {
        "rds:StartDBInstance",
        "rds:StopDBInstance",
        "rds:StartDBCluster",
        "rds:StopDBCluster",
    }
    assert start_stop["Resource"] == databases
    assert start_stop["Condition"] == {"Null": {"aws:ResourceTag/Schedule": "false"}}
    own_keys = [
        state_tag_key("Schedule"),
        fingerprint_tag_key("Schedule"),
        override_tag_key("Schedule"),
    ]
    tagging = statements["WriteStateTag"]
    assert tagging["Action"] == "rds:AddTagsToResource"
    assert tagging["Resource"] == databases
    assert tagging["Condition"] == {
        "Null": {"aws:ResourceTag/Schedule": "false", "aws:TagKeys": "false"},
        "ForAllValues:StringEquals": {"aws:TagKeys": own_keys},
    }
    removing = statements["RemoveStateTag"]
    assert removing["Action"] == "rds:RemoveTagsFromResource"
    assert removing["Resource"] == databases
    assert removing["Condition"] == {
        "Null": {"aws:TagKeys": "false"},
        "ForAllValues:StringEquals": {"aws:TagKeys": own_keys},
    }
    # Exactly these actions, and nothing with a wildcard.
    actions = [a for s in statements.values() for a in _listed(s["Action"])]
    assert len(actions) == 10 and not any("*" in a for a in actions)


DB = "arn:aws:rds:eu-west-1:123456789012:db:reporting"
CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:analytics"
SNAPSHOT = "arn:aws:rds:eu-west-1:123456789012:snapshot:before-upgrade"
INSTANCE = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0"
SCHEDULED = {"Schedule": "office-hours", "Owner": "data"}
HANDLED = "Schedule:offhours-handled"


@pytest.mark.parametrize("document", [template, member], ids=["template", "member"])
@pytest.mark.parametrize(
    ("action", "resource", "tags", "keys", "allowed"),
    [
        # Start and stop: only what carries the schedule tag.
        ("rds:StopDBInstance", DB, {"Owner": "data"}, None, False),
        ("rds:StopDBInstance", DB, SCHEDULED, None, True),
        ("rds:StartDBInstance", DB, SCHEDULED, None, True),
        ("rds:StopDBCluster", CLUSTER, SCHEDULED, None, True),
        ("rds:StartDBCluster", CLUSTER, {}, None, False),
        ("rds:StopDBInstance", DB.replace("123456789012", "999999999999"), SCHEDULED, None, False),
        ("rds:StopDBInstance", SNAPSHOT, SCHEDULED, None, False),
        ("rds:DeleteDBInstance", DB, SCHEDULED, None, False),
        ("rds:RebootDBInstance", DB, SCHEDULED, None, False),
        # Writing tags: only offhours' own keys, only on what carries the schedule tag.
        ("rds:AddTagsToResource", DB, SCHEDULED, ["Schedule"], False),
        ("rds:AddTagsToResource", DB, SCHEDULED, [HANDLED], True),
        ("rds:AddTagsToResource", CLUSTER, SCHEDULED, [HANDLED, "Schedule:override"], True),
        ("rds:AddTagsToResource", DB, SCHEDULED, [HANDLED, "Owner"], False),
        ("rds:AddTagsToResource", DB, {"Owner": "data"}, [HANDLED], False),
        ("rds:AddTagsToResource", DB, SCHEDULED, None, False),  # no keys named: Null refuses
        # Removing tags: only offhours' own keys, from any database of the account.
        ("rds:RemoveTagsFromResource", DB, SCHEDULED, ["Owner"], False),
        ("rds:RemoveTagsFromResource", DB, SCHEDULED, ["Schedule"], False),
        ("rds:RemoveTagsFromResource", DB, {}, [HANDLED, "Schedule:offhours-fingerprint"], True),
        ("rds:RemoveTagsFromResource", CLUSTER, SCHEDULED, None, False),
        # Reading: everything, the tagging API included.
        ("tag:GetResources", "*", None, None, True),
        ("rds:DescribeDBInstances", "*", None, None, True),
        ("rds:DescribeEvents", "*", None, None, True),
        ("tag:TagResources", "*", None, None, False),
    ],
)
def test_the_rds_policy_refuses_what_it_must(document, action, resource, tags, keys, allowed):
    policy = _rds_policy_with("Schedule", document())
    assert _allowed([policy], action, resource, tags, keys) is allowed


@pytest.mark.parametrize(
    ("action", "resource", "tags", "keys", "allowed"),
    [
        ("ec2:StopInstances", INSTANCE, {}, None, False),
        ("ec2:StopInstances", INSTANCE, SCHEDULED, None, True),
        ("ec2:CreateTags", INSTANCE, SCHEDULED, ["Schedule"], False),
        ("ec2:CreateTags", INSTANCE, SCHEDULED, [HANDLED], True),
        ("ec2:DeleteTags", INSTANCE, {}, ["Owner"], False),
        ("rds:StopDBInstance", DB, SCHEDULED, None, False),  # the EC2 policy grants no RDS right
    ],
)
def test_the_ec2_policy_refuses_what_it_must(action, resource, tags, keys, allowed):
    policy = _ec2_policy_with("Schedule")
    assert _allowed([policy], action, resource, tags, keys) is allowed


def test_resources_is_a_parameter_whose_conditions_name_the_kinds():
    for document in (template(), member()):
        parameter = document["Parameters"]["Resources"]
        assert parameter["Default"] == "ec2,rds"
        values = parameter["AllowedValues"]
        assert values[:3] == ["ec2,rds", "ec2", "rds"]  # the values of before, first
        kinds = ["ec2", "rds", "asg", "eks"]
        every = {
            ",".join(k for k in kinds if k in chosen)
            for n in range(1, 5)
            for chosen in __import__("itertools").combinations(kinds, n)
        }
        assert set(values) == every and len(values) == len(every)
        for kind, (_, _, condition) in _KIND_POLICIES.items():
            assert '{"Ref": "Resources"}' in json.dumps(document["Conditions"][condition])
            for value in parameter["AllowedValues"]:
                params = _stack_params(document, Resources=value)
                assert _holds(document, condition, params) is (kind in value.split(","))
    resources = template()["Resources"]
    assert resources["ReconcilePolicy"]["Condition"] == "SchedulesEc2"
    assert resources["RdsPolicy"]["Condition"] == "SchedulesRds"
    assert resources["AsgPolicy"]["Condition"] == "SchedulesAsg"
    assert resources["EksPolicy"]["Condition"] == "SchedulesEks"
    assert resources["KmsPolicy"]["Condition"] == "HasEc2KmsKeys"
    assert "Condition" not in resources["CatalogPolicy"]
    inline = {p["PolicyName"]: c for c, p in _inline_policies(member()["Resources"]["MemberRole"])}
    assert inline == {
        "ec2": "SchedulesEc2",
        "rds": "SchedulesRds",
        "asg": "SchedulesAsg",
        "eks": "SchedulesEks",
        "kms-ebs": "HasEc2KmsKeys",
    }


CATALOG = "arn:aws:ssm:eu-west-1:123456789012:parameter/offhours/offhours/catalog"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"


@pytest.mark.parametrize("fan_out", ["false", "true"])
@pytest.mark.parametrize("kinds", ["ec2,rds", "ec2", "rds", "ec2,rds,asg,eks", "asg", "eks"])
@pytest.mark.parametrize("document", [template, member], ids=["template", "member"])
def test_resources_grants_the_rights_of_its_kinds_only(document, kinds, fan_out):
    stack = document()
    main = "MemberRole" not in stack["Resources"]
    params = _stack_params(stack, Resources=kinds, FanOut=fan_out, KmsKeyArns=[KEY])
    policies = _reconciling_policies(stack, params)
    ec2, rds = "ec2" in kinds.split(","), "rds" in kinds.split(",")
    asg = "asg" in kinds.split(",")
    group = (
        "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:"
        "00000000-0000-0000-0000-000000000000:autoScalingGroupName/web"
    )
    size = "Schedule:offhours-size"
    assert _allowed(policies, "autoscaling:DescribeAutoScalingGroups", "*") is asg
    assert _allowed(policies, "autoscaling:UpdateAutoScalingGroup", group, SCHEDULED) is asg
    assert _allowed(policies, "autoscaling:UpdateAutoScalingGroup", group, {}) is False
    assert _allowed(policies, "autoscaling:CreateOrUpdateTags", group, SCHEDULED, [size]) is asg
    assert _allowed(policies, "autoscaling:CreateOrUpdateTags", group, SCHEDULED, ["x"]) is False
    assert _allowed(policies, "autoscaling:DeleteTags", group, {}, [HANDLED]) is asg
    eks = "eks" in kinds.split(",")
    nodegroup = "arn:aws:eks:eu-west-1:123456789012:nodegroup/c/ng/0"
    assert _allowed(policies, "eks:ListClusters", "*") is eks
    assert _allowed(policies, "eks:UpdateNodegroupConfig", nodegroup, SCHEDULED) is eks
    assert _allowed(policies, "eks:UpdateNodegroupConfig", nodegroup, {}) is False
    assert _allowed(policies, "eks:TagResource", nodegroup, SCHEDULED, [size]) is eks
    assert _allowed(policies, "eks:TagResource", nodegroup, SCHEDULED, ["x"]) is False
    assert _allowed(policies, "ec2:DescribeInstances", "*") is ec2
    assert _allowed(policies, "ec2:StopInstances", INSTANCE, SCHEDULED) is ec2
    assert _allowed(policies, "ec2:CreateTags", INSTANCE, SCHEDULED, [HANDLED]) is ec2
    through_ec2 = {
        "kms:GrantIsForAWSResource": ["true"],
        "kms:ViaService": ["ec2.eu-west-1.amazonaws.com"],
    }
    assert _allowed(policies, "kms:CreateGrant", KEY, context=through_ec2) is ec2
    through_rds = {**through_ec2, "kms:ViaService": ["rds.eu-west-1.amazonaws.com"]}
    assert _allowed(policies, "kms:CreateGrant", KEY, context=through_rds) is False
    assert _allowed(policies, "tag:GetResources", "*") is rds
    assert _allowed(policies, "rds:StopDBInstance", DB, SCHEDULED) is rds
    assert _allowed(policies, "rds:StopDBCluster", CLUSTER, SCHEDULED) is rds
    assert _allowed(policies, "rds:AddTagsToResource", DB, SCHEDULED, [HANDLED]) is rds
    assert _allowed(policies, "rds:RemoveTagsFromResource", DB, {}, [HANDLED]) is rds
    # The catalogue is read in the main account (only) whatever offhours schedules.
    assert _allowed(policies, "ssm:GetParameter", CATALOG) is main
