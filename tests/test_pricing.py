"""Prices from AWS's Price List API (issue 19), asked of the local endpoint, which answers
GetProducts from the documents shipped in offhours/prices (`offhours.local.PriceListService`),
with a real boto3 pricing client; faults are injected with botocore's hooks (tests/faults.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from offhours import pricing
from offhours.local import Credentials
from offhours.pricing import Prices, Rate, ec2_rate, on_demand_hourly, rds_rate
from tests.faults import Hooks
from tests.fleet import MotoEndpoint

REGION = "us-east-1"
DAY = date(2026, 12, 2)
GET = "before-send.pricing.GetProducts"


@pytest.fixture(autouse=True)
def forgotten() -> Iterator[None]:
    pricing.clear_cache()
    yield
    pricing.clear_cache()


def pricing_client(endpoint: MotoEndpoint, credentials: Credentials | None = None) -> Any:
    """A real pricing client on the local endpoint: botocore's standard retries, two attempts."""
    keys = credentials or Credentials("testing", "testing")
    return boto3.client(
        "pricing",
        region_name=REGION,
        endpoint_url=endpoint.url,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )


@pytest.fixture
def client(moto_endpoint: MotoEndpoint) -> Any:
    return pricing_client(moto_endpoint)


@pytest.fixture
def hooks(client: Any) -> Iterator[Hooks]:
    watched = Hooks(client)
    yield watched
    watched.clear()


def prices(client: Any, day: date = DAY, **options: Any) -> Prices:
    return Prices(lambda: client, today=lambda: day, **options)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def json_error(request: Any, status: int, code: str) -> AWSResponse:
    """What a JSON 1.1 service answers when it refuses a request."""
    body = json.dumps({"__type": code, "message": f"{code} (offhours test)"}).encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.1"
    return AWSResponse(request.url, status, headers, _Body(body))


# --- rates ----------------------------------------------------------------------------------


def test_an_ec2_rate_names_the_price_list_attributes() -> None:
    rate = ec2_rate(REGION, "m5.large", "Windows with SQL Server Standard", "dedicated")
    assert rate == Rate(
        "AmazonEC2",
        (
            ("capacitystatus", "Used"),
            ("instanceType", "m5.large"),
            ("licenseModel", "No License required"),
            ("locationType", "AWS Region"),
            ("marketoption", "OnDemand"),
            ("operatingSystem", "Windows"),
            ("preInstalledSw", "SQL Std"),
            ("regionCode", REGION),
            ("tenancy", "Dedicated"),
        ),
    )
    assert rate.describe() == "m5.large, Windows, SQL Std, Dedicated, us-east-1"
    linux = dict(ec2_rate(REGION, "t3.micro", "Linux/UNIX", None).filters)
    assert (linux["operatingSystem"], linux["preInstalledSw"], linux["tenancy"]) == (
        "Linux",
        "NA",
        "Shared",
    )
    assert (
        dict(ec2_rate(REGION, "t3.micro", "Red Hat Enterprise Linux", "host").filters)["tenancy"]
        == "Host"
    )


def test_an_unknown_platform_is_not_priced_as_linux(client: Any) -> None:
    future = ec2_rate(REGION, "t3.micro", "Plan 9 with SQL Server", "default")
    assert dict(future.filters)["operatingSystem"] == "Plan 9 with SQL Server"
    unreported = ec2_rate(REGION, "t3.micro", None, "default")
    assert dict(unreported.filters)["operatingSystem"] == "platform not reported"
    assert prices(client).hourly([future]) is None
    assert prices(client).hourly([unreported]) is None


