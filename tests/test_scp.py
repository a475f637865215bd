"""The manual's service control policy holds (issue 17, item 7), and the member role trusts only
the role that reconciles (item 8).

The SCP is read from the manual (README.md and the pages of docs/, tests/manual.py) and
evaluated as AWS Organizations evaluates a deny-list SCP: beside AWS's `FullAWSAccess`, a request
passes unless a Deny statement applies, with IAM's rules for actions, resources and condition
operators (`tests/policies.py`). Each way around the policy that the review found is a request
that must be refused; what offhours, the deployers and everybody else legitimately do must
still pass. What an SCP cannot see (service-linked roles, the management account, tags that AWS
copies itself) is not modelled: the manual says so."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from offhours.override import override_tag_key
from offhours.state import fingerprint_tag_key, state_tag_key
from tests import manual
from tests.policies import (
    allowed,
    arn_like,
    listed,
    member,
    realize,
    role_policies,
    stack_params,
    template,
)

SCP_LIMIT = 5120  # characters, AWS Organizations' limit for one service control policy

TAG = "Schedule"
STATE, FINGERPRINT, OVERRIDE = state_tag_key(TAG), fingerprint_tag_key(TAG), override_tag_key(TAG)
RESERVED = [TAG, STATE, FINGERPRINT, "Schedule:offhours-size", OVERRIDE]

MAIN = "111122223333"  # the account offhours runs in, as the manual's placeholders have it
OTHER = "222233334444"  # a member account
# The principals of the manual's placeholders, in the member account or the main one.
ADMIN = f"arn:aws:iam::{OTHER}:role/platform-admin"
PIPELINE = f"arn:aws:iam::{OTHER}:role/instance-pipeline"
SCHEDULER = f"arn:aws:iam::{MAIN}:role/offhours-eu-central-1-offhours"
WORKER = f"arn:aws:iam::{MAIN}:role/offhours-eu-central-1-worker"
MEMBER_ROLE = f"arn:aws:iam::{OTHER}:role/offhours-member"
# The execution role that service-managed StackSets makes (through its service-linked role).
STACKSETS = f"arn:aws:iam::{OTHER}:role/stacksets-exec-9f2b7c1e04d5a6b8c3e2f1a0d9c8b7a6"
# Somebody with IAM rights in an account, but no right to schedule, and the like.
ACCOUNT_ADMIN = f"arn:aws:iam::{OTHER}:role/account-admin"
FAKE_STACKSETS = f"arn:aws:iam::{OTHER}:role/stacksets-exec-x"
DEVELOPER = f"arn:aws:iam::{MAIN}:role/developer"
MEMBER_ROOT = f"arn:aws:iam::{OTHER}:root"

INSTANCE = f"arn:aws:ec2:eu-central-1:{OTHER}:instance/i-0123456789abcdef0"
NEW_INSTANCE = f"arn:aws:ec2:eu-central-1:{OTHER}:instance/*"  # what a launch is authorised on
DB = f"arn:aws:rds:eu-central-1:{OTHER}:db:orders"
CLUSTER = f"arn:aws:rds:eu-central-1:{OTHER}:cluster:orders"
SNAPSHOT = f"arn:aws:rds:eu-central-1:{OTHER}:snapshot:orders-nightly"
CLUSTER_SNAPSHOT = f"arn:aws:rds:eu-central-1:{OTHER}:cluster-snapshot:orders-nightly"
GROUP = (
    f"arn:aws:autoscaling:eu-central-1:{OTHER}:autoScalingGroup:"
    "4ae1c2d3-5b6a-4f70-8e9d-0a1b2c3d4e5f:autoScalingGroupName/web"
)
FUNCTION = f"arn:aws:lambda:eu-central-1:{MAIN}:function:offhours-OffhoursFunction-AbCdEf123456"
CATALOG = f"arn:aws:ssm:eu-central-1:{MAIN}:parameter/offhours/offhours/catalog"

# Every IAM action that creates, deletes, changes or passes a role.
ROLE_CHANGES = [
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:PassRole",
]

FULL_AWS_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def scp_block() -> str:
    return manual.example("json", lambda b: "ReserveOffhoursTags" in b)


def scp() -> Any:
    return json.loads(scp_block())


def statements() -> dict[str, Any]:
    return {s["Sid"]: s for s in scp()["Statement"]}


def passes(
    action: str,
    resource: str,
    principal: str,
    tag_keys: list[str] | None = None,
    context: dict[str, str] | None = None,
) -> bool:
    """Whether the SCP lets the request through. `tag_keys` are the keys the request names
    (`aws:TagKeys`, and `aws:RequestTag/<key>` for each); `context` any other condition keys."""
    request: dict[str, list[str]] = {"aws:PrincipalArn": [principal]}
    request.update({f"aws:RequestTag/{k}": ["office-hours"] for k in tag_keys or []})
    request.update({key: [value] for key, value in (context or {}).items()})
    return allowed([FULL_AWS_ACCESS, scp()], action, resource, tag_keys=tag_keys, context=request)


# --- the policy itself --------------------------------------------------------------------------


def test_the_scp_fits_in_an_scp_once_whitespace_is_removed():
    size = len(json.dumps(scp(), separators=(",", ":")))
    assert size <= SCP_LIMIT, f"{size} characters, more than an SCP's {SCP_LIMIT}"
    stated = re.search(r"This one has about ([\d,]+) without whitespace", manual.text())
    assert stated is not None, "the manual says how large the SCP is"
    assert abs(int(stated.group(1).replace(",", "")) - size) <= 100, size


def test_every_statement_denies_and_names_its_resources():
    for statement in scp()["Statement"]:
        assert statement["Effect"] == "Deny", statement["Sid"]
        assert "Resource" in statement and "Action" in statement, statement["Sid"]
        assert "NotAction" not in statement and "NotResource" not in statement, statement["Sid"]


def test_every_statement_on_tags_reserves_the_same_keys_offhours_reads():
    for sid, statement in statements().items():
        keys = statement.get("Condition", {}).get("ForAnyValue:StringEquals", {})
        if "aws:TagKeys" in keys and sid != "OffhoursWritesOnlyItsOwnTags":
            assert sorted(keys["aws:TagKeys"]) == sorted(RESERVED), sid


def _exempt_principals() -> set[str]:
    """Every ARN (or ARN pattern) that some statement lets off its deny."""
    found: set[str] = set()
    for statement in scp()["Statement"]:
        for operator, block in statement.get("Condition", {}).items():
            if operator in ("ArnNotLike", "ArnNotEquals"):
                found.update(listed(block.get("aws:PrincipalArn", [])))
    return found


def test_every_exempt_principal_is_a_role_by_its_exact_name_or_the_stacksets_pattern():
    """A name pattern names whatever role anybody creates under that name: only the StackSets
    execution role's name (a hash that differs per organisation) may be one, and only because
    the policy reserves that name space as well (next test)."""
    for arn in _exempt_principals():
        prefix, partition, service, region, account, resource = arn.split(":", 5)
        assert (prefix, partition, service, region) == ("arn", "aws", "iam", ""), arn
        assert account == "*" or re.fullmatch(r"\d{12}", account), arn
        assert resource.startswith("role/"), arn
        if resource != "role/stacksets-exec-*":
            assert "*" not in resource and "?" not in resource, arn


def _concrete(pattern: str) -> list[str]:
    """Roles of the accounts under test that a principal pattern names."""
    arns = []
    for account in (MAIN, OTHER):
        arn = pattern.replace("iam::*:", f"iam::{account}:").replace("*", "x")
        if arn_like(pattern, arn):
            arns.append(arn)
    return arns


@pytest.mark.parametrize("action", ROLE_CHANGES)
def test_every_exempt_principal_is_a_role_that_nobody_else_may_make_or_change(action):
    """Hole 1 and hole 2 in general: an exemption is worth what the exempt role's name, trust,
    policies and boundary are worth. Each exempt role, and the member role, is reserved."""
    roles = [arn for pattern in _exempt_principals() for arn in _concrete(pattern)]
    roles.append(MEMBER_ROLE)
    assert FAKE_STACKSETS in roles
    for role in roles:
        for who in (ACCOUNT_ADMIN, DEVELOPER, MEMBER_ROOT, PIPELINE, SCHEDULER, MEMBER_ROLE):
            assert not passes(action, role, who), (action, role, who)


# --- hole 1: the `stacksets-exec-*` exemption was a name anyone could create --------------------


def test_nobody_but_stacksets_may_create_a_role_named_like_its_execution_role():
    """The StackSets service creates it with its service-linked role, which SCPs do not
    restrict. (`platform-admin` and the execution roles themselves, the deployers, may too.)"""
    for who in (ACCOUNT_ADMIN, MEMBER_ROOT, PIPELINE, DEVELOPER, MEMBER_ROLE):
        assert not passes("iam:CreateRole", FAKE_STACKSETS, who), who
        assert not passes("iam:UpdateAssumeRolePolicy", STACKSETS, who), who
        assert not passes("iam:AttachRolePolicy", STACKSETS, who), who


@pytest.mark.parametrize("key", RESERVED)
def test_a_role_named_like_the_stacksets_role_writes_no_reserved_tag(key):
    for who in (FAKE_STACKSETS, STACKSETS):  # the real one deploys the member role, no more
        assert not passes("ec2:CreateTags", INSTANCE, who, [key]), who
        assert not passes("rds:AddTagsToResource", DB, who, [key]), who


def test_the_path_of_hole_1_is_shut_at_every_step():
    # Create a role of the exempt name, use it to let oneself into offhours-member, write tags.
    assert not passes("iam:CreateRole", FAKE_STACKSETS, ACCOUNT_ADMIN)
    assert not passes("iam:UpdateAssumeRolePolicy", MEMBER_ROLE, ACCOUNT_ADMIN)
    assert not passes("ec2:CreateTags", INSTANCE, FAKE_STACKSETS, [OVERRIDE])


# --- hole 2: the roles offhours and its exemptions depend on could be changed -------------------


@pytest.mark.parametrize("action", ROLE_CHANGES)
def test_only_the_deployers_may_change_the_member_role(action):
    for who in (ACCOUNT_ADMIN, MEMBER_ROOT, PIPELINE, MEMBER_ROLE, DEVELOPER):
        assert not passes(action, MEMBER_ROLE, who), who
    assert passes(action, MEMBER_ROLE, STACKSETS)
    assert passes(action, MEMBER_ROLE, ADMIN)


@pytest.mark.parametrize("action", ROLE_CHANGES)
@pytest.mark.parametrize("role", [SCHEDULER, WORKER], ids=["scheduler", "worker"])
def test_only_the_deployers_may_change_or_pass_the_functions_roles(action, role):
    # Passing the scheduler's role to a function of one's own is acting as offhours.
    for who in (DEVELOPER, f"arn:aws:iam::{MAIN}:root", SCHEDULER, WORKER):
        assert not passes(action, role, who), who
    assert passes(action, role, f"arn:aws:iam::{MAIN}:role/platform-admin")


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("lambda:UpdateFunctionCode", FUNCTION),
        ("lambda:UpdateFunctionConfiguration", FUNCTION),
        ("ssm:PutParameter", CATALOG),
        ("ssm:DeleteParameter", CATALOG),
    ],
)
def test_only_the_deployers_may_change_the_functions_or_the_catalogue(action, resource):
    assert not passes(action, resource, DEVELOPER)
    assert passes(action, resource, f"arn:aws:iam::{MAIN}:role/platform-admin")


# --- hole 3: snapshots, and tags given at creation -----------------------------------------------


@pytest.mark.parametrize("key", RESERVED)
@pytest.mark.parametrize("snapshot", [SNAPSHOT, CLUSTER_SNAPSHOT], ids=["db", "cluster"])
def test_the_keys_are_reserved_on_snapshots_whose_tags_a_restore_copies(snapshot, key):
    for action in ("rds:AddTagsToResource", "rds:RemoveTagsFromResource"):
        for who in (ACCOUNT_ADMIN, MEMBER_ROOT, MEMBER_ROLE, SCHEDULER, FAKE_STACKSETS):
            assert not passes(action, snapshot, who, [key]), (action, who)
        assert passes(action, snapshot, PIPELINE, [key])
        assert passes(action, snapshot, ADMIN, [key])


# A request that creates with tags, and the extra check on the tagging action that EC2 and RDS
# make for the same tags (on the resource being made).
CREATIONS = {
    "RunInstances": [
        ("ec2:RunInstances", NEW_INSTANCE, {}),
        ("ec2:CreateTags", NEW_INSTANCE, {"ec2:CreateAction": "RunInstances"}),
    ],
    "CreateDBInstance": [
        ("rds:CreateDBInstance", DB, {}),
        ("rds:AddTagsToResource", DB, {}),
    ],
    "CreateDBCluster": [
        ("rds:CreateDBCluster", CLUSTER, {}),
        ("rds:AddTagsToResource", CLUSTER, {}),
    ],
    "RestoreDBInstanceFromDBSnapshot": [
        ("rds:RestoreDBInstanceFromDBSnapshot", DB, {}),
        ("rds:AddTagsToResource", DB, {}),
    ],
    "RestoreDBClusterFromSnapshot": [
        ("rds:RestoreDBClusterFromSnapshot", CLUSTER, {}),
        ("rds:AddTagsToResource", CLUSTER, {}),
    ],
    "CreateDBSnapshot": [
        ("rds:CreateDBSnapshot", SNAPSHOT, {}),
        ("rds:AddTagsToResource", SNAPSHOT, {}),
    ],
    "CopyDBClusterSnapshot": [
        ("rds:CopyDBClusterSnapshot", CLUSTER_SNAPSHOT, {}),
        ("rds:AddTagsToResource", CLUSTER_SNAPSHOT, {}),
    ],
    "CreateAutoScalingGroup": [("autoscaling:CreateAutoScalingGroup", GROUP, {})],
    "CreateOrUpdateTags": [("autoscaling:CreateOrUpdateTags", GROUP, {})],
}


@pytest.mark.parametrize("key", RESERVED)
@pytest.mark.parametrize("creation", sorted(CREATIONS))
def test_a_reserved_key_given_at_creation_is_refused_to_whoever_may_not_schedule(creation, key):
    for action, resource, context in CREATIONS[creation]:
        for who in (ACCOUNT_ADMIN, MEMBER_ROOT, FAKE_STACKSETS, STACKSETS):
            assert not passes(action, resource, who, [key, "Owner"], context), (action, who)
        for who in (PIPELINE, ADMIN):
            assert passes(action, resource, who, [key, "Owner"], context), (action, who)


@pytest.mark.parametrize("creation", sorted(CREATIONS))
def test_creating_with_other_tags_or_none_is_anybody_s(creation):
    for action, resource, context in CREATIONS[creation]:
        assert passes(action, resource, ACCOUNT_ADMIN, ["Owner", "CostCenter"], context)
        assert passes(action, resource, ACCOUNT_ADMIN, None, context)


# --- what was already reserved stays so ----------------------------------------------------------


@pytest.mark.parametrize("key", RESERVED)
@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("ec2:CreateTags", INSTANCE),
        ("ec2:DeleteTags", INSTANCE),
        ("rds:AddTagsToResource", DB),
        ("rds:RemoveTagsFromResource", CLUSTER),
    ],
)
def test_the_keys_are_reserved_on_what_offhours_schedules(action, resource, key):
    for who in (ACCOUNT_ADMIN, MEMBER_ROOT, DEVELOPER, FAKE_STACKSETS):
        assert not passes(action, resource, who, [key, "Owner"]), who
    assert passes(action, resource, ADMIN, [key])
    assert passes(action, resource, PIPELINE, [key])


def test_offhours_roles_never_write_the_schedule_tag():
    for who in (SCHEDULER, WORKER, MEMBER_ROLE):
        assert not passes("ec2:CreateTags", INSTANCE, who, [TAG])
        assert not passes("ec2:CreateTags", INSTANCE, who, [STATE, TAG])
        assert not passes("rds:AddTagsToResource", DB, who, [TAG])
        assert not passes("ec2:DeleteTags", INSTANCE, who, [TAG])


def test_deleting_every_tag_of_an_instance_is_the_admin_s_alone():
    for who in (ACCOUNT_ADMIN, PIPELINE, SCHEDULER, MEMBER_ROLE):
        assert not passes("ec2:DeleteTags", INSTANCE, who), who
    assert passes("ec2:DeleteTags", INSTANCE, ADMIN)


# --- what must still work ------------------------------------------------------------------------


@pytest.mark.parametrize("keys", [[STATE], [FINGERPRINT], [OVERRIDE], [STATE, FINGERPRINT]])
@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("ec2:CreateTags", INSTANCE),
        ("ec2:DeleteTags", INSTANCE),
        ("rds:AddTagsToResource", DB),
        ("rds:AddTagsToResource", CLUSTER),
        ("rds:RemoveTagsFromResource", DB),
        ("rds:RemoveTagsFromResource", CLUSTER),
    ],
)
def test_offhours_still_writes_and_removes_its_own_tags(action, resource, keys):
    """What the member role's own policy grants (member.yaml) passes the SCP too, for the member
    role and for the main stack's roles."""
    document = member()
    own = role_policies(document, stack_params(document), "MemberRole")
    account_resource = resource.replace(OTHER, "123456789012")  # stack_params' account
    assert allowed(own, action, account_resource, {TAG: "office-hours"}, tag_keys=keys)
    for who in (SCHEDULER, WORKER, MEMBER_ROLE):
        assert passes(action, resource, who, keys), who


