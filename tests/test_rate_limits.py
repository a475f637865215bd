"""AWS's rate limits: the endpoint's model of them (tests/buckets.py), and offhours under them.

The model first: a bucket's burst then its refill rate, a refused request takes no token, the
scale that keeps tests fast, and the same figures as `offhours.pace.LIMITS`. Then the model at
the local endpoint, in front of moto: offhours' own requests are refused as EC2 and RDS refuse
them, a test's setup never is. Then whole runs of the handler, on a simulated clock (offhours'
pacing, botocore's backoff, the model and the Lambda's remaining time all read it; a sleep
costs no real time).

Tests named `test_wired_...` hold the behaviour of issue 16's wiring (the EC2 gateway takes
its tokens through `offhours.pace.Pacer` before each call and believes a throttle; throttled
work is `deferred`, never `failed`): they pass once that wiring is in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from offhours import pace
from tests.buckets import (
    AWS_LIMITS,
    NON_MUTATING,
    Rate,
    RateLimits,
    Scale,
    SimulatedClock,
    bucket_of,
)
from tests.harness import LambdaContext, scheduled_event

OFFICE = "Mon-Fri 08:00-18:00 UTC"
THURSDAY_STOP = "2026-03-26T18:00:00Z"
FRIDAY_START = "2026-03-27T08:00:00Z"
NOON = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Friday: the 08:00 start is due
EVENING = datetime(2026, 3, 27, 18, 5, tzinfo=UTC)  # Friday: the 18:00 stop is due
FAST = Scale(rate=100, size=0.1)


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def manual() -> ManualClock:
    return ManualClock()


# -- the model ----------------------------------------------------------------------------------

BUCKET_CASES = [
    ("ec2", "DescribeInstances", AWS_LIMITS[("ec2", NON_MUTATING)][0]),
    ("ec2", "DescribeTags", AWS_LIMITS[("ec2", NON_MUTATING)][0]),
    ("ec2", "StartInstances", Rate(5, 2)),
    ("ec2", "StopInstances", Rate(200, 5)),
    ("ec2", "CreateTags", Rate(100, 10)),
    ("ec2", "DeleteTags", Rate(100, 10)),
    ("rds", "DescribeDBInstances", Rate(300, 12)),
    ("rds", "StopDBInstance", Rate(300, 12)),
]


@pytest.mark.parametrize(("service", "api", "figures"), BUCKET_CASES)
def test_a_request_bucket_takes_its_burst_then_refills_at_its_rate(service, api, figures, manual):
    model = RateLimits(clock=manual)
    assert all(model.admit(service, api) for _ in range(int(figures.size)))
    assert not model.admit(service, api)
    manual.now += 0.99 / figures.per_second
    assert not model.admit(service, api)
    manual.now += 0.02 / figures.per_second
    assert model.admit(service, api)
    assert not model.admit(service, api)
    manual.now += 3600
    assert model.level(api, service=service) == figures.size  # never more than full
    tally = model.tally(api, service)
    assert (tally.allowed, tally.throttled) == (int(figures.size) + 1, 3)


@pytest.mark.parametrize(("api", "size", "per_second"), [("StartInstances", 1000, 2),
                                                         ("StopInstances", 1000, 20)])  # fmt: skip
def test_an_instance_id_bucket_takes_its_burst_then_refills_at_its_rate(
    api, size, per_second, manual
):
    model = RateLimits(clock=manual)
    ids = [f"i-{n:04d}" for n in range(size + 1)]
    assert model.admit("ec2", api, ids[:size])
    manual.now += 10  # the request bucket is not what limits here
    held = int(10 * per_second)
    assert not model.admit("ec2", api, ids[: held + 1])
    assert model.admit("ec2", api, ids[:held])
    assert model.level(api, ids=True) == 0
    assert model.tally(api).ids_taken == size + held


def test_a_refused_request_takes_no_token(manual):
    model = RateLimits(clock=manual)
    ids = [f"i-{n:04d}" for n in range(1000)]
    assert model.admit("ec2", "StopInstances", ids[:900])
    before = model.level("StopInstances")
    assert not model.admit("ec2", "StopInstances", ids[:101])  # 100 ids left
    assert model.level("StopInstances") == before
    assert model.level("StopInstances", ids=True) == 100
    assert model.admit("ec2", "StopInstances", ids[:100])
    assert model.tally("StopInstances").ids_taken == 1000


def test_a_request_for_more_ids_than_a_full_bucket_holds_is_always_refused(manual):
    model = RateLimits(clock=manual)
    assert not model.admit("ec2", "StartInstances", [f"i-{n}" for n in range(1001)])


def test_scale_multiplies_rates_and_sizes_with_one_token_at_least(manual):
    model = RateLimits(clock=manual, scale=FAST)
    assert model.figures("ec2", "StartInstances") == (Rate(1, 200), Rate(100, 200))
    assert model.figures("ec2", "StopInstances") == (Rate(20, 500), Rate(100, 2000))
    assert model.figures("ec2", "DescribeInstances") == (Rate(10, 2000), None)
    assert model.figures("rds", "StartDBCluster") == (Rate(30, 1200), None)
    ids = [f"i-{n}" for n in range(100)]
    assert model.admit("ec2", "StartInstances", ids)
    assert not model.admit("ec2", "StartInstances", ids[:1])
    manual.now += 0.5  # 100 ids and a request again
    assert model.admit("ec2", "StartInstances", ids)


def test_buckets_are_per_account_and_region(manual):
    model = RateLimits(clock=manual)
    model.empty("StartInstances", region="us-east-1", account="a")
    assert not model.admit("ec2", "StartInstances", ["i-1"], account="a", region="us-east-1")
    assert model.admit("ec2", "StartInstances", ["i-1"], account="a", region="eu-west-1")
    assert model.admit("ec2", "StartInstances", ["i-1"], account="b", region="us-east-1")
    assert model.admit("ec2", "CreateTags", account="a", region="us-east-1")  # its own bucket


def test_a_level_set_before_first_use_holds_when_the_bucket_is_made(manual):
    model = RateLimits(clock=manual)
    model.set_level("StartInstances", ids=3)
    assert not model.admit("ec2", "StartInstances", ["i-1", "i-2", "i-3", "i-4"])
    assert model.admit("ec2", "StartInstances", ["i-1", "i-2", "i-3"])


def test_other_services_and_unlisted_actions_are_not_modelled():
    assert bucket_of("ec2", "DescribeSpotInstanceRequests") == NON_MUTATING
    assert bucket_of("ec2", "RunInstances") is None
    assert bucket_of("sts", "AssumeRole") is None
    assert bucket_of("rds", "AddTagsToResource") == "rds"


def probe(service: str, api: str) -> str:
    """An API that takes from `offhours.pace.LIMITS`' bucket `(service, api)`."""
    if api != "*":
        return api
    return "DescribeInstances" if service == "ec2" else "DescribeDBInstances"


