"""The rights check itself (tests/rights.py), and the manual's IAM table against the stack.

The check runs over the whole session (every call the Lambda's code makes, in every test and in
the demo); these tests show that it refuses what the stack refuses, so a green run means
something."""

from __future__ import annotations

import re

from tests import manual
from tests.rights import GRANTED_FOR_AWS, Call, granted_actions, never_called, refused

DEFAULTS = {
    "TagKey": "Schedule",
    "Resources": "ec2,rds",
    "FanOut": "false",
    "NoticeMinutes": "0",
    "TargetAccounts": "",
    "MemberRoleName": "offhours-member",
    "CatalogParameter": "/offhours/offhours/catalog",
    "AWS::Region": "us-east-1",
}
INSTANCE = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"
SCHEDULED = (("Schedule", "office-hours"),)


def call(action, resources=(("*", ()),), tag_keys=None, role="OffhoursRole", **params):
    return Call(
        action,
        role,
        tuple(sorted({**DEFAULTS, **params}.items())),
        tuple(resources),
        tag_keys,
        (),
    )


def test_a_listing_the_stack_grants_passes_and_one_it_does_not_is_named():
    assert refused(call("ec2:DescribeTags")) == []
    # With Resources=rds the stack grants no EC2 right: the same call is refused.
    (line,) = refused(call("ec2:DescribeTags", Resources="rds"))
    assert line.startswith("ec2:DescribeTags on * ")
    assert refused(call("ec2:DescribeImages")) != []


def test_resource_tag_conditions_are_checked_where_the_resources_are_known():
    assert refused(call("ec2:StopInstances", [(INSTANCE, SCHEDULED)])) == []
    assert refused(call("ec2:StopInstances", [(INSTANCE, (("Owner", "data"),))])) != []
    own = ("Schedule:offhours-handled",)
    assert refused(call("ec2:CreateTags", [(INSTANCE, SCHEDULED)], own)) == []
    assert refused(call("ec2:CreateTags", [(INSTANCE, SCHEDULED)], ("Schedule",))) != []
    # Another tag key setting moves every condition with it.
    assert refused(call("ec2:StopInstances", [(INSTANCE, SCHEDULED)], TagKey="Env")) != []


def test_the_role_that_makes_the_call_is_the_one_checked():
    # With fan-out the scheduler only sends messages: it may not reconcile.
    stop = [(INSTANCE, SCHEDULED)]
    assert refused(call("ec2:StopInstances", stop, FanOut="true")) != []
    assert refused(call("ec2:StopInstances", stop, role="WorkerRole", FanOut="true")) == []
    assert refused(call("ec2:StopInstances", stop, role="MemberRole")) == []


def test_an_action_granted_but_never_called_is_reported():
    unused = never_called({})
    assert any(line.startswith("ec2:DescribeTags ") for line in unused)
    assert not any(line.split()[0] in GRANTED_FOR_AWS for line in unused)
    called = {call(action.split()[0]): "t" for action in unused}
    assert never_called(called) == []


def iam_table() -> list[str]:
    """The first column of the manual's table under "The IAM policy, explained" (a heading of
    any level, on whichever page holds it)."""
    section = manual.section("The IAM policy, explained")
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [row.split("|")[1] for row in rows]


def test_the_manual_iam_table_lists_exactly_the_actions_the_stack_grants():
    listed = {a for cell in iam_table() for a in re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", cell)}
    assert listed == set(granted_actions())
