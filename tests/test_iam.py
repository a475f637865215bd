"""The local endpoint enforces IAM with the stack's own policies (DESIGN §4, Rights): a right
missing from template.yaml fails a test as it would fail a deployment.

moto checks that the role's policies name the action (and sign the request); it does not check
resources or conditions (aws:ResourceTag, aws:TagKeys): tests/test_template.py and the rights
test evaluate those statements with `tests.policies.allowed`.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from offhours.local import Credentials, IamLab, moto_readable
from tests import iam as lab
from tests.harness import EARLY, FRIDAY_START


@pytest.fixture
def function_credentials(request: pytest.FixtureRequest, iam_lab: IamLab) -> Credentials:
    """The stack's role, or (parametrized with an action) the same role less that right."""
    missing = getattr(request, "param", None)
    if missing is None:
        return iam_lab.roles[lab.FUNCTION]
    name = "without-" + missing.replace(":", "-")
    return iam_lab.role(name, lab.without(lab.function_policies(), missing))


@pytest.mark.parametrize("function_credentials", ["ec2:DescribeTags"], indirect=True)
def test_a_right_missing_from_the_stack_fails_the_run_as_on_aws(fleet, invoke):
    box = fleet.one(EARLY, handled=FRIDAY_START)
    run = invoke()
    (error,) = run.of_kind("target-error")
    assert error["outcome"] == "failed" and error["region"] == "us-east-1"
    assert "AccessDenied" in error["message"] and "ec2:DescribeTags" in error["message"]
    assert run.result is not None and run.result["failed"] == 1
    assert fleet.state(box) == "running"


def test_the_stacks_own_rights_are_enough_for_the_same_run(fleet, invoke):
    box = fleet.one(EARLY, handled=FRIDAY_START)
    run = invoke()
    assert run.error is None and run.of_kind("target-error") == []
    assert run.summary["failed"] == 0 and run.summary["stopped"] == 1
    assert fleet.state(box) == "stopped"


def test_the_role_carries_exactly_the_stacks_policies_and_nothing_else_gets_in(
    iam_lab, iam, moto_endpoint
):
    admin = boto3.client("iam", region_name="us-east-1", endpoint_url=moto_endpoint.url)
    role = f"{iam_lab.prefix}-{lab.FUNCTION}"
    names = admin.list_role_policies(RoleName=role)["PolicyNames"]
    held = [admin.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names]
    held = [json.loads(d) if isinstance(d, str) else d for d in held]
    assert admin.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert sorted(map(canonical, held)) == sorted(
        canonical(moto_readable(p)) for p in lab.function_policies()
    )
    function = iam.session().client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint.url)
    with pytest.raises(ClientError, match="AccessDenied"):
        function.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    stranger = boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=moto_endpoint.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ClientError, match="AuthFailure"):
        stranger.describe_instances()


def canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True)
