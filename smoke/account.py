"""The smoke test in a real account: `python -m smoke run|clean` (`make smoke`, `make smoke-clean`).

Order of things, so that it fails safe: OFFHOURS_SMOKE_ACCOUNT is read before any client is
made; sts:GetCallerIdentity must name that account before anything else is called; the plan
(what it makes, what it costs) is printed, and asked about on a terminal, before the deploy;
everything from the deploy on runs under try/finally with SIGTERM and SIGHUP turned into an
exception, so that a failure, Ctrl-C or a killed CI job still cleans up; and every resource
carries the run's id, for `make smoke-clean` after a `kill -9`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from smoke.steps import (
    ACCOUNT_VARIABLE,
    PREFIX,
    Clients,
    Options,
    RealClock,
    Refused,
    check_account,
    clean,
    leftovers,
    new_run_id,
    plan_text,
    smoke,
    stack_parameters,
)

LAMBDA_READ_TIMEOUT = 320  # the function's timeout is 300 s


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, through the clean-up."""


@contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise Interrupted (Ctrl-C already raises KeyboardInterrupt), so the
    `finally` that cleans up runs; the handlers as they were after."""

    def interrupt(number: int, _frame: Any) -> None:
        raise Interrupted(signal.Signals(number).name)

    with _handling([signal.SIGTERM, signal.SIGHUP], interrupt):
        yield


@contextmanager
def signals_held(say: Callable[[str], None]) -> Iterator[None]:
    """While cleaning up: Ctrl-C, SIGTERM and SIGHUP are noted, not obeyed (a clean-up cut
    short leaves resources that cost money); SIGKILL still ends it, and smoke-clean then
    finds what is left."""

    def note(number: int, _frame: Any) -> None:
        say(
            f"{signal.Signals(number).name} ignored while cleaning up; if you must stop it, "
            "run `make smoke-clean` afterwards"
        )

    with _handling([signal.SIGINT, signal.SIGTERM, signal.SIGHUP], note):
        yield


@contextmanager
def _handling(wanted: list[signal.Signals], handler: Callable[[int, Any], None]) -> Iterator[None]:
    """`handler` for the signals `wanted` for the duration; their handlers as they were after."""
    saved = {number: signal.signal(number, handler) for number in wanted}
    try:
        yield
    finally:
        for number, previous in saved.items():
            signal.signal(number, previous)


def sam_deploy_command(sam: str, options: Options, region: str) -> list[str]:
    """`sam deploy` of the built template (`make build` first) as a throw-away stack."""
    overrides = [f"{k}={v}" for k, v in stack_parameters(options, region).items()]
    return [
        sam,
        "deploy",
        "--stack-name",
        options.stack,
        "--region",
        region,
        "--resolve-s3",
        "--s3-prefix",
        options.run_id,
        # The roles are named (<stack>-<region>-offhours): CAPABILITY_NAMED_IAM.
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
        "CAPABILITY_AUTO_EXPAND",
        "--parameter-overrides",
        *overrides,
        "--tags",
        f"offhours-smoke-run={options.run_id}",
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
    ]


@dataclass
class DeployedFunction:
    """The stack's scheduler function, invoked through Lambda (RequestResponse)."""

    client: Any
    name: str
    log_group: str

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        response = self.client.invoke(
            FunctionName=self.name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise RuntimeError(f"the function failed: {payload}")
        if not isinstance(payload, dict):
            raise RuntimeError(f"the function returned {payload!r}")
        return payload


def deployer(
    sam: str, session: Any, clients: Clients, options: Options, say: Callable[[str], None]
) -> Callable[[], DeployedFunction]:
    def deploy() -> DeployedFunction:
        command = sam_deploy_command(sam, options, clients.region)
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
        subprocess.run(command, check=True, env=env)
        stack = clients.cloudformation.describe_stacks(StackName=options.stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        say(f"deployed: function {outputs['FunctionName']}, log group {outputs['LogGroupName']}")
        from botocore.config import Config

        config = Config(read_timeout=LAMBDA_READ_TIMEOUT, retries={"total_max_attempts": 1})
        client = session.client("lambda", region_name=clients.region, config=config)
        return DeployedFunction(client, outputs["FunctionName"], outputs["LogGroupName"])

    return deploy


def _session(region: str | None) -> tuple[Any, str]:
    import boto3

    session = boto3.Session(region_name=region) if region else boto3.Session()
    name = session.region_name
    if not name:
        raise Refused("no region: set AWS_REGION (or pass --region)")
    return session, str(name)


def _confirm(text: str, assume_yes: bool, stdin: TextIO, out: TextIO) -> bool:
    out.write(text + "\n")
    if assume_yes or not stdin.isatty():
        return True
    out.write("Go ahead? [y/N] ")
    out.flush()
    return stdin.readline().strip().lower() in ("y", "yes")


def main(
    argv: Sequence[str] | None = None,
    environ: dict[str, str] | None = None,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> int:
    parser = argparse.ArgumentParser(prog="python -m smoke", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="deploy, exercise, check and delete a throw-away stack")
    check = commands.add_parser("check", help="only the account check (make smoke: before build)")
    for sub in (run, check):
        sub.add_argument("--sam", default="sam", help="the SAM CLI (make smoke passes $(SAM))")
        sub.add_argument("--no-database", action="store_true", help="skip RDS (~10 min less)")
        sub.add_argument("--instance-type", default="t4g.nano")
        sub.add_argument("--subnet-id", help="where to launch, if the region has no default VPC")
        sub.add_argument("--yes", action="store_true", help="do not ask before starting")
    cleanup = commands.add_parser("clean", help="delete what smoke runs left in the region")
    cleanup.add_argument("--run-id", help=f"one run ({PREFIX}...); all runs without it")
    for sub in (run, check, cleanup):
        sub.add_argument("--region", help="default: the AWS SDK's (AWS_REGION, the profile)")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ

    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    wanted = env.get(ACCOUNT_VARIABLE)
    try:
        if not wanted:  # before any client: nothing reaches AWS without the variable
            check_account(None, wanted)
        session, region = _session(args.region)
        clients = Clients.of(session, region)
        account = check_account(clients.sts, wanted)
        if args.command == "check":
            say(f"smoke: account {account}, region {region}: ok")
            return 0
        if args.command == "clean":
            with signals_held(say):
                left = clean(clients, args.run_id, say)
            rest = leftovers(clients, args.run_id)
            say("nothing left" if not (left or rest) else f"left: {left + rest}")
            return 0 if not (left or rest) else 1
        options = Options(
            new_run_id(),
            database=not args.no_database,
            instance_type=args.instance_type,
            subnet_id=args.subnet_id,
        )
        if not _confirm(plan_text(options, account, region), args.yes, stdin, out):
            say("nothing was made")
            return 1
        report = _run(session, clients, options, account, args.sam, say)
    except Refused as refusal:
        say(f"smoke: refused: {refusal}")
        return 2
    except (KeyboardInterrupt, Interrupted) as stop:
        say(f"smoke: interrupted ({type(stop).__name__} {stop})")
        return 130
    except Exception as error:  # the deploy or a step broke (after a run's clean-up)
        say(f"smoke: stopped by {type(error).__name__}: {error}")
        return 1
    failures = report.failures
    say(f"smoke {options.run_id}: " + ("passed" if not failures else f"{len(failures)} FAILED"))
    return 0 if not failures else 1


def _run(
    session: Any,
    clients: Clients,
    options: Options,
    account: str,
    sam: str,
    say: Callable[[str], None],
) -> Any:
    deploy = deployer(sam, session, clients, options, say)
    held = signals_held(say)
    with signals_raise():
        return smoke(clients, deploy, options, account, RealClock(), say, cleanup_guard=held)
