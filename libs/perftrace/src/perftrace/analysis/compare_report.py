"""A comparison as plain text, JSON or a Markdown table that fits a pull-request comment."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from perftrace.analysis.compare import SLOWER, STATISTICS, Change, Comparison

_MARKS = {SLOWER: "🔴", "faster": "🟢"}


def comparison_to_json(comparison: Comparison) -> dict[str, Any]:
    """The comparison as a JSON-ready dict (changes and interval bounds as fractions, 0.3 = +30 %)."""
    return asdict(comparison)


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


def format_text(comparison: Comparison) -> str:
    """A fixed-width table: one line per stage and statistic, then the critical path's shares."""
    lines = [
        _heading(comparison),
        "",
        f"{'stage':<26}{'calls':>11}{'stat':>6}{'before ms':>11}{'after ms':>10}{'change':>9}  {'interval':<20}verdict",
    ]
    for stage in comparison.stages:
        calls = f"{stage.calls_before}→{stage.calls_after}"
        for i, (label, _) in enumerate(STATISTICS):
            change = stage.changes[label]
            lines.append(
                f"{stage.name if i == 0 else '':<26}{calls if i == 0 else '':>11}{label:>6}"
                f"{change.before_ms:>11.1f}{change.after_ms:>10.1f}{_percent(change.change):>9}  "
                f"{_interval(change):<20}{stage.verdict if i == 0 else ''}"
            )
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
    for s in comparison.stages:
        p50, p95 = s.changes["p50"], s.changes["p95"]
        lines.append(
            f"| `{s.name}` | {s.calls_before} → {s.calls_after} "
            f"| {p50.before_ms:.1f} → {p50.after_ms:.1f} | {_percent(p50.change)} {_interval(p50)} "
            f"| {p95.before_ms:.1f} → {p95.after_ms:.1f} | {_percent(p95.change)} {_interval(p95)} "
            f"| {_MARKS.get(s.verdict, '')} {s.verdict} "
            f"| {s.path_share_before * 100:.0f}% → {s.path_share_after * 100:.0f}% |"
        )
    return "\n".join(lines)
