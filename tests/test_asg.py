"""EC2 Auto Scaling groups scheduled as a whole (DESIGN §9; issue 18, item 1), through the real
handler against moto in server mode, with the function role's IAM enforced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from offhours import runtime
from offhours.resources.asg import read_size, size_record
from tests.harness import scheduled_event

OFFICE = "Mon-Fri 08:00-18:00 UTC"
SIZE = "Schedule:offhours-size"
HANDLED = "Schedule:offhours-handled"


def at(text: str) -> dict[str, Any]:
    return scheduled_event(time=f"{text}Z", id=f"run-{text}")


class Groups:
    """Auto Scaling groups made through the API, as a person or a pipeline would."""

    def __init__(self, client: Any) -> None:
        self.client = client
        client.create_launch_configuration(
            LaunchConfigurationName="lc", ImageId="ami-12c6146b", InstanceType="t3.micro"
        )

    def group(
        self,
        name: str,
        value: str | None = OFFICE,
        size: tuple[int, int, int] = (1, 2, 4),
        **tags: str,
    ) -> str:
        all_tags = dict(tags)
        if value is not None:
            all_tags["Schedule"] = value
        self.client.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchConfigurationName="lc",
            MinSize=size[0],
            DesiredCapacity=size[1],
            MaxSize=size[2],
            AvailabilityZones=["us-east-1a"],
            Tags=[
                {
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                    "Key": k,
                    "Value": v,
                    "PropagateAtLaunch": False,
                }
                for k, v in all_tags.items()
            ],
        )
        return name

    def size(self, name: str) -> tuple[int, int, int]:
        g = self.client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ][0]
        return (g["MinSize"], g["DesiredCapacity"], g["MaxSize"])

    def resize(self, name: str, size: tuple[int, int, int]) -> None:
        self.client.update_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=size[0], DesiredCapacity=size[1], MaxSize=size[2]
        )

    def tags(self, name: str) -> dict[str, str]:
        g = self.client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ][0]
        return {t["Key"]: t["Value"] for t in g["Tags"]}

    def untag(self, name: str, key: str) -> None:
        self.client.delete_tags(
            Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": key}]
        )


@pytest.fixture
def groups(fleet: Any, moto_endpoint: Any, env: pytest.MonkeyPatch) -> Groups:
    del fleet  # resets the endpoint
    env.setenv("RESOURCES", "asg")
    client = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=moto_endpoint.url)
    return Groups(client)


def test_a_group_goes_to_zero_at_night_and_back_to_its_size_in_the_morning(groups, invoke):
    web = groups.group("web")
    first = invoke(at("2026-03-23T07:00:00"))  # Monday, before office hours: adopted
    line = first.decisions[web]
    assert line["action"] == "adopt" and line["resource_type"] == "asg:group"
    assert groups.size(web) == (1, 2, 4)
    stop = invoke(at("2026-03-23T18:05:00"))
    line = stop.decisions[web]
    assert line["action"] == "stop" and line["outcome"] == "done"
    assert "its sizes 1/2/4 (min/desired/max) recorded" in line["reason"]
    assert groups.size(web) == (0, 0, 0)
    assert groups.tags(web)[SIZE].startswith("1/2/4 ")
    assert stop.result is not None and stop.result["stopped"] == 1
    start = invoke(at("2026-03-24T08:05:00"))
    assert start.decisions[web]["action"] == "start"
    assert "sizes 1/2/4 (min/desired/max) restored as recorded" in start.decisions[web]["reason"]
    assert groups.size(web) == (1, 2, 4)
    assert groups.tags(web)[HANDLED].startswith("2026-03-24T08:00:00Z")


def test_a_size_set_by_a_person_at_night_is_respected_until_the_next_event(groups, invoke):
    web = groups.group("web")
    invoke(at("2026-03-23T07:00:00"))
    invoke(at("2026-03-23T18:05:00"))
    groups.resize(web, (1, 1, 1))  # somebody needs one box tonight
    run = invoke(at("2026-03-23T20:05:00"))
    assert groups.size(web) == (1, 1, 1) and web not in run.decisions
    invoke(at("2026-03-24T08:05:00"))  # the start: back to the sizes recorded at the stop
    assert groups.size(web) == (1, 2, 4)
    invoke(at("2026-03-24T18:05:00"))
    assert groups.size(web) == (0, 0, 0)


def test_a_tag_write_never_resizes_a_group_on_the_spot(groups, invoke):
    late = groups.group("late")
    run = invoke(at("2026-03-23T20:05:00"))  # tagged after hours: adopted, left up
    assert run.decisions[late]["action"] == "adopt"
    assert groups.size(late) == (1, 2, 4)


def test_a_group_whose_record_is_lost_and_whose_value_names_no_size_is_left_with_an_error(
    groups, invoke
):
    web = groups.group("web")
    invoke(at("2026-03-23T07:00:00"))
    invoke(at("2026-03-23T18:05:00"))
    groups.untag(web, SIZE)  # the record is lost
    run = invoke(at("2026-03-24T08:05:00"))
    line = run.decisions[web]
    assert line["outcome"] == "failed" and line["error_code"] == "SizeUnknown"
    assert "size=MIN/DESIRED/MAX" in line["reason"]
    assert groups.size(web) == (0, 0, 0)


def test_a_size_record_copied_from_another_group_is_not_its_own():
    when = datetime(2026, 3, 23, 18, 5, tzinfo=UTC)
    record = size_record((1, 2, 4), when, "arn:web@2026-03-01")
    assert record.startswith("1/2/4 2026-03-23T18:05:00Z ")
    assert read_size(record, "arn:web@2026-03-01")[:2] == ((1, 2, 4), when)
    size, _, why = read_size(record, "arn:other@2026-03-01")
    assert size is None and "another group" in why
    assert read_size(record.replace("1/2/4", "9/2/4"), "arn:web@2026-03-01")[0] is None
    assert read_size(record.replace("1/2/4", "1/2/99999"), "arn:web@2026-03-01")[0] is None
    assert read_size("garbage", "x")[2] == "the recorded size 'garbage' cannot be read"


def test_the_instances_of_a_scheduled_group_are_skipped_one_by_one_naming_it(
    groups, invoke, env, fleet
):
    env.setenv("RESOURCES", "ec2,asg")
    groups.client.create_auto_scaling_group(
        AutoScalingGroupName="tier",
        LaunchConfigurationName="lc",
        MinSize=1,
        DesiredCapacity=1,
        MaxSize=2,
        AvailabilityZones=["us-east-1a"],
        Tags=[
            {
                "ResourceId": "tier",
                "ResourceType": "auto-scaling-group",
                "Key": "Schedule",
                "Value": OFFICE,
                "PropagateAtLaunch": True,
            }
        ],
    )
    runtime.logger.setLevel("DEBUG")  # what LogLevel=DEBUG sets: skips are DEBUG lines
    try:
        run = invoke(at("2026-03-23T18:05:00"))
    finally:
        runtime.logger.setLevel("INFO")
    members = [
        line for line in run.of_kind("decision") if line.get("resource_type") == "ec2:instance"
    ]
    assert members and all("tier" in line["reason"] for line in members)
    assert all(line["action"] not in ("start", "stop") for line in members)


def test_a_group_whose_record_is_lost_starts_to_the_size_its_value_names(groups, invoke):
    web = groups.group("web", f"{OFFICE} size=1/1/3")
    invoke(at("2026-03-23T07:00:00"))
    invoke(at("2026-03-23T18:05:00"))
    groups.untag(web, SIZE)  # the record is lost
    run = invoke(at("2026-03-24T08:05:00"))
    assert run.decisions[web]["action"] == "start" and run.decisions[web]["outcome"] == "done"
    assert groups.size(web) == (1, 1, 3)


def test_a_group_update_refused_is_that_groups_failure_and_retried_next_run(
    groups, invoke, moto_endpoint
):
    from tests.faults import Hooks, query_error_response

    web, api = groups.group("web"), groups.group("api")
    invoke(at("2026-03-23T07:00:00"))
    hooks = Hooks(runtime.clients.target("autoscaling", "us-east-1"))

    def refuse(request: Any, **_: Any) -> Any:
        if "AutoScalingGroupName=web" in str(request.body):
            return query_error_response(
                request, 400, "ScalingActivityInProgress", "Scaling activity in progress"
            )
        return None

    hooks.on("before-send.auto-scaling.UpdateAutoScalingGroup", refuse)
    try:
        run = invoke(at("2026-03-23T18:05:00"))
    finally:
        hooks.clear()
    assert run.decisions[web]["outcome"] == "failed"
    assert run.decisions[web]["error_code"] == "ScalingActivityInProgress"
    assert groups.size(api) == (0, 0, 0) and groups.size(web) == (1, 2, 4)
    invoke(at("2026-03-23T18:10:00"))  # the next run retries it
    assert groups.size(web) == (0, 0, 0)
    invoke(at("2026-03-24T08:05:00"))
    assert groups.size(web) == groups.size(api) == (1, 2, 4)


def test_the_auto_scaling_group_of_an_eks_node_group_is_never_resized(groups, invoke):
    """EKS owns the sizes of the groups it makes for its managed node groups: tagged or not,
    such a group is left alone (its node group is what gets scheduled)."""
    eks = groups.group("eks-ng", **{"eks:nodegroup-name": "web"})
    invoke(at("2026-03-23T07:00:00"))
    run = invoke(at("2026-03-23T18:05:00"))
    assert groups.size(eks) == (1, 2, 4)
    assert eks not in run.decisions or run.decisions[eks]["action"] not in ("stop", "start")


def test_runs_at_the_events_own_instants_restore_a_persons_night_size_too(groups, invoke):
    """Runs at 18:00:00 and 08:00:00 exactly (as EventBridge fires them): the record and A then
    carry the same instant, and the stop is still in force for a person's night size."""
    web = groups.group("web")
    invoke(at("2026-03-23T07:00:00"))
    invoke(at("2026-03-23T18:00:00"))
    groups.resize(web, (1, 1, 1))
    invoke(at("2026-03-23T21:00:00"))
    assert groups.size(web) == (1, 1, 1)
    invoke(at("2026-03-24T08:00:00"))
    assert groups.size(web) == (1, 2, 4)


