"""What an hour of a resource costs on demand, from AWS's Price List API (issue 19).

A `Rate` names one product of the Price List: its service code and the attributes that pick it
(all TERM_MATCH), and how many of it a resource bills (`count`: a Multi-AZ RDS instance bills
two Single-AZ instances). `ec2_rate` and `rds_rate` make them from what DescribeInstances and
DescribeDBInstances say. `Prices.hourly` answers USD an hour for the rates of one resource, or
None when a price cannot be had: never 0, never a guess.

- A rate that nothing in the Price List matches, or that matches products whose prices differ
  (ambiguous), or whose price is 0 or unreadable, is unknown. What AWS answered is kept for the
  day: the Price List changes rarely, and a warm Lambda asks once per rate and day per process.
- A call that fails (throttled after botocore's retries, refused, unreachable, or `may_call()`
  said no) is not kept: the answer is None for now, and a later `Prices` (the next run) asks
  again. A `Prices` whose call failed makes no further call: a run never hammers the API.
- Bounded: at most `MAX_PAGES` pages per rate, `MAX_DOCUMENT` characters per product document
  and `MAX_TOTAL` per rate; beyond them, or in a malformed answer, the price is unknown.

The Price List API answers in us-east-1 (also eu-central-1 and ap-south-1), whatever region it
prices: the caller's client is made for one of those. Its right is `pricing:GetProducts`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

EC2 = "AmazonEC2"
RDS = "AmazonRDS"
DOCDB = "AmazonDocDB"
NEPTUNE = "AmazonNeptune"

SERVICE_NAMES = {DOCDB: "DocumentDB", NEPTUNE: "Neptune"}

PAGE_SIZE = 100  # MaxResults of GetProducts (its maximum)
MAX_PAGES = 5  # pages read for one rate; more means the filters do not pick one product
MAX_DOCUMENT = 1_000_000  # characters of one product document
MAX_TOTAL = 4_000_000  # characters of all the documents of one rate
MAX_CACHED = 4096  # rates kept for the day, per process


@dataclass(frozen=True)
class Rate:
    """What an hour of one resource costs, as the Price List API prices it."""

    service: str  # "AmazonEC2", "AmazonRDS", "AmazonDocDB", "AmazonNeptune"
    filters: tuple[tuple[str, str], ...]  # Price List attribute -> value, all TERM_MATCH, sorted
    count: int = 1  # how many bill (Multi-AZ: 2)

    def describe(self) -> str:
        """For messages: "m5.large, Linux, us-east-1", "2 x db.t4g.micro, MySQL, us-east-1"."""
        given = dict(self.filters)
        parts = [given.get("instanceType", "?")]
        if self.service in SERVICE_NAMES:
            parts.append(SERVICE_NAMES[self.service])
        for name in ("operatingSystem", "databaseEngine", "databaseEdition"):
            if name in given:
                parts.append(given[name])
        if given.get("preInstalledSw", "NA") != "NA":
            parts.append(given["preInstalledSw"])
        if given.get("licenseModel") == "Bring your own license":
            parts.append("BYOL")
        if given.get("tenancy", "Shared") != "Shared":
            parts.append(given["tenancy"])
        if given.get("storage") == AURORA_IO_OPTIMIZED:
            parts.append("I/O-Optimized")
        parts.append(given.get("regionCode", "?"))
        text = ", ".join(parts)
        return f"{self.count} x {text}" if self.count != 1 else text


def _rate(service: str, filters: dict[str, str], count: int = 1) -> Rate:
    return Rate(service, tuple(sorted(filters.items())), count)


# --- EC2 ------------------------------------------------------------------------------------

# DescribeInstances' PlatformDetails -> the Price List's (operatingSystem, preInstalledSw,
# licenseModel). A platform not named here is priced as unknown, never as Linux.
NO_LICENSE = "No License required"
BYOL = "Bring your own license"
PLATFORMS: dict[str, tuple[str, str, str]] = {
    "Linux/UNIX": ("Linux", "NA", NO_LICENSE),
    "Linux with SQL Server Standard": ("Linux", "SQL Std", NO_LICENSE),
    "Linux with SQL Server Web": ("Linux", "SQL Web", NO_LICENSE),
    "Linux with SQL Server Enterprise": ("Linux", "SQL Ent", NO_LICENSE),
    "Red Hat Enterprise Linux": ("RHEL", "NA", NO_LICENSE),
    "Red Hat Enterprise Linux with HA": ("Red Hat Enterprise Linux with HA", "NA", NO_LICENSE),
    "SUSE Linux": ("SUSE", "NA", NO_LICENSE),
    "Ubuntu Pro": ("Ubuntu Pro", "NA", NO_LICENSE),
    "Windows": ("Windows", "NA", NO_LICENSE),
    "Windows BYOL": ("Windows", "NA", BYOL),
    "Windows with SQL Server Standard": ("Windows", "SQL Std", NO_LICENSE),
    "Windows with SQL Server Web": ("Windows", "SQL Web", NO_LICENSE),
    "Windows with SQL Server Enterprise": ("Windows", "SQL Ent", NO_LICENSE),
}
UNREPORTED = "platform not reported"  # a platform AWS did not name: matches no product
# Placement.Tenancy -> the Price List's tenancy. An instance on a Dedicated Host ("host") is
# billed by its host, whose products price the instance at 0: unknown, as a zero price is.
TENANCIES = {"default": "Shared", "dedicated": "Dedicated", "host": "Host"}


def ec2_rate(
    region: str, instance_type: str, platform_details: str | None, tenancy: str | None
) -> Rate:
    """The on-demand rate of an EC2 instance. An unknown platform keeps its own text as the
    operating system, which no product carries: its price is unknown. A missing tenancy is
    the default one (Shared)."""
    system, software, licence = PLATFORMS.get(
        platform_details or "", (platform_details or UNREPORTED, "NA", NO_LICENSE)
    )
    return _rate(
        EC2,
        {
            "regionCode": region,
            "locationType": "AWS Region",
            "instanceType": instance_type,
            "operatingSystem": system,
            "preInstalledSw": software,
            "licenseModel": licence,
            "tenancy": TENANCIES.get(tenancy or "default", tenancy or "default"),
            "capacitystatus": "Used",  # not a capacity reservation's rows (some are 0)
            "marketoption": "OnDemand",  # not Capacity Blocks
        },
    )


# --- RDS, DocumentDB, Neptune ---------------------------------------------------------------

# RDS's Engine -> the Price List's (databaseEngine, databaseEdition, licenseModel); "" leaves
# the attribute out of the filters.
ENGINES: dict[str, tuple[str, str, str]] = {
    "mysql": ("MySQL", "", ""),
    "postgres": ("PostgreSQL", "", ""),
    "mariadb": ("MariaDB", "", ""),
    "aurora": ("Aurora MySQL", "", ""),
    "aurora-mysql": ("Aurora MySQL", "", ""),
    "aurora-postgresql": ("Aurora PostgreSQL", "", ""),
    "oracle-ee": ("Oracle", "Enterprise", "Bring your own license"),
    "oracle-ee-cdb": ("Oracle", "Enterprise", "Bring your own license"),
    "oracle-se2": ("Oracle", "Standard Two", ""),  # licence included or BYOL: license_model
    "oracle-se2-cdb": ("Oracle", "Standard Two", ""),
    "oracle-se1": ("Oracle", "Standard One", ""),
    "oracle-se": ("Oracle", "Standard", ""),
    "sqlserver-ee": ("SQL Server", "Enterprise", "License included"),
    "sqlserver-se": ("SQL Server", "Standard", "License included"),
    "sqlserver-web": ("SQL Server", "Web", "License included"),
    "sqlserver-ex": ("SQL Server", "Express", "License included"),
}
# RDS's LicenseModel -> the Price List's, where the engine leaves it open.
LICENSES = {
    "license-included": "License included",
    "bring-your-own-license": "Bring your own license",
}
# An Aurora cluster's StorageType -> the Price List's storage attribute of its instances: Aurora
# Standard and Aurora I/O-Optimized price the same class differently.
AURORA_STANDARD = "EBS Only"
AURORA_IO_OPTIMIZED = "Aurora IO Optimization Mode"
CLUSTER_SERVICES = {"docdb": DOCDB, "neptune": NEPTUNE}


def rds_rate(
    region: str,
    instance_class: str,
    engine: str,
    multi_az: bool,
    *,
    storage_type: str | None = None,
    license_model: str | None = None,
) -> Rate:
    """The on-demand rate of an RDS instance (or an Aurora, DocumentDB or Neptune cluster's
    member): the Single-AZ product, counted twice for a Multi-AZ instance. A member of a
    cluster bills once, whatever `multi_az` says: the cluster is the sum of its members.

    `storage_type` is the cluster's StorageType: "aurora-iopt1" prices an Aurora member as
    I/O-Optimized, anything else as Aurora Standard. `license_model` is the instance's
    LicenseModel, which decides Oracle SE2's product; without it that price is unknown when
    the two differ. An engine not named in `ENGINES` keeps its own text, and no product matches.
    """
    key = engine.lower()
    location = {"regionCode": region, "locationType": "AWS Region", "instanceType": instance_class}
    if key in CLUSTER_SERVICES:
        return _rate(CLUSTER_SERVICES[key], {**location, "productFamily": "Database Instance"})
    name, edition, licence = ENGINES.get(key, (engine, "", ""))
    filters = {
        **location,
        "productFamily": "Database Instance",
        "databaseEngine": name,
        "deploymentOption": "Single-AZ",
    }
    if edition:
        filters["databaseEdition"] = edition
    if not licence and license_model and name == "Oracle":
        licence = LICENSES.get(license_model.lower(), license_model)
    if licence:
        filters["licenseModel"] = licence
    if name.startswith("Aurora"):
        io = (storage_type or "").lower() == "aurora-iopt1"
        filters["storage"] = AURORA_IO_OPTIMIZED if io else AURORA_STANDARD
        return _rate(RDS, filters)
    return _rate(RDS, filters, 2 if multi_az else 1)


# --- the Price List API ---------------------------------------------------------------------

_Key = tuple[str, tuple[tuple[str, str], ...], date]
_cache: dict[_Key, Decimal | None] = {}  # module-level: kept across warm invocations
_fetching: dict[_Key, threading.Lock] = {}  # one fetch of a rate at a time in this process
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every price kept (for tests)."""
    with _lock:
        _cache.clear()
        _fetching.clear()


