"""Tracing for the HA AI agent: setup, ``@traced``, the recent-traces buffer, the original tracker API.

This package depends only on OpenTelemetry and the standard library.
"""

from ha_ai_agent.telemetry.decorator import FollowingTracer, traced
from ha_ai_agent.telemetry.recent import RecentTracesProcessor
from ha_ai_agent.telemetry.records import SpanRecord, TraceRecord
from ha_ai_agent.telemetry.setup import TracingConfig, TracingHandle, setup_tracing

__all__ = [
    "FollowingTracer",
    "RecentTracesProcessor",
    "SpanRecord",
    "TraceRecord",
    "TracingConfig",
    "TracingHandle",
    "setup_tracing",
    "traced",
]
