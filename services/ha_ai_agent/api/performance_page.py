"""The ``/performance`` page, rendered on the server: no script or style from elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from perftrace.analysis import BottleneckReport
from perftrace.records import SpanRecord, TraceRecord
from perftrace.semconv import OPERATION_ATTRIBUTE

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2433;background:#f6f7fb}
header{background:#1f3a5f;color:#fff;padding:12px 24px}header a{color:#cfe3ff}
main{padding:16px 24px;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:20px}
th,td{padding:4px 8px;border-bottom:1px solid #e3e6ef;text-align:left}th{background:#eef1f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
details{background:#fff;margin:6px 0;border:1px solid #e3e6ef;border-radius:4px}
summary{cursor:pointer;padding:6px 8px;display:flex;gap:12px;align-items:baseline}
summary .dur{margin-left:auto;font-variant-numeric:tabular-nums}
.error{color:#b3261e;font-weight:600}.muted{color:#667}
.wf{padding:4px 8px 10px}.row{display:grid;grid-template-columns:300px 1fr 80px;gap:8px;align-items:center}
.row .name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.track{position:relative;height:12px;background:#f0f2f7}
.bar{position:absolute;top:0;height:12px;background:#5b8def;min-width:1px}
.bar.browser{background:#8e6bd9}.bar.err{background:#d9534f}.bar.slowest{outline:2px solid #f0a500}
.row.slowest .name{font-weight:700}
"""

_OPEN_TARGET = (
    "<script>if(location.hash){const d=document.getElementById(location.hash.slice(1));"
    "if(d){d.open=true;d.scrollIntoView();}}</script>"
)


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
    """The slowest child of each operation span (the browser's send and the server's request)."""
    operations = [s for s in trace.spans if s.attribute(OPERATION_ATTRIBUTE) is not None]
    if not operations and trace.root is not None:
        operations = [trace.root]
    slowest = set()
    for operation in operations:
        children = trace.children_of(operation.span_id)
        if children:
            slowest.add(max(children, key=lambda s: s.duration_seconds).span_id)
    return slowest


def _waterfall(trace: TraceRecord, local_service: str | None) -> str:
    start, end = trace.start_time_unix_nano, trace.end_time_unix_nano
    width = max(1, end - start)
    slowest = _slowest_stages(trace)
    rows = []
    for span, depth in _depths(trace):
        left = (span.start_time_unix_nano - start) / width * 100
        size = max(0.2, (span.end_time_unix_nano - span.start_time_unix_nano) / width * 100)
        classes = ["bar"]
        if local_service and span.service_name != local_service:
            classes.append("browser")
        if span.status == "ERROR":
            classes.append("err")
        if span.span_id in slowest:
            classes.append("slowest")
        label = escape(span.name) + (" ⚠ slowest stage" if span.span_id in slowest else "")
        rows.append(
            f'<div class="row{" slowest" if span.span_id in slowest else ""}">'
            f'<span class="name" style="padding-left:{depth * 14}px" title="{escape(span.service_name)}">{label}</span>'
            f'<span class="track"><span class="{" ".join(classes)}" style="left:{left:.2f}%;width:{size:.2f}%">'
            f'</span></span><span class="num">{span.duration_seconds * 1000:.1f} ms</span></div>'
        )
    return "".join(rows)


def _critical_paths(report: BottleneckReport) -> str:
    blocks = []
    for slow in report.slowest:
        steps = "".join(
            f"<tr><td>{escape(step.name)}</td><td class=muted>{escape(step.service_name)}</td>"
            f"<td class=num>{step.self_ms:.1f}</td></tr>"
            for step in slow.path
            if step.self_ms >= 0.05
        )
        blocks.append(
            f'<h3><a href="#{slow.report.trace_id}">{escape(slow.report.operation)}</a> — '
            f"{slow.report.total_duration * 1000:.1f} ms</h3><table><thead><tr><th>On the critical path</th>"
            f"<th>Service</th><th>ms (own time on the path)</th></tr></thead><tbody>{steps}</tbody></table>"
        )
    return "".join(blocks) or '<p class="muted">No chat requests yet.</p>'


def render_performance_page(
    traces: list[TraceRecord],
    report: BottleneckReport,
    jaeger_url: str | None,
    local_service: str = "ha-ai-agent",
) -> str:
    """The whole page: stage percentiles, the slowest requests' critical paths, one waterfall per trace."""
    stages = report.stages
    stage_rows = (
        "".join(
            f"<tr><td>{escape(s.name)}</td><td class=num>{s.count}</td><td class=num>{s.errors}</td>"
            f"<td class=num>{s.p50_ms:.1f}</td><td class=num>{s.p95_ms:.1f}</td><td class=num>{s.p99_ms:.1f}</td>"
            f"<td class=num>{s.share * 100:.0f}%</td></tr>"
            for s in stages
        )
        or '<tr><td colspan="7" class="muted">No chat requests yet: send one from the chat page.</td></tr>'
    )
    items = []
    for trace in traces:
        root = trace.root
        when = datetime.fromtimestamp(trace.start_time_unix_nano / 1e9, UTC).strftime("%H:%M:%S")
        failed = any(s.status == "ERROR" for s in trace.spans)
        jaeger = (
            f' <a href="{escape(jaeger_url)}/trace/{trace.trace_id_hex}" target="_blank" rel="noopener">Jaeger</a>'
            if jaeger_url
            else ""
        )
        dropped = f" <span class=muted>({trace.dropped_spans} spans dropped)</span>" if trace.dropped_spans else ""
        items.append(
            f'<details id="{trace.trace_id_hex}" data-trace-id="{trace.trace_id_hex}"><summary>'
            f"<span class=muted>{when}</span><b>{escape(root.name if root else '?')}</b>"
            f"<span class=muted>{len(trace.spans)} spans · {trace.trace_id_hex}</span>{dropped}"
            f"{'<span class=error>ERROR</span>' if failed else ''}{jaeger}"
            f'<span class="dur">{trace.duration_seconds * 1000:.1f} ms</span></summary>'
            f'<div class="wf">{_waterfall(trace, local_service)}</div></details>'
        )
    traces_html = "".join(items) or '<p class="muted">No traces kept yet.</p>'
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Performance · HA AI agent</title>"
        f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head><body>"
        '<header><b>HA AI agent · performance</b> — the last traces kept in memory · <a href="/">chat</a>'
        ' · <a href="/api/v1/performance/reports">reports JSON</a></header><main>'
        "<h2>Stages</h2><table><thead><tr><th>Stage</th><th>Calls</th><th>Errors</th><th>p50 ms</th>"
        f"<th>p95 ms</th><th>p99 ms</th><th>Share of request</th></tr></thead><tbody>{stage_rows}</tbody></table>"
        f"<h2>Slowest requests: critical path</h2>{_critical_paths(report)}"
        f"<h2>Traces ({len(traces)})</h2>{traces_html}</main>{_OPEN_TARGET}</body></html>"
    )
