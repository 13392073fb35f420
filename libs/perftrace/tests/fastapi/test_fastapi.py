"""A service that writes the three lines gets the page, the JSON routes, reports and (if asked) the span endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from perftrace import EFFECT_ATTRIBUTE, FIRST_TOKEN_EVENT, FollowingTracer, get_tracker, traced
from perftrace.fastapi import BrowserEndpointConfig, PerformanceTracing
from perftrace.formats.spans import traces_from_json
from perftrace.tracing.semconv import OPERATION_ATTRIBUTE

SERVICE = "kitchen-service"
BROWSER = "kitchen-ui"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


@traced
def weigh_flour() -> int:
    return 500


def build_app(tracing: PerformanceTracing) -> FastAPI:
    app = FastAPI(lifespan=tracing.lifespan)
    tracing.mount(app)

    @app.get("/bake")
    def bake(secret: str = "") -> dict[str, int]:
        trace.get_current_span().set_attribute(OPERATION_ATTRIBUTE, "bake_1")
        return {"grams": weigh_flour()}

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(build_app(PerformanceTracing(service_name=SERVICE))) as test_client:
        yield test_client


def browser_export(service: str) -> dict[str, Any]:
    span = {
        "traceId": TRACE_ID,
        "spanId": "b7ad6b7169203331",
        "name": "click",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000005000000",
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}


def test_three_lines_give_reports_stages_traces_and_the_page(client: TestClient) -> None:
    assert client.get("/bake", params={"secret": "token-123"}).json() == {"grams": 500}

    (report,) = client.get("/api/v1/performance/reports").json()
    assert report["operation"] == "bake_1" and [m["name"] for m in report["metrics"]] == ["weigh_flour"]
    assert [r.operation for r in get_tracker().get_reports()] == ["bake_1"]
    stages = client.get("/api/v1/performance/stages").json()
    assert [s["name"] for s in stages] == ["weigh_flour"] and stages[0]["count"] == 1

    (kept,) = traces_from_json(client.get("/api/v1/performance/traces").json())
    assert kept.trace_id_hex == report["trace_id"]
    server = next(s for s in kept.spans if s.kind == "SERVER")
    assert server.service_name == SERVICE and server.name == "GET /bake"
    assert "token-123" not in repr(server.attributes)  # query strings are dropped from server spans
    assert client.get(f"/api/v1/performance/traces/{kept.trace_id_hex}").json()["span_count"] == len(kept.spans)

    page = client.get("/performance")
    assert page.status_code == 200 and f'id="{kept.trace_id_hex}"' in page.text
    assert f"{SERVICE} · performance" in page.text and "weigh_flour" in page.text
    assert client.get("/performance/static/performance.css").status_code == 200
    # The viewer's own reads make no traces.
    assert len(client.get("/api/v1/performance/traces").json()) == 1


def test_trace_lookups_say_what_is_wrong(client: TestClient) -> None:
    assert client.get("/api/v1/performance/traces/not-hex").status_code == 422
    assert client.get(f"/api/v1/performance/traces/{TRACE_ID}").status_code == 404


def test_routes_answer_503_until_the_lifespan_runs() -> None:
    client = TestClient(build_app(PerformanceTracing(service_name=SERVICE)))  # not entered: no lifespan
    assert client.get("/api/v1/performance/traces").status_code == 503


def test_no_browser_endpoint_unless_configured(client: TestClient) -> None:
    assert client.post("/otlp/v1/traces", json=browser_export(BROWSER)).status_code == 404


def test_browser_endpoint_keeps_named_browser_services_only() -> None:
    tracing = PerformanceTracing(
        service_name=SERVICE,
        browser_endpoint=BrowserEndpointConfig(service_names={BROWSER}, rate_limit_per_minute=2),
    )
    with TestClient(build_app(tracing)) as client:
        assert client.post("/otlp/v1/traces", json=browser_export(BROWSER)).status_code == 200
        refused = client.post("/otlp/v1/traces", json=browser_export(SERVICE))
        assert refused.status_code == 403 and SERVICE in refused.json()["detail"]
        assert client.post("/otlp/v1/traces", json=browser_export(BROWSER)).status_code == 429
        assert tracing.handle is not None
        kept = tracing.handle.recent.get_trace(int(TRACE_ID, 16))
        assert kept is not None and {s.service_name for s in kept.spans} == {BROWSER}


def test_a_service_name_or_a_config_is_required() -> None:
    with pytest.raises(ValueError, match="service_name"):
        PerformanceTracing()


def test_the_page_shows_the_first_token_the_llm_rounds_and_the_time_to_effect_beside_the_stages() -> None:
    tracing = PerformanceTracing(service_name=SERVICE)
    app = FastAPI(lifespan=tracing.lifespan)
    tracing.mount(app)
    tracer = FollowingTracer("kitchen")

    @app.get("/ask")
    def ask(rounds: int) -> dict[str, int]:
        server = trace.get_current_span()
        server.set_attribute(OPERATION_ATTRIBUTE, f"ask_{rounds}")
        server.set_attributes({"gen_ai.usage.input_tokens": 900 * rounds, "gen_ai.usage.output_tokens": 100 * rounds})
        for _ in range(rounds):
            with tracer.start_as_current_span("chat kitchen-model", attributes={"gen_ai.operation.name": "chat"}):
                pass
        server.add_event(FIRST_TOKEN_EVENT)
        with tracer.start_as_current_span("oven_on", attributes={EFFECT_ATTRIBUTE: "oven"}):
            pass
        return {"rounds": rounds}

    with TestClient(app) as client:
        for rounds in (1, 1, 2):
            assert client.get("/ask", params={"rounds": rounds}).status_code == 200
        page = client.get("/performance").text

    assert '<tr class="felt"><td>first token</td><td class="num">3</td>' in page
    rounds_table = page[page.index('id="llm-rounds"') : page.index('id="effects"')]
    assert '<td>1</td><td class="num">2</td>' in rounds_table and "+1000" in rounds_table  # the extra round's tokens
    assert '<td>oven</td><td class="num">3</td><td class="num">0</td>' in page
