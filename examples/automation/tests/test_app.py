from __future__ import annotations

import re
from typing import Any

import httpx
from ai_automation import SERVICE_NAME
from ai_automation.app import create_app
from fastapi.testclient import TestClient
from ha_ai_agent.semconv import CHAT_SERVER_SPAN
from perftrace import get_tracker
from perftrace.formats.spans import traces_from_json
from testsupport.processes import free_port, poll

SERVER_SPAN = "POST /api/v1/suggestions"
GOAL = {"goal": "turn the kitchen lights off when nobody is home"}


def suggest(client: TestClient) -> str:
    """Ask for a suggestion; the trace id, once the example's trace is complete in its buffer."""
    response = client.post("/api/v1/suggestions", json=GOAL)
    assert response.status_code == 200, response.text
    trace_id: str = response.json()["trace_id"]

    def complete() -> dict[str, Any] | None:
        found = client.get(f"/api/v1/performance/traces/{trace_id}")
        if found.status_code == 404:
            return None
        body: dict[str, Any] = found.json()
        return body if any(s["name"] == SERVER_SPAN for s in body["spans"]) else None

    poll(complete, 5.0, interval_s=0.02, what=f"trace {trace_id} kept")
    return trace_id


def test_a_suggestion_is_the_agents_answer(client: TestClient) -> None:
    response = client.post("/api/v1/suggestions", json=GOAL)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["suggestion"].strip()
    assert body["conversation_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", body["trace_id"])


def test_traced_function_sits_between_the_request_and_the_call_to_the_agent(client: TestClient) -> None:
    trace_id = suggest(client)
    spans = client.get(f"/api/v1/performance/traces/{trace_id}").json()["spans"]
    by_id = {s["span_id"]: s for s in spans}
    server = next(s for s in spans if s["name"] == SERVER_SPAN)
    ask = next(s for s in spans if s["name"] == "ask_agent")
    assert ask["parent_span_id"] == server["span_id"]
    calls = [s for s in spans if s["kind"] == "CLIENT"]
    assert len(calls) == 1 and by_id[calls[0]["parent_span_id"]]["name"] == "ask_agent"
    assert {s["service_name"] for s in spans} == {SERVICE_NAME}


def test_performance_page_and_json_show_the_requests(client: TestClient) -> None:
    trace_id = suggest(client)
    kept = client.get("/api/v1/performance/traces").json()
    assert trace_id in [t["trace_id"] for t in kept]
    page = client.get("/performance")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert trace_id in page.text and "ask_agent" in page.text


def test_the_agent_keeps_its_part_of_the_trace_in_the_same_json_under_the_examples_call(
    client: TestClient, agent_url: str
) -> None:
    trace_id = suggest(client)
    (ours,) = traces_from_json([client.get(f"/api/v1/performance/traces/{trace_id}").json()])
    (theirs,) = traces_from_json([httpx.get(f"{agent_url}/api/v1/performance/traces/{trace_id}").json()])
    call = next(s for s in ours.spans if s.kind == "CLIENT")
    assert theirs.root is not None and theirs.root.name == CHAT_SERVER_SPAN
    assert theirs.root.parent_span_id == call.span_id


def test_the_page_is_the_agents_page(client: TestClient, agent_url: str) -> None:
    stylesheet = "/performance/static/performance.css"
    assert client.get(stylesheet).text == httpx.get(f"{agent_url}{stylesheet}").text
    assert f"{SERVICE_NAME} · performance" in client.get("/performance").text


def test_get_tracker_reports_each_request(client: TestClient) -> None:
    trace_ids = [suggest(client) for _ in range(2)]
    reported = [r.trace_id for r in get_tracker().get_reports()]
    assert reported[-2:] == trace_ids
    exported = client.get("/api/v1/performance/reports").json()
    assert [r["trace_id"] for r in exported][-2:] == trace_ids
    assert "ask_agent" in [m["name"] for m in exported[-1]["metrics"]]


def test_bad_input_is_a_4xx(client: TestClient) -> None:
    assert client.post("/api/v1/suggestions", json={"goal": ""}).status_code == 422
    assert client.post("/api/v1/suggestions", json={}).status_code == 422


def test_an_unreachable_agent_is_a_502_that_says_so() -> None:
    with TestClient(create_app(f"http://127.0.0.1:{free_port()}")) as client:
        response = client.post("/api/v1/suggestions", json=GOAL)
    assert response.status_code == 502
    assert "unreachable" in response.json()["detail"]


def test_an_agent_error_is_a_502_with_its_status(agent_url: str) -> None:
    with TestClient(create_app(f"{agent_url}/no-such-prefix")) as client:
        response = client.post("/api/v1/suggestions", json=GOAL)
    assert response.status_code == 502
    assert response.json()["detail"] == "the chat agent answered 404"


def test_with_an_api_token_every_route_but_health_asks_for_it(agent_url: str) -> None:
    with TestClient(create_app(agent_url, api_token="example-token")) as guarded:
        signed = {"Authorization": "Bearer example-token"}
        for path in ("/performance", "/api/v1/performance/reports", "/api/v1/performance/snapshot"):
            assert guarded.get(path).status_code == 401, path
            assert guarded.get(path, headers=signed).status_code == 200, path
        assert guarded.post("/api/v1/suggestions", json={"goal": "porch light at sunset"}).status_code == 401
        assert guarded.get("/health").status_code == 200
