"""boto3 clients, built once per account and region and kept across warm invocations.

Retries use botocore's standard mode: throttling and 5xx errors are retried with exponential
backoff and jitter. `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_EC2` are honoured by boto3 itself,
so the same code runs against AWS and against a local endpoint.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.credentials import RefreshableCredentials
from botocore.session import get_session

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
else:
    EC2Client = Any

RETRIES = BotoConfig(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="offhours",
)


# The service part of boto3's AWS_ENDPOINT_URL_<SERVICE> variables, where it is not the name.
ENDPOINT_NAMES = {"resourcegroupstaggingapi": "RESOURCE_GROUPS_TAGGING_API"}
MEMBER_SESSION = "offhours"  # the session name that CloudTrail shows in member accounts
T = TypeVar("T")


class Clients:
    """A cache of clients keyed by account, region (and endpoint); account None is the
    function's own account."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        config: BotoConfig = RETRIES,
        *,
        member_role_name: str = "offhours-member",
        external_id: str | None = None,
    ) -> None:
        self._session = session
        self._config = config
        self.member_role_name = member_role_name
        self.external_id = external_id
        self._ec2: dict[tuple[str | None, str, str | None], EC2Client] = {}
        self._members: dict[tuple[str, str | None], boto3.Session] = {}
        self._others: dict[tuple[str, str, str | None], Any] = {}
        self._targets: dict[tuple[str, str | None, str, str | None], Any] = {}
        self._lock = threading.RLock()  # a member session is made while a client is

    def configure(self, member_role_name: str, external_id: str | None) -> None:
        """Set the member role; cached member sessions are dropped when it changes."""
        with self._lock:
            if (member_role_name, external_id) != (self.member_role_name, self.external_id):
                self._members.clear()
                self._ec2 = {k: v for k, v in self._ec2.items() if k[0] is None}
                self._targets = {k: v for k, v in self._targets.items() if k[1] is None}
            self.member_role_name = member_role_name
            self.external_id = external_id

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            self._session = boto3.Session()
        return self._session

    def ec2(self, region: str, account: str | None = None) -> EC2Client:
        """EC2 in `region` of `account` (None: the function's own credentials). Another
        account is reached through `sts:AssumeRole` into its member role, with temporary
        credentials that botocore refreshes before they expire."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL_EC2") or os.environ.get("AWS_ENDPOINT_URL")

        def make() -> EC2Client:
            session = self.session if account is None else self._member_session(account, region)
            return session.client("ec2", region_name=region, config=self._config)

        return self._cached(self._ec2, (account, region, endpoint), make)

    def target(self, service: str, region: str, account: str | None = None) -> Any:
        """Another service (RDS, the Resource Groups Tagging API) in a target, reached as
        `ec2` reaches EC2."""
        if service == "ec2":
            return self.ec2(region, account)
        variable = "AWS_ENDPOINT_URL_" + ENDPOINT_NAMES.get(service, service.upper())
        endpoint = os.environ.get(variable) or os.environ.get("AWS_ENDPOINT_URL")

        def make() -> Any:
            session = self.session if account is None else self._member_session(account, region)
            return session.client(service, region_name=region, config=self._config)  # type: ignore[call-overload]

        return self._cached(self._targets, (service, account, region, endpoint), make)

    def client(self, service: str, region: str) -> Any:
        """A client of the function's own account (SQS, STS, SSM)."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL")

        def make() -> Any:
            return self.session.client(service, region_name=region, config=self._config)  # type: ignore[call-overload]

        return self._cached(self._others, (service, region, endpoint), make)

    def _cached(self, store: dict[Any, T], key: Any, make: Callable[[], T]) -> T:
        """The cached value for `key`. Made under the lock: clients are safe to share between
        the targets' threads, but a boto3 Session that makes them is not."""
        with self._lock:
            found = store.get(key)
            if found is None:
                found = store[key] = make()
            return found

    def role_arn(self, account: str, region: str) -> str:
        partition = self.session.get_partition_for_region(region) if region else "aws"
        return f"arn:{partition}:iam::{account}:role/{self.member_role_name}"

    def _member_session(self, account: str, region: str) -> boto3.Session:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("AWS_ENDPOINT_URL")
        return self._cached(
            self._members, (account, endpoint), lambda: self._assume_session(account, region)
        )

    def _assume_session(self, account: str, region: str) -> boto3.Session:
        sts = self.client("sts", region)
        arn = self.role_arn(account, region)

        def assume() -> dict[str, str]:
            args: dict[str, Any] = {
                "RoleArn": arn,
                "RoleSessionName": MEMBER_SESSION,
                "DurationSeconds": 3600,
            }
            if self.external_id:
                args["ExternalId"] = self.external_id
            credentials = sts.assume_role(**args)["Credentials"]
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat(),
            }

        refreshable = RefreshableCredentials.create_from_metadata(
            metadata=assume(), refresh_using=assume, method="sts-assume-role"
        )
        core = get_session()
        core._credentials = refreshable  # type: ignore[attr-defined]  # botocore has no setter
        return boto3.Session(botocore_session=core)

    def clear(self) -> None:
        with self._lock:
            self._ec2.clear()
            self._targets.clear()
            self._members.clear()
            self._others.clear()


DEFAULT_CLIENTS = Clients()
