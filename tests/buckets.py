"""AWS's rate limits at the local endpoint: EC2's and RDS's token buckets, per account and region.

EC2 throttles each API per account and region with token buckets ("Request throttling for the
Amazon EC2 API"): a request takes a token from its API's request bucket, StartInstances and
StopInstances also take one token per instance id from a resource bucket, and a bucket refills
at a fixed rate up to its size. A request whose tokens are not all there takes none and is
refused as AWS refuses it: EC2 answers HTTP 503 `RequestLimitExceeded`, RDS the query
protocol's `Throttling` (HTTP 400, as RDS does). RDS has one bucket for its API.

This model is written from AWS's figures (DESIGN §4), not from `offhours.pace`, so that a test
may hold the two against each other. It answers at the HTTP layer of real boto3 clients
(botocore's `before-send` hook), in front of moto, and only for requests of offhours' own
clients (their User-Agent carries "offhours", `offhours.aws.RETRIES`): what a test sets up
is never throttled.

- `scale` speeds a test up: `Scale(rate=100, size=0.1)` refills a hundred times faster and
  holds a tenth (a bucket holds at least one token).
- `clock` is a function of no arguments returning seconds (default `time.monotonic`): a test
  that simulates time gives the model the clock it gives `offhours.pace`.
- The account of a request is the access key that signed it (the credential scope of its
  Authorization header), its region and service those of the scope: the same account is the
  same key, which holds for moto's own account and for one assumed role's session.
- `install(model)` makes it answer for every client of the process (until `uninstall()`); the
  fixture `rate_limits` does it for one test and returns the model (`pytest_plugins` in
  conftest.py: the fixture lives here).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import pytest
from botocore import handlers as botocore_handlers
from botocore.awsrequest import AWSResponse

from tests.faults import error_response, query_error_response


@dataclass(frozen=True)
class Rate:
    """A bucket's figures: `size` tokens when full (the burst), `per_second` refilled."""

    size: float
    per_second: float


@dataclass(frozen=True)
class Scale:
    """A test's speed-up: rates multiplied by `rate`, sizes by `size` (at least one token)."""

    rate: float = 1.0
    size: float = 1.0

    def of(self, figures: Rate) -> Rate:
        return Rate(max(1.0, figures.size * self.size), figures.per_second * self.rate)


# EC2's non-mutating actions (Describe*, Get*, List*, Search*) share one bucket; each mutating
# action that offhours makes has its own. RDS: one bucket for every action.
NON_MUTATING = "non-mutating"
EC2_PREFIXES = ("Describe", "Get", "List", "Search")

# (service, bucket) -> (requests, instance ids or None): AWS's figures (DESIGN §4).
AWS_LIMITS: dict[tuple[str, str], tuple[Rate, Rate | None]] = {
    ("ec2", NON_MUTATING): (Rate(100, 20), None),
    ("ec2", "StartInstances"): (Rate(5, 2), Rate(1000, 2)),
    ("ec2", "StopInstances"): (Rate(200, 5), Rate(1000, 20)),
    ("ec2", "CreateTags"): (Rate(100, 10), None),
    ("ec2", "DeleteTags"): (Rate(100, 10), None),
    ("rds", "rds"): (Rate(300, 12), None),
}