def test_a_stop_warns_of_the_groups_own_scheduled_action_that_would_undo_it(groups, invoke):
    web = groups.group("web")
    groups.client.put_scheduled_update_group_action(
        AutoScalingGroupName=web,
        ScheduledActionName="night-batch",
        Recurrence="0 22 * * *",
        MinSize=1,
        DesiredCapacity=1,
        MaxSize=2,
    )
    invoke(at("2026-03-23T07:00:00"))
    stop = invoke(at("2026-03-23T18:05:00"))
    line = stop.decisions[web]
    assert line["action"] == "stop" and groups.size(web) == (0, 0, 0)
    assert "warning: its own scheduled action 'night-batch' (0 22 * * *)" in line["reason"]
    assert "will undo this stop" in line["reason"]


def test_a_group_opted_out_loses_offhours_tags_and_is_left_as_it_is(groups, invoke):
    web = groups.group("web")
    invoke(at("2026-03-23T07:00:00"))
    assert HANDLED in groups.tags(web)
    groups.client.create_or_update_tags(
        Tags=[
            {
                "ResourceId": web,
                "ResourceType": "auto-scaling-group",
                "Key": "Schedule",
                "Value": "off",
                "PropagateAtLaunch": False,
            }
        ]
    )
    run = invoke(at("2026-03-23T18:05:00"))
    assert run.decisions[web]["action"] == "forget"
    assert HANDLED not in groups.tags(web) and "Schedule:offhours-fingerprint" not in groups.tags(
        web
    )
    assert groups.size(web) == (1, 2, 4)


def test_override_and_check_take_a_groups_arn(groups, env, capsys):
    from offhours.cli import main

    name = groups.group("batch", OFFICE)
    arn = groups.client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ][0]["AutoScalingGroupARN"]
    env.setattr("offhours.cli._now", lambda: datetime(2026, 3, 23, 17, tzinfo=UTC))
    assert main(["override", arn, "--running", "--until", "21:00", "--region", "us-east-1"]) == 0
    assert capsys.readouterr().out.startswith(f"{arn}: Schedule:override = ")
    assert groups.tags(name)["Schedule:override"].startswith("running until 2026-03-23T21:00")
    assert main(["check", "--instance", arn, "--at", "2026-03-23T18:00:00Z", "--json"]) == 0
    assert '"state": "running"' in capsys.readouterr().out
    assert main(["override", arn, "--clear", "--region", "us-east-1"]) == 0
    assert "Schedule:override" not in groups.tags(name)
    # A name alone could be anything's: the command line asks for the ARN.
    assert main(["override", name, "--clear", "--region", "us-east-1"]) == 2
    assert "is not the id of anything offhours schedules" in capsys.readouterr().err