def test_rds_rates_count_multi_az_twice_and_cluster_members_once() -> None:
    single = rds_rate(REGION, "db.t4g.micro", "mysql", False)
    multi = rds_rate(REGION, "db.t4g.micro", "mysql", True)
    assert multi.filters == single.filters
    assert (single.count, multi.count) == (1, 2)
    assert dict(single.filters)["deploymentOption"] == "Single-AZ"
    assert dict(single.filters)["databaseEngine"] == "MySQL"
    assert multi.describe() == "2 x db.t4g.micro, MySQL, us-east-1"
    aurora = rds_rate(REGION, "db.r6g.large", "aurora", True)
    assert aurora.count == 1
    assert dict(aurora.filters)["databaseEngine"] == "Aurora MySQL"
    assert dict(aurora.filters)["storage"] == "EBS Only"
    sqlserver = dict(rds_rate(REGION, "db.m5.large", "sqlserver-se", False).filters)
    assert (sqlserver["databaseEngine"], sqlserver["databaseEdition"]) == ("SQL Server", "Standard")
    assert sqlserver["licenseModel"] == "License included"
    oracle = dict(
        rds_rate(
            REGION, "db.m5.large", "oracle-se2", False, license_model="license-included"
        ).filters
    )
    assert (oracle["databaseEdition"], oracle["licenseModel"]) == (
        "Standard Two",
        "License included",
    )
    docdb = rds_rate(REGION, "db.r5.large", "docdb", True)
    neptune = rds_rate(REGION, "db.r5.large", "neptune", False)
    assert (docdb.service, docdb.count, neptune.service) == ("AmazonDocDB", 1, "AmazonNeptune")
    assert docdb.describe() == "db.r5.large, DocumentDB, us-east-1"
    assert dict(rds_rate(REGION, "db.x9.large", "db9", False).filters)["databaseEngine"] == "db9"


# --- prices from the local endpoint ---------------------------------------------------------


def test_ec2_prices_by_type_and_operating_system(client: Any) -> None:
    asked = prices(client)
    linux = {
        "t3.nano": 0.0052,
        "t3.micro": 0.0104,
        "t3.small": 0.0208,
        "t3.medium": 0.0416,
        "t3.large": 0.0832,
        "t3.xlarge": 0.1664,
        "m5.large": 0.096,
        "m5.xlarge": 0.192,
    }
    for kind, price in linux.items():
        assert asked.hourly([ec2_rate(REGION, kind, "Linux/UNIX", "default")]) == price
    assert asked.hourly([ec2_rate(REGION, "t3.medium", "Windows", "default")]) == 0.06
    assert asked.hourly([ec2_rate(REGION, "m5.large", "Windows", "default")]) == 0.188
    assert asked.hourly([ec2_rate(REGION, "t3.micro", "Windows", "default")]) is None
    assert asked.hourly([ec2_rate(REGION, "t3.micro", "Linux/UNIX", "dedicated")]) is None
    assert asked.calls == len(linux) + 4


def test_rds_multi_az_is_twice_single_az_as_the_price_list_says(client: Any) -> None:
    asked = prices(client)
    assert asked.hourly([rds_rate(REGION, "db.t4g.micro", "mysql", False)]) == 0.016
    assert asked.hourly([rds_rate(REGION, "db.t4g.micro", "mysql", True)]) == 0.032
    assert asked.hourly([rds_rate(REGION, "db.t4g.small", "postgres", True)]) == 0.064
    assert asked.hourly([rds_rate(REGION, "db.t4g.medium", "postgres", False)]) == 0.065
    assert asked.calls == 3  # the Multi-AZ micro is the Single-AZ product, known already
    listed = client.get_products(
        ServiceCode="AmazonRDS",
        Filters=[
            {"Type": "TERM_MATCH", "Field": k, "Value": v}
            for k, v in [
                ("regionCode", REGION),
                ("instanceType", "db.t4g.micro"),
                ("databaseEngine", "MySQL"),
                ("deploymentOption", "Multi-AZ"),
            ]
        ],
    )["PriceList"]
    assert [on_demand_hourly(item) for item in listed] == [Decimal("0.032")]


def test_aurora_members_standard_and_io_optimized(client: Any) -> None:
    asked = prices(client)
    writer = rds_rate(REGION, "db.r6g.large", "aurora-postgresql", True)
    reader = rds_rate(REGION, "db.t4g.medium", "aurora-postgresql", False)
    assert asked.hourly([writer]) == 0.26
    assert asked.hourly([writer, reader]) == pytest.approx(0.333)
    assert asked.hourly([rds_rate(REGION, "db.t4g.medium", "aurora-mysql", False)]) == 0.073
    optimized = rds_rate(REGION, "db.r6g.large", "aurora-mysql", False, storage_type="aurora-iopt1")
    assert asked.hourly([optimized]) == 0.338
    assert asked.hourly([writer, rds_rate(REGION, "db.r6g.large", "neptune", False)]) is None
    assert asked.hourly([]) is None


