"""Test harness: a real EC2-compatible endpoint (moto in server mode) on loopback.

Safety first, before anything imports boto3: dummy credentials, no profile, no instance
metadata, and a dead proxy for every host that is not loopback, so that a client which somehow
misses the local endpoint fails loudly instead of reaching real AWS.
"""

from __future__ import annotations

import os

from offhours.local import offline_environment

offline_environment()
os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false"})

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402

from tests.fleet import Fleet, MotoEndpoint  # noqa: E402

# The Lambda harness's fixtures (env, invoke, hooks) for every test module; AWS's rate limits
# at the local endpoint (rate_limits, simulated_clock), for the tests that ask for them.
# Every AWS action the Lambda's code makes, checked against the stack's policies (rights).
pytest_plugins = ["tests.harness", "tests.buckets", "tests.rights"]


@pytest.fixture(autouse=True)
def full_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test begins as a cold start does: offhours believes AWS's buckets full. Its
    buckets refill on the handler's clock (the simulated weeks' runs are minutes apart) plus
    the time that really passes within a run."""
    import time

    from offhours import handler, pace

    pace.forget_all()
    monkeypatch.setattr(pace, "monotonic", lambda: handler.clock().timestamp() + time.monotonic())


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[MotoEndpoint]:
    endpoint = MotoEndpoint.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint.url
    yield endpoint
    os.environ.pop("AWS_ENDPOINT_URL", None)
    endpoint.stop()


@pytest.fixture(scope="session")
def ec2_session_client(moto_endpoint: MotoEndpoint) -> Any:
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint.url)


@pytest.fixture
def fleet(moto_endpoint: MotoEndpoint, ec2_session_client: Any) -> Fleet:
    """An empty EC2 on the local endpoint, and helpers to fill it."""
    moto_endpoint.reset()
    return Fleet(ec2_session_client)
