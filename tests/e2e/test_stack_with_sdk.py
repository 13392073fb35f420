"""The stack proven with spans and metrics sent by the Python OpenTelemetry SDK, without the service.

Chat-shaped traces (a server span, the seven stage spans, `chat <model>` LLM spans with gen_ai.*
attributes), the GenAI token-usage histogram and the service's chat metrics (recorded by its own instruments)
go to the collector over OTLP/HTTP; the tests read them
back from Jaeger, Tempo and Prometheus exactly as a person (or Grafana, or Jaeger's Monitor tab) would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import httpx
import pytest
from ha_ai_agent.chat.usage import ChatMetrics
from ha_ai_agent.semconv import (
    CHAT_SERVER_SPAN,
    FEEDBACK_LABELS,
    OPENAI_API_CALL,
    PROMPT_PARTS,
    SERVICE_NAME,
    STAGES,
    TOKEN_COUNT_RETRIEVAL,
    TOOL_EXECUTION,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, format_trace_id
from perftrace import SpanRecord
from testsupport.backend_queries import (
    PanelQuery,
    alert_rule_queries,
    assert_chat_tree,
    dashboard_queries,
    expand_grafana_macros,
    finite_values,
    jaeger_trace,
    prometheus_query,
    tempo_search,
    tempo_trace,
)
from testsupport.processes import poll
from testsupport.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

MODEL = "gpt-4o-mini"
#: The stages this test sends: the service's, up to token counting (nothing is saved here).
SENT_STAGES = STAGES[: STAGES.index(TOKEN_COUNT_RETRIEVAL) + 1]
#: The stages before the first model call.
BEFORE_THE_MODEL = STAGES[: STAGES.index(OPENAI_API_CALL)]
CHATS_PER_WAVE = 3
# The server span, seven stages (openai_api_call twice) and two LLM spans.
SPANS_PER_CHAT = 11
VISIBLE_TIMEOUT_S = 30.0
# span_metrics flushes every 5 s: two waves further apart than that give every counter a real increase.
WAVE_GAP_S = 7.0
METRICS_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class SentTraffic:
    """What the SDK sent: trace ids, and the span tree each trace must have."""

    trace_ids: list[str]


def _send_chat(tracer: Tracer, fail_tool: bool) -> str:
    """One chat-shaped trace: stages under the server span, an LLM span under each openai_api_call."""
    with tracer.start_as_current_span(CHAT_SERVER_SPAN, kind=SpanKind.SERVER) as server:
        server.set_attribute("http.request.method", "POST")
        server.set_attribute("http.route", "/api/v1/chat")
        server.set_attribute("http.response.status_code", 200)
        for stage in BEFORE_THE_MODEL:
            with tracer.start_as_current_span(stage):
                time.sleep(0.002)
        for iteration in (1, 2):
            with tracer.start_as_current_span(OPENAI_API_CALL) as call:
                call.set_attribute("iteration", iteration)
                with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.CLIENT) as llm:
                    llm.set_attribute("gen_ai.operation.name", "chat")
                    llm.set_attribute("gen_ai.request.model", MODEL)
                    llm.set_attribute("gen_ai.usage.input_tokens", 1200)
                    llm.set_attribute("gen_ai.usage.output_tokens", 80)
                    time.sleep(0.01)
            if iteration == 1:
                with tracer.start_as_current_span(TOOL_EXECUTION) as tool:
                    tool.set_attribute("tool.name", "get_entities")
                    if fail_tool:
                        tool.set_status(Status(StatusCode.ERROR, "Home Assistant unreachable"))
                    time.sleep(0.003)
        with tracer.start_as_current_span(TOKEN_COUNT_RETRIEVAL):
            time.sleep(0.001)
        return format_trace_id(server.get_span_context().trace_id)


def _counted_at_least(prometheus_url: str, expr: str, expected: int) -> bool:
    values = finite_values(prometheus_query(prometheus_url, expr))
    return bool(values) and values[0] >= expected


@pytest.fixture(scope="module")
def sent(stack: Stack) -> Iterator[SentTraffic]:
    """Two waves of chat traces and token-usage metrics, sent through the collector, seen in Prometheus."""
    resource = Resource.create({"service.name": SERVICE_NAME})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{stack.collector_otlp_http}/v1/traces"))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{stack.collector_otlp_http}/v1/metrics"),
        export_interval_millis=3_600_000,
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    token_usage = meter_provider.get_meter("tests.e2e").create_histogram("gen_ai.client.token.usage", unit="{token}")
    # The service's own chat metrics, through its own instruments: the names the dashboard reads.
    chat_metrics = ChatMetrics(meter_provider)
    tracer = tracer_provider.get_tracer("tests.e2e")
    trace_ids: list[str] = []
    chat_calls = f'sum(traces_span_metrics_calls_total{{service_name="{SERVICE_NAME}", span_name="POST /api/v1/chat"}})'
    # Other tests of the session may have sent chats already: count from what Prometheus has now.
    already = finite_values(prometheus_query(stack.prometheus, chat_calls))
    baseline = int(already[0]) if already else 0
    try:
        for wave in range(2):
            for index in range(CHATS_PER_WAVE):
                trace_ids.append(_send_chat(tracer, fail_tool=index == 0))
                for token_type, count in (("input", 2400), ("output", 160)):
                    attributes = {"gen_ai.token.type": token_type, "gen_ai.operation.name": "chat"}
                    token_usage.record(count, {**attributes, "gen_ai.request.model": MODEL})
                chat_metrics.record_prompt({part: 100 * (rank + 1) for rank, part in enumerate(PROMPT_PARTS)})
                for _ in range(2):
                    chat_metrics.record_call_cost(MODEL, 0.0004)
                chat_metrics.record_rounds(2)
                chat_metrics.record_feedback(FEEDBACK_LABELS[index % len(FEEDBACK_LABELS)])
            assert meter_provider.force_flush(10_000), "metrics export to the collector failed"
            expected = baseline + CHATS_PER_WAVE * (wave + 1)
            poll(
                partial(_counted_at_least, stack.prometheus, chat_calls, expected),
                METRICS_TIMEOUT_S,
                interval_s=1.0,
                what=f"{expected} chat calls counted in Prometheus",
            )
            if wave == 0:
                time.sleep(WAVE_GAP_S)
        yield SentTraffic(trace_ids)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def _whole_trace(
    lookup: Callable[[str, str], list[SpanRecord] | None], url: str, trace_id: str
) -> list[SpanRecord] | None:
    """The trace once all its spans are in (they reach a backend in several batches)."""
    spans = lookup(url, trace_id)
    return spans if spans and len(spans) >= SPANS_PER_CHAT else None


def tree(spans: list[SpanRecord]) -> set[tuple[int, int, str]]:
    """What two backends must agree on: each span's id, parent and name."""
    return {(s.span_id, s.parent_span_id, s.name) for s in spans}


