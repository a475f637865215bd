"""The SAM template agrees with the code: catalogue, state tag, environment, IAM policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
        "CATALOG_PARAMETER",
        "POWERTOOLS_SERVICE_NAME",
    ):
        assert name in variables, name
    assert function["Handler"] == "offhours.handler.lambda_handler"
    assert function["CodeUri"] == "src/"


def _ec2_policy_with(tag_key: str) -> Any:
    for resource in template()["Resources"].values():
        for policy in resource.get("Properties", {}).get("Policies", []):
            if isinstance(policy, dict) and policy.get("PolicyName") == "ec2":
                body = policy["PolicyDocument"]["Sub"]
                body = body.replace("${TagKey}", tag_key).replace("${AWS::Partition}", "aws")
                return json.loads(body.replace("${AWS::AccountId}", "123456789012"))
    raise AssertionError("the EC2 policy document was not found")


def test_the_policy_lets_offhours_write_only_its_own_state_tag():
    policy = _ec2_policy_with("Schedule")
    statements = {s.get("Sid"): s for s in policy["Statement"]}
    tagging = statements["WriteStateTag"]
    assert tagging["Action"] == "ec2:CreateTags"
    allowed = tagging["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
    assert allowed == [state_tag_key("Schedule")]
    start_stop = statements["StartStopScheduled"]
    assert start_stop["Condition"] == {"Null": {"aws:ResourceTag/Schedule": "false"}}
    assert "ec2:DescribeSpotInstanceRequests" in statements["Read"]["Action"]
