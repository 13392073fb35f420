"""A comparison as plain text, JSON or a Markdown table that fits a pull-request comment."""

from __future__ import annotations

from perftrace.analysis.compare import (
    FASTER,
    FIRST_TOKEN,
    LESS,
    MORE,
    SLOWER,
    STATISTICS,
    Change,
    Comparison,
    StageComparison,
)

_MARKS = {SLOWER: "🔴", FASTER: "🟢", MORE: "🔺", LESS: "🔻"}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}%"


def _interval(change: Change) -> str:
    if change.low is None or change.high is None:
        return "—"
    return f"[{change.low * 100:+.1f}%, {change.high * 100:+.1f}%]"


def _heading(comparison: Comparison) -> str:
    return (
        f"{comparison.requests_before} requests before, {comparison.requests_after} after; "
        f"{comparison.confidence * 100:.0f}% simultaneous bootstrap intervals "
        f"({comparison.resamples} resamples, seed {comparison.seed}); changes under "
        f"{comparison.min_effect_ms:g} ms get no verdict"
    )


def _value(value: float, unit: str) -> str:
    return f"{value:.1f}" if unit == "ms" else f"{value:.0f}" if unit == "tokens" else f"{value:.6f}"


def _text_table(first: str, count: str, unit: str, stages: list[StageComparison]) -> list[str]:
    lines = [
        f"{first:<26}{count:>11}{'stat':>6}{'before' + unit:>11}{'after' + unit:>10}{'change':>9}  "
        f"{'interval':<20}verdict"
    ]
    for stage in stages:
        calls = f"{stage.calls_before}→{stage.calls_after}"
        for i, (label, _) in enumerate(STATISTICS):
            change = stage.changes[label]
            lines.append(
                f"{stage.name if i == 0 else '':<26}{calls if i == 0 else '':>11}{label:>6}"
                f"{_value(change.before, stage.unit):>11}{_value(change.after, stage.unit):>10}"
                f"{_percent(change.change):>9}  {_interval(change):<20}{stage.verdict if i == 0 else ''}"
            )
    return lines


def format_text(comparison: Comparison) -> str:
    """Fixed-width tables: one line per row and statistic (times, then usage per request), then path shares."""
    lines = [_heading(comparison), "", *_text_table("stage", "calls", " ms", comparison.stages)]
    if comparison.usage:
        lines += ["", *_text_table("per request", "requests", "", comparison.usage)]
    lines += ["", "Share of the critical path", f"{'stage':<26}{'before':>8}{'after':>8}"]
    lines += [
        f"{s.name:<26}{s.path_share_before * 100:>7.0f}%{s.path_share_after * 100:>7.0f}%"
        for s in comparison.stages
        if s.path_share_before or s.path_share_after
    ]
    return "\n".join(lines)


def format_markdown(comparison: Comparison, fail_if_slower: float | None = None) -> str:
    """A Markdown table per stage with both statistics, the verdict and the critical path's share."""
    lines = ["### Performance: before → after", "", _heading(comparison) + ".", ""]
    if fail_if_slower is not None:
        failing = comparison.slower_than(fail_if_slower)
        gate = f"slower by more than {fail_if_slower * 100:g}%: **{', '.join(failing)}**" if failing else "passed"
        lines += [f"Gate (`--fail-if-slower {fail_if_slower * 100:g}`): {gate}", ""]
    lines += [
        "| Stage | Calls | p50 ms | p50 change | p95 ms | p95 change | Verdict | Critical path |",
        "|---|--:|--:|--:|--:|--:|---|--:|",
    ]
    lines += [
        _markdown_row(s, "—" if s.name == FIRST_TOKEN else f"{s.path_share_before:.0%} → {s.path_share_after:.0%}")
        for s in comparison.stages
    ]
    if comparison.usage:
        lines += [
            "",
            "| Per request | Requests | p50 | p50 change | p95 | p95 change | Verdict |",
            "|---|--:|--:|--:|--:|--:|---|",
        ]
        lines += [_markdown_row(u, None) for u in comparison.usage]
    return "\n".join(lines)


def _markdown_row(s: StageComparison, path: str | None) -> str:
    p50, p95 = s.changes["p50"], s.changes["p95"]
    name = f"`{s.name}`" if s.unit == "ms" else s.name
    return (
        f"| {name} | {s.calls_before} → {s.calls_after} "
        f"| {_value(p50.before, s.unit)} → {_value(p50.after, s.unit)} | {_percent(p50.change)} {_interval(p50)} "
        f"| {_value(p95.before, s.unit)} → {_value(p95.after, s.unit)} | {_percent(p95.change)} {_interval(p95)} "
        f"| {_MARKS.get(s.verdict, '')} {s.verdict} |" + (f" {path} |" if path is not None else "")
    )
