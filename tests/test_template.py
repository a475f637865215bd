"""The SAM template agrees with the code: catalogue, state tag, environment, IAM policy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from offhours.catalog import default_catalog_text
from offhours.instance import state_tag_key

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


def test_the_function_gets_the_environment_the_code_reads():
    resources = template()["Resources"]
    function = resources["OffhoursFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
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
    assert function["CodeUri"] == "src/"


def member() -> Any:
    return yaml.load((ROOT / "member.yaml").read_text(), Loader=_Loader)


def _ec2_policy_with(tag_key: str, document: Any = None) -> Any:
    document = template() if document is None else document
    for resource in document["Resources"].values():
        for policy in resource.get("Properties", {}).get("Policies", []):
            if isinstance(policy, dict) and policy.get("PolicyName") == "ec2":
                body = policy["PolicyDocument"]["Sub"]
                body = body.replace("${TagKey}", tag_key).replace("${AWS::Partition}", "aws")
                return json.loads(body.replace("${AWS::AccountId}", "123456789012"))
    raise AssertionError("the EC2 policy document was not found")


@pytest.mark.parametrize("document", [template, member], ids=["template", "member"])
def test_the_policy_lets_offhours_write_only_its_own_state_tag(document):
    policy = _ec2_policy_with("Schedule", document())
    statements = {s.get("Sid"): s for s in policy["Statement"]}
    tagging = statements["WriteStateTag"]
    assert tagging["Action"] == "ec2:CreateTags"
    allowed = tagging["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
    assert allowed == [state_tag_key("Schedule")]
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
    assert statement["Principal"] == {"AWS": {"Ref": "SchedulerRoleArn"}}
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


def test_the_member_stack_trusts_the_role_the_main_stack_outputs():
    resources = template()["Resources"]
    role = resources["OffhoursRole"]["Properties"]
    assert role["RoleName"] == {"Sub": "${AWS::StackName}-${AWS::Region}-offhours"}
    assert template()["Outputs"]["SchedulerRoleArn"]["Value"] == {"GetAtt": "OffhoursRole.Arn"}
    for name in ("OffhoursFunction", "OffhoursWorkerFunction"):
        assert resources[name]["Properties"]["Role"] == {"GetAtt": "OffhoursRole.Arn"}, name


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


def test_the_worker_runs_the_same_code_and_reports_batch_item_failures():
    resources = template()["Resources"]
    scheduler = resources["OffhoursFunction"]["Properties"]
    worker = resources["OffhoursWorkerFunction"]["Properties"]
    for key in ("CodeUri", "Handler", "Runtime", "Architectures", "LoggingConfig", "Tracing"):
        assert worker[key] == scheduler[key], key
    assert "ReservedConcurrentExecutions" not in worker
    expected = dict(scheduler["Environment"]["Variables"])
    del expected["FANOUT_QUEUE_URL"]
    assert worker["Environment"]["Variables"] == expected
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
    policies = template()["Resources"]["OffhoursRole"]["Properties"]["Policies"]
    (fan_out,) = [p["If"] for p in policies if "If" in p and p["If"][0] == "IsFanOut"]
    statements = {s["Sid"]: s for s in fan_out[1]["PolicyDocument"]["Statement"]}
    assert statements["SchedulerEnqueues"]["Action"] == "sqs:SendMessage"
    assert set(statements["WorkerConsumes"]["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    for statement in statements.values():
        assert statement["Resource"] == {"GetAtt": "TargetQueue.Arn"}
