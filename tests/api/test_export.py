from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, SERVICE_NAME
from testsupport.otlp_receiver import otlp_receiver

from tests.helpers import STAGES_IN_ORDER


def test_otlp_export_to_a_real_receiver_carries_every_stage(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        with TestClient(create_app(settings)) as client:
            body = client.post("/api/v1/chat", json={"message": "What devices are in the kitchen?"}).json()
        # Leaving the TestClient ran the lifespan's exit: shutdown flushed the batch processor.
        trace_id = body["metadata"]["trace_id"]
        spans = [s for s in receiver.spans() if s.span.trace_id.hex() == trace_id]
        assert {s.service_name for s in spans} == {SERVICE_NAME}
        assert spans[0].resource["service.version"]
        server = next(s.span for s in spans if s.span.name == CHAT_SERVER_SPAN)
        stages = sorted(
            (s.span for s in spans if s.span.parent_span_id == server.span_id),
            key=lambda span: span.start_time_unix_nano,
        )
        assert [s.name for s in stages] == STAGES_IN_ORDER
        assert any(s.span.name == "chat gpt-4o-mini" for s in spans)
        # Metrics went to the same collector; shutdown flushed them too: the GenAI token usage is among them.
        assert "gen_ai.client.token.usage" in receiver.metric_names()
