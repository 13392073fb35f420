"""Reading traces and metrics back from the real backends, and the queries that Grafana would send them."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import yaml
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, OPENAI_API_CALL
from perftrace import SpanRecord
from perftrace.fastapi.browser_endpoint.otlp_json import read_export
from perftrace.formats.jaeger import traces_from_jaeger
from perftrace.formats.otlp import span_records

from testsupport.paths import REPO_ROOT

DASHBOARD_DIR = REPO_ROOT / "grafana" / "dashboards"
ALERTING_DIR = REPO_ROOT / "grafana" / "provisioning" / "alerting"
HTTP_TIMEOUT_SECONDS = 10.0
# What the Grafana macros stand for when a test sends a dashboard query itself.
GRAFANA_MACROS = {"$__rate_interval": "5m", "$__interval": "15s", "$__range": "15m"}


def assert_chat_tree(spans: list[SpanRecord], stages: Iterable[str], backend: str) -> list[str]:
    """The server span is the only root, every stage its child, every LLM span under an openai_api_call.

    Returns the span names, for the checks a caller adds.
    """
    by_id = {span.span_id: span for span in spans}
    roots = [span for span in spans if span.parent_span_id not in by_id]
    assert [root.name for root in roots] == [CHAT_SERVER_SPAN], f"{backend}: roots {[r.name for r in roots]}"
    names = [span.name for span in spans]
    stage_names = set(stages)
    for stage in stage_names:
        assert stage in names, f"{backend}: no {stage} span in {sorted(set(names))}"
    for span in spans:
        if span.name in stage_names:
            assert span.parent_span_id == roots[0].span_id, f"{backend}: {span.name}'s parent is not the server span"
        if span.name.startswith("chat "):
            assert by_id[span.parent_span_id].name == OPENAI_API_CALL, f"{backend}: {span.name} misplaced"
    return names


@dataclass(frozen=True)
class PanelQuery:
    """One query of a provisioned Grafana file and the datasource it names."""

    source: str
    datasource_uid: str
    target: dict[str, Any]


def jaeger_trace(jaeger_url: str, trace_id: str) -> list[SpanRecord] | None:
    """The spans of a trace from Jaeger's HTTP API, or None while Jaeger does not have it (the library's parser)."""
    response = httpx.get(f"{jaeger_url}/api/traces/{trace_id}", timeout=HTTP_TIMEOUT_SECONDS)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    traces = traces_from_jaeger(response.json())
    return list(traces[0].spans) if traces and traces[0].spans else None


def jaeger_dependencies(jaeger_url: str, lookback_ms: int) -> set[tuple[str, str]]:
    """The (caller, callee) service edges of Jaeger's dependency view over the last ``lookback_ms``."""
    end_ms = int(time.time() * 1000)
    response = httpx.get(
        f"{jaeger_url}/api/dependencies",
        params={"endTs": end_ms, "lookback": lookback_ms},
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    return {(link["parent"], link["child"]) for link in response.json().get("data") or []}


def _hex_id(value: str) -> str:
    """Tempo returns ids as base64 in some versions and hex in others."""
    if re.fullmatch(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}", value):
        return value.lower()
    try:
        return base64.b64decode(value).hex()
    except (binascii.Error, ValueError):
        return value


def _with_hex_ids(resource_spans: dict[str, Any]) -> dict[str, Any]:
    """One of Tempo's resource batches as OTLP/JSON has it: ids in hex, spans under ``scopeSpans``."""
    scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []
    for scope in scopes:
        for span in scope.get("spans") or []:
            for item in (span, *(span.get("links") or [])):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if item.get(key):
                        item[key] = _hex_id(item[key])
    return {**resource_spans, "scopeSpans": scopes}


def tempo_trace(tempo_url: str, trace_id: str) -> list[SpanRecord] | None:
    """The spans of a trace from Tempo's trace-by-id API, or None while Tempo does not have it.

    Read by the library's OTLP/JSON schema and reader, once Tempo's ids are hex (some versions send base64).
    """
    response = httpx.get(f"{tempo_url}/api/traces/{trace_id}", timeout=HTTP_TIMEOUT_SECONDS)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body = response.json()
    batches = body.get("batches") or (body.get("trace") or body).get("resourceSpans") or []
    export = {"resourceSpans": [_with_hex_ids(batch) for batch in batches]}
    return span_records(read_export(json.dumps(export).encode())) or None


def tempo_search(tempo_url: str, traceql: str, since_seconds: int = 3600) -> list[dict[str, Any]]:
    """Traces that a TraceQL query finds in Tempo's search API."""
    response = httpx.get(
        f"{tempo_url}/api/search",
        params={
            "q": traceql,
            "limit": "50",
            "spss": "10",
            "start": "0",
            "end": "0",
            "since": f"{since_seconds}s",
        },
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    traces: list[dict[str, Any]] = response.json().get("traces") or []
    return traces


def prometheus_query(prometheus_url: str, expr: str) -> list[dict[str, Any]]:
    """The result of an instant PromQL query; raises on a query error."""
    response = httpx.post(f"{prometheus_url}/api/v1/query", data={"query": expr}, timeout=HTTP_TIMEOUT_SECONDS)
    body = response.json()
    if body.get("status") != "success":
        raise ValueError(f"PromQL error for {expr!r}: {body.get('error')}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def finite_values(result: list[dict[str, Any]]) -> list[float]:
    """The finite sample values of an instant-vector result (NaN, from 0/0, is no data)."""
    values = [float(sample["value"][1]) for sample in result]
    return [value for value in values if math.isfinite(value)]


def expand_grafana_macros(query: str) -> str:
    """Replace the Grafana macros a dashboard uses by fixed durations."""
    for macro, value in GRAFANA_MACROS.items():
        query = query.replace(macro, value)
    if "$" in query:
        raise ValueError(f"query uses a Grafana variable the tests do not know: {query!r}")
    return query


def dashboard_queries() -> list[PanelQuery]:
    """Every target of every provisioned dashboard, with the datasource uid it (or its panel) names."""
    queries = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard.get("panels", []):
            for target in panel.get("targets", []):
                datasource = target.get("datasource") or panel.get("datasource") or {}
                source = f"{path.name}: {panel.get('title')} [{target.get('refId')}]"
                queries.append(PanelQuery(source, str(datasource.get("uid")), target))
    return queries


def alert_rule_queries() -> list[PanelQuery]:
    """The datasource queries of the provisioned alert rules (server-side expressions left out)."""
    queries = []
    for path in sorted(ALERTING_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                for step in rule.get("data", []):
                    if step.get("datasourceUid") != "__expr__":
                        source = f"{path.name}: {rule.get('title')} [{step.get('refId')}]"
                        queries.append(PanelQuery(source, str(step["datasourceUid"]), step["model"]))
    return queries


def has_server_span(jaeger_url: str, trace_id: str) -> bool:
    """Whether Jaeger holds the trace with its server span (which ends last, after every stage)."""
    spans = jaeger_trace(jaeger_url, trace_id)
    return bool(spans) and any(span.name == CHAT_SERVER_SPAN for span in spans or [])


def span_count(jaeger_url: str, trace_id: str) -> int:
    """How many spans of the trace Jaeger holds (0 when none)."""
    return len(jaeger_trace(jaeger_url, trace_id) or [])


def raw_trace(jaeger_url: str, trace_id: str) -> str:
    """The trace exactly as Jaeger's API returns it, for searching its whole text."""
    response = httpx.get(f"{jaeger_url}/api/traces/{trace_id}", timeout=HTTP_TIMEOUT_SECONDS)
    return response.text if response.status_code == 200 else ""
