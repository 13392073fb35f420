"""The original ``performance_tracker`` API, now served by OpenTelemetry spans.

Old call sites keep working: ``start_tracking``/``end_tracking`` open and close real spans (so they
show up in Jaeger), and ``get_tracker().get_reports()`` returns one report per traced operation, read from
the recent-traces buffer. Fixed on the way: ids never collide, ``total_duration`` is wall-clock time
rather than a sum of stages, abandoned metrics are bounded, and every report names its trace.

Trace-derived metrics carry epoch seconds in ``start_time``/``end_time``; metrics of
``start_tracking`` keep the original ``perf_counter`` seconds.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from perftrace.analysis.stages import find_operation
from perftrace.tracing.decorator import FollowingTracer
from perftrace.tracing.recent import RecentTracesProcessor
from perftrace.tracing.records import TraceRecord

_logger = logging.getLogger("perftrace.performance")

DEFAULT_MAX_REPORTS = 100
DEFAULT_MAX_ACTIVE_METRICS = 1000

_tracer = FollowingTracer("perftrace.tracker")


@dataclass
class PerformanceMetric:
    """One timed stage; times in seconds."""

    name: str
    start_time: float
    end_time: float | None = None
    duration: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class PerformanceReport:
    """The stages of one operation; ``timestamp`` is epoch seconds, ``total_duration`` wall-clock seconds."""

    operation: str
    total_duration: float
    metrics: list[PerformanceMetric]
    timestamp: float
    trace_id: str | None = None


def _span_attributes(metadata: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    for key, value in (metadata or {}).items():
        attributes[str(key)] = value if isinstance(value, str | bool | int | float) else str(value)
    return attributes


def format_report_line(report: PerformanceReport) -> str:
    """The original one-line log format, now ending with the trace id."""
    details = ", ".join(f"{m.name}={(m.duration or 0.0) * 1000:.2f}ms" for m in report.metrics)
    total = report.total_duration
    line = (
        f"[Performance] {report.operation}: Total: {total * 1000:.2f}ms ({total:.3f}s), "
        f"Metrics: {len(report.metrics)}, Details: {details}"
    )
    return f"{line}, trace_id={report.trace_id}" if report.trace_id else line


def report_from_trace(
    trace: TraceRecord, service_name: str | None = None, with_metadata: bool = True
) -> PerformanceReport | None:
    """The original report of a trace's operation (``perftrace.analysis.stages.find_operation``).

    A metric's metadata is its span's attributes plus the span's ``status``, as the original tracker had them.
    """
    operation = find_operation(trace, service_name)
    if operation is None:
        return None
    metrics = [
        PerformanceMetric(
            name=stage.name,
            start_time=stage.start_time_unix_nano / 1e9,
            end_time=stage.end_time_unix_nano / 1e9,
            duration=stage.duration_seconds,
            metadata={**stage.attributes_dict(), "status": stage.status} if with_metadata else {},
        )
        for stage in operation.stages
    ]
    return PerformanceReport(
        operation=operation.name,
        total_duration=operation.span.duration_seconds,
        metrics=metrics,
        timestamp=operation.start_time_unix_nano / 1e9,
        trace_id=operation.trace_id,
    )


class PerformanceTracker:
    """The original tracker's API over OpenTelemetry.

    Args:
        max_reports: how many reports ``get_reports`` returns at most (the newest).
        recent: the buffer that operations' traces are read from; without one, only reports made with
            ``create_report`` exist.
        service_name: read reports only from spans of this service.
        max_active_metrics: started-but-not-ended metrics kept at most; the oldest is ended (status
            ERROR, "abandoned") beyond it, so forgotten metrics cannot grow memory.
    """

    def __init__(
        self,
        max_reports: int = DEFAULT_MAX_REPORTS,
        recent: RecentTracesProcessor | None = None,
        service_name: str | None = None,
        max_active_metrics: int = DEFAULT_MAX_ACTIVE_METRICS,
    ) -> None:
        self.max_reports = max_reports
        self.recent = recent
        self.service_name = service_name
        self.max_active_metrics = max_active_metrics
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._active: OrderedDict[str, tuple[PerformanceMetric, Span]] = OrderedDict()
        self._ended: OrderedDict[str, PerformanceMetric] = OrderedDict()
        self._manual_reports: deque[PerformanceReport] = deque(maxlen=max_reports)
        self._cleared_before = 0.0

    def start(self, name: str, metadata: Mapping[str, Any] | None = None) -> str:
        """Start a metric (and its span, a child of the current span); return its unique id."""
        metric_id = f"{name}_{int(time.time() * 1000)}_{next(self._ids)}"
        span = _tracer.get().start_span(name, attributes=_span_attributes(metadata))
        metric = PerformanceMetric(name=name, start_time=time.perf_counter(), metadata=dict(metadata or {}))
        abandoned: list[Span] = []
        with self._lock:
            self._active[metric_id] = (metric, span)
            while len(self._active) > self.max_active_metrics:
                abandoned.append(self._active.popitem(last=False)[1][1])
        for old_span in abandoned:
            old_span.set_status(Status(StatusCode.ERROR, "abandoned: never ended"))
            old_span.end()
        return metric_id

    def end(self, metric_id: str, metadata: Mapping[str, Any] | None = None) -> PerformanceMetric | None:
        """End a metric and its span; None for an unknown or already ended id."""
        with self._lock:
            entry = self._active.pop(metric_id, None)
        if entry is None:
            return None
        metric, span = entry
        metric.end_time = time.perf_counter()
        metric.duration = metric.end_time - metric.start_time
        if metadata:
            metric.metadata.update(metadata)
            span.set_attributes(_span_attributes(metadata))
        span.end()
        with self._lock:
            self._ended[metric_id] = metric
            while len(self._ended) > self.max_active_metrics:
                self._ended.popitem(last=False)
        return metric

    def create_report(
        self,
        operation: str,
        metric_ids: list[str],
        additional_metadata: Mapping[str, Any] | None = None,
    ) -> PerformanceReport:
        """Report the given ended metrics; a still-open one is ended first. Logs the report line."""
        for metric_id in metric_ids:
            self.end(metric_id)  # None, and nothing done, for one already ended
        with self._lock:
            metrics = [m for m in (self._ended.pop(i, None) for i in metric_ids) if m is not None]
        if additional_metadata:
            for metric in metrics:
                metric.metadata.update(additional_metadata)
        starts = [m.start_time for m in metrics]
        ends = [m.end_time for m in metrics if m.end_time is not None]
        total = (max(ends) - min(starts)) if starts and ends else 0.0
        report = PerformanceReport(operation, total, metrics, time.time())
        with self._lock:
            self._manual_reports.append(report)
        _logger.info(format_report_line(report))
        return report

    def get_reports(self) -> list[PerformanceReport]:
        """The newest reports, oldest first: operations' traces from the buffer and ``create_report`` ones."""
        reports = list(self._manual_reports)
        if self.recent is not None:
            for trace in self.recent.traces():
                report = report_from_trace(trace, self.service_name)
                if report is not None:
                    reports.append(report)
        reports = [r for r in reports if r.timestamp >= self._cleared_before]
        reports.sort(key=lambda r: r.timestamp)
        return reports[-self.max_reports :]

    def get_reports_for_operation(self, operation: str) -> list[PerformanceReport]:
        """Reports of one operation; ``"chat_request"`` also matches ``chat_request_<epoch ms>``."""
        pattern = re.compile(rf"{re.escape(operation)}(_\d+)?")
        return [r for r in self.get_reports() if pattern.fullmatch(r.operation)]

    def get_average_duration(self, operation: str) -> float | None:
        """Mean ``total_duration`` of an operation's reports, in seconds; None when there are none."""
        reports = self.get_reports_for_operation(operation)
        return sum(r.total_duration for r in reports) / len(reports) if reports else None

    def clear(self) -> None:
        """Forget every report so far and every open metric (their spans are ended)."""
        with self._lock:
            open_spans = [span for _, span in self._active.values()]
            self._active.clear()
            self._ended.clear()
            self._manual_reports.clear()
            self._cleared_before = time.time()
        for span in open_spans:
            span.end()

    def export_reports(self) -> list[dict[str, Any]]:
        """The reports as plain data, in the original shape plus ``trace_id``."""
        return [
            {
                "operation": r.operation,
                "total_duration": r.total_duration,
                "timestamp": r.timestamp,
                "trace_id": r.trace_id,
                "metrics": [{"name": m.name, "duration": m.duration, "metadata": m.metadata} for m in r.metrics],
            }
            for r in self.get_reports()
        ]

    def log_completed_trace(self, trace: TraceRecord) -> None:
        """Listener for the buffer: log the report line when an operation's trace completes."""
        if not _logger.isEnabledFor(logging.INFO):
            return
        report = report_from_trace(trace, self.service_name, with_metadata=False)
        if report is not None:
            _logger.info(format_report_line(report))