def test_the_model_holds_the_same_figures_as_offhours_pace():
    """Written apart on purpose: the figures of DESIGN §4, twice."""
    model = RateLimits()
    for (service, api), (requests, ids) in pace.LIMITS.items():
        if service not in ("ec2", "rds"):
            continue  # Auto Scaling publishes no figures: offhours' own guess, not modelled
        figures = model.figures(service, probe(service, api))
        assert figures is not None, (service, api)
        assert figures[0] == Rate(requests.size, requests.rate), (service, api)
        assert figures[1] == (None if ids is None else Rate(ids.size, ids.rate)), (service, api)
    modelled = {k for k in AWS_LIMITS if k[1] not in (NON_MUTATING, "rds")}
    assert modelled == {k for k in pace.LIMITS if k[1] != "*" and k[0] in ("ec2", "rds")}


# -- at the endpoint ----------------------------------------------------------------------------


def own_client(url: str, service: str = "ec2") -> Any:
    """A client that says it is offhours (as `offhours.aws.RETRIES` does), without retries."""
    config = BotoConfig(
        user_agent_extra="offhours", retries={"mode": "standard", "total_max_attempts": 1}
    )
    return boto3.client(service, region_name="us-east-1", endpoint_url=url, config=config)


def test_offhours_requests_are_refused_as_ec2_refuses_them(fleet, rate_limits, moto_endpoint):
    iid = fleet.one(OFFICE, state="stopped")
    rate_limits.empty("StartInstances")
    client = own_client(moto_endpoint.url)
    with pytest.raises(ClientError) as refused:
        client.start_instances(InstanceIds=[iid])
    error = refused.value.response
    assert error["Error"]["Code"] == "RequestLimitExceeded"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert fleet.state(iid) == "stopped"
    fleet.start(iid)  # the test's own client is never throttled
    assert fleet.state(iid) == "running"
    assert rate_limits.tally("StartInstances").throttled == 1
    assert rate_limits.tally("StartInstances").allowed == 0
    client.describe_instances(InstanceIds=[iid])
    assert rate_limits.tally("DescribeInstances").allowed == 1


