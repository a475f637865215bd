"""A local EC2-compatible endpoint (moto in server mode, on loopback) for the demo and tests.

Nothing here talks to AWS: `offline_environment` sets dummy credentials and a dead proxy for
every host that is not loopback, so a client that misses the local endpoint fails loudly.

`IamLab` makes the endpoint enforce IAM (moto's IAM authorization) with given policies: an
admin user for whoever sets the scene (instances, tags, databases), and a role with exactly
the stack's policies whose temporary credentials the function runs with, as Lambda gives them.
What moto checks, and what it does not, is said at `moto_readable`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


def offline_environment(env: MutableMapping[str, str] | None = None) -> None:
    """Dummy credentials, no profile, and nothing but loopback reachable."""
    target = os.environ if env is None else env
    target.update(OFFLINE_ENV)
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL_EC2",
        "AWS_ENDPOINT_URL_RDS",
        "AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API",
        "AWS_ENDPOINT_URL_AUTO_SCALING",
        "AWS_ENDPOINT_URL_EKS",
    ):
        target.pop(name, None)


KEPT_SERVICES = frozenset({"iam", "sts"})


@dataclass
class LocalEndpoint:
    """moto's server on 127.0.0.1 and a free port."""

    server: Any
    url: str

    @classmethod
    def start(cls) -> LocalEndpoint:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "the local EC2 endpoint needs moto: pip install 'moto[server]' "
                "(make install does this)"
            ) from exc
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        wsgi = server._server  # werkzeug's server, which reads its app at every request
        assert wsgi is not None
        wsgi.app = PriceListService(PlatformDetails(wsgi.app))
        port = getattr(server._server, "server_port", 0)
        return cls(server, f"http://127.0.0.1:{port}")

    def reset(self) -> None:
        """Empty every service but IAM and STS, which keep the principals of an `IamLab` (and
        the temporary credentials handed out) for as long as the process lives. moto's own
        reset (POST /moto-api/reset) empties them too; its backends live in this process, so
        the reset is done here, as moto does it, service by service."""
        from moto.core.base_backend import BackendDict, backend_lock
        from moto.core.model_instances import reset_model_data

        instances: list[Any] = BackendDict._instances  # type: ignore[misc]
        with backend_lock:
            kept = []
            for backend in list(instances):
                if backend.service_name in KEPT_SERVICES:
                    kept.append(backend)
                    continue
                for account_backend in backend.values():
                    account_backend.reset()
                backend.clear()
            instances[:] = kept
        reset_model_data()

    def authorize(self, enforced: bool) -> bool:
        """Switch moto's IAM authorization on or off (POST /moto-api/reset-auth, which sets
        INITIAL_NO_AUTH_ACTION_COUNT for the whole server: 0 checks every request, inf none).
        Returns whether it was on."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=b"0" if enforced else b"inf",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            previous = json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]
        return float(previous) == 0

    def stop(self) -> None:
        self.server.stop()


# --- What AWS says of an instance and moto does not --------------------------------------------


class PlatformDetails:
    """EC2's DescribeInstances gives each instance's `PlatformDetails` (the operating system
    it is billed for: "Linux/UNIX", "Windows", ...), which offhours prices it by; moto gives
    none. Answered here as AWS does for moto's images, from the instance's `Platform`:
    "Windows" for a Windows image, "Linux/UNIX" otherwise. Every other answer passes as moto
    gave it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") != "POST" or "HTTP_X_AMZ_TARGET" in environ:
            return self.app(environ, start_response)
        caught: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            caught[:] = [status, headers, exc_info]
            return lambda data: None

        chunks = self.app(environ, keep)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if b"<DescribeInstancesResponse" in body[:300]:
            body = _with_platform_details(body)
        status, headers, exc_info = caught
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))], exc_info)
        return [body]


def _with_platform_details(body: bytes) -> bytes:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return body
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    ET.register_namespace("", namespace.strip("{}"))
    for instances in root.iter(f"{namespace}instancesSet"):
        for item in instances.findall(f"{namespace}item"):
            if item.find(f"{namespace}platformDetails") is not None:
                continue
            platform = item.findtext(f"{namespace}platform") or ""
            details = ET.SubElement(item, f"{namespace}platformDetails")
            details.text = "Windows" if platform.lower() == "windows" else "Linux/UNIX"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


