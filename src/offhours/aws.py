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


class Clients:
    """A cache of clients keyed by account, region (and endpoint); account None is the
    function's own account."""

    def __init__(self, session: boto3.Session | None = None, config: BotoConfig = RETRIES) -> None:
        self._session = session
        self._config = config
        self._ec2: dict[tuple[str | None, str, str | None], EC2Client] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            self._session = boto3.Session()
        return self._session

    def ec2(self, region: str, account: str | None = None) -> EC2Client:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_EC2") or os.environ.get("AWS_ENDPOINT_URL")
        key = (account, region, endpoint)
        with self._lock:
            client = self._ec2.get(key)
            if client is None:
                client = self.session.client("ec2", region_name=region, config=self._config)
                self._ec2[key] = client
            return client

    def clear(self) -> None:
        with self._lock:
            self._ec2.clear()


DEFAULT_CLIENTS = Clients()
