"""Trace and span ids on every log record, via the official logging instrumentation."""

from __future__ import annotations

import logging

from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.trace import TracerProvider

PLAIN_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [trace_id=%(otelTraceID)s span_id=%(otelSpanID)s] %(message)s"


def enable_log_correlation(provider: TracerProvider | None = None) -> None:
    """Add ``otelTraceID``/``otelSpanID`` to every ``LogRecord`` (idempotent).

    Only the record factory is installed: logs stay where the app's handlers send them; the
    instrumentation's own OTLP log handler is not.
    """
    instrumentor = LoggingInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return
    instrumentor.instrument(tracer_provider=provider, inject_trace_context=True, enable_log_auto_instrumentation=False)


def configure_logging(level: str = "INFO", trace_ids: bool = True) -> None:
    """Log to stderr (for the CLI and the server), with trace ids in every line unless ``trace_ids`` is False."""
    if trace_ids:
        enable_log_correlation()
    # force: the root logger's handlers so far are replaced, so a second call does not log every line twice.
    logging.basicConfig(format=LOG_FORMAT if trace_ids else PLAIN_LOG_FORMAT, level=level.upper(), force=True)
