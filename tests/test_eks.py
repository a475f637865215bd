"""EKS managed node groups scheduled through EKS's own API (DESIGN §9; issue 18, item 2): the
gateway against moto in server mode, and a week through the real handler.

What moto (5.2) does not model, answered at the HTTP layer through botocore's hooks
(`tests.faults.Hooks`), on the clients that make the calls:
- TagResource and UntagResource of a node group (moto tags clusters only, and answers
  ResourceNotFoundException for a node group's ARN): `node_group_tags` applies them to the node
  group in moto's own state (it runs in this process), as EKS would, so that DescribeNodegroup
  then gives them;
- a status other than ACTIVE (moto's node groups are ACTIVE from birth to deletion, and an
  update never takes one through UPDATING): `show_status` edits what DescribeNodegroup says;
- EKS's refusals (ResourceInUseException while an update is in progress): `refuse_update`.
moto does model UpdateNodegroupConfig (the scaling configuration changes, as asked), but not
EKS's checks of it (min <= desired <= max; botocore itself refuses a maxSize below 1).

Nor does moto check the signature of a REST request without a body as botocore makes it (every
GET: ListClusters, ListNodegroups, DescribeNodegroup): while its IAM is enforced, it answers
SignatureDoesNotMatch to every principal, so EKS's requests skip moto's IAM check
(`moto_signatures`); the stack's rights for them are `tests.rights`' to check.

The handler runs with the function role's credentials, whose policies (template.yaml's
EksPolicy) `tests.rights` checks every EKS call against.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from offhours import runtime
from offhours.local import Credentials
from offhours.resources.asg import read_size
from offhours.resources.eks import NODEGROUP, EksGateway, where
from tests import rights
from tests.faults import Hooks, _Body
from tests.harness import scheduled_event

OFFICE = "Mon-Fri 08:00-18:00 UTC"
SIZE = "Schedule:offhours-size"
HANDLED = "Schedule:offhours-handled"
ACCOUNT = "123456789012"
REGION = "us-east-1"
EKS_ACTIONS = {
    "eks:ListClusters",
    "eks:ListNodegroups",
    "eks:DescribeNodegroup",
    "eks:UpdateNodegroupConfig",
    "eks:TagResource",
}


def at(text: str) -> dict[str, Any]:
    return scheduled_event(time=f"{text}Z", id=f"run-{text}")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- what moto does not model ------------------------------------------------------------------


def _node_group(arn: str) -> Any:
    """The node group of `arn` in moto's own state (None: no node group has it)."""
    from moto.eks.models import eks_backends

    place = where(arn)
    if place is None:
        return None
    for account in list(eks_backends):
        backend = eks_backends[account].get(arn.split(":")[3])
        cluster = backend.clusters.get(place[0]) if backend is not None else None
        group = cluster.nodegroups.get(place[1]) if cluster is not None else None
        if group is not None and group.arn == arn:
            return group
    return None