def test_pages_are_read_to_the_end_and_products_must_agree(client: Any) -> None:
    both_engines = Rate(  # MySQL and PostgreSQL: two products, one price
        "AmazonRDS",
        (
            ("deploymentOption", "Single-AZ"),
            ("instanceType", "db.t4g.micro"),
            ("productFamily", "Database Instance"),
            ("regionCode", REGION),
        ),
    )
    asked = prices(client, page_size=1)
    assert asked.hourly([both_engines]) == 0.016
    assert asked.calls == 2
    both_systems = Rate(  # Linux and Windows: two products, two prices
        "AmazonEC2",
        (("capacitystatus", "Used"), ("instanceType", "t3.medium"), ("regionCode", REGION)),
    )
    assert asked.hourly([both_systems]) is None
    assert asked.calls == 4
    everything = Rate("AmazonEC2", (("regionCode", REGION),))
    assert asked.hourly([everything]) is None  # stops at the second price
    assert asked.calls == 6


def test_pages_read_for_a_rate_are_bounded(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    both_engines = rds_rate(REGION, "db.t4g.micro", "mysql", False)
    both_engines = Rate(
        "AmazonRDS", tuple(f for f in both_engines.filters if f[0] != "databaseEngine")
    )
    monkeypatch.setattr(pricing, "MAX_PAGES", 1)
    asked = prices(client, page_size=1)
    assert asked.hourly([both_engines]) is None  # a second page is one too many
    assert asked.calls == 1
    again = prices(client, page_size=1)
    assert again.hourly([both_engines]) is None
    assert again.calls == 0  # that was AWS's answer for the day


def test_a_zero_price_is_unknown(client: Any) -> None:
    reservation = Rate(
        "AmazonEC2",
        (
            ("capacitystatus", "AllocatedCapacityReservation"),
            ("instanceType", "t3.micro"),
            ("operatingSystem", "Linux"),
            ("regionCode", REGION),
        ),
    )
    assert prices(client).hourly([reservation]) is None


def test_a_missing_price_is_kept_for_the_day(client: Any) -> None:
    missing = ec2_rate(REGION, "t3.2xlarge", "Linux/UNIX", "default")
    first = prices(client)
    assert first.hourly([missing]) is None
    assert first.calls == 1
    again = prices(client)
    assert again.hourly([missing]) is None
    assert again.calls == 0
    tomorrow = prices(client, date(2026, 12, 3))
    assert tomorrow.hourly([missing]) is None
    assert tomorrow.calls == 1


def test_prices_are_kept_per_day(client: Any) -> None:
    rate = ec2_rate(REGION, "t3.micro", "Linux/UNIX", "default")
    first = prices(client)
    assert (first.hourly([rate]), first.hourly([rate]), first.calls) == (0.0104, 0.0104, 1)
    same_day = prices(client)
    assert (same_day.hourly([rate]), same_day.calls) == (0.0104, 0)
    next_day = prices(client, date(2026, 12, 3))
    assert (next_day.hourly([rate]), next_day.calls) == (0.0104, 1)


def test_a_throttled_call_is_unknown_not_kept_and_not_repeated_by_its_run(
    client: Any, hooks: Hooks
) -> None:
    attempts: list[str] = []

    def throttle(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request.url)
        return json_error(request, 400, "ThrottlingException")

    hooks.on(GET, throttle)
    micro = ec2_rate(REGION, "t3.micro", "Linux/UNIX", "default")
    run = prices(client)
    assert run.hourly([micro]) is None
    assert (len(attempts), run.calls, run.failure) == (2, 1, "ThrottlingException")
    assert run.hourly([ec2_rate(REGION, "t3.small", "Linux/UNIX", "default")]) is None
    assert (len(attempts), run.calls) == (2, 1)  # no call after a throttle
    hooks.clear()
    assert run.hourly([micro]) is None  # this run stays quiet
    later = prices(client)
    assert later.hourly([micro]) == 0.0104
    assert later.calls == 1


def test_an_unreachable_or_refused_endpoint_is_unknown_and_not_kept(
    client: Any, hooks: Hooks
) -> None:
    def unreachable(request: Any, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url)

    hooks.on(GET, unreachable)
    rate = ec2_rate(REGION, "m5.large", "Linux/UNIX", "default")
    run = prices(client)
    assert run.hourly([rate]) is None
    assert run.failure == "EndpointConnectionError"
    hooks.clear()
    hooks.on(GET, lambda request, **_: json_error(request, 400, "AccessDeniedException"))
    refused = prices(client)
    assert refused.hourly([rate]) is None
    assert refused.failure == "AccessDeniedException"
    hooks.clear()
    assert prices(client).hourly([rate]) == 0.096


def test_no_call_when_the_run_may_not_make_one(client: Any) -> None:
    rate = ec2_rate(REGION, "m5.xlarge", "Linux/UNIX", "default")
    late = prices(client, may_call=lambda: False)
    assert late.hourly([rate]) is None
    assert (late.calls, late.failure) == (0, None)
    assert prices(client).hourly([rate]) == 0.192


def test_a_malformed_price_list_is_unknown(client: Any, hooks: Hooks) -> None:
    def garble(parsed: dict[str, Any], **_: Any) -> None:
        parsed["PriceList"] = ['{"product": {"sku": "X"}, "terms": {"OnDemand": [']

    hooks.on("after-call.pricing.GetProducts", garble)
    run = prices(client)
    assert run.hourly([ec2_rate(REGION, "t3.nano", "Linux/UNIX", "default")]) is None
    assert run.failure is None

    def oversized(parsed: dict[str, Any], **_: Any) -> None:
        parsed["PriceList"] = [item + " " * pricing.MAX_DOCUMENT for item in parsed["PriceList"]]

    hooks.clear()
    hooks.on("after-call.pricing.GetProducts", oversized)
    assert run.hourly([ec2_rate(REGION, "t3.large", "Linux/UNIX", "default")]) is None


def _document(*dimensions: dict[str, Any]) -> str:
    return json.dumps(
        {
            "product": {"sku": "X", "attributes": {}},
            "terms": {
                "OnDemand": {
                    "X.JRTCKXETXF": {
                        "priceDimensions": {
                            f"X.JRTCKXETXF.{n}": d for n, d in enumerate(dimensions)
                        }
                    }
                }
            },
        }
    )


def _hourly(usd: Any) -> dict[str, Any]:
    return {"unit": "Hrs", "pricePerUnit": {"USD": usd}}


@pytest.mark.parametrize(
    ("document", "price"),
    [
        (_document(_hourly("0.0104000000")), Decimal("0.0104")),
        (_document(_hourly("0.1"), {"unit": "Quantity", "pricePerUnit": {"USD": "9"}}), 0.1),
        (_document(_hourly("0.1"), _hourly("0.2")), None),  # two hourly prices
        (_document(_hourly("0.0000000000")), None),
        (_document(_hourly("-1")), None),
        (_document(_hourly("NaN")), None),
        (_document(_hourly("Infinity")), None),
        (_document(_hourly("cheap")), None),
        (_document(_hourly(0.1)), None),
        (_document({"unit": "Hrs"}), None),
        (_document(), None),
        (json.dumps({"terms": {}}), None),
        (json.dumps([1, 2]), None),
        ("[" * 100_000, None),
        ("", None),
        (None, None),
    ],
)
def test_the_on_demand_price_of_a_document(document: Any, price: Any) -> None:
    found = on_demand_hourly(document)
    assert found == (Decimal(str(price)) if price is not None else None)


def test_threads_of_a_process_ask_once_per_rate_and_day(client: Any) -> None:
    rate = rds_rate(REGION, "db.t4g.small", "mysql", False)
    runs = [prices(client) for _ in range(8)]
    answers: list[float | None] = []
    threads = [threading.Thread(target=lambda p=p: answers.append(p.hourly([rate]))) for p in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [0.032] * 8
    assert sum(run.calls for run in runs) == 1


# --- the local endpoint's GetProducts -------------------------------------------------------


def test_the_endpoint_pages_with_its_own_tokens(client: Any) -> None:
    rds = {"ServiceCode": "AmazonRDS", "MaxResults": 5}
    seen: list[str] = []
    token = None
    while True:
        page = client.get_products(**rds, **({"NextToken": token} if token else {}))
        seen.extend(json.loads(item)["product"]["sku"] for item in page["PriceList"])
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 20  # every RDS product of us-east-1.json, once
    everything = [
        item
        for page in client.get_paginator("get_products").paginate(ServiceCode="AmazonRDS")
        for item in page["PriceList"]
    ]
    assert [json.loads(item)["product"]["sku"] for item in everything] == seen
    first = client.get_products(**rds)
    other = {"ServiceCode": "AmazonEC2", "MaxResults": 5}
    for bad in (first["NextToken"] + "x", "bm90IGpzb24="):
        with pytest.raises(ClientError) as refused:
            client.get_products(**rds, NextToken=bad)
        assert refused.value.response["Error"]["Code"] == "InvalidNextTokenException"
    with pytest.raises(ClientError):  # a token is good for its own query only
        client.get_products(**other, NextToken=first["NextToken"])


def test_the_endpoint_applies_every_filter_type(client: Any) -> None:
    def skus(*filters: tuple[str, str, str]) -> int:
        given = [{"Type": t, "Field": f, "Value": v} for t, f, v in filters]
        return len(client.get_products(ServiceCode="AmazonEC2", Filters=given)["PriceList"])

    assert skus(("TERM_MATCH", "instanceType", "t3.medium")) == 2
    assert skus(("EQUALS", "productFamily", "Compute Instance")) == 11
    assert skus(("CONTAINS", "instanceType", "m5.")) == 3
    assert skus(("ANY_OF", "operatingSystem", "Windows, RHEL")) == 2
    assert skus(("NONE_OF", "instanceType", "t3.micro,t3.medium")) == 7
    assert skus(("TERM_MATCH", "ServiceCode", "AmazonEC2"), ("TERM_MATCH", "vcpu", "4")) == 2
    assert skus(("TERM_MATCH", "noSuchAttribute", "x")) == 0
    assert client.get_products(ServiceCode="AmazonLightsail")["PriceList"] == []
    with pytest.raises(ClientError) as unknown:
        client.describe_services()
    assert unknown.value.response["Error"]["Code"] == "UnknownOperationException"


def test_the_endpoint_enforces_pricing_get_products(moto_endpoint: MotoEndpoint) -> None:
    lab = moto_endpoint.lab
    assert lab is not None
    described = {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}
    granted = {"Effect": "Allow", "Action": "pricing:GetProducts", "Resource": "*"}
    without = lab.role("pricing-without", [{"Version": "2012-10-17", "Statement": [described]}])
    with_it = lab.role("pricing-with", [{"Version": "2012-10-17", "Statement": [granted]}])
    rate = ec2_rate(REGION, "t3.micro", "Linux/UNIX", "default")
    with lab.enforced():
        refused = prices(pricing_client(moto_endpoint, without))
        assert refused.hourly([rate]) is None
        assert refused.failure == "AccessDeniedException"
        assert prices(pricing_client(moto_endpoint, with_it)).hourly([rate]) == 0.0104
        forged = Credentials(with_it.access_key_id, "not-the-secret", with_it.session_token)
        with pytest.raises(ClientError):
            pricing_client(moto_endpoint, forged).get_products(ServiceCode="AmazonEC2")


def test_the_documents_say_what_they_are() -> None:
    from importlib.resources import files

    from offhours import prices as documents

    about = json.loads(files(documents).joinpath("us-east-1.json").read_text())["about"]
    assert about["written"] in documents.RECORDED
    assert "NOT recorded from the Price List API" in about["source"]
