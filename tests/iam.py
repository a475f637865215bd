"""The local endpoint enforces IAM with the stack's own policies (DESIGN §4, Rights).

Once the tests' endpoint is up (`tests.fleet.MotoEndpoint.start`), moto's IAM holds an admin
user, whose keys are the process's default credentials (every client that sets the scene:
fleets, tags, databases, queues), and the role `offhours-lab-function`, whose policies are the
reconciling policies of template.yaml (`tests.policies`) for the default parameters with
notices on. The handler's clients (`offhours.runtime.clients`) carry that role's temporary
credentials; `tests.harness`'s `invoke` switches moto's authorization on while the handler
runs, with the role's credentials in the environment, as Lambda gives them (the `iam` fixture
switches it on for a whole test). moto checks the action and the signature, not resources or
conditions (`offhours.local.moto_readable`): tests/test_template.py and the rights test
evaluate those.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from offhours import runtime
from offhours.aws import Clients
from offhours.local import Credentials, IamLab, LocalEndpoint, credentials_in_environment
from tests import policies

FUNCTION = "function"  # the role's name in the lab: offhours-lab-function
# The parameters the lab's role is made for: the defaults (a catalogue parameter, no member
# accounts, no fan-out) with notices on, so that events:PutEvents is granted as the tests that
# put notices need, and every kind (Resources ec2,rds,asg,eks) for the tests of each.
FUNCTION_PARAMETERS: dict[str, Any] = {"NoticeMinutes": 15, "Resources": "ec2,rds,asg,eks"}

_clients: dict[Credentials, Clients] = {}
_saved: dict[str, Any] = {}


def function_policies(**given: Any) -> list[Any]:
    """The policies of the role that reconciles, as IAM receives them from template.yaml."""
    document = policies.template()
    params = policies.stack_params(document, **{**FUNCTION_PARAMETERS, **given})
    return policies.reconciling_policies(document, params)


def without(documents: list[Any], action: str) -> list[Any]:
    """The same policies less one action (statements left with none are dropped)."""
    result = []
    for document in documents:
        statements = []
        for statement in policies.listed(document["Statement"]):
            actions = [a for a in policies.listed(statement["Action"]) if a != action]
            if actions:
                statements.append({**statement, "Action": actions})
        result.append({**document, "Statement": statements})
    return result


def clients_for(credentials: Credentials) -> Clients:
    """The function's clients when it runs with `credentials`: one cache of clients per
    credentials for the whole session, as a warm function keeps its own. Its session reads
    them from the environment, as boto3 does in Lambda."""
    found = _clients.get(credentials)
    if found is None:
        with credentials_in_environment(credentials):
            session = boto3.Session()
            session.get_credentials()  # resolved now, and kept by the session
        found = _clients[credentials] = Clients(session)
    return found


def install(endpoint: LocalEndpoint) -> IamLab:
    """The admin user and the function's role; the admin's keys become the process's default
    credentials, the role's the handler's clients'. moto's authorization stays off until a
    test asks for it (the `iam` fixture)."""
    lab = IamLab.create(endpoint)
    function = lab.role(FUNCTION, function_policies())
    _saved.update(
        clients=runtime.clients,
        environment={name: os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID",
                     "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")},
    )  # fmt: skip
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(lab.admin.environment())
    runtime.clients = clients_for(function)
    return lab


def uninstall() -> None:
    if not _saved:
        return
    runtime.clients = _saved["clients"]
    for name, value in _saved["environment"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved.clear()
    _clients.clear()
