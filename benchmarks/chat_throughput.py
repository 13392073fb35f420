"""What tracing costs a chat, side by side with what a user would pick instead, in paired rounds.

The peers (``harness/peers.py``): off (``OTEL_SDK_DISABLED=true``: nothing installed), ours as shipped, the
SDK floor (ours without the buffer, ``/performance`` data and ``[Performance]`` line), zero-code
OpenTelemetry and Logfire, and for the tail two variants of ours (nothing exported; small export batches),
each a real process on loopback exporting OTLP/HTTP to the same counting receiver. Each is warmed up, then
driven in paired rounds (``harness/rounds.py``): ours and the floor, and each peer and off, back to back in
every round, by a closed-loop load of new conversations from a fixed number of clients. Per peer: requests/s,
p50/p99, the process's CPU per chat (/proc), the spans the receiver got per chat, the tracing CPU per
exported span, RSS after the run; per pair, each ratio's median over the rounds and its range. Then the
pairs take chats at one fixed rate below capacity (open loop), for the tail that tracing, and the
exporter's batches in particular, might add beyond the queue.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import httpx
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, MESSAGE_ASSEMBLY
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.types import AttributeValue
from testsupport.report import median

from benchmarks.harness.chat_report import DEFAULT_BATCH, SMALL_BATCH, render
from benchmarks.harness.load import drive
from benchmarks.harness.peers import PEERS
from benchmarks.harness.rounds import LoadPlan, Results, measure

FULL = LoadPlan(concurrency=8, warmup_requests=60, requests_per_segment=200, rounds=8, fixed_rate_rounds=4)
#: Enough to see that everything works, and rough ratios, in a few minutes.
QUICK = replace(FULL, warmup_requests=16, requests_per_segment=30, rounds=3, fixed_rate_seconds=3, fixed_rate_rounds=2)
#: (peer, reference) run back to back in every closed-loop round.
CLOSED_PAIRS = (
    ("ours", "floor"),
    ("ours", "off"),
    ("floor", "off"),
    ("zero_code", "off"),
    ("logfire", "off"),
    ("ours_unexported", "ours"),
)
#: The same at a fixed rate: each peer against off, and what a user can set against the exporter's batches.
FIXED_PAIRS = (
    ("ours", "off"),
    ("floor", "off"),
    ("zero_code", "off"),
    ("logfire", "off"),
    ("ours_unexported", "ours"),
    ("ours_small_batches", "ours"),
)
#: Five attributes, as a chat's spans carry (HTTP, GenAI, stage details).
SPAN_ATTRIBUTES: dict[str, AttributeValue] = {
    "http.route": "/api/v1/chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 1834,
    "chat.history_messages_kept": 4,
    "code.function.name": "ha_ai_agent.chat.pipeline.ChatAgent._assemble",
}
#: Sequential chats for ours' warm ``message_assembly`` one client at a time.
SEQUENTIAL_PROBE = 20


def stage_durations_ms(base_url: str, since_epoch_seconds: float) -> list[float]:
    """``message_assembly`` durations of the service's kept reports that started after a moment."""
    reports = httpx.get(f"{base_url}/api/v1/performance/reports", timeout=30).json()
    return [
        metric["duration"] * 1000
        for report in reports
        if report["timestamp"] >= since_epoch_seconds
        for metric in report["metrics"]
        if metric["name"] == MESSAGE_ASSEMBLY and metric["duration"] is not None
    ]


def probe_assembly(urls: Mapping[str, str], results: Results) -> None:
    """Ours' warm ``message_assembly``: its last reports under load, then one client at a time."""
    url = urls["ours"]
    results.probes["under load"] = stage_durations_ms(url, 0.0)
    probe_since = time.time()
    asyncio.run(drive(url, SEQUENTIAL_PROBE, 1))
    results.runs["ours"].chats += SEQUENTIAL_PROBE
    results.probes["one client"] = stage_durations_ms(url, probe_since)


def encode_cpu_ms(batch_sizes: tuple[int, ...], repeat: int) -> dict[int, float]:
    """CPU ms of this thread the OTLP/HTTP exporter spends encoding one batch (under the GIL), per batch size."""
    provider, kept = TracerProvider(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("benchmarks")
    with tracer.start_as_current_span(CHAT_SERVER_SPAN, attributes=SPAN_ATTRIBUTES):
        for _ in range(max(batch_sizes)):
            with tracer.start_as_current_span(MESSAGE_ASSEMBLY, attributes=SPAN_ATTRIBUTES):
                pass
    spans = kept.get_finished_spans()
    found = {}
    for size in batch_sizes:
        times = []
        for _ in range(repeat):
            started = time.thread_time_ns()
            encode_spans(spans[:size]).SerializePartialToString()  # what OTLPSpanExporter.export does first
            times.append((time.thread_time_ns() - started) / 1e6)
        found[size] = median(times)
    return found


def run(quick: bool) -> str:
    """Run the whole benchmark; return the Markdown section."""
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="chat-throughput-") as workdir:
        results = measure(QUICK if quick else FULL, Path(workdir), PEERS, CLOSED_PAIRS, FIXED_PAIRS, probe_assembly)
    results.probes["encode"] = list(encode_cpu_ms((DEFAULT_BATCH, SMALL_BATCH), 5 if quick else 31).values())
    return render(results, started)
