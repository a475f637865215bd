"""`make smoke`'s steps against the local endpoint, so that the script cannot rot: the same
launch, invoke, check and clean-up as in a real account, with the handler in-process (running
as a role with exactly the stack's policies for the smoke's parameters, moto's IAM enforcement
on), its lines in moto's CloudWatch Logs and its metrics in moto's CloudWatch (smoke.local).

What no test here can reach: `sam deploy` itself, Lambda's Invoke, CloudWatch's own EMF
extraction and log filter patterns, and real state transitions (pending, stopping): see the
README's smoke test section.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from smoke import account as real, local, steps

from offhours.local import Credentials, IamLab
from tests import iam as lab, policies
from tests.fleet import AMI, MotoEndpoint

REGION = "us-east-1"


@pytest.fixture
def clients(moto_endpoint: MotoEndpoint, iam_lab: IamLab) -> Iterator[steps.Clients]:
    """The scene's clients (the admin's keys), on an empty endpoint that enforces IAM."""
    moto_endpoint.reset()
    made = steps.Clients.of(boto3.Session(), REGION, endpoint_url=moto_endpoint.url)
    with iam_lab.enforced():
        yield made


def stack_role(iam_lab: IamLab, options: steps.Options) -> Credentials:
    """A role with exactly the policies the throw-away stack gives its function."""
    document = policies.template()
    params = policies.stack_params(document, **steps.stack_parameters(options, REGION))
    found = policies.reconciling_policies(document, params)
    return iam_lab.role(f"smoke-{options.run_id}", found)


def local_deploy(
    clients: steps.Clients, iam_lab: IamLab, options: steps.Options, clock: local.SimulatedClock
) -> Any:
    credentials = stack_role(iam_lab, options)
    function_clients = lab.clients_for(credentials)
    return local.deploy(clients, options, credentials, function_clients, clock, iam_lab.account)


def local_smoke(
    clients: steps.Clients, iam_lab: IamLab, options: steps.Options, say: Any = None
) -> tuple[steps.Report, list[str]]:
    clock = local.SimulatedClock()
    said: list[str] = []

    def note(text: str) -> None:
        said.append(text)
        if say is not None:
            say(text)

    deploy = local_deploy(clients, iam_lab, options, clock)
    held = real.signals_held(note)
    report = steps.smoke(clients, deploy, options, iam_lab.account, clock, note, held)
    return report, said


def test_a_smoke_run_starts_stops_and_records_then_leaves_nothing(clients, iam_lab):
    options = steps.Options(steps.new_run_id())
    report, said = local_smoke(clients, iam_lab, options)
    assert report.passed, "\n".join(said)
    assert len(report.checks) == 25
    assert "run 2 (after it)" in said
    assert steps.leftovers(clients, options.run_id) == []
    assert clients.s3.list_objects_v2(Bucket=_sam_bucket(clients)).get("KeyCount") == 0


def _sam_bucket(clients: steps.Clients) -> str:
    stack = clients.cloudformation.describe_stacks(StackName=steps.SAM_BUCKET_STACK)["Stacks"][0]
    return str(stack["Outputs"][0]["OutputValue"])


def test_without_the_database_it_checks_the_instances_alone(clients, iam_lab):
    options = steps.Options(steps.new_run_id(), database=False, instance_type="t3.nano")
    report, said = local_smoke(clients, iam_lab, options)
    assert report.passed, "\n".join(said)
    assert not any("database" in what for what, _, _ in report.checks)
    assert steps.leftovers(clients, options.run_id) == []


def test_a_signal_mid_run_still_deletes_everything_and_the_clean_up_ignores_ctrl_c(
    clients, iam_lab
):
    options = steps.Options(steps.new_run_id())
    said = []

    def interrupt(text: str) -> None:
        said.append(text)
        if text.startswith("run 1"):  # everything is launched and tagged
            os.kill(os.getpid(), signal.SIGTERM)
        if text.startswith("terminating"):  # the clean-up has begun
            os.kill(os.getpid(), signal.SIGINT)

    with real.signals_raise(), pytest.raises(real.Interrupted, match="SIGTERM"):
        local_smoke(clients, iam_lab, options, say=interrupt)
    assert steps.leftovers(clients, options.run_id) == []
    assert any(text.startswith("SIGINT ignored while cleaning up") for text in said)
    assert "run 2 (after it)" not in said
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def killed_run(clients: steps.Clients, iam_lab: IamLab) -> steps.Options:
    """What a run killed with SIGKILL leaves: the stack, its log group, the scene."""
    options = steps.Options(steps.new_run_id())
    clock = local.SimulatedClock()
    local_deploy(clients, iam_lab, options, clock)()
    steps.launch(clients, options, steps.Scene(), lambda _: None)
    return options


def test_smoke_clean_finds_what_killed_runs_left_and_nothing_else(clients, iam_lab):
    first, second = killed_run(clients, iam_lab), killed_run(clients, iam_lab)
    (theirs,) = clients.ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"]
    clients.logs.create_log_group(logGroupName="/offhours/offhours")
    assert len(steps.leftovers(clients, second.run_id)) == 5  # 2 instances, db, stack, logs

    assert steps.clean(clients, first.run_id, lambda _: None) == []
    assert steps.leftovers(clients, first.run_id) == []
    assert len(steps.leftovers(clients, second.run_id)) == 5

    out = io.StringIO()
    env = {steps.ACCOUNT_VARIABLE: iam_lab.account}
    assert real.main(["clean", "--region", REGION], environ=env, out=out) == 0
    assert "nothing left" in out.getvalue()
    assert steps.leftovers(clients, None) == []
    state = clients.ec2.describe_instances(InstanceIds=[theirs["InstanceId"]])
    assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"
    groups = clients.logs.describe_log_groups(logGroupNamePrefix="/offhours/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/offhours/offhours"]


@pytest.fixture
def no_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"nothing may be deployed: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)


def test_it_refuses_before_any_client_without_the_account_variable(no_deploy, monkeypatch):
    def no_session(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("no client may be made without OFFHOURS_SMOKE_ACCOUNT")

    monkeypatch.setattr(boto3, "Session", no_session)
    for command in (["check", "--no-database"], ["run", "--yes"], ["clean"]):
        out = io.StringIO()
        assert real.main(command, environ={}, out=out) == 2
        assert "refused: set OFFHOURS_SMOKE_ACCOUNT" in out.getvalue()


def test_it_refuses_when_the_credentials_are_for_another_account(clients, iam_lab, no_deploy):
    for command in (["check"], ["run", "--yes"], ["clean"]):
        out = io.StringIO()
        env = {steps.ACCOUNT_VARIABLE: "999999999999"}
        assert real.main([*command, "--region", REGION], environ=env, out=out) == 2
        text = out.getvalue()
        assert f"credentials are for account {iam_lab.account}, not" in text
        assert "nothing was made" in text
    assert steps.leftovers(clients, None) == []


def test_it_says_what_it_makes_and_costs_and_asks_on_a_terminal(clients, iam_lab, no_deploy):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = io.StringIO()
    env = {steps.ACCOUNT_VARIABLE: iam_lab.account}
    assert real.main(["run", "--region", REGION], env, Terminal("n\n"), out) == 1
    text = out.getvalue()
    assert "2 EC2 instances t4g.nano" in text and "db.t4g.micro" in text
    assert re.search(r"Cost: about 1\.\d US cents", text) and "Duration: about 25 minutes" in text
    assert text.rstrip().endswith("nothing was made")
    assert steps.cost_estimate(steps.Options("x", database=False))[0] < 0.01


def test_the_deploy_names_only_parameters_of_the_template_with_values_it_accepts():
    options = steps.Options(steps.new_run_id())
    command = real.sam_deploy_command(".venv/sam/bin/sam", options, "eu-west-1")
    declared = policies.template()["Parameters"]
    given = steps.stack_parameters(options, "eu-west-1")
    for name, value in given.items():
        spec = declared[name]
        assert value in [str(v) for v in spec.get("AllowedValues", [value])], name
        assert re.fullmatch(spec.get("AllowedPattern", ".*"), value), name
        assert len(value) <= spec.get("MaxLength", 4096), name
        assert f"{name}={value}" in command
    assert len(options.stack) <= 40  # the roles' names: <stack>-<region>-offhours
    assert given["DryRun"] == "false" and given["TagKey"] == options.run_id
    for flag in ("--resolve-s3", "--no-confirm-changeset", "--no-fail-on-empty-changeset"):
        assert flag in command
    assert command[command.index("--stack-name") + 1] == options.run_id
    assert "CAPABILITY_NAMED_IAM" in command


def test_a_deploy_that_fails_half_way_is_cleaned_up_too(clients, iam_lab, monkeypatch):
    made = []

    def failing_sam(command: list[str], **kwargs: Any) -> None:
        stack = command[command.index("--stack-name") + 1]
        template = json.dumps(local.STAND_IN).replace("/smoke/", f"/{stack}/")
        clients.cloudformation.create_stack(StackName=stack, TemplateBody=template)
        made.append(stack)
        raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr(subprocess, "run", failing_sam)
    out = io.StringIO()
    env = {steps.ACCOUNT_VARIABLE: iam_lab.account}
    assert real.main(["run", "--yes", "--region", REGION, "--sam", "sam"], env, out=out) == 1
    text = out.getvalue()
    assert f"deleting stack {made[0]}" in text and "stopped by CalledProcessError" in text
    assert steps.leftovers(clients, None) == []
