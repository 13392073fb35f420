"""The ``/performance`` page: what each row shows is worked out here; ``templates/performance.html`` lays it out.

Everything the page needs is served by the service itself (the template, ``static/performance.css`` and
``static/performance.js``): no script or style from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from perftrace.analysis.conversations import ConversationTurns, disliked_answers, recent_conversations
from perftrace.analysis.report import build_report
from perftrace.analysis.stages import find_operations
from perftrace.fastapi.charts import chart_data, conversation_chart_data
from perftrace.tracing.records import SpanRecord, TraceRecord
from perftrace.tracing.semconv import OPERATION_ATTRIBUTE

_templates = Environment(loader=PackageLoader("perftrace.fastapi", "templates"), autoescape=select_autoescape())


@dataclass(frozen=True)
class WaterfallRow:
    """One span of a trace's waterfall; ``left``/``width`` in percent of the trace's duration."""

    span: SpanRecord
    depth: int
    left: float
    width: float
    other_service: bool
    slowest: bool


@dataclass(frozen=True)
class TraceView:
    """One kept trace as the page lists it."""

    trace: TraceRecord
    started: str
    failed: bool
    rows: list[WaterfallRow]


def _depths(trace: TraceRecord) -> list[tuple[SpanRecord, int]]:
    """Spans in tree order (children after their parent, by start time) with their depth."""
    by_parent: dict[int, list[SpanRecord]] = {}
    held = {s.span_id for s in trace.spans}
    roots = []
    for span in sorted(trace.spans, key=lambda s: s.start_time_unix_nano):
        if span.parent_span_id and span.parent_span_id in held:
            by_parent.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)
    ordered: list[tuple[SpanRecord, int]] = []
    stack = [(r, 0) for r in reversed(roots)]
    while stack:
        span, depth = stack.pop()
        ordered.append((span, depth))
        stack.extend((c, depth + 1) for c in reversed(by_parent.get(span.span_id, [])))
    return ordered


def _slowest_stages(trace: TraceRecord) -> set[int]:
    """The slowest child of each operation span (e.g. the browser's send and the server's request)."""
    operations = [s for s in trace.spans if s.attribute(OPERATION_ATTRIBUTE) is not None]
    if not operations and trace.root is not None:
        operations = [trace.root]
    slowest = set()
    for operation in operations:
        children = trace.children_of(operation.span_id)
        if children:
            slowest.add(max(children, key=lambda s: s.duration_seconds).span_id)
    return slowest


def trace_view(trace: TraceRecord, local_service: str) -> TraceView:
    """What the page shows of one trace: its waterfall rows, the slowest stage of each operation marked."""
    start = trace.start_time_unix_nano
    width = max(1, trace.end_time_unix_nano - start)
    slowest = _slowest_stages(trace)
    rows = [
        WaterfallRow(
            span=span,
            depth=depth,
            left=(span.start_time_unix_nano - start) / width * 100,
            width=max(0.2, (span.end_time_unix_nano - span.start_time_unix_nano) / width * 100),
            other_service=span.service_name != local_service,
            slowest=span.span_id in slowest,
        )
        for span, depth in _depths(trace)
    ]
    return TraceView(
        trace=trace,
        started=datetime.fromtimestamp(start / 1e9, UTC).strftime("%H:%M:%S"),
        failed=any(s.status == "ERROR" for s in trace.spans),
        rows=rows,
    )


def render_performance_page(
    traces: list[TraceRecord],
    *,
    service_name: str,
    urls: Mapping[str, str],
    jaeger_url: str | None = None,
    links: tuple[tuple[str, str], ...] = (),
) -> str:
    """The whole page: stage percentiles, the slowest requests' critical paths, one waterfall per trace.

    ``urls`` (``perftrace.paths.page_urls``) are what the page links to and its script calls. The operations
    among ``traces`` (and their figures) are found once, and the report, the charts and the conversations read them.
    """
    operations = find_operations(traces, service_name)
    return _templates.get_template("performance.html").render(
        service_name=service_name,
        urls=urls,
        report=build_report(operations),
        traces=[trace_view(t, service_name) for t in traces],
        jaeger_url=jaeger_url,
        links=links,
        chart_data=chart_data(operations),
        conversations=recent_conversations(operations),
        disliked=disliked_answers(operations),
    )


def render_conversation_page(
    conversation: ConversationTurns,
    *,
    service_name: str,
    urls: Mapping[str, str],
    jaeger_url: str | None = None,
    input_token_budget: int | None = None,
) -> str:
    """One conversation's page: its totals, latency and input tokens per turn, a row per turn."""
    return _templates.get_template("conversation.html").render(
        service_name=service_name,
        urls=urls,
        conversation=conversation,
        jaeger_url=jaeger_url,
        chart_data=conversation_chart_data(conversation, input_token_budget),
    )
