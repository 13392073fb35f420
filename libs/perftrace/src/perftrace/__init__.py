"""Tracing for any service: setup from ``OTEL_*``, ``@traced``, the recent-traces buffer, the tracker API.

The core depends on OpenTelemetry packages only; ``perftrace.fastapi`` (the ``fastapi`` extra) adds what a
web service mounts: the ``/performance`` page, its JSON routes and the browser endpoint.
"""

from perftrace.tracing.current import current_trace_id, mark_operation
from perftrace.tracing.decorator import FollowingTracer, traced
from perftrace.tracing.logs import configure_logging, enable_log_correlation
from perftrace.tracing.recent import RecentTracesProcessor
from perftrace.tracing.records import SpanRecord, TraceRecord
from perftrace.tracing.semconv import (
    COST_USD_ATTRIBUTE,
    EFFECT_ATTRIBUTE,
    EVALUATION_RESULT_EVENT,
    FIRST_TOKEN_EVENT,
    LAST_TOKEN_EVENT,
    THUMBS_DOWN_LABEL,
    THUMBS_UP_LABEL,
)
from perftrace.tracing.setup import TracingConfig, TracingHandle, setup_tracing
from perftrace.tracker import (
    PerformanceMetric,
    PerformanceReport,
    PerformanceTracker,
    create_report,
    end_tracking,
    get_tracker,
    install_tracker,
    start_tracking,
)

__all__ = [
    "COST_USD_ATTRIBUTE",
    "EFFECT_ATTRIBUTE",
    "EVALUATION_RESULT_EVENT",
    "FIRST_TOKEN_EVENT",
    "LAST_TOKEN_EVENT",
    "THUMBS_DOWN_LABEL",
    "THUMBS_UP_LABEL",
    "FollowingTracer",
    "PerformanceMetric",
    "PerformanceReport",
    "PerformanceTracker",
    "RecentTracesProcessor",
    "SpanRecord",
    "TraceRecord",
    "TracingConfig",
    "TracingHandle",
    "configure_logging",
    "create_report",
    "current_trace_id",
    "enable_log_correlation",
    "end_tracking",
    "get_tracker",
    "install_tracker",
    "mark_operation",
    "setup_tracing",
    "start_tracking",
    "traced",
]