def test_the_deployers_still_deploy():
    # StackSets makes and updates the member role; the admin deploys the main stack.
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"):
        assert passes(action, MEMBER_ROLE, STACKSETS)
    admin = f"arn:aws:iam::{MAIN}:role/platform-admin"
    for action in ("iam:CreateRole", "iam:AttachRolePolicy", "iam:PassRole"):
        assert passes(action, SCHEDULER, admin)
    assert passes("lambda:UpdateFunctionCode", FUNCTION, admin)
    assert passes("ssm:PutParameter", CATALOG, admin)


def test_the_admin_and_the_pipeline_still_schedule():
    for who in (ADMIN, PIPELINE):
        assert passes("ec2:CreateTags", INSTANCE, who, [TAG])
        assert passes("ec2:CreateTags", INSTANCE, who, [OVERRIDE])
        assert passes("rds:AddTagsToResource", DB, who, [TAG])
        assert passes("ec2:DeleteTags", INSTANCE, who, [TAG])


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("ec2:CreateTags", INSTANCE),
        ("ec2:DeleteTags", INSTANCE),
        ("rds:AddTagsToResource", DB),
        ("rds:AddTagsToResource", SNAPSHOT),
        ("rds:RemoveTagsFromResource", CLUSTER_SNAPSHOT),
        ("autoscaling:CreateOrUpdateTags", GROUP),
    ],
)
def test_anybody_still_writes_unrelated_tags(action, resource):
    for who in (ACCOUNT_ADMIN, DEVELOPER, MEMBER_ROOT, FAKE_STACKSETS):
        # A key that merely starts like a reserved one is not reserved.
        assert passes(action, resource, who, ["Owner", "CostCenter", "Schedule-team"]), who


