"""The Markdown section of ``chat_throughput``: the peers' table, where their spans come from, the targets."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from perftrace.analysis import percentile
from testsupport.chat_load import QUESTION
from testsupport.report import Target, section_preamble, table, targets_table

if TYPE_CHECKING:
    from benchmarks.chat_throughput import PeerRun, ThroughputResults

#: The peers a user would pick instead of ours: "the cheapest peer" of the per-span target is one of these.
ALTERNATIVES = ("zero_code", "logfire")


def tracing_us_per_span(run: PeerRun, off: PeerRun | None) -> float | None:
    """CPU per chat above off's, per exported span, in µs; None without off or without spans."""
    if off is None or run is off or not run.spans_per_chat:
        return None
    return (run.median("cpu_ms_per_chat") - off.median("cpu_ms_per_chat")) * 1000 / run.spans_per_chat


def peer_rows(results: ThroughputResults) -> list[list[str]]:
    """One row per peer."""
    off = results.runs.get("off")
    rows = []
    for name, run in results.runs.items():
        per_span = tracing_us_per_span(run, off)
        rows.append(
            [
                results.peers[name].label,
                f"{run.median('rps'):.1f}",
                f"{run.median('p50_ms'):.1f}",
                f"{run.median('p99_ms'):.1f}",
                f"{run.median('cpu_ms_per_chat'):.2f}",
                f"{run.median('chats_per_cpu_second'):.0f}",
                f"{run.spans_per_chat:.2f}",
                "–" if per_span is None else f"{per_span:.1f}",
                f"{run.rss_mib:.0f}",
                ", ".join(f"{r.rps:.0f}" for r in run.rounds),
                str(sum(r.errors for r in run.rounds + run.fixed)),
            ]
        )
    return rows


def span_rows(results: ThroughputResults) -> list[list[str]]:
    """Which spans each peer exported, per chat, most frequent first."""
    rows = []
    for name, run in results.runs.items():
        names = sorted(run.spans.items(), key=lambda item: -item[1])
        listed = ", ".join(f"`{span}` {count / run.chats:.2f}" for span, count in names) if run.chats else ""
        rows.append([results.peers[name].label, listed or "none"])
    return rows


def targets(results: ThroughputResults) -> list[Target]:
    """The issue's targets, for the peers that ran."""
    runs = results.runs
    off, ours, floor = runs.get("off"), runs.get("ours"), runs.get("floor")
    found: list[Target] = []
    if off is None or ours is None:
        return found
    found += [
        Target("requests/s, ours/off", ours.median("rps") / off.median("rps"), 0.90, "×", at_most=False),
        Target(
            "chats per CPU-second, ours/off",
            ours.median("chats_per_cpu_second") / off.median("chats_per_cpu_second"),
            0.90,
            "×",
            at_most=False,
        ),
    ]
    ours_per_span = tracing_us_per_span(ours, off)
    peers = [(name, tracing_us_per_span(runs[name], off)) for name in ALTERNATIVES if name in runs]
    priced = [(name, value) for name, value in peers if value is not None]
    if ours_per_span is not None and priced:
        cheapest, value = min(priced, key=lambda item: item[1])
        name = f"tracing CPU per exported span, ours (cheapest peer: {cheapest})"
        found.append(Target(name, ours_per_span, value, "µs"))
    if floor is not None:
        ratio = ours.median("cpu_ms_per_chat") / floor.median("cpu_ms_per_chat")
        found.append(Target("CPU per chat, ours/SDK floor", ratio, 1.10, "×"))
    fixed_p99 = ours.fixed_p(99) / (off.fixed_p(99) or 1)
    found += [
        Target("p99 latency, ours/off", ours.median("p99_ms") / off.median("p99_ms"), 1.2, "×"),
        Target("warm `message_assembly` p50 under load", percentile(results.assembly_under_load_ms, 50), 5.0, "ms"),
        Target("p99 at a fixed rate below saturation, ours/off", fixed_p99, 1.2, "×"),
    ]
    return found


def ratio_line(results: ThroughputResults) -> str:
    """Same-run ratios of every peer against off, in CPU per chat."""
    off = results.runs.get("off")
    if off is None:
        return ""
    base = off.median("cpu_ms_per_chat")
    parts = [
        f"{results.peers[name].label} {run.median('cpu_ms_per_chat') / base:.3f}"
        for name, run in results.runs.items()
        if name != "off"
    ]
    return "CPU per chat against off, same run: " + "; ".join(parts) + "."


def render(results: ThroughputResults, started: dt.datetime) -> str:
    """The Markdown section."""
    plan = results.plan
    header = [
        "peer",
        "requests/s",
        "p50 (ms)",
        "p99 (ms)",
        "CPU per chat (ms)",
        "chats per CPU-s",
        "spans exported per chat",
        "tracing CPU per span (µs)",
        "RSS after (MiB)",
        "requests/s per round",
        "errors",
    ]
    lines = section_preamble("Chat throughput and the peers (`benchmarks/chat_throughput.py`)", started)
    lines += [
        f"{len(results.runs)} services on loopback (embedded LLM at 0 ms, the demo home over HTTP on loopback), each "
        "exporting OTLP/HTTP to the same counting receiver (its own process), metrics and logs exporters off. "
        f"Each warmed up with {plan.warmup_requests} chats, then {plan.rounds} interleaved rounds (order "
        f'reversed every other round) of {plan.requests_per_round} `POST /api/v1/chat` "{QUESTION}" (a new '
        f"conversation each) from {plan.concurrency} concurrent clients, one service at a time; the load "
        "generator runs in another process on the same 2 cores, which other work shared. Medians of the "
        "rounds. CPU is the service process's user + system time from /proc. Spans per chat: what the receiver "
        "got, over every chat sent. Tracing CPU per span: CPU per chat above off's, over the spans per chat.",
        "",
        *table(header, peer_rows(results)),
        "",
        ratio_line(results),
        "",
        "Spans exported per chat, by name:",
        "",
        *table(["peer", "spans per chat"], span_rows(results)),
        "",
        f"Warm `message_assembly` (ours' `/api/v1/performance/reports`, warm-up excluded): p50 "
        f"{percentile(results.assembly_under_load_ms, 50):.2f} ms under load; one client at a time "
        f"{percentile(results.assembly_sequential_ms, 50):.2f} ms. Below saturation, every peer took "
        f"{results.fixed_rate:.0f} chats/s ({plan.fixed_rate_share:.0%} of what off sustained), "
        f"{plan.fixed_rate_rounds} × {plan.fixed_rate_seconds:.0f} s, open loop, latency from each chat's due time:",
        "",
        *table(
            ["peer", "p50 (ms)", "p99 (ms)", "max (ms)"],
            [
                [results.peers[name].label, *(f"{run.fixed_p(q):.1f}" for q in (50, 99, 100))]
                for name, run in results.runs.items()
            ],
        ),
        "",
        *targets_table(targets(results)),
    ]
    return "\n".join(lines) + "\n"