_default_tracker: PerformanceTracker | None = None
_default_lock = threading.Lock()


def install_tracker(
    recent: RecentTracesProcessor, service_name: str | None = None, max_reports: int = DEFAULT_MAX_REPORTS
) -> PerformanceTracker:
    """Make the tracker that ``get_tracker()`` returns read from ``recent`` and log completed traces."""
    global _default_tracker
    tracker = PerformanceTracker(max_reports=max_reports, recent=recent, service_name=service_name)
    recent.add_listener(tracker.log_completed_trace)
    with _default_lock:
        _default_tracker = tracker
    return tracker


def get_tracker() -> PerformanceTracker:
    """The process's tracker (one without a trace buffer until tracing is set up)."""
    global _default_tracker
    with _default_lock:
        if _default_tracker is None:
            _default_tracker = PerformanceTracker()
        return _default_tracker


def start_tracking(name: str, metadata: Mapping[str, Any] | None = None) -> str:
    """Start a metric on the process's tracker."""
    return get_tracker().start(name, metadata)


def end_tracking(metric_id: str, metadata: Mapping[str, Any] | None = None) -> PerformanceMetric | None:
    """End a metric on the process's tracker."""
    return get_tracker().end(metric_id, metadata)


def create_report(
    operation: str, metric_ids: list[str], additional_metadata: Mapping[str, Any] | None = None
) -> PerformanceReport:
    """Create a report on the process's tracker."""
    return get_tracker().create_report(operation, metric_ids, additional_metadata)
