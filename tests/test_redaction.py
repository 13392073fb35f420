"""Message content is exported only on opt-in, and then with secrets, e-mail addresses and card numbers masked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.redaction import REDACTED, redact
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import LLM_CHAT_SPAN_PREFIX
from opentelemetry.util.genai.environment_variables import OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT as CAPTURE
from perftrace import TraceRecord
from testsupport.openai_server import create_openai_app
from testsupport.pii_canaries import API_KEY, BEARER, CANARIES, CARD_SPACED, EMAIL, occurrences
from testsupport.servers import serve_in_thread

from tests.helpers import wait_for_trace

PROMPT = f"#echo My key is {API_KEY}, Authorization: Bearer {BEARER}, mail {EMAIL}, card {CARD_SPACED}."
CONTENT_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.output.messages")


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("write to ann.lee+ha@mail.example.co.uk today", "write to  today"),
        ("Authorization: Bearer abc.DEF-123_456", "Authorization: Bearer "),
        ("my token is 9f8e7d6c5b4a and more", "my token is  and more"),
        ("api_key=ABCDEFGH12345678", "api_key="),
        ("the key sk-proj-abcdefghijklmnopqrstu works", "the key  works"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXgx", "jwt "),
        ("card 4111-1111-1111-1111 ok", "card  ok"),
    ],
)
def test_redact_masks_secrets_and_keeps_the_rest(text: str, kept: str) -> None:
    masked = redact(text)
    assert REDACTED in masked
    assert masked.replace(REDACTED, "") == kept


@pytest.mark.parametrize(
    "text", ["Turn on the kitchen light at 21:30", "order 1234567890123 is not a card", "the token is short"]
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def chat_record(settings: Settings) -> TraceRecord:
    with serve_in_thread(create_openai_app()) as url:
        app = create_app(settings.model_copy(update={"openai_base_url": f"{url}/v1", "llm_max_retries": 0}))
        with TestClient(app) as client:
            response = client.post("/api/v1/chat", json={"message": PROMPT})
            assert response.status_code == 200, response.text
            assert EMAIL in response.json()["message"]  # the user still gets the answer as the model gave it
            runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            return wait_for_trace(runtime.tracing.recent, response.json()["metadata"]["trace_id"])


@pytest.fixture
def capture_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(CAPTURE, "span_only")
    yield


def test_content_is_not_in_spans_by_default(settings: Settings) -> None:
    record = chat_record(settings)
    for span in record.spans:
        assert not set(CONTENT_ATTRIBUTES) & set(span.attributes), span.name
        assert not any(any(occurrences(str(value)).values()) for value in span.attributes.values()), span.name


def test_captured_content_is_exported_with_the_canaries_masked(settings: Settings, capture_on: None) -> None:
    record = chat_record(settings)
    llm_spans = [s for s in record.spans if s.name.startswith(LLM_CHAT_SPAN_PREFIX)]
    assert len(llm_spans) == 2
    for span in llm_spans:
        assert all(key in span.attributes for key in CONTENT_ATTRIBUTES), span.attributes
        assert "#echo My key is" in span.attribute("gen_ai.input.messages")
    assert "You said: #echo" in llm_spans[-1].attribute("gen_ai.output.messages")
    found = {name: 0 for name in CANARIES}
    for span in record.spans:
        for value in span.attributes.values():
            for name, count in occurrences(str(value)).items():
                found[name] += count
    assert found == {name: 0 for name in CANARIES}
