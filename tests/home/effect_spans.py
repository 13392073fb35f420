"""Reading ``home_effect`` spans in tests: the exported SDK spans (with their events) of a running app."""

from __future__ import annotations

from collections.abc import Sequence

from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import HA_EFFECT_OUTCOME, HA_ENTITY_ID, HA_STATE, HOME_EFFECT
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from testsupport.processes import poll


def export_spans(runtime: Runtime) -> InMemorySpanExporter:
    """Every span the app ends from now on, as the SDK hands it to an exporter."""
    exporter = InMemorySpanExporter()
    runtime.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def ended_effects(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    """The ``home_effect`` spans of one trace that have ended so far."""
    wanted = int(trace_id, 16)
    return [
        s
        for s in exporter.get_finished_spans()
        if s.name == HOME_EFFECT and s.context is not None and s.context.trace_id == wanted
    ]


def wait_for_effect(
    exporter: InMemorySpanExporter, trace_id: str, entity_id: str, timeout_s: float = 10.0
) -> ReadableSpan:
    """The ended ``home_effect`` span of ``entity_id`` in the trace, once it has ended."""

    def found() -> ReadableSpan | None:
        spans = [s for s in ended_effects(exporter, trace_id) if (s.attributes or {}).get(HA_ENTITY_ID) == entity_id]
        return spans[0] if spans else None

    return poll(found, timeout_s, interval_s=0.05, what=f"the effect span of {entity_id}")


def states_reported(span: ReadableSpan) -> list[str]:
    """The states of the span's events, in order."""
    return [str((e.attributes or {}).get(HA_STATE)) for e in span.events]


def outcome(span: ReadableSpan) -> str:
    """How the effect ended."""
    return str((span.attributes or {}).get(HA_EFFECT_OUTCOME))


def by_name(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    """The spans called ``name``."""
    return [s for s in spans if s.name == name]
