"""What the page's pictures draw, worked out on the server so the page's script only draws.

The percentiles come from ``perftrace.analysis.report.percentile`` (the one definition); the script
``static/charts.js`` turns this data into SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perftrace.analysis.report import percentile
from perftrace.tracing.records import TraceRecord
from perftrace.tracker import report_from_trace

#: How many of the newest requests the pictures show.
CHART_REQUESTS = 100
_BOX = (("p5", 5.0), ("p25", 25.0), ("p50", 50.0), ("p75", 75.0), ("p95", 95.0))


def chart_data(traces: Sequence[TraceRecord], service_name: str | None, last: int = CHART_REQUESTS) -> dict[str, Any]:
    """Per-stage latency of the newest ``last`` requests, and each request's time split by stage.

    Returns ``{"stages": [{"name", "values", "p5", ..., "p95"}], "requests": [{"t", "trace_id",
    "total", "parts"}]}``: ms throughout, ``t`` in epoch ms, ``parts`` in the order of ``stages``.
    """
    reports = sorted(
        (r for t in traces if (r := report_from_trace(t, service_name, with_metadata=False)) is not None),
        key=lambda r: r.timestamp,
    )[-last:]
    values: dict[str, list[float]] = {}
    for report in reports:
        for metric in report.metrics:
            # Microseconds are plenty for a picture, and halve the page's data.
            values.setdefault(metric.name, []).append(round((metric.duration or 0.0) * 1000, 3))
    stages = []
    for name, durations in values.items():
        ordered = sorted(durations)
        stages.append({"name": name, "values": durations, **{k: round(percentile(ordered, q), 3) for k, q in _BOX}})
    requests = []
    for report in reports:
        parts = dict.fromkeys(values, 0.0)
        for metric in report.metrics:
            parts[metric.name] += round((metric.duration or 0.0) * 1000, 3)
        requests.append(
            {
                "t": report.timestamp * 1000,
                "trace_id": report.trace_id,
                "total": round(report.total_duration * 1000, 3),
                "parts": list(parts.values()),
            }
        )
    return {"stages": stages, "requests": requests}