# --- AWS's Price List API on the local endpoint ----------------------------------------------

PRICE_LIST_TARGET = "AWSPriceListService."
PRICE_LIST_PAGE = 100  # GetProducts' largest and default MaxResults
FILTER_TYPES = frozenset({"TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF"})


def recorded_products() -> list[dict[str, Any]]:
    """The products of the Price List documents shipped in `offhours/prices/` (aws_v1, as
    GetProducts gives each one), every region's file in turn."""
    from importlib.resources import files

    products: list[dict[str, Any]] = []
    for entry in sorted(files("offhours.prices").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            products.extend(json.loads(entry.read_text(encoding="utf-8"))["products"])
    return products


class PriceListService:
    """AWS's Price List API, which moto does not have, answered in front of moto's own app:
    a request whose X-Amz-Target is `AWSPriceListService.*` (JSON 1.1) gets GetProducts'
    answer from the recorded products (`recorded_products`), every other request goes to moto.
    GetProducts keeps the products of the service code that every filter matches (TERM_MATCH
    and EQUALS: the same value; CONTAINS; ANY_OF and NONE_OF: a comma-separated list), in the
    documents' order, MaxResults at a time with an opaque NextToken, each product as a JSON
    string. When moto enforces IAM, the request's signature and `pricing:GetProducts` are
    checked as moto checks its own services' (`moto_readable`)."""

    def __init__(self, app: Any, products: list[dict[str, Any]] | None = None) -> None:
        self.app = app
        self.products = recorded_products() if products is None else products

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith(PRICE_LIST_TARGET):
            return self.app(environ, start_response)
        from werkzeug.wrappers import Request

        request = Request(environ)
        status, answer = self.answer(request, target.removeprefix(PRICE_LIST_TARGET))
        payload = json.dumps(answer).encode()
        start_response(
            f"{status} {'OK' if status == 200 else 'Bad Request'}",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(payload))),
                ("x-amzn-RequestId", "offhours-local-price-list"),
            ],
        )
        return [payload]

    def answer(self, request: Any, operation: str) -> tuple[int, dict[str, Any]]:
        refused = _refused(request, operation)
        if refused is not None:
            return 400, refused
        if operation != "GetProducts":
            return _error("UnknownOperationException", f"{operation} is not answered here")
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _error("SerializationException", "the body is not JSON")
        service = body.get("ServiceCode") if isinstance(body, dict) else None
        filters = body.get("Filters", []) if isinstance(body, dict) else None
        size = body.get("MaxResults", PRICE_LIST_PAGE) if isinstance(body, dict) else None
        if not isinstance(service, str) or not isinstance(filters, list):
            return _error("InvalidParameterException", "ServiceCode and Filters are needed")
        if not isinstance(size, int) or not 1 <= size <= PRICE_LIST_PAGE:
            return _error("InvalidParameterException", "MaxResults is 1 to 100")
        if not all(_readable_filter(f) for f in filters):
            return _error("InvalidParameterException", "a filter needs Type, Field and Value")
        matched = [
            product
            for product in self.products
            if product.get("serviceCode") == service
            and all(_matches(_field(product, f["Field"]), f["Type"], f["Value"]) for f in filters)
        ]
        query = hashlib.sha256(json.dumps([service, filters], sort_keys=True).encode())
        offset = _offset(body.get("NextToken"), query.hexdigest()[:16])
        if offset is None:
            return _error("InvalidNextTokenException", "The NextToken is not valid")
        answer: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": [json.dumps(p) for p in matched[offset : offset + size]],
        }
        if offset + size < len(matched):
            token = {"offset": offset + size, "query": query.hexdigest()[:16]}
            answer["NextToken"] = base64.b64encode(json.dumps(token).encode()).decode()
        return 200, answer


def _error(code: str, message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"__type": code, "Message": message}


def _readable_filter(given: Any) -> bool:
    return (
        isinstance(given, dict)
        and given.get("Type") in FILTER_TYPES
        and all(isinstance(given.get(k), str) and given[k] for k in ("Field", "Value"))
    )


