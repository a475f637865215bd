"""The stack's CloudWatch dashboard (issue 19) agrees with the code: it reads only metrics the
code puts, under the names, namespace and dimensions the code gives them, and shows every one
that the code puts by default; its links open the stack's own saved queries; it exists only
with Dashboard=true. And the rights the savings figures need (pricing:GetProducts)."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest

from offhours.resources import KINDS, family
from offhours.runtime import SAVINGS_METRICS, SPARSE_METRICS
from offhours.service import COUNT_KEYS
from tests.policies import (
    allowed,
    holds,
    member,
    reconciling_policies,
    role_policies,
    stack_params,
    template,
)

REGION = "eu-west-1"
STACK = "night-shift"
# Not the default: the dashboard must take the parameter (and a slash keeps its JSON valid).
NAMESPACE = "Team/offhours"
FUNCTION = "night-shift-OffhoursFunction-AbC123"
# The families of resource type that the `resource` dimension names (`resources.family`).
FAMILIES = {family(t) for kind in KINDS.values() for t in kind.words}
# What the code puts with the dimension `resource` next to `service` (`runtime.emit_by_resource`
# and the savings); every metric it puts has the dimension `service`.
BY_RESOURCE = {"started", "stopped", "failed", *SAVINGS_METRICS}
INSIGHTS = (
    f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
    "#logsV2:logs-insights$3FqueryDetail$3D"
)


def _params(**given: Any) -> dict[str, Any]:
    document = template()
    return stack_params(
        document,
        **{"AWS::Region": REGION, "AWS::StackName": STACK, "MetricsNamespace": NAMESPACE, **given},
    )


def _value(node: Any, document: Any, params: dict[str, Any]) -> Any:
    """A template value as CloudFormation makes it: Fn::If, Ref and Fn::Sub (both forms; a
    resource's Ref and GetAtt give stand-ins), refusing a reference to a resource that does not
    exist for these parameters."""
    if isinstance(node, str):
        return node
    ((function, argument),) = node.items()
    if function == "If":
        condition, yes, no = argument
        return _value(yes if holds(document, condition, params) else no, document, params)
    if function == "Ref":
        return _name(argument, document, params)
    assert function == "Sub", function
    text, variables = argument if isinstance(argument, list) else (argument, {})
    own = {k: _value(v, document, params) for k, v in variables.items()}
    assert "${!" not in text
    return re.sub(
        r"\$\{([^}]+)\}",
        lambda m: own[m.group(1)] if m.group(1) in own else _name(m.group(1), document, params),
        text,
    )


def _name(name: str, document: Any, params: dict[str, Any]) -> str:
    if name in params:
        return str(params[name])
    logical, _, attribute = name.partition(".")
    resource = document["Resources"][logical]
    condition = resource.get("Condition")
    assert condition is None or holds(document, condition, params), f"{name}: not created"
    if attribute:
        return f"<{logical}.{attribute}>"
    if logical == "OffhoursLogGroup":
        return _value(resource["Properties"]["LogGroupName"], document, params)
    if logical == "OffhoursFunction":
        return FUNCTION
    return f"<{logical}>"


def _dashboard(**given: Any) -> Any:
    document = template()
    params = _params(**given)
    (name,) = [
        n for n, r in document["Resources"].items() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    properties = document["Resources"][name]["Properties"]
    return json.loads(_value(properties["DashboardBody"], document, params))


def _widgets(kind: str, **given: Any) -> list[Any]:
    return [w["properties"] for w in _dashboard(**given)["widgets"] if w["type"] == kind]


def _metrics(widget: Any) -> list[dict[str, Any]]:
    """A metric widget's metrics: namespace, name, dimensions, and the stat and period that
    apply (the metric's own, else the widget's). Every line names its metric: no expression
    (a SEARCH could read what no test sees)."""
    found = []
    for entry in widget["metrics"]:
        assert not isinstance(entry[0], dict), f"an expression: {entry}"
        options = entry[-1] if isinstance(entry[-1], dict) else {}
        fields = entry[:-1] if options else entry
        assert "." not in fields, "no shorthand: every line names its metric in full"
        namespace, name, *pairs = fields
        assert len(pairs) % 2 == 0
        found.append(
            {
                "namespace": namespace,
                "name": name,
                "dimensions": dict(zip(pairs[::2], pairs[1::2], strict=True)),
                "dimension_names": pairs[::2],
                "stat": options.get("stat", widget.get("stat")),
                "period": options.get("period", widget.get("period")),
                "id": options.get("id"),
                "visible": options.get("visible", True),
            }
        )
    return found


def _all_metrics() -> list[dict[str, Any]]:
    return [m for w in _widgets("metric") for m in _metrics(w)]


def _service_name() -> str:
    return str(
        template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    )


def test_the_body_is_json_whose_widgets_fit_the_grid_in_the_stacks_region():
    body = _dashboard()
    assert body["periodOverride"] == "inherit"  # each widget's period is obeyed
    assert {w["type"] for w in body["widgets"]} == {"text", "metric", "alarm", "log"}
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        assert widget["x"] >= 0 and widget["x"] + widget["width"] <= 24, widget
        if widget["type"] in ("metric", "log"):
            assert widget["properties"]["region"] == REGION
        mine = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not mine & cells, f"{widget['type']} at {widget['x']},{widget['y']} overlaps"
        cells |= mine


def test_every_metric_the_dashboard_reads_is_one_the_code_puts():
    read = _all_metrics()
    assert read
    names = set(SPARSE_METRICS) | set(SAVINGS_METRICS) | set(COUNT_KEYS)
    for metric in read:
        assert metric["namespace"] == NAMESPACE, metric
        assert metric["name"] in names, metric
        assert metric["dimension_names"] in (["service"], ["service", "resource"]), metric
        assert metric["dimensions"]["service"] == _service_name()
        if "resource" in metric["dimensions"]:
            assert metric["name"] in BY_RESOURCE, metric
            assert metric["dimensions"]["resource"] in FAMILIES, metric
    assert _service_name() == "offhours"  # and the alarms name it so too
    for name, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            properties = resource["Properties"]
            if properties["Namespace"] == {"Ref": "MetricsNamespace"}:
                assert properties["Dimensions"] == [{"Name": "service", "Value": "offhours"}], name


def test_every_metric_the_code_puts_by_default_has_a_widget():
    read = {m["name"] for m in _all_metrics() if m["visible"]}
    assert set(SPARSE_METRICS) | set(SAVINGS_METRICS) <= read


@pytest.mark.parametrize("name", SAVINGS_METRICS)
def test_the_savings_are_shown_per_day_by_resource_type_and_in_total(name):
    daily = [
        w
        for w in _widgets("metric")
        if w.get("view") == "timeSeries" and any(m["name"] == name for m in _metrics(w))
    ]
    assert len(daily) == 1
    lines = _metrics(daily[0])
    assert {m["name"] for m in lines} == {name}
    assert {m["dimensions"]["resource"] for m in lines} == FAMILIES
    assert all(m["stat"] == "Sum" and m["period"] == 86400 for m in lines)
    # The total over the dashboard's time range: one value, the sum of the run's totals.
    (total,) = [w for w in _widgets("metric") if w.get("view") == "singleValue"]
    assert total["setPeriodToTimeRange"] is True
    (line,) = [m for m in _metrics(total) if m["name"] == name]
    assert line["dimension_names"] == ["service"] and line["stat"] == "Sum"


def test_actions_and_failures_per_hour_deferred_work_and_invalid_schedules():
    hourly = {
        (m["name"], m["stat"])
        for m in _all_metrics()
        if m["period"] == 3600 and m["dimension_names"] == ["service"]
    }
    for name in ("started", "stopped", "failed", "deferred_targets", "deferred_work"):
        assert (name, "Sum") in hourly, name
    # Counted at every run while the value stays wrong: the most in one run, not the sum.
    assert ("invalid", "Maximum") in hourly


def test_the_heartbeat_widget_reads_what_the_heartbeat_alarm_reads():
    alarm = template()["Resources"]["HeartbeatAlarm"]["Properties"]
    found = [
        m
        for m in _all_metrics()
        if m["name"] == alarm["MetricName"] and m["stat"] == alarm["Statistic"]
    ]
    assert len(found) == 1
    assert found[0]["period"] == alarm["Period"]
    assert found[0]["dimensions"] == {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


@pytest.mark.parametrize("fan_out", ["false", "true"])
def test_the_alarm_widget_shows_every_alarm_of_the_stack(fan_out):
    document = template()
    params = _params(FanOut=fan_out)
    alarms = {
        f"<{name}.Arn>"
        for name, resource in document["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and (resource.get("Condition") is None or holds(document, resource["Condition"], params))
    }
    (widget,) = _widgets("alarm", FanOut=fan_out)
    assert set(widget["alarms"]) == alarms and len(widget["alarms"]) == len(alarms)
    assert len(alarms) == (7 if fan_out == "true" else 4)


def console_escape(text: str) -> str:
    """Text as the CloudWatch console writes it in a Logs Insights link: percent-escapes with
    `*` for `%` (in lower case, as the console does)."""
    escaped = urllib.parse.quote(text, safe="")
    return re.sub(r"%([0-9A-F]{2})", lambda m: "*" + m.group(1).lower(), escaped)


def _unescape(text: str) -> str:
    return urllib.parse.unquote(text.replace("*", "%"))


def _links(markdown: str) -> list[tuple[str, str]]:
    """The markdown's links, (text, address); an address may hold balanced parentheses."""
    found = []
    for match in re.finditer(r"\[([^\]]+)\]\(", markdown):
        depth, i = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(markdown[i], 0)
            i += 1
        found.append((match.group(1), markdown[match.end() : i - 1]))
    return found


def _queries() -> dict[str, str]:
    """The stack's saved queries: name (as deployed) -> query text."""
    document = template()
    params = _params()
    return {
        _value(r["Properties"]["Name"], document, params): r["Properties"]["QueryString"]
        for r in document["Resources"].values()
        if r["Type"] == "AWS::Logs::QueryDefinition"
    }


def test_the_links_open_every_saved_query_on_the_log_group():
    (text,) = _widgets("text")
    links = [(name, url) for name, url in _links(text["markdown"]) if url.startswith(INSIGHTS)]
    queries = _queries()
    assert len(queries) == 5
    assert sorted(name for name, _ in links) == sorted(queries)
    group = _value(
        template()["Resources"]["OffhoursLogGroup"]["Properties"]["LogGroupName"],
        template(),
        _params(),
    )
    assert group == f"/offhours/{STACK}"
    for name, url in links:
        detail = url.removeprefix(INSIGHTS)
        assert detail.startswith("~(") and detail.endswith(")"), url
        assert "~start~-86400~timeType~'RELATIVE~unit~'seconds~" in detail  # the last day
        (editor,) = re.findall(r"~editorString~'([^~)]*)", detail)
        (source,) = re.findall(r"~source~\(~'([^~)]*)\)", detail)
        wanted = queries[name].rstrip("\n")
        assert _unescape(editor) == wanted, (
            f"the link to {name} must carry its query; its editorString is\n"
            f"{console_escape(wanted)}"
        )
        assert _unescape(source) == group


def test_the_log_widget_runs_the_decisions_query_over_the_log_group():
    (widget,) = _widgets("log")
    source, _, query = widget["query"].partition(" | ")
    assert source == f"SOURCE '/offhours/{STACK}'"
    assert query == _queries()[f"offhours/{STACK}/decisions"].rstrip("\n")
    assert widget["view"] == "table"


def test_the_text_names_the_namespace_the_log_group_and_the_function():
    (text,) = _widgets("text")
    assert f"`{NAMESPACE}`" in text["markdown"]
    targets = dict(_links(text["markdown"]))
    assert targets[f"/offhours/{STACK}"].endswith(
        f"#logsV2:log-groups/log-group/$252Foffhours$252F{STACK}"
    )
    assert targets[FUNCTION].endswith(f"/lambda/home?region={REGION}#/functions/{FUNCTION}")


def test_the_dashboard_is_optional_and_one_per_deployment():
    document = template()
    parameter = document["Parameters"]["Dashboard"]
    assert parameter["AllowedValues"] == ["true", "false"] and parameter["Default"] == "true"
    groups = document["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    (group,) = [g for g in groups if "Dashboard" in g["Parameters"]]
    assert group["Label"]["default"] == "Observability"
    (name,) = [
        n for n, r in document["Resources"].items() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    resource = document["Resources"][name]
    assert resource["Properties"]["DashboardName"] == {"Sub": "${AWS::StackName}-offhours"}
    output = document["Outputs"]["DashboardUrl"]
    assert output["Condition"] == resource["Condition"]
    assert _value(output["Value"], document, _params()).endswith(f"#dashboards/dashboard/<{name}>")
    for value, exists in (("true", True), ("false", False)):
        assert holds(document, resource["Condition"], _params(Dashboard=value)) is exists


@pytest.mark.parametrize("fan_out", ["false", "true"])
@pytest.mark.parametrize(
    "kinds", ["ec2,rds", "ec2", "rds", "ec2,rds,asg,eks", "asg", "eks", "asg,eks"]
)
def test_the_role_that_reconciles_may_read_prices_when_its_kinds_have_one(kinds, fan_out):
    """The savings figures read on-demand prices (pricing:GetProducts, which has no resource
    types: "*") in the function's own account, with the role that reconciles; Auto Scaling
    groups and EKS node groups have no price, and a member account's role never needs it."""
    document = template()
    params = stack_params(document, Resources=kinds, FanOut=fan_out)
    priced = bool({"ec2", "rds"} & set(kinds.split(",")))
    assert allowed(reconciling_policies(document, params), "pricing:GetProducts", "*") is priced
    if fan_out == "true":
        scheduler = role_policies(document, params, "OffhoursRole")
        assert allowed(scheduler, "pricing:GetProducts", "*") is False
    theirs = member()
    assert not allowed(
        reconciling_policies(theirs, stack_params(theirs, Resources=kinds)),
        "pricing:GetProducts",
        "*",
    )
