"""AWS's rate limits, designed for: the token buckets of an account and region, modelled on the
client side so that a run paces its calls to them instead of hammering them.

EC2 throttles each API per account and region with token buckets (AWS, "Request throttling for
the Amazon EC2 API"): a request takes a token from its API's request bucket, and the actions
that change instances also take one token per instance from a resource bucket. A bucket refills
at a fixed rate up to its size. RDS throttles its API calls likewise. `LIMITS` holds the figures
DESIGN §4 names; an account with raised limits only waits less than it needs to.

How a run uses them (`Pacer.acquire`):
- before a call, the tokens it needs are taken from the buckets that the process models for
  that account and region (kept across warm invocations, like the clients); when they are not
  there, the run sleeps until they are, if that is before its deadline, and otherwise the work
  is deferred to the next run (never failed: throttling is not the instance's fault);
- a call that AWS throttles anyway (the buckets are shared with every other caller in the
  account: the console, other tools) empties the modelled bucket, and the batch waits for it;
- background work (first-sight records, clean-up) never takes a bucket below `RESERVE` of its
  size, so that the current event's actions and their state tags, and the next run's event, always
  find tokens.

`monotonic` and `sleep` are the only clock of this module: simulations (the benches) replace
both to run hours of throttled work in seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

from offhours.resources import KINDS

monotonic: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


class Priority(Enum):
    EVENT = "event"  # the current event's actions and their state tags
    BACKGROUND = "background"  # first-sight records, clean-up, notices


# What is left of a bucket's size for the current event when background work takes tokens.
RESERVE = 0.5
# Seconds of refill kept in hand at the edge of a bucket (round trips vary).
MARGIN = 0.25
# A wait shorter than this is taken as none (float rounding must not make a run spin).
SLACK = 0.001


@dataclass(frozen=True)
class Limit:
    size: float  # tokens when full (the burst)
    rate: float  # tokens a second


# (service, API) -> (request bucket, resource bucket or None), from each kind's figures
# (`offhours.resources.KINDS`). Actions absent here take a token from the service's default
# bucket (key API "*").
LIMITS: dict[tuple[str, str], tuple[Limit, Limit | None]] = {
    (name, api): (Limit(*requests), Limit(*resources) if resources is not None else None)
    for name, kind in KINDS.items()
    for api, (requests, resources) in kind.limits.items()
}

# The error codes that say "throttled", whatever the service.
THROTTLING_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestThrottledException",
        "SlowDown",
    }
)


@dataclass
class Bucket:
    limit: Limit
    tokens: float
    at: float

    def level(self, now: float) -> float:
        return min(self.limit.size, self.tokens + (now - self.at) * self.limit.rate)

    def wait(self, cost: float, now: float, floor: float = 0.0) -> float:
        """Seconds until `cost` tokens can be taken leaving at least `floor` in the bucket
        (a cost above the size waits for a full bucket: one call may take what it holds).
        At the edge of the bucket it waits `MARGIN` seconds of refill more: AWS takes the
        tokens when a request arrives, not when it is sent, and round trips vary."""
        cost = min(cost, self.limit.size - floor)
        level = self.level(now)
        if level >= self.limit.size:
            return 0.0  # a full bucket holds what any one call may take
        margin = max(0.0, min(self.limit.rate * MARGIN, self.limit.size - cost - floor))
        missing = cost + floor + margin - level
        if cost + floor <= level and level - cost - floor >= margin:
            return 0.0
        return max(0.0, missing / self.limit.rate)

    def take(self, cost: float, now: float) -> None:
        self.tokens = self.level(now) - min(cost, self.limit.size)
        self.at = now

    def empty(self, now: float) -> None:
        self.tokens = min(0.0, self.level(now))
        self.at = now


@dataclass
class Buckets:
    """The buckets of one account and region, as this process believes them to be."""

    service: str
    buckets: dict[str, Bucket] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, api: str) -> tuple[Bucket, Bucket | None]:
        key = api if (self.service, api) in LIMITS else "*"
        request_limit, resource_limit = LIMITS.get((self.service, key), LIMITS[(self.service, "*")])
        now = monotonic()
        request = self.buckets.get(f"{key}:requests")
        if request is None:
            request = self.buckets[f"{key}:requests"] = Bucket(
                request_limit, request_limit.size, now
            )
        resource: Bucket | None = None
        if resource_limit is not None:
            resource = self.buckets.get(f"{key}:resources")
            if resource is None:
                resource = self.buckets[f"{key}:resources"] = Bucket(
                    resource_limit, resource_limit.size, now
                )
        return request, resource


_REGISTRY: dict[tuple[str, str, str], Buckets] = {}
_REGISTRY_LOCK = threading.Lock()


def buckets_for(service: str, account: str, region: str) -> Buckets:
    """The modelled buckets of `service` in one account and region, shared by every run of
    this process (a warm Lambda keeps what it learnt)."""
    key = (service, account, region)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = _REGISTRY[key] = Buckets(service)
        return found


def forget_all() -> None:
    """Drop every modelled bucket (a cold start; the tests between scenarios)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