def _cached(key: _Key) -> tuple[bool, Decimal | None]:
    with _lock:
        if key in _cache:
            return True, _cache[key]
        return False, None


def _keep(key: _Key, price: Decimal | None) -> None:
    with _lock:
        for old in [k for k in _fetching if k[2] != key[2]]:  # another day's: stale
            del _fetching[old]
        for old in [k for k in _cache if k[2] != key[2]]:
            del _cache[old]
        while len(_cache) >= MAX_CACHED:
            oldest = next(iter(_cache))
            del _cache[oldest]
            _fetching.pop(oldest, None)
        _cache[key] = price


def _fetch_lock(key: _Key) -> threading.Lock:
    with _lock:
        found = _fetching.get(key)
        if found is None:
            found = _fetching[key] = threading.Lock()
        return found


class Unavailable(Exception):
    """A call to the Price List API failed, or was not allowed: nothing is known."""


class Prices:
    """Prices of rates for one run: `hourly` asks the Price List API (through `client()`, a
    pricing client, made only when a call is needed) for what the process does not know yet.
    `may_call()` is asked before every call (a run near its end says no). `calls` counts the
    GetProducts calls made; `failure` names the first that failed (an error code), after which
    this object makes no more."""

    def __init__(
        self,
        client: Callable[[], Any],
        *,
        today: Callable[[], date] | None = None,
        may_call: Callable[[], bool] | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._client = client
        self._today = today or (lambda: datetime.now(UTC).date())
        self._may_call = may_call or (lambda: True)
        self._page_size = page_size
        self._state = threading.Lock()
        self.calls = 0
        self.failure: str | None = None

    def hourly(self, rates: Sequence[Rate]) -> float | None:
        """USD an hour for a resource made of these rates (the sum of price x count); None if
        any is unknown, or if there are none."""
        if not rates:
            return None
        total = Decimal(0)
        for rate in rates:
            price = self.price(rate)
            if price is None:
                return None
            total += price * rate.count
        return float(total)

    def price(self, rate: Rate) -> Decimal | None:
        """USD an hour of one of `rate`'s product, or None."""
        key = (rate.service, rate.filters, self._today())
        known, price = _cached(key)
        if known:
            return price
        with _fetch_lock(key):
            known, price = _cached(key)  # another thread asked meanwhile
            if known:
                return price
            try:
                price = self._fetch(rate)
            except Unavailable:
                return None
            _keep(key, price)
            return price

    def _fetch(self, rate: Rate) -> Decimal | None:
        """The price AWS gives `rate`, None when it gives none or several or an unreadable
        one; raises Unavailable when AWS could not be asked."""
        filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in rate.filters]
        prices: set[Decimal] = set()
        read = 0
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._call(
                ServiceCode=rate.service,
                Filters=filters,
                FormatVersion="aws_v1",
                MaxResults=self._page_size,
                **({"NextToken": token} if token else {}),
            )
            items = page.get("PriceList")
            if not isinstance(items, list):
                return None
            for item in items:
                read += len(item) if isinstance(item, str) else 0
                found = on_demand_hourly(item)
                if found is None or read > MAX_TOTAL:
                    return None
                prices.add(found)
                if len(prices) > 1:
                    return None  # products that disagree: which one bills is unknown
            token = page.get("NextToken") or None
            if token is None:
                break
        else:
            return None  # more pages than a rate's product can fill
        return prices.pop() if len(prices) == 1 else None

    def _call(self, **args: Any) -> dict[str, Any]:
        with self._state:
            if self.failure is not None:
                raise Unavailable(self.failure)
            if not self._may_call():
                raise Unavailable("not now")
            self.calls += 1
        try:
            answer = self._client().get_products(**args)
        except Exception as exc:  # throttled, refused, unreachable: nothing is known
            code = _get(_get(getattr(exc, "response", None), "Error"), "Code")
            with self._state:
                self.failure = self.failure or str(code or type(exc).__name__)
            raise Unavailable(self.failure) from exc
        return answer if isinstance(answer, dict) else {}


