"""The Markdown section of ``chat_throughput``: the peers, the paired ratios, the fixed-rate tail, the targets."""

from __future__ import annotations

import datetime as dt

from perftrace.analysis.report import percentile
from testsupport.chat_load import QUESTION
from testsupport.report import Target, section_preamble, table, targets_table

from benchmarks.harness.peers import PEERS
from benchmarks.harness.rounds import Pair, Results

#: The peers a user would pick instead of ours: "the cheapest peer" of the per-span target is one of these.
ALTERNATIVES = ("zero_code", "logfire")
#: The SDK's default ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` and the one of ``ours_small_batches``.
DEFAULT_BATCH, SMALL_BATCH = 512, int(PEERS["ours_small_batches"].env["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"])
#: The closed-loop figures of the peers' table, with their decimals.
CLOSED_FIGURES = (("rps", 1), ("p50_ms", 1), ("p99_ms", 1), ("cpu_ms_per_chat", 2))
#: Ours over the SDK floor, CPU per chat: our own work stays within 5 % of the floor's.
OURS_OVER_FLOOR = 1.05


def tracing_us_per_span(results: Results, name: str) -> float | None:
    """CPU per chat above off's (the paired ratio's median), per exported span, in µs."""
    run, off = results.runs[name], results.runs.get("off")
    ratio = results.ratio((name, "off"), "cpu_ms_per_chat")
    if off is None or not ratio.values or not run.spans_per_chat:
        return None
    return (ratio.median - 1) * off.median("cpu_ms_per_chat") * 1000 / run.spans_per_chat


def peer_rows(results: Results) -> list[list[str]]:
    """One row per peer: medians over all its closed-loop segments."""
    rows = []
    for name, run in results.runs.items():
        per_span = tracing_us_per_span(results, name)
        closed = [f"{run.median(f):.{d}f}" if run.segments else "–" for f, d in CLOSED_FIGURES]
        rows.append(
            [
                f"`{name}`: {results.peers[name].label}",
                *closed,
                f"{run.spans_per_chat:.2f}",
                "–" if per_span is None else f"{per_span:.0f}",
                f"{run.rss_mib:.0f}",
                str(sum(r.errors for r in run.segments + run.fixed)),
            ]
        )
    return rows


def pair_rows(results: Results, fixed: bool) -> list[list[str]]:
    """Per pair, each ratio's median over the rounds and its range."""
    pairs = results.fixed if fixed else results.closed
    figures = ("p50_ms", "p99_ms", "cpu_ms_per_chat") if fixed else ("cpu_ms_per_chat", "rps", "p99_ms")
    return [
        [f"`{pair[0]}` / `{pair[1]}`", *(results.ratio(pair, figure, fixed).text() for figure in figures)]
        for pair in pairs
    ]


def span_rows(results: Results) -> list[list[str]]:
    """Which spans each peer exported, per chat, most frequent first."""
    rows = []
    for name, run in results.runs.items():
        names = sorted(run.spans.items(), key=lambda item: -item[1])
        listed = ", ".join(f"`{span}` {count / run.chats:.2f}" for span, count in names) if run.chats else ""
        rows.append([f"`{name}`", listed or "none"])
    return rows


def targets(results: Results) -> list[Target]:
    """The issue's targets, from the paired ratios' medians (their ranges are in the tables above)."""

    def paired(pair: Pair, figure: str, fixed: bool = False) -> float:
        return results.ratio(pair, figure, fixed).median

    ours_per_span = tracing_us_per_span(results, "ours")
    priced = [(name, value) for name in ALTERNATIVES if (value := tracing_us_per_span(results, name)) is not None]
    found = [
        Target("CPU per chat, ours/SDK floor", paired(("ours", "floor"), "cpu_ms_per_chat"), OURS_OVER_FLOOR, "×"),
        Target("requests/s, ours/off", paired(("ours", "off"), "rps"), 0.90, "×", at_most=False),
        Target("chats per CPU-second, ours/off", paired(("ours", "off"), "chats_per_cpu_second"), 0.90, "×", False),
        Target("p99 latency (closed loop), ours/off", paired(("ours", "off"), "p99_ms"), 1.2, "×"),
        Target("p99 at a fixed rate below saturation, ours/off", paired(("ours", "off"), "p99_ms", True), 1.2, "×"),
        Target("warm `message_assembly` p50 under load", percentile(results.probes["under load"], 50), 5.0, "ms"),
    ]
    if ours_per_span is not None and priced:
        cheapest, value = min(priced, key=lambda item: item[1])
        name = f"tracing CPU per exported span, ours (cheapest peer: {cheapest})"
        found.append(Target(name, ours_per_span, value, "µs"))
    return found


