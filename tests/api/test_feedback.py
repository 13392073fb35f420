"""A user's verdict on an answer: stored with the answer, in the answer's trace as an evaluation event, counted."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import (
    CHAT_FEEDBACK,
    CHAT_SERVER_SPAN,
    FEEDBACK_EVALUATION_NAME,
    FEEDBACK_EVENT,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_EVALUATION_EXPLANATION,
    GEN_AI_EVALUATION_NAME,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_EVALUATION_SCORE_VALUE,
    METRIC_FEEDBACK,
    SERVICE_NAME,
    STAGES,
    THUMBS_DOWN,
    THUMBS_UP,
)
from ha_ai_agent.store.conversations import MAX_FEEDBACK_COMMENT_CHARS
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.genai.environment_variables import OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT as CAPTURE
from perftrace import SpanRecord, TraceRecord
from perftrace.analysis.stages import find_operation, request_figures
from testsupport.pii_canaries import CANARIES, EMAIL, occurrences

from tests.helpers import wait_for_trace

QUESTION = "What devices are in the kitchen?"
UNKNOWN = "0123456789abcdef0123456789abcdef"


def ask(client: TestClient, conversation_id: str | None = None) -> dict[str, Any]:
    response = client.post("/api/v1/chat", json={"message": QUESTION, "conversation_id": conversation_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def feedback(client: TestClient, trace_id: str, body: Any) -> Any:
    return client.post(f"/api/v1/chat/{trace_id}/feedback", json=body)


def kept_trace(client: TestClient, trace_id: str) -> TraceRecord:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return wait_for_trace(runtime.tracing.recent, trace_id, root_name=CHAT_FEEDBACK)


def verdict_spans(record: TraceRecord) -> list[SpanRecord]:
    return sorted(record.find(CHAT_FEEDBACK), key=lambda s: s.start_time_unix_nano)


def test_a_thumbs_down_is_stored_with_the_answer_and_recorded_in_its_trace(client: TestClient) -> None:
    first = ask(client)
    answer = ask(client, first["conversation_id"])
    trace_id = answer["metadata"]["trace_id"]

    response = feedback(client, trace_id, {"score": "down", "comment": "It missed the fridge"})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "trace_id": trace_id,
        "conversation_id": first["conversation_id"],
        "score": "down",
        "label": THUMBS_DOWN,
        "comment": "It missed the fridge",
    }
    stored = client.get(f"/api/v1/conversations/{first['conversation_id']}").json()["messages"]
    # Only the answer of that request carries it: not the first answer, not the user's message or the tool rounds.
    assert [(m["role"], m["trace_id"], m["feedback"]) for m in stored if m["trace_id"]] == [
        ("assistant", first["metadata"]["trace_id"], None),
        ("assistant", trace_id, THUMBS_DOWN),
    ]
    assert stored[-1]["feedback_comment"] == "It missed the fridge" and stored[-1]["content"] == answer["message"]

    record = kept_trace(client, trace_id)
    server = record.find(CHAT_SERVER_SPAN)[0]
    (span,) = verdict_spans(record)
    assert span.parent_span_id == server.span_id and span.service_name == SERVICE_NAME
    assert span.start_time_unix_nano > server.end_time_unix_nano
    assert span.attribute(GEN_AI_CONVERSATION_ID) == first["conversation_id"]
    (event,) = span.events
    assert event.name == FEEDBACK_EVENT
    assert dict(event.attributes) == {
        GEN_AI_EVALUATION_NAME: FEEDBACK_EVALUATION_NAME,
        GEN_AI_EVALUATION_SCORE_LABEL: THUMBS_DOWN,
        GEN_AI_EVALUATION_SCORE_VALUE: 0.0,
    }
    # The library reads the verdict from the trace, and the late span is not a stage of the request.
    operation = find_operation(record, SERVICE_NAME)
    assert operation is not None and operation.span == server
    assert request_figures(operation).feedback == THUMBS_DOWN
    assert CHAT_FEEDBACK not in {s.name for s in operation.stages} and STAGES[0] in {s.name for s in operation.stages}


def test_the_verdict_span_is_in_the_answers_trace_and_links_to_the_request_that_posted_it(
    client: TestClient, runtime: Runtime
) -> None:
    exporter = InMemorySpanExporter()
    runtime.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = ask(client)["metadata"]["trace_id"]
    posted = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = client.post(
        f"/api/v1/chat/{trace_id}/feedback",
        json={"score": "up"},
        headers={"traceparent": f"00-{posted}-00f067aa0ba902b7-01"},
    )
    assert response.status_code == 200, response.text
    poster = wait_for_trace(runtime.tracing.recent, posted, root_name="POST /api/v1/chat/{trace_id}/feedback")
    assert CHAT_FEEDBACK not in {s.name for s in poster.spans}
    (span,) = [s for s in exporter.get_finished_spans() if s.name == CHAT_FEEDBACK]
    assert span.context is not None and format(span.context.trace_id, "032x") == trace_id
    posting = next(s for s in poster.spans if s.parent_span_id == int("00f067aa0ba902b7", 16))
    assert [(format(link.context.trace_id, "032x"), link.context.span_id) for link in span.links] == [
        (posted, posting.span_id)
    ]


def test_the_last_verdict_counts(client: TestClient) -> None:
    answer = ask(client)
    trace_id = answer["metadata"]["trace_id"]
    assert feedback(client, trace_id, {"score": "down", "comment": "wrong"}).status_code == 200
    assert feedback(client, trace_id, {"score": "up"}).json()["label"] == THUMBS_UP

    (message,) = [
        m for m in client.get(f"/api/v1/conversations/{answer['conversation_id']}").json()["messages"] if m["trace_id"]
    ]
    assert (message["feedback"], message["feedback_comment"]) == (THUMBS_UP, None)
    record = kept_trace(client, trace_id)
    assert [s.events[0].attributes[GEN_AI_EVALUATION_SCORE_LABEL] for s in verdict_spans(record)] == [
        THUMBS_DOWN,
        THUMBS_UP,
    ]
    operation = find_operation(record, SERVICE_NAME)
    assert operation is not None and request_figures(operation).feedback == THUMBS_UP


@pytest.mark.parametrize(
    ("trace_id", "body", "status"),
    [
        (UNKNOWN, {"score": "down"}, 404),
        ("0" * 31, {"score": "down"}, 422),
        (UNKNOWN.upper(), {"score": "down"}, 422),
        (UNKNOWN, {"score": "meh"}, 422),
        (UNKNOWN, {"score": 1}, 422),
        (UNKNOWN, {"score": True}, 422),
        (UNKNOWN, {}, 422),
        (UNKNOWN, {"score": "down", "comment": 5}, 422),
        (UNKNOWN, {"score": "down", "comment": "x" * (MAX_FEEDBACK_COMMENT_CHARS + 1)}, 422),
        (UNKNOWN, None, 422),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(client: TestClient, trace_id: str, body: Any, status: int) -> None:
    answer = ask(client)
    response = feedback(client, trace_id, body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    messages = client.get(f"/api/v1/conversations/{answer['conversation_id']}").json()["messages"]
    assert not [m for m in messages if m["feedback"]]


def test_a_comment_at_the_cap_is_kept_whole(client: TestClient) -> None:
    trace_id = ask(client)["metadata"]["trace_id"]
    comment = "é" * MAX_FEEDBACK_COMMENT_CHARS
    assert feedback(client, trace_id, {"score": "down", "comment": comment}).json()["comment"] == comment


def test_the_comment_is_not_exported_without_content_capture(client: TestClient) -> None:
    trace_id = ask(client)["metadata"]["trace_id"]
    feedback(client, trace_id, {"score": "down", "comment": f"mail me at {EMAIL} #comment"})
    for span in kept_trace(client, trace_id).spans:
        for text in (str(span.attributes), str(span.events)):
            assert "#comment" not in text and GEN_AI_EVALUATION_EXPLANATION not in text, span.name


def test_with_content_capture_on_the_comment_is_exported_redacted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE, "span_only")
    with TestClient(create_app(settings)) as client:
        trace_id = ask(client)["metadata"]["trace_id"]
        feedback(client, trace_id, {"score": "down", "comment": f"mail me at {EMAIL} #comment"})
        (span,) = verdict_spans(kept_trace(client, trace_id))
    explanation = span.events[0].attributes[GEN_AI_EVALUATION_EXPLANATION]
    assert explanation == "mail me at [REDACTED] #comment"
    assert occurrences(explanation) == {name: 0 for name in CANARIES}


def test_verdicts_are_counted_by_label_only(settings: Settings, metric_reader: InMemoryMetricReader) -> None:
    with TestClient(create_app(settings)) as client:
        ids = [ask(client)["metadata"]["trace_id"] for _ in range(3)]
        for trace_id, score in zip(ids, ("down", "down", "up"), strict=True):
            assert feedback(client, trace_id, {"score": score}).status_code == 200
        assert feedback(client, UNKNOWN, {"score": "up"}).status_code == 404
    data = metric_reader.get_metrics_data()
    assert data is not None
    counted: dict[str, float] = {}
    for resource_metrics in data.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                if metric.name != METRIC_FEEDBACK:
                    continue
                for point in metric.data.data_points:
                    assert isinstance(point, NumberDataPoint)
                    attributes = dict(point.attributes or {})
                    assert set(attributes) == {GEN_AI_EVALUATION_SCORE_LABEL}, attributes
                    counted[str(attributes[GEN_AI_EVALUATION_SCORE_LABEL])] = point.value
    assert counted == {THUMBS_DOWN: 2, THUMBS_UP: 1}


def test_a_verdict_on_an_unrecorded_answer_is_stored_and_counted_but_starts_no_trace(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, metric_reader: InMemoryMetricReader
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")  # the answer's trace is sampled out
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        exporter = InMemorySpanExporter()
        runtime.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
        answer = ask(client)
        trace_id = answer["metadata"]["trace_id"]
        assert trace_id is not None and runtime.tracing.recent.get_trace(int(trace_id, 16)) is None
        assert feedback(client, trace_id, {"score": "down"}).status_code == 200
        messages = client.get(f"/api/v1/conversations/{answer['conversation_id']}").json()["messages"]
    assert [m["feedback"] for m in messages if m["trace_id"]] == [THUMBS_DOWN]
    assert exporter.get_finished_spans() == ()  # no orphan chat_feedback span in a trace nobody recorded
    data = metric_reader.get_metrics_data()
    assert data is not None
    assert METRIC_FEEDBACK in {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