# No instance or database class costs this much an hour on demand (the largest are near $400):
# a higher "price" is a broken or forged document, and unknown.
MAX_HOURLY = Decimal(1000)


def on_demand_hourly(item: Any) -> Decimal | None:
    """The on-demand USD price an hour of one Price List product (a JSON document, as
    GetProducts gives it, or its parsed form); None when it has none, several, a zero or
    negative one, or cannot be read."""
    if isinstance(item, str):
        if len(item) > MAX_DOCUMENT:
            return None
        try:
            item = json.loads(item)
        except (ValueError, RecursionError):
            return None
    terms = _get(_get(item, "terms"), "OnDemand")
    if not isinstance(terms, dict):
        return None
    found: set[Decimal] = set()
    for term in terms.values():
        dimensions = _get(term, "priceDimensions")
        if not isinstance(dimensions, dict):
            return None
        for dimension in dimensions.values():
            if _get(dimension, "unit") != "Hrs":
                continue
            text = _get(_get(dimension, "pricePerUnit"), "USD")
            if not isinstance(text, str) or len(text) > 40:
                return None
            try:
                price = Decimal(text)
            except InvalidOperation:
                return None
            if not price.is_finite() or price <= 0 or price > MAX_HOURLY:
                return None  # a zero is no price of a paid product, nor $1,000 an hour one

            found.add(price)
    return found.pop() if len(found) == 1 else None


def _get(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None
