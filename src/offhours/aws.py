"""boto3 clients, built once per account and region and kept across warm invocations.

Retries use botocore's standard mode: throttling and 5xx errors are retried with exponential
backoff and jitter. `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_EC2` are honoured by boto3 itself,
so the same code runs against AWS and against a local endpoint.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

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


MEMBER_SESSION = "offhours"


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
        self._lock = threading.Lock()

    def configure(self, member_role_name: str, external_id: str | None) -> None:
        """Set the member role; cached member sessions are dropped when it changes."""
        with self._lock:
            if (member_role_name, external_id) != (self.member_role_name, self.external_id):
                self._members.clear()
                self._ec2 = {k: v for k, v in self._ec2.items() if k[0] is None}
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
        key = (account, region, endpoint)
        with self._lock:
            client = self._ec2.get(key)
        if client is not None:
            return client
        session = self.session if account is None else self._member_session(account, region)
        client = session.client("ec2", region_name=region, config=self._config)
        with self._lock:
            return self._ec2.setdefault(key, client)

    def client(self, service: str, region: str) -> Any:
        """A client of the function's own account (SQS, STS, SSM)."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        key = (service, region, endpoint)
        with self._lock:
            found = self._others.get(key)
        if found is not None:
            return found
        made = self.session.client(service, region_name=region, config=self._config)  # type: ignore[call-overload]
        with self._lock:
            return self._others.setdefault(key, made)

    def role_arn(self, account: str, region: str) -> str:
        partition = self.session.get_partition_for_region(region) if region else "aws"
        return f"arn:{partition}:iam::{account}:role/{self.member_role_name}"

    def _member_session(self, account: str, region: str) -> boto3.Session:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("AWS_ENDPOINT_URL")
        with self._lock:
            found = self._members.get((account, endpoint))
        if found is not None:
            return found
        sts = self.client("sts", region)
        arn = self.role_arn(account, region)

        def assume() -> dict[str, str]:
            args: dict[str, Any] = {
                "RoleArn": arn,
                "RoleSessionName": "offhours",
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
        session = boto3.Session(botocore_session=core)
        with self._lock:
            return self._members.setdefault((account, endpoint), session)

    def clear(self) -> None:
        with self._lock:
            self._ec2.clear()
            self._members.clear()
            self._others.clear()


DEFAULT_CLIENTS = Clients()
