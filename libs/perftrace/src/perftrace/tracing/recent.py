"""A span processor that keeps the most recent traces in memory.

It is what makes ``get_tracker().get_reports()`` and the ``/performance`` page work with no collector:
it runs beside the exporting processor, groups finished spans by trace id and keeps the newest N traces.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from perftrace.tracing.records import SpanRecord, TraceRecord, read_span

_logger = logging.getLogger(__name__)

DEFAULT_MAX_TRACES = 100
DEFAULT_MAX_SPANS_PER_TRACE = 1000

TraceListener = Callable[[TraceRecord], None]


class _TraceBucket:
    __slots__ = ("spans", "dropped")

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []
        self.dropped = 0


class RecentTracesProcessor(SpanProcessor):
    """Keeps the last ``max_traces`` traces as compact records.

    A span whose parent is in this process waits, as the SDK handed it over, until its local root ends;
    then the request's spans are turned into records together (one pass of warm code instead of a cold
    one per span, measured in docs/performance.md) and the trace is stored. Spans that end after their
    local root, and the waiting spans of unfinished requests, are stored when a reader asks, when more than
    ``max_traces`` requests wait, or when one request has ``max_spans_per_trace`` spans waiting.

    A trace's age is the time it was first stored; when a new trace would exceed ``max_traces`` the oldest
    is evicted whole. A trace holds at most ``max_spans_per_trace`` spans; the overflow is counted in
    ``TraceRecord.dropped_spans``. Listeners are told when a trace's local root span ends (the request is
    over), with a snapshot of the trace.

    The span path takes one lock and never raises.
    """

    def __init__(
        self,
        max_traces: int = DEFAULT_MAX_TRACES,
        max_spans_per_trace: int = DEFAULT_MAX_SPANS_PER_TRACE,
    ) -> None:
        if max_traces < 1 or max_spans_per_trace < 1:
            raise ValueError("max_traces and max_spans_per_trace must be at least 1")
        self.max_traces = max_traces
        self.max_spans_per_trace = max_spans_per_trace
        self._traces: OrderedDict[int, _TraceBucket] = OrderedDict()
        # Spans of requests still running, by trace id, in the order they ended (SDK spans, briefly).
        self._waiting: dict[int, list[ReadableSpan]] = {}
        self._lock = threading.Lock()
        self._listeners: list[TraceListener] = []
        self._evicted_traces = 0
        self._failed_spans = 0

    # SpanProcessor interface: on_start and force_flush are the base class's no-ops (ended spans only) -------

    def on_end(self, span: ReadableSpan) -> None:
        """Record a finished span; never raises."""
        try:
            parent = span.parent
            trace_id = span.context.trace_id
            if parent is not None and not parent.is_remote:
                with self._lock:
                    waiting = self._waiting.get(trace_id)
                    if waiting is None:
                        waiting = self._waiting[trace_id] = []
                        if len(self._waiting) > self.max_traces:
                            self._store_waiting(next(iter(self._waiting)))
                    waiting.append(span)
                    if len(waiting) >= self.max_spans_per_trace:
                        self._store_waiting(trace_id)
                return
            with self._lock:
                spans = self._waiting.pop(trace_id, None) or []
            spans.append(span)
            self._add(trace_id, [read_span(s) for s in spans], is_local_root=True)
        except Exception:  # the span path must never break the request
            self._count_failure()

    def shutdown(self) -> None:
        """Drop listeners; the stored traces stay readable."""
        with self._lock:
            self._listeners.clear()

    # Public API --------------------------------------------------------------------------------------

    def add_records(self, records: Iterable[SpanRecord]) -> None:
        """Store spans that did not come through this process's SDK (e.g. browser spans from the browser endpoint)."""
        for record in records:
            self._add(record.trace_id, [record], is_local_root=False)

    def add_listener(self, listener: TraceListener) -> None:
        """Call ``listener(trace)`` whenever a local root span ends; exceptions are logged, not raised."""
        with self._lock:
            self._listeners.append(listener)

    def traces(self) -> list[TraceRecord]:
        """Snapshot of the stored traces, oldest first."""
        self._store_all_waiting()
        with self._lock:
            items = [(tid, tuple(b.spans), b.dropped) for tid, b in self._traces.items()]
        return [TraceRecord(tid, spans, dropped) for tid, spans, dropped in items]

    def get_trace(self, trace_id: int) -> TraceRecord | None:
        """Snapshot of one stored trace, or None."""
        self._store_all_waiting()
        with self._lock:
            bucket = self._traces.get(trace_id)
            if bucket is None:
                return None
            return TraceRecord(trace_id, tuple(bucket.spans), bucket.dropped)

    def clear(self) -> None:
        """Forget every stored trace."""
        with self._lock:
            self._traces.clear()
            self._waiting.clear()

    @property
    def evicted_traces(self) -> int:
        """How many traces were evicted to stay within ``max_traces``."""
        return self._evicted_traces

    # Internals ---------------------------------------------------------------------------------------

    def _count_failure(self) -> None:
        self._failed_spans += 1
        if self._failed_spans == 1:
            _logger.exception("RecentTracesProcessor could not record a span; counting further failures")

    def _store_waiting(self, trace_id: int) -> None:
        """Store the spans waiting under ``trace_id`` (their local root has not ended); lock held."""
        spans = self._waiting.pop(trace_id)
        try:
            self._store_locked(trace_id, [read_span(s) for s in spans])
        except Exception:
            self._count_failure()

    def _store_all_waiting(self) -> None:
        with self._lock:
            for trace_id in list(self._waiting):
                self._store_waiting(trace_id)

    def _store_locked(self, trace_id: int, records: list[SpanRecord]) -> _TraceBucket:
        bucket = self._traces.get(trace_id)
        if bucket is None:
            bucket = self._traces[trace_id] = _TraceBucket()
            if len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)
                self._evicted_traces += 1
        room = self.max_spans_per_trace - len(bucket.spans)
        if room >= len(records):
            bucket.spans.extend(records)
        else:
            bucket.spans.extend(records[: max(room, 0)])
            bucket.dropped += len(records) - max(room, 0)
        return bucket

    def _add(self, trace_id: int, records: list[SpanRecord], *, is_local_root: bool) -> None:
        snapshot: TraceRecord | None = None
        with self._lock:
            bucket = self._store_locked(trace_id, records)
            if is_local_root and self._listeners:
                snapshot = TraceRecord(trace_id, tuple(bucket.spans), bucket.dropped)
                listeners = tuple(self._listeners)
        if snapshot is not None:
            for listener in listeners:
                try:
                    listener(snapshot)
                except Exception:
                    _logger.exception("A completed-trace listener failed")
