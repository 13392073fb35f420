"""Traces → operations and their stages: the one grouping the report, the compare, the charts and the tracker share.

An operation is a span carrying ``performance.operation`` (``mark_operation``); its stages are that span's
direct children, in start order. Browser spans in the same trace have their own operation and service, so
a reader passes the service whose operations count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from perftrace.tracing.records import SpanRecord, TraceRecord
from perftrace.tracing.semconv import OPERATION_ATTRIBUTE


@dataclass(frozen=True)
class Operation:
    """One tracked operation of a trace: its span and its stages (the span's direct children, in start order)."""

    name: str
    span: SpanRecord
    stages: list[SpanRecord]
    trace: TraceRecord

    @property
    def trace_id(self) -> str:
        """The trace id as 32 hex digits."""
        return self.trace.trace_id_hex

    @property
    def duration_ms(self) -> float:
        """Wall-clock time of the operation's span."""
        return self.span.duration_seconds * 1000

    @property
    def start_time_unix_nano(self) -> int:
        """When the operation's span started."""
        return self.span.start_time_unix_nano


def find_operation(trace: TraceRecord, service_name: str | None = None) -> Operation | None:
    """The trace's first operation span (of ``service_name``, when given) and its stages; None without one."""
    for span in sorted(trace.spans, key=lambda s: s.start_time_unix_nano):
        name = span.attribute(OPERATION_ATTRIBUTE)
        if name is None or (service_name is not None and span.service_name != service_name):
            continue
        return Operation(str(name), span, trace.children_of(span.span_id), trace)
    return None


def find_operations(traces: Iterable[TraceRecord], service_name: str | None = None) -> list[Operation]:
    """The operations among ``traces``, oldest first."""
    found = [op for trace in traces if (op := find_operation(trace, service_name)) is not None]
    return sorted(found, key=lambda op: op.start_time_unix_nano)


def stage_durations_ms(operations: Sequence[Operation]) -> dict[str, list[float]]:
    """Each stage's durations in milliseconds, stage names in the order they first appear."""
    durations: dict[str, list[float]] = {}
    for operation in operations:
        for stage in operation.stages:
            durations.setdefault(stage.name, []).append(stage.duration_seconds * 1000)
    return durations
