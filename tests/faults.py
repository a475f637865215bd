"""Faults and observations injected through botocore's own event hooks on a real client.

Nothing here replaces boto3: requests are serialised, signed, retried and parsed by botocore as
usual. A hook either watches a call (`before-call`), answers in place of the endpoint
(`before-send` returning a response, as a throttling or refusing EC2 would), fails the
connection (`before-send` raising), or edits what the endpoint said (`after-call`) where moto
cannot express a state that AWS can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError


@dataclass
class _Body:
    data: bytes

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def error_response(request: Any, status: int, code: str, message: str) -> AWSResponse:
    """What EC2 answers when it refuses a request."""
    xml = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        "</Errors><RequestID>offhours-test</RequestID></Response>"
    ).encode()
    return AWSResponse(request.url, status, {}, _Body(xml))


def query_error_response(
    request: Any, status: int, code: str, message: str, kind: str = "Sender"
) -> AWSResponse:
    """What RDS or STS (the query protocol's ErrorResponse) answers when it refuses a request;
    `kind` is Sender (the caller's fault) or Receiver (the service's)."""
    xml = (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error>"
        "<RequestId>offhours-test</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse(request.url, status, {}, _Body(xml))


def html_response(request: Any, page: str, status: int = 500) -> AWSResponse:
    """What a proxy, or an endpoint that breaks, answers: a web page instead of EC2's XML."""
    return AWSResponse(request.url, status, {"Content-Type": "text/html"}, _Body(page.encode()))


def instance_ids_of(request: Any) -> list[str]:
    """The `InstanceId.N` (or `ResourceId.N`) parameters of a query-protocol request."""
    params = params_of(request)
    return [v[0] for k, v in sorted(params.items()) if k.startswith(("InstanceId.", "ResourceId."))]


def params_of(request: Any) -> dict[str, list[str]]:
    """The parameters of a query-protocol request (EC2, RDS, STS), as `parse_qs` reads them."""
    body = request.body
    return parse_qs(body.decode() if isinstance(body, bytes) else str(body or ""))


@dataclass
class Hooks:
    """Handlers registered on one client, removed again by `clear` (the fixture's teardown)."""

    client: Any
    registered: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)

    def on(self, event: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        self.client.meta.events.register(event, handler)
        self.registered.append((event, handler))
        return handler

    def clear(self) -> None:
        for event, handler in reversed(self.registered):
            self.client.meta.events.unregister(event, handler)
        self.registered.clear()

    # -- watching ----------------------------------------------------------------------------

    def calls(self, operation: str) -> list[dict[str, Any]]:
        """Every call of `operation` as the client sent it (one entry per call, not per retry):
        the serialised query parameters, e.g. {"InstanceId.1": ..., "Hibernate": "true"}."""
        seen: list[dict[str, Any]] = []

        def watch(params: dict[str, Any], **_: Any) -> None:
            seen.append(dict(params.get("body") or {}))

        self.on(f"before-call.ec2.{operation}", watch)
        return seen

    # -- failing -----------------------------------------------------------------------------

    def throttle(self, operation: str, times: int | None) -> list[int]:
        """Answer `operation` with RequestLimitExceeded `times` times (None: forever), then let
        the real request through. Returns the list of attempts the endpoint refused."""
        refused: list[int] = []

        def answer(request: Any, **_: Any) -> AWSResponse | None:
            if times is not None and len(refused) >= times:
                return None
            refused.append(len(refused) + 1)
            return error_response(request, 503, "RequestLimitExceeded", "Request limit exceeded.")

        self.on(f"before-send.ec2.{operation}", answer)
        return refused

    def refuse_batches_with(self, operation: str, instance_id: str, code: str) -> None:
        """Refuse every `operation` request that names `instance_id`, as EC2 refuses a whole
        batch because of one instance."""

        def answer(request: Any, **_: Any) -> AWSResponse | None:
            if instance_id in instance_ids_of(request):
                return error_response(
                    request, 400, code, f"The instance ID '{instance_id}' does not exist"
                )
            return None

        self.on(f"before-send.ec2.{operation}", answer)

    def unreachable(self, operation: str) -> list[int]:
        """The endpoint is gone for `operation`: every attempt fails to connect."""
        attempts: list[int] = []

        def fail(request: Any, **_: Any) -> None:
            attempts.append(len(attempts) + 1)
            raise EndpointConnectionError(endpoint_url=request.url)

        self.on(f"before-send.ec2.{operation}", fail)
        return attempts

    # -- what moto cannot show ---------------------------------------------------------------

    def describe_as(self, instance_id: str, **fields: Any) -> None:
        """Make DescribeInstances report `fields` for one instance (e.g. RootDeviceType or
        State), for what moto does not model."""

        def edit(parsed: dict[str, Any], **_: Any) -> None:
            for reservation in parsed.get("Reservations", []):
                for item in reservation.get("Instances", []):
                    if item["InstanceId"] == instance_id:
                        item.update(fields)

        self.on("after-call.ec2.DescribeInstances", edit)