class Pacer:
    """One run's use of the buckets of one account-region service: it waits for tokens as
    long as `time_left` (seconds before the run's new calls must stop; None: no limit) allows,
    and no longer."""

    def __init__(
        self,
        buckets: Buckets,
        time_left: Callable[[], float] | None = None,
        *,
        record_slack: float = 0.0,
    ) -> None:
        self.buckets = buckets
        self.time_left = time_left  # seconds before new calls must stop; None: no limit
        self.record_slack = record_slack  # the extra seconds that recording an action has
        self.priority = Priority.EVENT

    @contextmanager
    def background(self) -> Iterator[None]:
        """Calls made inside are background work: they leave the buckets' reserve alone."""
        before, self.priority = self.priority, Priority.BACKGROUND
        try:
            yield
        finally:
            self.priority = before

    def _deadline(self, recording: bool) -> float | None:
        if self.time_left is None:
            return None
        return monotonic() + self.time_left() + (self.record_slack if recording else 0.0)

    def acquire(self, api: str, resources: int = 0, *, recording: bool = False) -> bool:
        """Take the tokens of one call of `api` naming `resources` resources, sleeping until
        they are there. False (nothing taken) when they would come after the run's deadline
        (`recording`: the later deadline of an action's state tags): the caller defers that
        work to the next run."""
        floor_share = RESERVE if self.priority is Priority.BACKGROUND else 0.0
        deadline = self._deadline(recording)
        with self.buckets.lock:
            request, resource = self.buckets.of(api)
            while True:
                now = monotonic()
                wait = request.wait(1, now, floor_share * request.limit.size)
                if resource is not None and resources:
                    wait = max(
                        wait, resource.wait(resources, now, floor_share * resource.limit.size)
                    )
                if wait <= SLACK:  # a millisecond short: rounding, not a bucket to wait for
                    request.take(1, now)
                    if resource is not None and resources:
                        resource.take(resources, now)
                    return True
                if deadline is not None and now + wait > deadline:
                    return False
                sleep(wait)

    def settle(self, api: str) -> None:
        """A call of `api` has come back: the tokens it took count as taken now, not when it
        was sent (AWS takes them when the request arrives, and the refill during the round
        trip is not ours to spend)."""
        with self.buckets.lock:
            request, resource = self.buckets.of(api)
            now = monotonic()
            for bucket in (request, resource):
                if bucket is not None and bucket.tokens < bucket.limit.size:
                    bucket.at = max(bucket.at, now)

    def throttled(self, api: str) -> None:
        """AWS said the bucket is empty (other callers share it): believe it."""
        with self.buckets.lock:
            request, resource = self.buckets.of(api)
            now = monotonic()
            request.empty(now)
            if resource is not None:
                resource.empty(now)