THROTTLED = {
    "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
    "rds": (400, "Throttling", "Rate exceeded"),
}
CREDENTIAL = re.compile(rb"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
OWN_AGENT = b"offhours"


def bucket_of(service: str, api: str) -> str | None:
    """The bucket an API's requests take from; None: not modelled (never throttled)."""
    if service == "rds":
        return "rds"
    if service != "ec2":
        return None
    if (service, api) in AWS_LIMITS:
        return api
    return NON_MUTATING if api.startswith(EC2_PREFIXES) else None


@dataclass
class Bucket:
    rate: Rate
    tokens: float
    at: float

    def level(self, now: float) -> float:
        return min(self.rate.size, self.tokens + max(0.0, now - self.at) * self.rate.per_second)

    def set(self, tokens: float, now: float) -> None:
        self.tokens = min(self.rate.size, max(0.0, tokens))
        self.at = now

    def take(self, tokens: float, now: float) -> None:
        self.set(self.level(now) - tokens, now)


@dataclass
class Tally:
    """One API's requests as the endpoint saw them: `allowed` and `throttled` requests (every
    attempt counts: botocore's retries are requests too), instance ids `taken` from the
    resource bucket."""

    allowed: int = 0
    throttled: int = 0
    ids_taken: int = 0


@dataclass(frozen=True)
class Answer:
    """What the model said to one request."""

    at: float
    service: str
    api: str
    account: str
    region: str
    ids: tuple[str, ...]
    allowed: bool


@dataclass
class _Level:
    """A level set for buckets that may not exist yet (`None` matches any account/region)."""

    service: str
    bucket: str
    requests: float | None
    ids: float | None
    account: str | None
    region: str | None

    def matches(self, service: str, bucket: str, account: str, region: str) -> bool:
        return (
            (self.service, self.bucket) == (service, bucket)
            and self.account in (None, account)
            and self.region in (None, region)
        )


@dataclass
class RateLimits:
    """The buckets of every account and region at the endpoint, full when first used."""

    scale: Scale = field(default_factory=Scale)
    clock: Callable[[], float] = time.monotonic
    limits: dict[tuple[str, str], tuple[Rate, Rate | None]] = field(
        default_factory=lambda: dict(AWS_LIMITS)
    )
    tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    _buckets: dict[tuple[str, str, str, str], tuple[Bucket, Bucket | None]] = field(
        default_factory=dict
    )
    _levels: list[_Level] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the model ---------------------------------------------------------------------------

    def figures(self, service: str, api: str) -> tuple[Rate, Rate | None] | None:
        """The (scaled) request and instance-id figures of an API; None: not modelled."""
        bucket = bucket_of(service, api)
        if bucket is None or (service, bucket) not in self.limits:
            return None
        requests, ids = self.limits[(service, bucket)]
        return self.scale.of(requests), (self.scale.of(ids) if ids is not None else None)

    def admit(
        self,
        service: str,
        api: str,
        ids: tuple[str, ...] | list[str] = (),
        *,
        account: str = "",
        region: str = "us-east-1",
    ) -> bool:
        """One request: True (its tokens are taken) or False (throttled: nothing taken)."""
        ids = tuple(ids)
        with self._lock:
            now = self.clock()
            pair = self._pair(service, api, account, region, now)
            allowed = True
            if pair is not None:
                request, resource = pair
                cost = len(ids) if resource is not None else 0
                allowed = request.level(now) >= 1 and (
                    resource is None or resource.level(now) >= cost
                )
                if allowed:
                    request.take(1, now)
                    if resource is not None:
                        resource.take(cost, now)
            tally = self.tallies.setdefault((service, api), Tally())
            if allowed:
                tally.allowed += 1
                if pair is not None and pair[1] is not None:
                    tally.ids_taken += len(ids)
            else:
                tally.throttled += 1
            self.answers.append(Answer(now, service, api, account, region, ids, allowed))
            return allowed

    def _pair(
        self, service: str, api: str, account: str, region: str, now: float
    ) -> tuple[Bucket, Bucket | None] | None:
        bucket = bucket_of(service, api)
        figures = self.figures(service, api)
        if bucket is None or figures is None:
            return None
        key = (account, region, service, bucket)
        pair = self._buckets.get(key)
        if pair is None:
            requests, ids = figures
            pair = self._buckets[key] = (
                Bucket(requests, requests.size, now),
                Bucket(ids, ids.size, now) if ids is not None else None,
            )
            for level in self._levels:
                if level.matches(service, bucket, account, region):
                    self._apply(level, pair, now)
        return pair

    @staticmethod
    def _apply(level: _Level, pair: tuple[Bucket, Bucket | None], now: float) -> None:
        if level.requests is not None:
            pair[0].set(level.requests, now)
        if level.ids is not None and pair[1] is not None:
            pair[1].set(level.ids, now)

    def set_level(
        self,
        api: str,
        *,
        requests: float | None = None,
        ids: float | None = None,
        service: str = "ec2",
        account: str | None = None,
        region: str | None = None,
    ) -> None:
        """Set the tokens of an API's buckets now (0: empty, as if another tool had used them),
        in every account and region unless named; buckets not used yet start at that level."""
        bucket = bucket_of(service, api)
        if bucket is None:
            raise ValueError(f"{service} {api} is not modelled")
        level = _Level(service, bucket, requests, ids, account, region)
        with self._lock:
            now = self.clock()
            self._levels.append(level)
            for (acc, reg, svc, name), pair in self._buckets.items():
                if level.matches(svc, name, acc, reg):
                    self._apply(level, pair, now)

    def empty(self, api: str, *, service: str = "ec2", **where: Any) -> None:
        """Both buckets of an API empty (another tool has just used them)."""
        self.set_level(api, requests=0, ids=0, service=service, **where)

    def level(
        self,
        api: str,
        *,
        ids: bool = False,
        service: str = "ec2",
        account: str = "",
        region: str = "us-east-1",
    ) -> float:
        """The tokens in an API's request bucket (`ids`: its instance-id bucket) now."""
        with self._lock:
            now = self.clock()
            pair = self._pair(service, api, account, region, now)
            if pair is None:
                return float("inf")
            bucket = pair[1] if ids else pair[0]
            return float("inf") if bucket is None else bucket.level(now)

    # -- what it saw -------------------------------------------------------------------------

    def tally(self, api: str, service: str = "ec2") -> Tally:
        return self.tallies.get((service, api), Tally())

    @property
    def throttled(self) -> int:
        """Requests refused, every API."""
        return sum(t.throttled for t in self.tallies.values())

    @property
    def allowed(self) -> int:
        return sum(t.allowed for t in self.tallies.values())

    def ids_admitted(self, api: str, service: str = "ec2") -> Counter[str]:
        """How many allowed requests of `api` named each id (2: acted on twice)."""
        return Counter(
            i
            for a in self.answers
            if a.allowed and a.api == api and a.service == service
            for i in a.ids
        )

    def reset_counts(self) -> None:
        with self._lock:
            self.tallies.clear()
            self.answers.clear()

    # -- at the endpoint ---------------------------------------------------------------------

    def answer(self, request: Any, **_: Any) -> AWSResponse | None:
        """botocore's `before-send` handler: a refusal, or None (the endpoint answers)."""
        headers = request.headers
        agent = _bytes(headers.get("User-Agent"))
        if OWN_AGENT not in agent:
            return None
        found = CREDENTIAL.search(_bytes(headers.get("Authorization")))
        if found is None:
            return None
        key, region, service = (part.decode() for part in found.groups())
        params = _params(request)
        api = params.get("Action", [""])[0]
        if bucket_of(service, api) is None:
            return None
        ids = tuple(
            v[0] for k, v in sorted(params.items(), key=_param_order) if k.startswith("InstanceId.")
        )
        if self.admit(service, api, ids, account=key, region=region):
            return None
        status, code, message = THROTTLED[service]
        if service == "rds":
            return query_error_response(request, status, code, message)
        return error_response(request, status, code, message)


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else str(value).encode()


def _params(request: Any) -> dict[str, list[str]]:
    body = request.body
    if hasattr(body, "read"):  # not the query protocol's form: not modelled
        return {}
    return parse_qs(body.decode() if isinstance(body, bytes) else str(body or ""))


def _param_order(item: tuple[str, list[str]]) -> tuple[str, int]:
    name, _ = item
    prefix, _, number = name.rpartition(".")
    return (prefix, int(number)) if number.isdigit() else (name, 0)


# -- simulated time ---------------------------------------------------------------------------


@dataclass
class SimulatedClock:
    """Seconds that run with the real clock and jump when slept: now = real monotonic + total
    slept. What offhours sleeps (`offhours.pace.sleep`, botocore's retry backoff) costs no real
    time, and the buckets refill as if it had passed."""

    slept: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> float:
        return time.monotonic() + self.slept

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept += max(0.0, seconds)


def simulate(clock: SimulatedClock, setattr_: Callable[[Any, str, Any], None] = setattr) -> None:
    """Make offhours' pacing (`offhours.pace.monotonic`, `.sleep`) and botocore's retry backoff
    run on `clock` (`setattr_`: a monkeypatch's, to be undone)."""
    import botocore.endpoint

    from offhours import pace

    setattr_(pace, "monotonic", clock)
    setattr_(pace, "sleep", clock.sleep)
    setattr_(botocore.endpoint, "time", SimpleNamespace(sleep=clock.sleep))


# -- installing --------------------------------------------------------------------------------

_ACTIVE: list[RateLimits] = []
_MARK = "_offhours_rate_limits"  # set on a prepared request once the model has answered it
UNIQUE_ID = "tests.buckets.rate-limits"


def _dispatch(request: Any, **kwargs: Any) -> AWSResponse | None:
    """The one handler registered everywhere: forwards to the installed model, once per request
    (a client may hold it twice: from its session and registered on itself)."""
    if not _ACTIVE:
        return None
    if hasattr(request, _MARK):
        return getattr(request, _MARK)  # type: ignore[no-any-return]
    response = _ACTIVE[-1].answer(request, **kwargs)
    setattr(request, _MARK, response)
    return response


def install(model: RateLimits, clients: Any = None) -> None:
    """Make `model` answer for every client of the process: sessions made from now on (botocore's
    BUILTIN_HANDLERS), and the clients and session already held by `clients`
    (`offhours.aws.Clients`, default: the one the handler uses)."""
    _ACTIVE.append(model)
    if ("before-send", _dispatch) not in botocore_handlers.BUILTIN_HANDLERS:
        botocore_handlers.BUILTIN_HANDLERS.append(("before-send", _dispatch))
    if clients is None:
        from offhours import runtime

        clients = runtime.clients
    register_on(clients)


def register_on(clients: Any) -> None:
    """Register the model on an `offhours.aws.Clients`: its session (for clients made later) and
    every client it holds."""
    import boto3

    if boto3.DEFAULT_SESSION is not None:  # what boto3.client() makes clients from
        boto3.DEFAULT_SESSION._session.register("before-send", _dispatch, unique_id=UNIQUE_ID)
    held = clients.__dict__
    session = held.get("_session")
    if session is not None:
        session._session.register("before-send", _dispatch, unique_id=UNIQUE_ID)
    for store in ("_ec2", "_targets", "_others"):
        for client in held.get(store, {}).values():
            client.meta.events.register("before-send", _dispatch, unique_id=UNIQUE_ID)
    for member in held.get("_members", {}).values():
        member._session.register("before-send", _dispatch, unique_id=UNIQUE_ID)


def uninstall() -> None:
    """No model answers any more (the handlers stay registered and do nothing)."""
    _ACTIVE.clear()
    while ("before-send", _dispatch) in botocore_handlers.BUILTIN_HANDLERS:
        botocore_handlers.BUILTIN_HANDLERS.remove(("before-send", _dispatch))


@pytest.fixture
def rate_limits(moto_endpoint: Any) -> Iterator[RateLimits]:
    """AWS's rate limits at the local endpoint for this test (AWS's figures, the real clock):
    returns the model, whose `scale` and `clock` a test may set before its first request and
    whose levels it may set at any time (`empty`, `set_level`). offhours' own modelled buckets
    (`offhours.pace`) are forgotten before and after, as at a cold start."""
    from offhours import pace

    pace.forget_all()
    model = RateLimits()
    install(model)
    yield model
    uninstall()
    pace.forget_all()


@pytest.fixture
def simulated_clock(monkeypatch: pytest.MonkeyPatch) -> SimulatedClock:
    """A `SimulatedClock` that offhours' pacing and botocore's retries sleep on (undone after
    the test); give it to the model too (`rate_limits.clock = simulated_clock`)."""
    clock = SimulatedClock()
    simulate(clock, monkeypatch.setattr)
    return clock
