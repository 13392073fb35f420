"""What ``PerformanceTracing.mount`` adds around the routes: the service's auth, gzip, and the compare body cap."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from perftrace.fastapi import BrowserEndpointConfig, PerformanceTracing

TOKEN = "let-me-in"


def require_token(request: Request) -> None:
    """A service's auth dependency, as small as one gets."""
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        raise HTTPException(401, "send the token", {"WWW-Authenticate": "Bearer"})


@pytest.fixture
def client() -> Iterator[TestClient]:
    tracing = PerformanceTracing(
        service_name="svc",
        browser_endpoint=BrowserEndpointConfig(service_names=frozenset({"svc-ui"})),
        compare_max_body_bytes=4096,
    )
    app = FastAPI(lifespan=tracing.lifespan)
    tracing.mount(app, auth=require_token)
    with TestClient(app) as test_client:
        yield test_client


def test_every_route_the_library_mounts_needs_what_the_service_asks_for(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operations = [(method, path) for path, item in document["paths"].items() for method in item]
    # five JSON reads, two of conversations, the page and a conversation's, compare, the browser endpoint
    assert len(operations) == 11
    signed = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in operations:
        concrete = path.replace("{trace_id}", "0" * 32).replace("{conversation_id}", "c1")
        refused = client.request(method, concrete)
        assert refused.status_code == 401, (method, path)
        assert refused.json()["detail"] == "send the token"
        assert client.request(method, concrete, headers=signed).status_code != 401, (method, path)


def test_the_page_is_gzipped_for_clients_that_accept_it(client: TestClient) -> None:
    signed = {"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "gzip"}
    page = client.get("/performance", headers=signed)
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    plain = client.get("/performance", headers={**signed, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == page.text


def test_a_compare_body_over_the_cap_is_refused_with_413_declared_or_streamed(client: TestClient) -> None:
    signed = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    body = b'{"before": "' + b"x" * 5000 + b'"}'
    declared = client.post("/api/v1/performance/compare", content=body, headers=signed)
    streamed = client.post("/api/v1/performance/compare", content=iter([body[:3000], body[3000:]]), headers=signed)
    assert declared.status_code == streamed.status_code == 413
    assert streamed.json()["detail"] == "body is over the 4096-byte limit"
    small = client.post("/api/v1/performance/compare", content=b"{}", headers=signed)
    assert small.status_code == 422  # under the cap: read and checked as before
    responses = client.get("/openapi.json").json()["paths"]["/api/v1/performance/compare"]["post"]["responses"]
    assert "413" in responses