def _json(request: Any, status: int, body: dict[str, Any], error: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if error is not None:
        headers["x-amzn-ErrorType"] = error
    return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


def node_group_tags(hooks: Hooks) -> None:
    """TagResource and UntagResource of a node group, done as EKS does them (a map of tags on
    its ARN): applied to moto's node group, whose DescribeNodegroup then gives them."""

    def arn_of(request: Any) -> str:
        return unquote(urlsplit(request.url).path.split("/tags/", 1)[1])

    def tag(request: Any, **_: Any) -> Any:
        group = _node_group(arn_of(request))
        if group is None:
            return None  # a cluster's: moto's own
        body = request.body
        group.tags.update(json.loads(body.decode() if isinstance(body, bytes) else body)["tags"])
        return _json(request, 200, {})

    def untag(request: Any, **_: Any) -> Any:
        group = _node_group(arn_of(request))
        if group is None:
            return None
        for key in parse_qs(urlsplit(request.url).query).get("tagKeys", []):
            group.tags.pop(key, None)
        return _json(request, 200, {})

    hooks.on("before-send.eks.TagResource", tag)
    hooks.on("before-send.eks.UntagResource", untag)


def show_status(hooks: Hooks, arn: str, status: str) -> None:
    """DescribeNodegroup says `status` of one node group (moto's are always ACTIVE)."""

    def edit(parsed: dict[str, Any], **_: Any) -> None:
        group = parsed.get("nodegroup") or {}
        if group.get("nodegroupArn") == arn:
            group["status"] = status

    hooks.on("after-call.eks.DescribeNodegroup", edit)


def refuse_update(hooks: Hooks, name: str) -> list[str]:
    """EKS refuses UpdateNodegroupConfig of the node group `name` (an update in progress)."""
    refused: list[str] = []

    def answer(request: Any, **_: Any) -> Any:
        if f"/node-groups/{name}/" not in urlsplit(request.url).path:
            return None
        refused.append(name)
        message = f"Nodegroup {name} is currently being updated"
        return _json(request, 409, {"message": message}, "ResourceInUseException")

    hooks.on("before-send.eks.UpdateNodegroupConfig", answer)
    return refused


def count_calls(hooks: Hooks) -> dict[str, int]:
    """How many calls of each EKS operation the client makes (one per call, not per retry)."""
    seen: dict[str, int] = {}

    def watch(model: Any, **_: Any) -> None:
        seen[model.name] = seen.get(model.name, 0) + 1

    hooks.on("before-call.eks", watch)
    return seen


def updates(hooks: Hooks) -> list[dict[str, Any]]:
    """The scaling configurations that UpdateNodegroupConfig asks for, as sent."""
    seen: list[dict[str, Any]] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        seen.append(json.loads(params["body"])["scalingConfig"])

    hooks.on("before-call.eks.UpdateNodegroupConfig", watch)
    return seen


# -- the scene ---------------------------------------------------------------------------------


class NodeGroups:
    """EKS clusters and managed node groups made through the API, as a pipeline would."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.clusters: set[str] = set()

    def group(
        self,
        name: str,
        value: str | None = OFFICE,
        size: tuple[int, int, int] = (1, 2, 4),
        *,
        cluster: str = "prod",
        **tags: str,
    ) -> str:
        if cluster not in self.clusters:
            self.client.create_cluster(
                name=cluster,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                resourcesVpcConfig={"subnetIds": ["subnet-1"]},
            )
            self.clusters.add(cluster)
        all_tags = dict(tags)
        if value is not None:
            all_tags["Schedule"] = value
        made = self.client.create_nodegroup(
            clusterName=cluster,
            nodegroupName=name,
            nodeRole=f"arn:aws:iam::{ACCOUNT}:role/node",
            subnets=["subnet-1"],
            scalingConfig={"minSize": size[0], "desiredSize": size[1], "maxSize": size[2]},
            tags=all_tags,
        )
        return str(made["nodegroup"]["nodegroupArn"])

    def describe(self, arn: str) -> dict[str, Any]:
        cluster, name = where(arn) or ("", "")
        found: dict[str, Any] = self.client.describe_nodegroup(
            clusterName=cluster, nodegroupName=name
        )["nodegroup"]
        return found

    def size(self, arn: str) -> tuple[int, int, int]:
        s = self.describe(arn)["scalingConfig"]
        return (s["minSize"], s["desiredSize"], s["maxSize"])

    def tags(self, arn: str) -> dict[str, str]:
        return dict(self.describe(arn).get("tags") or {})

    def resize(self, arn: str, size: tuple[int, int, int]) -> None:
        cluster, name = where(arn) or ("", "")
        self.client.update_nodegroup_config(
            clusterName=cluster,
            nodegroupName=name,
            scalingConfig={"minSize": size[0], "desiredSize": size[1], "maxSize": size[2]},
        )

    def untag(self, arn: str, key: str) -> None:
        self.client.untag_resource(resourceArn=arn, tagKeys=[key])

    def delete(self, arn: str) -> None:
        cluster, name = where(arn) or ("", "")
        self.client.delete_nodegroup(clusterName=cluster, nodegroupName=name)


@pytest.fixture
def groups(fleet: Any, moto_endpoint: Any) -> Iterator[NodeGroups]:
    del fleet  # resets the endpoint
    client = boto3.client("eks", region_name=REGION, endpoint_url=moto_endpoint.url)
    hooks = Hooks(client)
    node_group_tags(hooks)
    yield NodeGroups(client)
    hooks.clear()


@pytest.fixture
def eks_client(moto_endpoint: Any) -> Iterator[tuple[Any, Hooks]]:
    """A client for the gateway itself, with node groups' tags answered."""
    client = boto3.client("eks", region_name=REGION, endpoint_url=moto_endpoint.url)
    hooks = Hooks(client)
    node_group_tags(hooks)
    yield client, hooks
    hooks.clear()


def gateway_of(client: Any) -> EksGateway:
    return EksGateway(client, tag_key="Schedule", region=REGION, account=ACCOUNT)


# -- the gateway against moto ------------------------------------------------------------------


def test_node_groups_are_listed_across_clusters_and_each_is_described_once_a_run(
    groups, eks_client
):
    web = groups.group("web", cluster="prod")
    api = groups.group("api", cluster="staging")
    groups.group("build", None, cluster="staging", team="ci")  # not offhours'
    left = groups.group("left", None, cluster="prod", **{HANDLED: "2026-03-23T07:00:00Z"})
    client, hooks = eks_client
    calls = count_calls(hooks)
    gateway = gateway_of(client)
    listed = gateway.tagged()
    assert set(listed) == {web, api, left}
    assert listed[web] == [OFFICE, None, None, None, None]
    assert listed[left] == [None, "2026-03-23T07:00:00Z", None, None, None]
    # A quiet run: 1 ListClusters + C ListNodegroups + N DescribeNodegroup, and no more.
    assert calls == {"ListClusters": 1, "ListNodegroups": 2, "DescribeNodegroup": 4}
    found = {i.id: i for i in gateway.details([web, api, left])}
    assert calls["DescribeNodegroup"] == 4  # the descriptions of the listing, not new calls
    line = found[web]
    assert line.resource_type == NODEGROUP and line.name == "prod/web"
    assert line.state == "running" and line.skip_reason is None
    assert line.identity.startswith(f"{web}@") and line.created is not None
    assert found[left].untagged
    gateway.details([web])  # a description serves once: read again, it is described again
    assert calls["DescribeNodegroup"] == 5


def test_a_node_group_or_cluster_deleted_while_the_run_lists_them_is_no_error(groups, eks_client):
    web = groups.group("web", cluster="prod")
    groups.group("gone", cluster="prod")
    groups.group("api", cluster="old")
    client, hooks = eks_client

    def gone(request: Any, **_: Any) -> Any:
        path = urlsplit(request.url).path
        if path.endswith("/node-groups/gone") or path == "/clusters/old/node-groups":
            return _json(request, 404, {"message": "not found"}, "ResourceNotFoundException")
        return None

    hooks.on("before-send.eks.DescribeNodegroup", gone)
    hooks.on("before-send.eks.ListNodegroups", gone)
    assert list(gateway_of(client).tagged()) == [web]


def test_a_node_group_made_again_under_its_name_is_another_resource(groups, eks_client):
    old = groups.group("web")
    groups.delete(old)
    new = groups.group("web")
    assert old != new and where(old) == where(new)  # the ARN's UUID tells them apart
    client, _ = eks_client
    assert gateway_of(client).details([old]) == []
    assert [i.id for i in gateway_of(client).details([new])] == [new]


def test_a_stop_records_the_sizes_and_keeps_the_maximum_and_a_start_restores_them(
    groups, eks_client
):
    web = groups.group("web", size=(1, 2, 4))
    client, hooks = eks_client
    sent = updates(hooks)
    gateway = gateway_of(client)
    gateway.amend([], instant("2026-03-23T18:05:00"))
    (instance,) = gateway.details([web])
    stopped = gateway.stop([web])
    assert stopped.succeeded == [web] and stopped.calls == 2  # the record, then the resize
    assert sent == [{"minSize": 0, "desiredSize": 0}]  # maxSize left as it is: EKS needs >= 1
    assert groups.size(web) == (0, 0, 4)
    record = groups.tags(web)[SIZE]
    assert record.startswith("1/2/4 2026-03-23T18:05:00Z ")
    assert read_size(record, instance.identity)[0] == (1, 2, 4)

    again = gateway_of(client)
    (instance,) = again.details([web])
    assert instance.state == "stopped"
    started = again.start([web])
    assert started.succeeded == [web] and started.calls == 1
    assert sent[-1] == {"minSize": 1, "desiredSize": 2, "maxSize": 4}
    assert groups.size(web) == (1, 2, 4)


def test_a_start_without_a_record_uses_the_size_word_or_fails_naming_it(groups, eks_client):
    from offhours.language import parse_schedule

    lost = groups.group("lost", size=(0, 0, 3))
    sized = groups.group("sized", f"{OFFICE} size=1/1/3", size=(0, 0, 3))
    empty = groups.group("empty", f"{OFFICE} size=0/0/0", size=(0, 0, 3))
    client, _ = eks_client
    gateway = gateway_of(client)
    found = {i.id: i for i in gateway.details([lost, sized, empty])}

    class Reading:
        def __init__(self, value: str) -> None:
            self.schedule = parse_schedule(value)

    gateway.consider([(found[a], Reading(found[a].schedule)) for a in (lost, sized, empty)])
    result = gateway.start([lost, sized, empty])
    assert result.succeeded == [sized]
    assert groups.size(sized) == (1, 1, 3)
    code, message = result.failed[lost]
    assert code == "SizeUnknown" and "size=MIN/DESIRED/MAX" in message
    code, message = result.failed[empty]
    assert code == "SizeInvalid" and "at least 1" in message
    assert groups.size(lost) == groups.size(empty) == (0, 0, 3)


def test_a_node_group_that_is_not_active_waits_with_the_reason(groups, eks_client):
    web = groups.group("web")
    client, hooks = eks_client
    show_status(hooks, web, "UPDATING")
    (instance,) = gateway_of(client).details([web])
    assert instance.skip_reason is not None and "UPDATING" in instance.skip_reason


def test_rewrite_changes_a_tag_only_where_it_holds_what_the_run_read(groups, eks_client):
    web = groups.group("web", **{"Schedule:override": "running until 20:00"})
    api = groups.group("api", **{"Schedule:override": "a newer one"})
    client, _ = eks_client
    result = gateway_of(client).rewrite(
        "Schedule:override",
        {web: ("running until 20:00", None), api: ("running until 20:00", None)},
    )
    assert result.succeeded == [web] and result.changed == [api]
    assert "Schedule:override" not in groups.tags(web)
    assert groups.tags(api)["Schedule:override"] == "a newer one"


def test_tags_are_written_and_removed_as_a_map_on_the_node_groups_arn(groups, eks_client):
    web = groups.group("web")
    client, _ = eks_client
    gateway = gateway_of(client)
    written = gateway.tag_each({web: {HANDLED: "2026-03-23T07:00:00Z", "Schedule:x": "y"}})
    assert written.succeeded == [web] and written.calls == 1
    assert groups.tags(web)[HANDLED] == "2026-03-23T07:00:00Z"
    removed = gateway.untag([web], [HANDLED, "Schedule:x"])
    assert removed.succeeded == [web]
    assert groups.tags(web) == {"Schedule": OFFICE}


def test_a_refused_update_is_that_node_groups_failure_only(groups, eks_client):
    web, api = groups.group("web"), groups.group("api")
    client, hooks = eks_client
    refuse_update(hooks, "web")
    gateway = gateway_of(client)
    gateway.details([web, api])
    result = gateway.stop([web, api])
    assert result.succeeded == [api]
    assert result.failed[web][0] == "ResourceInUseException"
    assert groups.size(api) == (0, 0, 4) and groups.size(web) == (1, 2, 4)


# -- through the handler -----------------------------------------------------------------------


@pytest.fixture
def eks_calls() -> Iterator[set[str]]:
    """The EKS actions the handler made in the test (all of them checked by `tests.rights`)."""
    before = set(rights.CALLS)
    made: set[str] = set()
    yield made
    made.update(c.action for c in rights.CALLS if c not in before and c.action.startswith("eks:"))


@pytest.fixture
def handler_hooks(function_role: Credentials, moto_endpoint: Any) -> Iterator[Hooks]:
    """Hooks on the EKS client the handler uses, with node groups' tags answered."""
    del function_role, moto_endpoint  # the handler's clients are the role's from now on
    hooks = Hooks(runtime.clients.target("eks", REGION))
    node_group_tags(hooks)
    yield hooks
    hooks.clear()


@pytest.fixture
def moto_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto (5.2) computes the signature of a REST request without a body (a GET: ListClusters,
    ListNodegroups, DescribeNodegroup; Lambda's ListFunctions too) otherwise than botocore, and
    answers SignatureDoesNotMatch to every principal while its IAM is enforced: EKS's requests
    skip moto's IAM check (`tests.rights` checks them against the stack's policies)."""
    from moto.eks.responses import EKSResponse

    monkeypatch.setattr(
        EKSResponse, "_authenticate_and_authorize_normal_action", lambda self, resource="*": None
    )


@pytest.fixture
def scheduled(groups, env, moto_signatures, handler_hooks, eks_calls) -> NodeGroups:
    env.setenv("RESOURCES", "eks")
    return groups


def test_a_node_group_goes_to_zero_at_night_and_back_to_its_size_in_the_morning(
    scheduled, invoke, handler_hooks, eks_calls
):
    groups = scheduled
    web = groups.group("web")
    first = invoke(at("2026-03-23T07:00:00"))  # Monday, before office hours: adopted
    assert first.error is None
    line = first.decisions[web]
    assert line["action"] == "adopt" and line["resource_type"] == NODEGROUP
    assert line["instance_name"] == "prod/web"
    assert groups.size(web) == (1, 2, 4)
    stop = invoke(at("2026-03-23T18:05:00"))
    line = stop.decisions[web]
    assert line["action"] == "stop" and line["outcome"] == "done"
    assert groups.size(web) == (0, 0, 4)
    assert groups.tags(web)[SIZE].startswith("1/2/4 2026-03-23T18:05:00Z ")
    assert stop.result is not None and stop.result["stopped"] == 1
    groups.resize(web, (1, 1, 4))  # somebody needs a node tonight
    calls = count_calls(handler_hooks)
    night = invoke(at("2026-03-23T20:05:00"))
    assert web not in night.decisions and groups.size(web) == (1, 1, 4)
    # A quiet run: each node group described once, nothing else.
    assert calls == {"ListClusters": 1, "ListNodegroups": 1, "DescribeNodegroup": 1}
    start = invoke(at("2026-03-24T08:05:00"))
    assert start.decisions[web]["action"] == "start"
    assert groups.size(web) == (1, 2, 4)
    assert groups.tags(web)[HANDLED].startswith("2026-03-24T08:00:00Z")
    # The stop: its record, the resize, A and the fingerprint (one TagResource); the start:
    # the resize and A.
    assert (stop.summary["calls"], start.summary["calls"]) == (3, 2)
    # What the stack grants (EksPolicy), each call checked by tests.rights.
    made = {c.action for c in rights.CALLS if c.action.startswith("eks:")}
    assert made == EKS_ACTIONS


def test_a_node_group_being_updated_waits_for_the_next_run(scheduled, invoke, handler_hooks):
    groups = scheduled
    web = groups.group("web")
    invoke(at("2026-03-23T07:00:00"))
    show_status(handler_hooks, web, "UPDATING")
    runtime.logger.setLevel("DEBUG")  # skips are DEBUG lines
    try:
        waiting = invoke(at("2026-03-23T18:05:00"))
    finally:
        runtime.logger.setLevel("INFO")
    line = waiting.decisions[web]
    assert line["action"] not in ("start", "stop") and "UPDATING" in line["reason"]
    assert groups.size(web) == (1, 2, 4)
    handler_hooks.clear()
    node_group_tags(handler_hooks)  # ACTIVE again
    run = invoke(at("2026-03-23T18:10:00"))
    assert run.decisions[web]["action"] == "stop" and groups.size(web) == (0, 0, 4)


def test_a_node_group_whose_record_is_lost_starts_to_its_size_word_or_is_left_with_an_error(
    scheduled, invoke
):
    groups = scheduled
    sized = groups.group("sized", f"{OFFICE} size=1/1/3")
    bare = groups.group("bare")
    invoke(at("2026-03-23T07:00:00"))
    invoke(at("2026-03-23T18:05:00"))
    for arn in (sized, bare):
        groups.untag(arn, SIZE)  # the record is lost
    run = invoke(at("2026-03-24T08:05:00"))
    assert run.decisions[sized]["outcome"] == "done" and groups.size(sized) == (1, 1, 3)
    line = run.decisions[bare]
    assert line["outcome"] == "failed" and line["error_code"] == "SizeUnknown"
    assert groups.size(bare) == (0, 0, 4)


def test_a_node_group_whose_schedule_tag_is_gone_loses_offhours_tags(scheduled, invoke):
    groups = scheduled
    web = groups.group("web")
    invoke(at("2026-03-23T07:00:00"))
    assert HANDLED in groups.tags(web)
    groups.untag(web, "Schedule")
    invoke(at("2026-03-23T09:05:00"))
    assert groups.tags(web) == {}
    made = {c.action for c in rights.CALLS if c.action.startswith("eks:")}
    assert "eks:UntagResource" in made
