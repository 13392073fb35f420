"""The OpenAPI document tells the truth (issue 16): schemathesis, every check on, against the served app.

A real ``ha-ai-agent serve`` (uvicorn on a loopback port, embedded defaults) is fuzzed through its own
``/openapi.json`` with a fixed seed and 40 examples per operation, so the run is repeatable and short; the
longer run with a fresh seed is row 16 of ``make reliability`` (tests/reliability/test_api_fuzz.py).
Every operation is fuzzed, the tracing library's included; the rate limits are lifted so that the fuzzer's
thousands of requests reach the logic behind them (the limits are tested in test_chat and test_otlp).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.api.ui import STATIC_DIR
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.store.conversations import MAX_PAGE_LIMIT, MAX_PAGE_OFFSET
from perftrace.fastapi.contract import ErrorBody
from testsupport.api_fuzz import FUZZED_SERVICE_ENV, run_schemathesis
from testsupport.processes import running_agent

from tests.helpers import missing_dependency

SEED = 319921411420750843847508919799730964944
EXAMPLES_PER_OPERATION = 40
#: The service's (chat and its stream, four on conversations, health, the chat page) and the library's (five JSON
#: reads, the compare route, the page, the browser endpoint).
OPERATIONS = 16


def require_fuzz_dependencies() -> None:
    """Schemathesis installed and the chat page built (else ``GET /`` is a documented, yet 5xx, 503)."""
    if shutil.which("st", path=str(Path(sys.executable).parent)) is None:
        missing_dependency("schemathesis is not installed: run `make test` (pyproject's dev extra)")
    if not (STATIC_DIR / "index.html").is_file():
        missing_dependency("the chat page is not built (GET / answers 503): run `make web`")


def test_schemathesis_finds_no_failure_in_the_served_api(tmp_path: Path) -> None:
    require_fuzz_dependencies()
    with running_agent(tmp_path, env=FUZZED_SERVICE_ENV) as (url, _):
        run = run_schemathesis(url, tmp_path, seed=SEED, max_examples=EXAMPLES_PER_OPERATION)
    assert run.operations_tested == run.operations_selected == OPERATIONS, run.summary()
    assert run.cases >= 10 * run.operations_tested, run.summary()
    assert run.failure_count == 0 and not run.errors, f"{run.summary()}\n{run.output[-8000:]}"


def test_every_operation_declares_its_errors_with_the_error_body(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    declared = {
        (method.upper(), path): set(operation["responses"])
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert declared[("POST", "/api/v1/chat")] == {"200", "400", "404", "422", "429", "500", "503"}
    assert declared[("POST", "/api/v1/chat/stream")] == declared[("POST", "/api/v1/chat")]
    assert declared[("GET", "/api/v1/conversations")] == {"200", "422", "500"}
    assert declared[("GET", "/api/v1/conversations/{conversation_id}")] == {"200", "404", "422", "500"}
    assert declared[("DELETE", "/api/v1/conversations/{conversation_id}")] == {"204", "404", "422", "500"}
    assert declared[("GET", "/health")] == {"200", "503", "500"}
    assert declared[("GET", "/api/v1/performance/traces/{trace_id}")] == {"200", "404", "422", "500", "503"}
    assert declared[("POST", "/otlp/v1/traces")] == {"200", "400", "403", "413", "415", "429", "500", "502", "503"}
    # Every error is an ErrorBody, but the health check's own body and the unbuilt chat page's HTML.
    own_bodies = {("get", "/health", "503"), ("get", "/", "503")}
    error_schemas = {
        (method, path, code): response["content"]["application/json"]["schema"]
        for path, operations in paths.items()
        for method, operation in operations.items()
        for code, response in operation["responses"].items()
        if code[0] in "45" and (method, path, code) not in own_bodies
    }
    assert len(error_schemas) == 53  # 46, the compare route's 413 (issue 24), the chat stream's 6
    assert set(map(str, error_schemas.values())) == {str({"$ref": "#/components/schemas/ErrorBody"})}
    assert "HTTPValidationError" not in client.get("/openapi.json").json()["components"]["schemas"]
    assert "Retry-After" in paths["/api/v1/chat"]["post"]["responses"]["429"]["headers"]
    assert "Retry-After" in paths["/api/v1/chat/stream"]["post"]["responses"]["429"]["headers"]
    assert set(paths["/api/v1/chat/stream"]["post"]["responses"]["200"]["content"]) == {"text/event-stream"}
    exports = paths["/otlp/v1/traces"]["post"]["requestBody"]["content"]
    assert set(exports) == {"application/json", "application/x-protobuf"}


def test_message_limit_in_the_schema_comes_from_the_settings(settings: Settings) -> None:
    short = settings.model_copy(update={"max_message_chars": 50})
    with TestClient(create_app(short)) as client:
        message = client.get("/openapi.json").json()["components"]["schemas"]["ChatBody"]["properties"]["message"]
        assert message["maxLength"] == 50
        assert client.post("/api/v1/chat", json={"message": "x" * 50}).status_code == 200
        too_long = client.post("/api/v1/chat", json={"message": "x" * 51})
        assert too_long.status_code == 400 and "longer than 50" in too_long.json()["detail"]


def test_paging_beyond_the_bounds_is_a_422_never_a_500(client: TestClient, runtime: Runtime) -> None:
    limits = client.get("/openapi.json").json()["paths"]["/api/v1/conversations"]["get"]["parameters"]
    bounds = {p["name"]: p["schema"]["maximum"] for p in limits}
    assert bounds == {"limit": MAX_PAGE_LIMIT, "offset": MAX_PAGE_OFFSET}
    huge = client.get("/api/v1/conversations", params={"offset": "10750648968435832832", "limit": 78})
    assert huge.status_code == 422
    assert "offset" in ErrorBody.model_validate(huge.json()).detail
    last = client.get("/api/v1/conversations", params={"offset": MAX_PAGE_OFFSET, "limit": MAX_PAGE_LIMIT})
    assert last.status_code == 200 and last.json()["conversations"] == []
    with pytest.raises(ValueError, match="out of range"):
        asyncio.run(runtime.store.list_page(MAX_PAGE_LIMIT, MAX_PAGE_OFFSET + 1))


def test_unsupported_methods_are_405_with_every_method_of_the_path(client: TestClient) -> None:
    put = client.put("/api/v1/conversations")
    assert put.status_code == 405
    assert put.headers["allow"] == "GET, POST, OPTIONS"
    assert ErrorBody.model_validate(put.json()).detail == "Method Not Allowed"
    one = "/api/v1/conversations/conv-0"
    assert client.patch(one).headers["allow"] == "GET, DELETE, OPTIONS"
    options = client.options(one)
    assert options.status_code == 204 and options.headers["allow"] == "GET, DELETE, OPTIONS"
    assert client.options("/api/v1/conversations").headers["allow"] == "GET, POST, OPTIONS"
    assert client.options("/no/such/path").status_code == 404
    browser_endpoint = client.put("/otlp/v1/traces")
    assert browser_endpoint.status_code == 405 and browser_endpoint.headers["allow"] == "POST, OPTIONS"
    assert client.options("/api/v1/performance/traces").headers["allow"] == "GET, OPTIONS"


def test_every_error_has_the_error_body_with_the_trace_id(client: TestClient) -> None:
    answers = [
        client.get("/api/v1/conversations/conv-unknown"),
        client.get("/api/v1/conversations", params={"limit": "many"}),
        client.post("/api/v1/chat", json={"message": " \t\n"}),
        client.post("/api/v1/chat", json={"message": "hi", "refresh_context": 0}),
        client.post("/api/v1/chat", content=b'{"message": "\xc3"}', headers={"content-type": "application/json"}),
        client.delete("/api/v1/chat"),
    ]
    assert [a.status_code for a in answers] == [404, 422, 422, 422, 400, 405]
    for answer in answers:
        body = ErrorBody.model_validate(answer.json())
        assert set(answer.json()) == {"detail", "trace_id"} and body.detail
        assert body.trace_id is not None and len(body.trace_id) == 32
    assert "blank" in answers[2].json()["detail"]
    assert "refresh_context" in answers[3].json()["detail"]
