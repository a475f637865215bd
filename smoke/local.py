"""The smoke test against the local endpoint (moto on loopback), for `make test`.

What stands in for AWS's parts: `deploy` makes what the stack's deploy leaves behind that the
steps read or delete (a stack, its log group, the package in SAM's bucket); `LocalFunction`
calls `offhours.handler.lambda_handler` in-process with the credentials of a role that carries
the stack's policies, and does what Lambda and CloudWatch do with what it prints: its lines go
to the log group, its EMF blobs to CloudWatch Metrics. The clock is simulated: the wait for the
schedules' minute takes no time.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from smoke.steps import SAM_BUCKET_STACK, Clients, Options, stack_parameters

ENVIRONMENT = {  # template.yaml's Globals: the variables the parameters set
    "TagKey": "SCHEDULE_TAG_KEY",
    "Resources": "RESOURCES",
    "Regions": "REGIONS",
    "DryRun": "DRY_RUN",
}


@dataclass
class SimulatedClock:
    """Starts at the real time; `sleep` moves it on without waiting."""

    at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=max(0.0, seconds))


@dataclass
class Context:
    """Enough of a Lambda context for the handler."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "smoke"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class LocalFunction:
    """offhours.handler.lambda_handler in this process, as Lambda runs the stack's function:
    the stack's environment, the role's credentials (`credentials`, an offhours.local
    Credentials) and clients (`function_clients`, an offhours.aws.Clients), the clock."""

    clients: Clients  # the scene's (the admin's), to ship the lines as CloudWatch would
    log_group: str
    environment: dict[str, str]
    credentials: Any
    function_clients: Any
    clock: SimulatedClock
    account: str
    invocations: int = 0

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from offhours import handler, runtime
        from offhours.local import credentials_in_environment, environment_set

        self.invocations += 1
        arn = f"arn:aws:lambda:{self.clients.region}:{self.account}:function:{self.log_group}"
        context = Context(self.log_group.rsplit("/", 1)[-1], arn)
        saved = handler.clock, runtime.clients
        handler.clock = self.clock.now
        runtime.clients = self.function_clients
        out = io.StringIO()
        try:
            with (
                environment_set(self.environment),
                credentials_in_environment(self.credentials),
                redirect_stdout(out),
            ):
                result: dict[str, Any] = handler.lambda_handler(event, context)
        finally:
            handler.clock, runtime.clients = saved
            self._ship(out.getvalue())
        return result

    def _ship(self, text: str) -> None:
        """Lambda's log shipping: every line to the log group; CloudWatch's EMF extraction:
        every metrics blob to CloudWatch Metrics."""
        stamp = int(self.clock.now().timestamp() * 1000)
        lines = [line for line in text.splitlines() if line.strip()]
        stream = f"{self.clock.now():%Y/%m/%d}/[$LATEST]smoke{self.invocations}"
        self.clients.logs.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
        if lines:
            self.clients.logs.put_log_events(
                logGroupName=self.log_group,
                logStreamName=stream,
                logEvents=[{"timestamp": stamp, "message": line} for line in lines],
            )
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "_aws" in record:
                self._put_metrics(record)

    def _put_metrics(self, blob: dict[str, Any]) -> None:
        at = datetime.fromtimestamp(blob["_aws"]["Timestamp"] / 1000, UTC)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dimensions = [
                {"Name": d, "Value": str(blob[d])} for d in (directive["Dimensions"] or [[]])[0]
            ]
            data = []
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                data.append(
                    {
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                        "Timestamp": at,
                        "Values": [float(v) for v in values],
                        "Unit": metric.get("Unit", "None"),
                    }
                )
            self.clients.cloudwatch.put_metric_data(
                Namespace=directive["Namespace"], MetricData=data
            )


STAND_IN = {  # what CloudFormation is given for the stack: a stand-in resource
    "Resources": {
        "CatalogParameter": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/offhours/smoke/catalog", "Type": "String", "Value": "{}"},
        }
    }
}
SAM_BUCKET = {
    "Resources": {"SamCliSourceBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {"SourceBucket": {"Value": {"Ref": "SamCliSourceBucket"}}},
}


def deploy(
    clients: Clients,
    options: Options,
    credentials: Any,
    function_clients: Any,
    clock: SimulatedClock,
    account: str,
) -> Callable[[], LocalFunction]:
    """The local stand-in for `sam deploy`: what it leaves that the steps read or delete (the
    stack, its log group, the package in SAM's bucket), and the function."""

    def go() -> LocalFunction:
        cfn = clients.cloudformation
        template = json.loads(json.dumps(STAND_IN).replace("/smoke/", f"/{options.stack}/"))
        cfn.create_stack(StackName=options.stack, TemplateBody=json.dumps(template))
        existing = [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
        if SAM_BUCKET_STACK not in existing:
            cfn.create_stack(StackName=SAM_BUCKET_STACK, TemplateBody=json.dumps(SAM_BUCKET))
        outputs = cfn.describe_stacks(StackName=SAM_BUCKET_STACK)["Stacks"][0]["Outputs"]
        bucket = {o["OutputKey"]: o["OutputValue"] for o in outputs}["SourceBucket"]
        clients.s3.put_object(Bucket=bucket, Key=f"{options.run_id}/package.zip", Body=b"zip")
        group = f"/offhours/{options.stack}"
        clients.logs.create_log_group(logGroupName=group)
        parameters = stack_parameters(options, clients.region)
        environment = {ENVIRONMENT[k]: v for k, v in parameters.items() if k in ENVIRONMENT}
        environment["POWERTOOLS_SERVICE_NAME"] = "offhours"
        return LocalFunction(
            clients, group, environment, credentials, function_clients, clock, account
        )

    return go