def encoding_lines(results: Results) -> list[str]:
    """What the exporter's batches cost under the GIL, and the share of the time they take at the fixed rate."""
    if "encode" not in results.probes:
        return []
    default_ms, small_ms = results.probes["encode"]
    spans_per_second = results.fixed_rate * results.runs["ours"].spans_per_chat
    share = spans_per_second * default_ms / DEFAULT_BATCH / 1000
    return [
        f"The exporter's batches: encoding {DEFAULT_BATCH} chat-shaped spans (the SDK's default batch) as OTLP "
        f"protobuf takes {default_ms:.1f} ms of one thread's CPU, {SMALL_BATCH} spans {small_ms:.1f} ms (this "
        "process, median of repeats; the service's spans carry more attributes). At the fixed rate ours ends "
        f"{spans_per_second:.0f} spans/s, a full batch every {DEFAULT_BATCH / max(spans_per_second, 1):.1f} s, "
        f"and encodes during about {share:.1%} of the time: the chats in flight then share the GIL with it.",
        "",
    ]


def render(results: Results, started: dt.datetime) -> str:
    """The Markdown section."""
    plan = results.plan
    rounds, fixed_rounds = plan.rounds, plan.fixed_rate_rounds
    coverage = f"{1 - 2 * 0.5**rounds:.1%}"
    lines = section_preamble("Chat throughput and the peers (`benchmarks/chat_throughput.py`)", started)
    lines += [
        f"{len(results.runs)} services on loopback (embedded LLM at 0 ms, the demo home over HTTP on loopback), each "
        "exporting OTLP/HTTP to the same counting receiver (its own process), metrics and logs exporters off. "
        f"Each warmed up with {plan.warmup_requests} chats. Then {rounds} paired rounds: in each, every pair below "
        f'ran back to back, one segment of {plan.requests_per_segment} `POST /api/v1/chat` "{QUESTION}" (a new '
        f"conversation each) from {plan.concurrency} concurrent clients per service, the whole sequence reversed "
        "every other round; the load generator shares the 2 cores, as did other work. CPU is the service "
        "process's user + system time from /proc. Per peer, medians over its segments; spans per chat: what the "
        "receiver got, over every chat sent; tracing CPU per span: CPU per chat above off's (paired), over them.",
        "",
        *table(
            [
                "peer",
                "requests/s",
                "p50 (ms)",
                "p99 (ms)",
                "CPU per chat (ms)",
                "spans per chat",
                "tracing CPU per span (µs)",
                "RSS after (MiB)",
                "errors",
            ],
            peer_rows(results),
        ),
        "",
        f"Paired ratios, the first service's figure over the second's in the same round: median over {rounds} "
        f"rounds (min … max). The range covers the true median ratio with probability {coverage} (sign test); a "
        "difference is real when it leaves out 1.",
        "",
        *table(["pair", "CPU per chat", "requests/s", "p99 (closed loop)"], pair_rows(results, fixed=False)),
        "",
        f"Warm `message_assembly` (ours' `/api/v1/performance/reports`): p50 "
        f"{percentile(results.probes['under load'], 50):.2f} ms under load; one client at a time "
        f"{percentile(results.probes['one client'], 50):.2f} ms.",
        "",
        f"Below saturation: the pairs took {results.fixed_rate:.0f} chats/s ({plan.fixed_rate_share:.0%} of what off "
        f"sustained), open loop, latency from each chat's due time, in {fixed_rounds} rounds of "
        f"{plan.fixed_rate_seconds:.0f} s per pair, the two services of a pair at the same time (each at that rate). "
        "Pooled per service, then the paired ratios (median over the rounds, min … max):",
        "",
        *table(
            ["peer", "p50 (ms)", "p99 (ms)", "max (ms)"],
            [
                [f"`{name}`", *(f"{run.fixed_p(q):.1f}" for q in (50, 99, 100))]
                for name, run in results.runs.items()
                if run.fixed
            ],
        ),
        "",
        *table(["pair", "p50", "p99", "CPU per chat"], pair_rows(results, fixed=True)),
        "",
        *encoding_lines(results),
        "Spans exported per chat, by name:",
        "",
        *table(["peer", "spans per chat"], span_rows(results)),
        "",
        *targets_table(targets(results)),
    ]
    return "\n".join(lines) + "\n"
