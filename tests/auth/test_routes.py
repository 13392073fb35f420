"""With access control on, every operation of the OpenAPI document answers 401 without a credential.

The operations are enumerated from ``/openapi.json``: a new route without an example here fails the test, so
it cannot be forgotten, and one added without the guard answers something other than 401.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.api.ui import STATIC_DIR
from ha_ai_agent.semconv import BROWSER_SERVICE_NAME
from testsupport.otlp_payloads import json_export

#: Operations anyone may call: the health probe, and signing in and out.
OPEN = {("GET", "/health"), ("POST", "/api/v1/session"), ("DELETE", "/api/v1/session")}
#: A request per guarded operation and the status it answers with a credential.
EXAMPLES: dict[tuple[str, str], tuple[dict[str, Any], int]] = {
    ("POST", "/api/v1/chat"): ({"json": {"message": "What is in the kitchen?"}}, 200),
    ("POST", "/api/v1/chat/stream"): ({"json": {"message": "What is in the kitchen?"}}, 200),
    ("GET", "/api/v1/conversations"): ({}, 200),
    ("POST", "/api/v1/conversations"): ({"json": {}}, 201),
    ("GET", "/api/v1/conversations/{conversation_id}"): ({}, 404),
    ("DELETE", "/api/v1/conversations/{conversation_id}"): ({}, 404),
    ("GET", "/"): ({}, 200),
    ("GET", "/api/v1/performance/reports"): ({}, 200),
    ("GET", "/api/v1/performance/stages"): ({}, 200),
    ("GET", "/api/v1/performance/traces"): ({}, 200),
    ("GET", "/api/v1/performance/traces/{trace_id}"): ({}, 404),
    ("GET", "/performance"): ({}, 200),
    ("GET", "/api/v1/performance/snapshot"): ({}, 200),
    ("POST", "/api/v1/performance/compare"): ({"json": {}}, 422),
    ("POST", "/otlp/v1/traces"): ({"json": json_export(service=BROWSER_SERVICE_NAME)}, 200),
}
PATH_VALUES = {"{conversation_id}": "no-such-conversation", "{trace_id}": "0" * 32}


def operations(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


def concrete(path: str) -> str:
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    return path


def test_every_operation_is_guarded_and_answers_as_usual_with_a_credential(
    guarded: TestClient, bearer: dict[str, str]
) -> None:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.fail("the chat page is not built: run `make web`")
    found = operations(guarded)
    guarded_operations = [op for op in found if op not in OPEN]
    assert set(found) >= OPEN
    assert set(guarded_operations) == set(EXAMPLES), "a new operation needs an example here"
    for method, path in guarded_operations:
        request, usual = EXAMPLES[(method, path)]
        refused = guarded.request(method, concrete(path), **request)
        assert refused.status_code == 401, (method, path, refused.text)
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        answered = guarded.request(method, concrete(path), headers=bearer, **request)
        assert answered.status_code == usual, (method, path, answered.text)


def test_the_document_declares_both_schemes_and_the_401_on_every_guarded_operation(guarded: TestClient) -> None:
    document = guarded.get("/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == {"bearer", "session"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (method.upper(), path) in OPEN:
                assert "security" not in operation
                continue
            assert operation["security"] == [{"bearer": []}, {"session": []}]
            assert {"401", "429"} <= set(operation["responses"])
            assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_with_access_control_off_the_document_declares_none(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "securitySchemes" not in document["components"]
    assert all("401" not in op["responses"] for item in document["paths"].values() for op in item.values())
    assert client.get("/api/v1/conversations").status_code == 200
