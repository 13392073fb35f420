from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from perftrace.fastapi import PerformanceTracing
from perftrace.formats.snapshot import snapshot_from_json
from perftrace.tracing.semconv import OPERATION_ATTRIBUTE


@pytest.fixture
def client() -> Iterator[TestClient]:
    """A service with one traced operation of two stages, after eight requests."""
    tracing = PerformanceTracing(service_name="svc")
    app = FastAPI(lifespan=tracing.lifespan)
    tracing.mount(app)
    tracer = trace.get_tracer("test")

    @app.get("/work")
    def work() -> dict[str, str]:
        trace.get_current_span().set_attribute(OPERATION_ATTRIBUTE, "work")
        for stage in ("load", "save"):
            with tracer.start_as_current_span(stage):
                pass
        return {}

    with TestClient(app) as test_client:
        for _ in range(8):
            assert test_client.get("/work").status_code == 200
        yield test_client


def test_the_snapshot_route_returns_every_kept_span_in_the_snapshot_format(client: TestClient) -> None:
    response = client.get("/api/v1/performance/snapshot")

    assert response.status_code == 200
    snapshot = snapshot_from_json(response.json())
    assert snapshot.service_name == "svc" and len(snapshot.traces) == 8
    names = {s.name for t in snapshot.traces for s in t.spans}
    assert {"GET /work", "load", "save"} <= names
    assert all(s.parent_span_id for t in snapshot.traces for s in t.spans if s.name in ("load", "save"))


def test_the_compare_route_compares_two_snapshots_and_names_a_bad_field(client: TestClient) -> None:
    snapshot = client.get("/api/v1/performance/snapshot").json()

    same = client.post("/api/v1/performance/compare", json={"before": snapshot, "after": snapshot})
    snapshot["traces"][2]["spans"][0]["name"] = 7
    bad = client.post("/api/v1/performance/compare", json={"before": snapshot, "after": {}})

    assert same.status_code == 200
    assert [s["name"] for s in same.json()["stages"]] == ["request", "load", "save"]
    assert {s["verdict"] for s in same.json()["stages"]} == {"no clear change"}
    # The documents are checked against the schema the route publishes: a 422 naming each bad field.
    assert bad.status_code == 422
    assert "body.before.traces.2.spans.0.name: Input should be a valid string" in bad.json()["detail"]
    assert "body.after.format: Field required" in bad.json()["detail"]
