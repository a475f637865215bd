"""A local EC2-compatible endpoint (moto in server mode, on loopback) for the demo and tests.

Nothing here talks to AWS: `offline_environment` sets dummy credentials and a dead proxy for
every host that is not loopback, so a client that misses the local endpoint fails loudly.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import MutableMapping
from dataclasses import dataclass
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
    ):
        target.pop(name, None)


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
        port = getattr(server._server, "server_port", 0)
        return cls(server, f"http://127.0.0.1:{port}")

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 200:
                raise RuntimeError(f"resetting the local endpoint failed: {response.status}")

    def stop(self) -> None:
        self.server.stop()