def test_offhours_rds_requests_are_refused_with_throttling(rate_limits, moto_endpoint):
    rate_limits.empty("DescribeDBInstances", service="rds")
    rds = own_client(moto_endpoint.url, "rds")
    with pytest.raises(ClientError) as refused:
        rds.describe_db_instances()
    assert refused.value.response["Error"]["Code"] == "Throttling"
    assert rate_limits.tally("DescribeDBInstances", "rds").throttled == 1


def test_a_start_takes_one_token_per_instance(fleet, rate_limits, moto_endpoint):
    ids = fleet.launch(OFFICE, state="stopped", count=3)
    rate_limits.set_level("StartInstances", ids=5)
    client = own_client(moto_endpoint.url)
    client.start_instances(InstanceIds=ids)
    account = rate_limits.answers[-1].account  # the access key that signed the request
    assert rate_limits.level("StartInstances", ids=True, account=account) < 3
    with pytest.raises(ClientError):
        client.start_instances(InstanceIds=ids)
    assert rate_limits.tally("StartInstances").ids_taken == 3
    assert rate_limits.ids_admitted("StartInstances") == dict.fromkeys(ids, 1)


# -- the handler under the limits -------------------------------------------------------------


@dataclass
class ClockedContext(LambdaContext):
    """A LambdaContext whose remaining time reads the simulated clock."""

    clock: Callable[[], float] = field(default_factory=SimulatedClock)
    deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


@pytest.fixture
def limited(rate_limits: RateLimits, simulated_clock: SimulatedClock) -> RateLimits:
    """The model on the simulated clock, at AWS's figures (a test may set `scale` first)."""
    rate_limits.clock = simulated_clock
    return rate_limits