def test_anybody_still_manages_unrelated_roles_functions_and_parameters():
    app = f"arn:aws:iam::{OTHER}:role/app"
    for action in ROLE_CHANGES:
        assert passes(action, app, ACCOUNT_ADMIN), action
    other = f"arn:aws:lambda:eu-central-1:{MAIN}:function:billing-report"
    assert passes("lambda:UpdateFunctionCode", other, DEVELOPER)
    param = f"arn:aws:ssm:eu-central-1:{MAIN}:parameter/billing/settings"
    assert passes("ssm:PutParameter", param, DEVELOPER)


# --- the manual's placeholders are the stacks' names ---------------------------------------------


def test_the_placeholders_name_the_roles_the_stacks_make():
    resources = template()["Resources"]
    assert resources["OffhoursRole"]["Properties"]["RoleName"] == {
        "Sub": "${AWS::StackName}-${AWS::Region}-offhours"
    }
    assert resources["WorkerRole"]["Properties"]["RoleName"] == {
        "Sub": "${AWS::StackName}-${AWS::Region}-worker"
    }
    assert member()["Parameters"]["MemberRoleName"]["Default"] == "offhours-member"
    block = scp_block()
    for arn in (
        f"arn:aws:iam::{MAIN}:role/offhours-eu-central-1-offhours",
        f"arn:aws:iam::{MAIN}:role/offhours-eu-central-1-worker",
        "arn:aws:iam::*:role/offhours-member",
    ):
        assert block.count(arn) == 3, arn  # exempt, kept from the schedule tag, reserved
    assert resources["CatalogParameter"]["Properties"]["Name"] == {
        "Sub": "/offhours/${AWS::StackName}/catalog"
    }


