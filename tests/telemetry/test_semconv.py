"""Every span name, service name and span attribute that Grafana queries is one the service defines.

A renamed stage or attribute in ``ha_ai_agent.semconv`` would otherwise leave a dashboard panel or an alert
rule silently empty.
"""

from __future__ import annotations

import re

import pytest
from ha_ai_agent.semconv import (
    BROWSER_SERVICE_NAME,
    CHAT_SERVER_SPAN,
    CHAT_SERVER_SPANS,
    CONTEXT_SPAN_PREFIX,
    LLM_CHAT_SPAN_PREFIX,
    METRIC_COST,
    METRIC_LLM_ROUNDS,
    METRIC_PROMPT_TOKENS,
    SERVICE_NAME,
    SPAN_ATTRIBUTES,
    STAGES,
)
from testsupport.backend_queries import PanelQuery, alert_rule_queries, dashboard_queries

SERVICES = {SERVICE_NAME, BROWSER_SERVICE_NAME}
SPAN_NAMES = {*CHAT_SERVER_SPANS, *STAGES}
#: Span names made of a prefix and a value (the model, the context section), as a regex may match them.
PREFIXED_SPAN_NAMES = {LLM_CHAT_SPAN_PREFIX + "gpt-4o-mini", CONTEXT_SPAN_PREFIX + "devices"}
#: Labels the span-metrics connector adds itself; any other label of its series is a span attribute.
CONNECTOR_LABELS = {"service_name", "span_name", "span_kind", "status_code", "le"}
PROMQL_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
SPAN_METRIC_SELECTOR = re.compile(r"traces_span_metrics_\w+\{([^}]*)\}")
#: A metric name in PromQL: followed by a selector or a range.
PROMQL_METRIC = re.compile(r"\b([a-z_][a-z0-9_]*)\s*[{\[]")
#: The series a query may read: span metrics, the GenAI instrumentation's, the service's own (as Prometheus names
#: them from OTLP), and the collector's and Prometheus' own.
SERVICE_METRICS = {m.replace(".", "_") for m in (METRIC_PROMPT_TOKENS, METRIC_COST, METRIC_LLM_ROUNDS)}
KNOWN_METRIC = re.compile(
    r"traces_span_metrics_\w+|gen_ai_client_(token_usage|operation_duration_seconds)_\w+|otelcol_\w+|up"
    rf"|({'|'.join(SERVICE_METRICS)})(_bucket|_sum|_count|_total)"
)
TRACEQL_MATCHER = re.compile(r'(resource\.service\.name|name|span\.[\w.]+)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def all_queries() -> list[PanelQuery]:
    queries = dashboard_queries() + alert_rule_queries()
    assert queries, "no Grafana queries found"
    return queries


def check_span_name(value: str, operator: str, source: str) -> None:
    names = value.split("|") if operator in ("=~", "!~") else [value]
    for name in names:
        regex = operator in ("=~", "!~")
        known = name in SPAN_NAMES or (regex and any(re.fullmatch(name, n) for n in PREFIXED_SPAN_NAMES))
        assert known, f"{source}: span name {name!r} is not in ha_ai_agent.semconv"


def check_label(label: str, operator: str, value: str, source: str) -> None:
    if label == "service_name":
        assert value in SERVICES, f"{source}: service {value!r} is not in ha_ai_agent.semconv"
    elif label == "span_name":
        check_span_name(value, operator, source)


@pytest.mark.parametrize("grafana_query", all_queries(), ids=lambda q: q.source)
def test_grafana_queries_use_only_names_the_service_defines(grafana_query: PanelQuery) -> None:
    query = grafana_query
    target = query.target
    expr = str(target.get("expr") or "")
    for label, operator, value in PROMQL_MATCHER.findall(expr):
        check_label(label, operator, value, query.source)
    for metric in PROMQL_METRIC.findall(expr):
        assert KNOWN_METRIC.fullmatch(metric), f"{query.source}: metric {metric!r} is not one the service records"
    for selector in SPAN_METRIC_SELECTOR.findall(expr):
        for label, _, _ in PROMQL_MATCHER.findall(selector):
            if label not in CONNECTOR_LABELS:
                assert label in {a.replace(".", "_") for a in SPAN_ATTRIBUTES}, f"{query.source}: {label}"
    if target.get("queryType") == "traceql":
        for field, operator, value in TRACEQL_MATCHER.findall(str(target["query"])):
            if field == "resource.service.name":
                assert value in SERVICES, f"{query.source}: service {value!r}"
            elif field == "name":
                check_span_name(value, operator, query.source)
            else:
                assert field.removeprefix("span.") in SPAN_ATTRIBUTES, f"{query.source}: attribute {field!r}"
    if "service" in target:  # Jaeger search
        assert target["service"] in SERVICES, query.source
        check_span_name(str(target.get("operation", CHAT_SERVER_SPAN)), "=", query.source)


def test_the_check_reads_every_stage_from_the_dashboards() -> None:
    # Guards the parsing above: were it to find nothing, every query would pass.
    queried = " ".join(str(q.target.get("expr", "")) for q in all_queries())
    found = {value for _, _, value in PROMQL_MATCHER.findall(queried)}
    assert {SERVICE_NAME, *CHAT_SERVER_SPANS} <= {name for value in found for name in value.split("|")}
    assert any(set(STAGES) <= set(value.split("|")) for value in found)