@pytest.fixture
def run_at(invoke, simulated_clock) -> Callable[..., Any]:
    """One scheduled run of the handler at `at`, with `seconds` of the function's time left."""

    def go(at: datetime, seconds: float = 300.0) -> Any:
        context = ClockedContext(clock=simulated_clock, deadline=simulated_clock() + seconds)
        event = scheduled_event(time=at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return invoke(event, context, now=at)

    return go


def outcomes(invocation: Any, ids: list[str]) -> dict[str, str]:
    return {i: line["outcome"] for i, line in invocation.decisions.items() if i in ids}


def test_a_start_of_more_instances_than_the_bucket_holds_starts_them_all(fleet, limited, run_at):
    limited.scale = FAST  # 100 instance ids in the bucket
    ids = fleet.launch(OFFICE, state="stopped", handled=THURSDAY_STOP, count=250,
                       fingerprinted=True)  # fmt: skip
    run = run_at(NOON)
    assert run.error is None
    assert run.result["failed"] == 0
    assert run.result["started"] == 250
    assert all(fleet.state(i) == "running" for i in ids[::25])
    assert limited.ids_admitted("StartInstances") == dict.fromkeys(ids, 1)
    assert set(outcomes(run, ids).values()) == {"done"}


def test_a_quiet_run_is_never_throttled(fleet, limited, run_at):
    fleet.launch(OFFICE, handled=FRIDAY_START, count=20, fingerprinted=True)
    run = run_at(NOON)
    assert run.result["failed"] == 0 and run.result["started"] == 0
    assert limited.throttled == 0
    assert limited.allowed > 0


def test_setup_calls_are_never_throttled(fleet, limited):
    for api in ("StartInstances", "StopInstances", "CreateTags", "DescribeInstances"):
        limited.empty(api)
    iid = fleet.one(OFFICE, state="stopped", fingerprinted=True)
    fleet.start(iid)
    assert fleet.state(iid) == "running"
    assert limited.allowed == limited.throttled == 0


def test_a_stop_of_more_instances_than_the_bucket_holds_finishes_within_the_run(
    fleet, limited, run_at
):
    limited.scale = Scale(rate=1, size=0.1)  # 100 ids, then 20 a second
    ids = fleet.launch(OFFICE, handled=FRIDAY_START, count=250, fingerprinted=True)
    run = run_at(EVENING)
    assert run.error is None
    assert run.result["failed"] == 0
    assert run.result["stopped"] == 250
    assert set(outcomes(run, ids).values()) == {"done"}
    assert limited.ids_admitted("StopInstances") == dict.fromkeys(ids, 1)
    assert all(fleet.state(i) == "stopped" for i in ids[::25])


def test_wired_a_start_bucket_emptied_by_another_tool_defers_never_fails(
    fleet, limited, run_at, simulated_clock
):
    """At AWS's figures: another tool has just used every StartInstances token, and the run
    has 60 s left (40 s before offhours stops new calls): 2 ids a second cannot start 160
    instances. What it cannot start is deferred, not failed; the next runs, five minutes
    apart, start the rest, and no instance is started twice."""
    ids = fleet.launch(OFFICE, state="stopped", handled=THURSDAY_STOP, count=160,
                       fingerprinted=True)  # fmt: skip
    limited.empty("StartInstances")
    first = run_at(NOON, seconds=60)
    assert first.error is None
    said = outcomes(first, ids)
    assert "failed" not in said.values()
    assert first.result["failed"] == 0
    assert "deferred" in said.values()
    assert first.result["started"] < len(ids)
    at = NOON
    for _ in range(3):
        if all(fleet.state(i) == "running" for i in ids):
            break
        simulated_clock.sleep(300)
        at += timedelta(minutes=5)
        later = run_at(at)
        assert later.result["failed"] == 0
        assert "failed" not in outcomes(later, ids).values()
    assert [i for i in ids if fleet.state(i) != "running"] == []
    assert limited.ids_admitted("StartInstances") == dict.fromkeys(ids, 1)
    assert all(fleet.anchor(i) == FRIDAY_START for i in ids[::20])


def test_wired_an_emptied_start_bucket_is_waited_for_when_time_allows(fleet, limited, run_at):
    """At AWS's figures, another tool has just used every StartInstances token: 100 ids come
    back in 50 s, so a run with its whole 300 s starts them all and defers nothing."""
    ids = fleet.launch(OFFICE, state="stopped", handled=THURSDAY_STOP, count=100,
                       fingerprinted=True)  # fmt: skip
    limited.empty("StartInstances")
    run = run_at(NOON)
    assert run.result["failed"] == 0
    assert set(outcomes(run, ids).values()) == {"done"}
    assert run.result["started"] == 100
    assert limited.ids_admitted("StartInstances") == dict.fromkeys(ids, 1)


def pace_limits_as(
    model: RateLimits,
) -> dict[tuple[str, str], tuple[pace.Limit, pace.Limit | None]]:
    """`offhours.pace.LIMITS` with the model's (scaled) figures."""
    out: dict[tuple[str, str], tuple[pace.Limit, pace.Limit | None]] = {}
    for service, api in pace.LIMITS:
        if service not in ("ec2", "rds"):
            out[(service, api)] = pace.LIMITS[(service, api)]  # not modelled at the endpoint
            continue
        figures = model.figures(service, probe(service, api))
        assert figures is not None
        requests, ids = figures
        out[(service, api)] = (
            pace.Limit(requests.size, requests.per_second),
            pace.Limit(ids.size, ids.per_second) if ids is not None else None,
        )
    return out


def test_wired_a_pacer_that_knows_the_limits_is_never_throttled(
    fleet, limited, run_at, monkeypatch
):
    """When offhours' figures are the endpoint's (both scaled alike here), it waits for its
    tokens instead of being refused: a stop and then a start of more instances than the
    buckets hold, and not one request throttled."""
    limited.scale = Scale(rate=1, size=0.1)
    monkeypatch.setattr(pace, "LIMITS", pace_limits_as(limited))
    ids = fleet.launch(OFFICE, handled=FRIDAY_START, count=250, fingerprinted=True)
    stop = run_at(EVENING)
    assert stop.result["stopped"] == 250 and stop.result["failed"] == 0
    start = run_at(EVENING.replace(day=30, hour=8, minute=5))  # Monday
    assert start.result["started"] == 250 and start.result["failed"] == 0
    refused = [(a.api, len(a.ids), round(a.at, 2)) for a in limited.answers if not a.allowed]
    assert limited.throttled == 0, refused
    assert limited.ids_admitted("StartInstances") == dict.fromkeys(ids, 1)