# --- item 8: the member role trusts only the role that reconciles --------------------------------


def _trusted(**given: str) -> list[str]:
    document = member()
    params = stack_params(document, **given)
    trust = realize(
        document["Resources"]["MemberRole"]["Properties"]["AssumeRolePolicyDocument"],
        document,
        params,
    )
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    return sorted(listed(statement["Principal"]["AWS"]))


def test_without_fan_out_the_member_role_trusts_the_scheduler_alone():
    assert _trusted(SchedulerRoleArn=SCHEDULER) == [SCHEDULER]


def test_with_fan_out_the_member_role_trusts_the_worker_alone():
    assert _trusted(SchedulerRoleArn=SCHEDULER, WorkerRoleArn=WORKER) == [WORKER]


def test_with_fan_out_the_scheduler_may_not_assume_a_member_role_at_all():
    """The trust follows the main stack: with FanOut, only the worker's role holds
    sts:AssumeRole (the scheduler only puts messages on the queue)."""
    document = template()
    target = f"arn:aws:iam::{OTHER}:role/offhours-member"
    for fan_out, reconciles, idle in (
        ("true", "WorkerRole", "OffhoursRole"),
        ("false", "OffhoursRole", "WorkerRole"),
    ):
        params = stack_params(document, FanOut=fan_out, TargetAccounts=OTHER)
        assert allowed(role_policies(document, params, reconciles), "sts:AssumeRole", target)
        assert not allowed(role_policies(document, params, idle), "sts:AssumeRole", target)