def _assert_chat_tree(spans: list[SpanRecord], backend: str) -> None:
    """The chat tree (``assert_chat_tree``), with exactly the spans this test sent."""
    names = sorted(assert_chat_tree(spans, SENT_STAGES, backend))
    assert len(spans) == SPANS_PER_CHAT, f"{backend}: expected {SPANS_PER_CHAT} spans, got {names}"


def test_every_trace_reaches_jaeger_with_its_parents(stack: Stack, sent: SentTraffic) -> None:
    for trace_id in sent.trace_ids:
        spans = poll(
            partial(_whole_trace, jaeger_trace, stack.jaeger_query, trace_id),
            VISIBLE_TIMEOUT_S,
            what=f"{trace_id} in Jaeger",
        )
        _assert_chat_tree(spans, "jaeger")


def test_every_trace_reaches_tempo_with_the_same_spans_as_jaeger(
    stack: Stack, tempo_url: str, sent: SentTraffic
) -> None:
    for trace_id in sent.trace_ids:
        in_tempo = poll(
            partial(_whole_trace, tempo_trace, tempo_url, trace_id), VISIBLE_TIMEOUT_S, what=f"{trace_id} in Tempo"
        )
        _assert_chat_tree(in_tempo, "tempo")
        in_jaeger = jaeger_trace(stack.jaeger_query, trace_id)
        assert in_jaeger is not None
        assert tree(in_tempo) == tree(in_jaeger)