def _field(product: dict[str, Any], name: str) -> str | None:
    """A product's value for a filter's field: an attribute, or its product family, SKU or
    service code."""
    described = product.get("product") or {}
    attributes = described.get("attributes") or {}
    if name in attributes:
        return str(attributes[name])
    if name in ("productFamily", "sku"):
        found = described.get(name)
        return None if found is None else str(found)
    if name.lower() == "servicecode":
        return str(product.get("serviceCode"))
    return None


def _matches(value: str | None, kind: str, wanted: str) -> bool:
    listed = [w.strip() for w in wanted.split(",")]
    if kind == "NONE_OF":
        return value not in listed
    if value is None:
        return False
    if kind == "CONTAINS":
        return wanted in value
    if kind == "ANY_OF":
        return value in listed
    return value == wanted  # TERM_MATCH, EQUALS


def _offset(token: Any, query: str) -> int | None:
    """Where a NextToken of this query resumes (0 without one); None for a token that is not
    one this endpoint gave for the same query."""
    if token is None:
        return 0
    try:
        read = json.loads(base64.b64decode(str(token), validate=True))
        offset = read["offset"]
    except (ValueError, TypeError, KeyError):
        return None
    if read.get("query") != query or not isinstance(offset, int) or offset < 0:
        return None
    return offset


def _refused(request: Any, operation: str) -> dict[str, Any] | None:
    """What moto's IAM authorization says of the request (None: go on), as moto's own
    services ask it (moto.core.authorization): while it is off, it only counts requests."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return None
    from moto.iam.access_control import IAMRequest
    from moto.iam.models import get_account_id_from

    authorization = str(request.headers.get("Authorization", ""))
    access_key = authorization.partition("Credential=")[2].partition("/")[0]
    query = request.query_string.decode()
    try:
        checked = IAMRequest(
            account_id=get_account_id_from(access_key),
            method=request.method,
            path=request.path + (f"?{query}" if query else ""),
            data={},
            body=request.get_data(),
            headers=request.headers,
            action=operation,
        )
        checked.check_signature()
        checked.check_action_permitted("*")
    except Exception as exc:  # moto's refusals (signature, unknown key, not allowed)
        code = str(getattr(exc, "error_type", "AccessDenied"))
        code = "AccessDeniedException" if code == "AccessDenied" else code
        return {"__type": code, "Message": str(getattr(exc, "message", exc))}
    return None


# --- IAM on the local endpoint --------------------------------------------------------------

# The services whose requests moto gives a resource (sqs: the queue's ARN; sts:AssumeRole: the
# role's ARN; iam: a role's ARN). For every other service the resource moto checks is "*".
MOTO_RESOURCES = frozenset({"sqs", "sts", "iam"})
# moto names an action by the service's signing name, which is not always IAM's prefix.
MOTO_PREFIXES = {"tag": "tagging"}
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def moto_readable(policy: dict[str, Any]) -> dict[str, Any]:
    """A policy as moto (5.x, moto/iam/access_control.py) can enforce it, granting the same
    actions. moto checks a request's signature and access key, and whether an Allow statement
    of the principal's policies names its action (wildcards matched) and its resource; but:

    - the resource it checks is "*" for every service except SQS, sts:AssumeRole and IAM, so
      a statement naming ARNs (`arn:aws:ec2:*:123456789012:instance/*`) would grant nothing:
      its Resource becomes "*", and so does a GetAtt that was not resolved (`<Queue.Arn>`);
    - conditions of identity policies are not evaluated (no request context reaches them: a
      condition passes whatever it says), so they are kept as they are and change nothing;
      only a role's trust policy sees one key, sts:ExternalId;
    - NotResource is not understood (a Deny with NotResource reads as an Allow), so Deny
      statements are left out; the stack's only Deny, AssumeMemberPolicy's, names accounts;
    - an action is named by the signing name: tag:GetResources is asked as tagging:GetResources,
      so both are granted."""
    statements = []
    for statement in _listed(policy["Statement"]):
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _listed(statement.get("Action", []))]
        aliases = [
            f"{MOTO_PREFIXES[a.split(':', 1)[0]]}:{a.split(':', 1)[1]}"
            for a in actions
            if a.split(":", 1)[0] in MOTO_PREFIXES
        ]
        resources = [str(r) for r in _listed(statement.get("Resource", "*"))]
        services = {a.split(":", 1)[0].lower() for a in actions}
        if not services <= MOTO_RESOURCES or any(r.startswith("<") for r in resources):
            resources = ["*"]
        readable = {**statement, "Action": actions + aliases, "Resource": resources}
        statements.append(readable)
    return {"Version": policy.get("Version", "2012-10-17"), "Statement": statements}


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def environment(self) -> dict[str, str]:
        """The variables that carry them, as Lambda sets them for its function's role."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env

    def session(self) -> Any:
        import boto3

        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
        )


CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@contextmanager
def environment_set(values: Mapping[str, str], *, cleared: Iterable[str] = ()) -> Iterator[None]:
    """The environment says `values` (and nothing for the names `cleared`) for the duration,
    then what it said before."""
    saved = {name: os.environ.get(name) for name in {*cleared, *values}}
    for name in cleared:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def credentials_in_environment(credentials: Credentials) -> AbstractContextManager[None]:
    """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN say `credentials` for the
    duration (as Lambda gives its function the role's), then what they said before."""
    return environment_set(credentials.environment(), cleared=CREDENTIAL_VARIABLES)


@dataclass
class IamLab:
    """Principals in moto's IAM (kept across `LocalEndpoint.reset`): an admin user, for
    whoever sets the scene, and roles whose temporary credentials run the function."""

    endpoint: LocalEndpoint
    admin: Credentials
    prefix: str
    roles: dict[str, Credentials] = field(default_factory=dict)
    account: str = "123456789012"

    @classmethod
    def create(cls, endpoint: LocalEndpoint, prefix: str = "offhours-lab") -> IamLab:
        """Make the admin user `<prefix>-admin`, with moto's authorization off while doing so
        (it stays as it was)."""
        was_on = endpoint.authorize(False)
        try:
            iam = cls._bootstrap_client(endpoint, "iam")
            name = f"{prefix}-admin"
            iam.create_user(UserName=name)
            iam.put_user_policy(
                UserName=name, PolicyName="everything", PolicyDocument=json.dumps(ALLOW_ALL)
            )
            key = iam.create_access_key(UserName=name)["AccessKey"]
            admin = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
            account = cls._bootstrap_client(endpoint, "sts").get_caller_identity()["Account"]
        finally:
            endpoint.authorize(was_on)
        return cls(endpoint, admin, prefix, account=str(account))

    @staticmethod
    def _bootstrap_client(endpoint: LocalEndpoint, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name="us-east-1",
            endpoint_url=endpoint.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def role(self, name: str, policies: list[dict[str, Any]]) -> Credentials:
        """A role `<prefix>-<name>` with exactly these policies (inline, as moto can read them:
        `moto_readable`) and its temporary credentials, from sts:AssumeRole."""
        if name in self.roles:
            return self.roles[name]
        was_on = self.endpoint.authorize(False)
        try:
            iam = self._bootstrap_client(self.endpoint, "iam")
            role_name = f"{self.prefix}-{name}"
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))[
                "Role"
            ]["Arn"]
            for number, policy in enumerate(policies):
                iam.put_role_policy(
                    RoleName=role_name,
                    PolicyName=f"policy-{number}",
                    PolicyDocument=json.dumps(moto_readable(policy)),
                )
            sts = self._bootstrap_client(self.endpoint, "sts")
            given = sts.assume_role(RoleArn=arn, RoleSessionName="offhours", DurationSeconds=43200)[
                "Credentials"
            ]
        finally:
            self.endpoint.authorize(was_on)
        credentials = Credentials(
            given["AccessKeyId"], given["SecretAccessKey"], given["SessionToken"]
        )
        self.roles[name] = credentials
        return credentials

    @contextmanager
    def enforced(self) -> Iterator[None]:
        """moto's IAM authorization on for the duration, then as it was."""
        was_on = self.endpoint.authorize(True)
        try:
            yield
        finally:
            self.endpoint.authorize(was_on)
