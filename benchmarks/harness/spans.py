"""A chat's span tree made on a real SDK tracer, for benchmarks that time work on spans without the service."""

from __future__ import annotations

from opentelemetry import trace
from perftrace.semconv import OPERATION_ATTRIBUTE

STAGES = ("rate_limit_check", "conversation_management", "pending_preview_check", "message_assembly")


def chat_spans(tracer: trace.Tracer) -> None:
    """A chat's span tree: server span, stages, context sections, model calls, HTTP and SQLite spans."""
    with tracer.start_as_current_span("POST /api/v1/chat", kind=trace.SpanKind.SERVER) as server:
        server.set_attribute(OPERATION_ATTRIBUTE, "chat_request_1")
        for name in STAGES:
            with tracer.start_as_current_span(name, attributes={"stage.detail": 1}):
                if name == "message_assembly":
                    for section in ("areas", "devices", "services", "helpers_scenes"):
                        with tracer.start_as_current_span(f"context.{section}", attributes={"section": section}):
                            pass
        for name in ("openai_api_call", "tool_execution", "openai_api_call", "token_count_retrieval", "save_response"):
            with tracer.start_as_current_span(name, attributes={"llm.iteration": 1}):
                if name == "openai_api_call":
                    with tracer.start_as_current_span("chat gpt-4o-mini", kind=trace.SpanKind.CLIENT):
                        pass
                elif name == "tool_execution":
                    with tracer.start_as_current_span("GET", kind=trace.SpanKind.CLIENT):
                        pass
                elif name == "save_response":
                    for _ in range(2):
                        with tracer.start_as_current_span("INSERT", kind=trace.SpanKind.CLIENT):
                            pass