def test_tempo_traceql_search_finds_the_chats(tempo_url: str, sent: SentTraffic) -> None:
    query = f'{{resource.service.name="{SERVICE_NAME}" && name="{CHAT_SERVER_SPAN}"}}'
    found = poll(
        lambda: {trace["traceID"].rjust(32, "0") for trace in tempo_search(tempo_url, query)} >= set(sent.trace_ids),
        VISIBLE_TIMEOUT_S,
        what="all chats found by TraceQL",
    )
    assert found


def _query_id(query: PanelQuery) -> str:
    return query.source


@pytest.mark.parametrize("query", dashboard_queries() + alert_rule_queries(), ids=_query_id)
def test_every_grafana_query_returns_data(
    stack: Stack, sent: SentTraffic, query: PanelQuery, request: pytest.FixtureRequest
) -> None:
    target = query.target
    if query.datasource_uid == "prometheus":
        expr = expand_grafana_macros(target["expr"])
        values = poll(
            lambda: finite_values(prometheus_query(stack.prometheus, expr)),
            METRICS_TIMEOUT_S,
            interval_s=1.0,
            what=f"data for {expr}",
        )
        assert values, expr
    elif query.datasource_uid == "jaeger":
        params = {
            "service": target["service"],
            "operation": target["operation"],
            "limit": str(target["limit"]),
            "lookback": "1h",
        }
        response = httpx.get(f"{stack.jaeger_query}/api/traces", params=params, timeout=10.0)
        response.raise_for_status()
        found = {trace["traceID"] for trace in response.json()["data"]}
        assert found & set(sent.trace_ids), f"Jaeger search {params} found none of the sent traces"
    elif query.datasource_uid == "tempo":
        tempo_url = request.getfixturevalue("tempo_url")
        traces = poll(
            lambda: tempo_search(tempo_url, target["query"]),
            VISIBLE_TIMEOUT_S,
            what=f"TraceQL {target['query']}",
        )
        assert traces
    else:
        pytest.fail(f"{query.source} names datasource {query.datasource_uid!r}, which no test backend provides")


def test_error_spans_are_counted_per_stage(stack: Stack, sent: SentTraffic) -> None:
    expr = (
        f'sum by (span_name) (traces_span_metrics_calls_total{{service_name="{SERVICE_NAME}", '
        'status_code="STATUS_CODE_ERROR"})'
    )
    result = poll(
        lambda: prometheus_query(stack.prometheus, expr),
        METRICS_TIMEOUT_S,
        interval_s=1.0,
        what="error counts",
    )
    assert {sample["metric"]["span_name"] for sample in result} == {TOOL_EXECUTION}


def test_jaeger_monitor_tab_shows_per_operation_latencies(stack: Stack, sent: SentTraffic) -> None:
    now_ms = int(time.time() * 1000)
    params = {
        "service": SERVICE_NAME,
        "quantile": "0.95",
        "groupByOperation": "true",
        # The Monitor tab shows server spans unless told otherwise; the stages are internal spans.
        "spanKind": ["server", "internal"],
        "endTs": str(now_ms),
        "lookback": str(15 * 60 * 1000),
        "step": "15000",
        "ratePer": "600000",
    }

    def operations_with_latency() -> set[str] | None:
        response = httpx.get(f"{stack.jaeger_query}/api/metrics/latencies", params=params, timeout=10.0)
        response.raise_for_status()
        operations = set()
        for metric in response.json().get("metrics", []):
            labels = {label["name"]: label["value"] for label in metric.get("labels", [])}
            points = [point.get("gaugeValue", {}).get("doubleValue") for point in metric.get("metricPoints", [])]
            if any(isinstance(value, (int, float)) for value in points):
                operations.add(labels.get("operation", ""))
        return operations if set(SENT_STAGES) <= operations else None

    operations = poll(operations_with_latency, METRICS_TIMEOUT_S, interval_s=1.0, what="SPM latencies of every stage")
    assert CHAT_SERVER_SPAN in operations
