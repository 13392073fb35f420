"""What the page's pictures draw, worked out on the server so the page's script only draws.

The percentiles come from ``perftrace.analysis.report.percentile`` (the one definition); the script
``static/charts.js`` turns this data into SVG.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from perftrace.analysis.conversations import ConversationTurns
from perftrace.analysis.report import percentile
from perftrace.analysis.stages import Operation, stage_durations_ms

#: How many of the newest requests the pictures show.
CHART_REQUESTS = 100
_BOX = (("p5", 5.0), ("p25", 25.0), ("p50", 50.0), ("p75", 75.0), ("p95", 95.0))


def chart_data(operations: Sequence[Operation], last: int = CHART_REQUESTS) -> dict[str, Any]:
    """Per-stage latency of the newest ``last`` of ``operations`` (oldest first), and each one's time by stage.

    Returns ``{"stages": [{"name", "values", "p5", ..., "p95"}], "requests": [{"t", "trace_id",
    "total", "parts"}]}``: ms throughout, ``t`` in epoch ms, ``parts`` in the order of ``stages``.
    """
    operations = operations[-last:]
    # Microseconds are plenty for a picture, and halve the page's data.
    values = {name: [round(ms, 3) for ms in durations] for name, durations in stage_durations_ms(operations).items()}
    stages = [
        {"name": name, "values": durations, **{k: round(percentile(sorted(durations), q), 3) for k, q in _BOX}}
        for name, durations in values.items()
    ]
    requests = [
        {
            "t": op.start_time_unix_nano / 1e6,
            **_bar(op.trace_id, op.duration_ms, values, ((s.name, s.duration_seconds * 1000) for s in op.stages)),
        }
        for op in operations
    ]
    return {"stages": stages, "requests": requests}


def conversation_chart_data(conversation: ConversationTurns, input_token_budget: int | None = None) -> dict[str, Any]:
    """Latency by stage and the largest prompt of each turn of a conversation, and the budget prompts grow toward.

    Returns ``{"stages": [names], "turns": [{"trace_id", "total", "parts", "input_tokens"}], "budget"}``: ms,
    ``parts`` in the order of ``stages``; ``input_tokens`` is the most one LLM call of the turn read (null where
    its calls do not report usage), the figure an input budget bounds.
    """
    names = list(dict.fromkeys(stage.name for turn in conversation.turns for stage in turn.stages))
    turns = [
        {
            **_bar(turn.trace_id, turn.duration_ms, names, ((s.name, s.duration_ms) for s in turn.stages)),
            "input_tokens": turn.largest_call_input_tokens,
        }
        for turn in conversation.turns
    ]
    return {"stages": names, "turns": turns, "budget": input_token_budget}


def _bar(trace_id: str, total_ms: float, names: Iterable[str], stages: Iterable[tuple[str, float]]) -> dict[str, Any]:
    # One stacked bar: ``parts`` in the order of ``names``, a stage run twice (two LLM rounds) added up.
    parts = dict.fromkeys(names, 0.0)
    for name, ms in stages:
        parts[name] += round(ms, 3)
    return {"trace_id": trace_id, "total": round(total_ms, 3), "parts": list(parts.values())}
