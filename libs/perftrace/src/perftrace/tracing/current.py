"""Two things a route does to the span it runs in: name it as one tracked operation, and read its trace id."""

from __future__ import annotations

import time

from opentelemetry import trace

from perftrace.tracing.semconv import OPERATION_ATTRIBUTE


def mark_operation(name: str) -> str:
    """Make the current span one operation of ``get_tracker().get_reports()`` and ``/performance``.

    The operation is ``<name>_<epoch milliseconds>`` (the original tracker's naming, e.g.
    ``chat_request_1765061925771``); its stages are the span's direct children. Returns the operation name.
    Without a recording span (no SDK, sampled out) nothing is marked.
    """
    operation = f"{name}_{int(time.time() * 1000)}"
    trace.get_current_span().set_attribute(OPERATION_ATTRIBUTE, operation)
    return operation


def current_trace_id() -> str | None:
    """The current trace id as the 32 hex digits Jaeger shows, or None outside a trace."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None
