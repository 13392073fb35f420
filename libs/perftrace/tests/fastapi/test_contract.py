"""A service mounting the library keeps the HTTP contract: one error body, 405 with Allow, the export schema."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, HTTPException, Query
from fastapi.testclient import TestClient
from perftrace.fastapi import BrowserEndpointConfig, PerformanceTracing
from perftrace.fastapi.browser_endpoint.otlp_json import validate_export
from perftrace.fastapi.contract import ErrorBody, error_responses

BROWSER = "kitchen-ui"
SPAN = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "click"}


def export(**span_fields: object) -> dict[str, object]:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": BROWSER}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [{**SPAN, **span_fields}]}]}]}


@pytest.fixture
def client() -> Iterator[TestClient]:
    tracing = PerformanceTracing(
        service_name="kitchen-service", browser_endpoint=BrowserEndpointConfig(service_names={BROWSER})
    )
    app = FastAPI(lifespan=tracing.lifespan)
    tracing.mount(app)

    @app.get("/ovens/{name}", responses=error_responses({404: "No such oven"}))
    def oven(name: str, degrees: int = Query(180, le=300)) -> dict[str, int]:
        if name != "main":
            raise HTTPException(404, f"no oven {name}")
        return {"degrees": degrees}

    @app.delete("/ovens/{name}", status_code=204)
    def remove(name: str) -> None:
        return None

    with TestClient(app) as test_client:
        yield test_client


def test_every_error_of_the_app_is_an_error_body(client: TestClient) -> None:
    answers = [client.get("/ovens/side"), client.get("/ovens/main", params={"degrees": 400}), client.get("/nowhere")]
    assert [a.status_code for a in answers] == [404, 422, 404]
    details = [ErrorBody.model_validate(a.json()).detail for a in answers]
    assert details == ["no oven side", "query.degrees: Input should be less than or equal to 300", "Not Found"]
    document = client.get("/openapi.json").json()
    assert document["paths"]["/ovens/{name}"]["get"]["responses"]["404"]["description"] == "No such oven"
    assert {"ErrorBody", "OtlpExportTraceServiceRequest"} <= set(document["components"]["schemas"])


def test_a_method_the_path_does_not_serve_is_405_naming_all_it_does(client: TestClient) -> None:
    patch = client.patch("/ovens/main")
    assert patch.status_code == 405 and patch.headers["allow"] == "GET, DELETE, OPTIONS"
    options = client.options("/ovens/main")
    assert options.status_code == 204 and options.headers["allow"] == "GET, DELETE, OPTIONS"
    assert client.put("/otlp/v1/traces").headers["allow"] == "POST, OPTIONS"


def test_the_browser_endpoint_accepts_what_its_schema_accepts(client: TestClient) -> None:
    assert client.post("/otlp/v1/traces", json=export(kind=3.0, startTimeUnixNano="1700000000000000000")).is_success
    for wrong in ({"kind": "3"}, {"name": None}, {"flags": -1}, {"parentSpanId": "abc"}, {"traceId": "0" * 32}):
        refused = client.post("/otlp/v1/traces", json=export(**wrong))
        assert refused.status_code == 400, wrong
        assert "does not match the schema" in refused.json()["detail"]
    validate_export(json.dumps(export(attributes=[{"key": "n", "value": {"intValue": "-12"}}])).encode())
    with pytest.raises(ValueError, match="intValue"):
        validate_export(json.dumps(export(attributes=[{"key": "n", "value": {"intValue": "12.5"}}])).encode())
