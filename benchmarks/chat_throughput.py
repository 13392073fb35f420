"""What tracing costs a chat, side by side with what a user would pick instead, all in one run.

The peers of ``service_peers``: off (``OTEL_SDK_DISABLED=true``: nothing installed), ours as shipped, the SDK
floor (ours without the buffer, ``/performance`` data and ``[Performance]`` line), zero-code OpenTelemetry and
Logfire, each a real process on loopback exporting OTLP/HTTP to the same counting receiver. Each is warmed
up, then driven in interleaved rounds (the order reversed every other round, one service at a time) by a
bounded closed-loop load of new conversations from a fixed number of clients. Per peer: requests/s, p50/p99,
the process's CPU per chat (/proc), the spans the receiver got per chat, the tracing CPU per exported span
(CPU per chat above off's, over the spans), RSS after the run. Then every peer takes chats at one fixed
rate below capacity (open loop), for the latency tail that tracing might add beyond the queue.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from ha_ai_agent.semconv import MESSAGE_ASSEMBLY
from perftrace.analysis import percentile
from testsupport.report import median

from benchmarks.harness.chat_report import render
from benchmarks.harness.load import RoundResult, drive, drive_at_rate, drive_measured, process_rss_mib
from benchmarks.harness.peers import PEERS, Peer, running_backends, running_peer

STAGE = MESSAGE_ASSEMBLY
#: Longer than any peer's export schedule (the SDK's default 5 s): Logfire, for one, drops what it has not
#: exported when the process stops, so the peers idle this long before they are stopped.
EXPORT_SETTLE_SECONDS = 7.0


@dataclass(frozen=True)
class LoadPlan:
    """How hard and how long each service is driven."""

    concurrency: int
    warmup_requests: int
    requests_per_round: int
    rounds: int
    sequential_probe: int
    fixed_rate_share: float = 0.3
    fixed_rate_seconds: float = 15.0
    fixed_rate_rounds: int = 2


FULL = LoadPlan(concurrency=8, warmup_requests=60, requests_per_round=500, rounds=6, sequential_probe=40)
QUICK = LoadPlan(
    concurrency=8,
    warmup_requests=16,
    requests_per_round=60,
    rounds=2,
    sequential_probe=10,
    fixed_rate_seconds=3.0,
    fixed_rate_rounds=1,
)


@dataclass
class PeerRun:
    """Everything measured of one peer."""

    rounds: list[RoundResult] = field(default_factory=list)
    fixed: list[RoundResult] = field(default_factory=list)
    chats: int = 0
    rss_mib: float = 0.0
    spans: dict[str, int] = field(default_factory=dict)

    def median(self, figure: str) -> float:
        """Median over the rounds of a ``RoundResult`` property (``rps``, ``cpu_ms_per_chat``, ...)."""
        return median([getattr(r, figure) for r in self.rounds])

    def fixed_p(self, q: float) -> float:
        """The q-th percentile (0–100) over every fixed-rate chat."""
        return percentile([ms for r in self.fixed for ms in r.latencies_ms], q)

    @property
    def spans_per_chat(self) -> float:
        """Spans the receiver got from this peer, per chat sent to it."""
        return sum(self.spans.values()) / self.chats if self.chats else 0.0


@dataclass
class ThroughputResults:
    """Every peer's run, and ours' warm stage durations."""

    plan: LoadPlan
    peers: Mapping[str, Peer]
    runs: dict[str, PeerRun]
    assembly_under_load_ms: list[float] = field(default_factory=list)
    assembly_sequential_ms: list[float] = field(default_factory=list)
    fixed_rate: float = 0.0


def stage_durations_ms(base_url: str, since_epoch_seconds: float) -> list[float]:
    """``message_assembly`` durations of the service's kept reports that started after a moment."""
    reports = httpx.get(f"{base_url}/api/v1/performance/reports", timeout=30).json()
    return [
        metric["duration"] * 1000
        for report in reports
        if report["timestamp"] >= since_epoch_seconds
        for metric in report["metrics"]
        if metric["name"] == STAGE and metric["duration"] is not None
    ]


def interleaved(names: list[str], index: int) -> list[str]:
    """The peers in the order of round ``index``: reversed every other round."""
    return names if index % 2 == 0 else names[::-1]


def run_rounds(plan: LoadPlan, services: Mapping[str, tuple[str, int]], runs: dict[str, PeerRun]) -> None:
    """Warm-up, then the measured closed-loop rounds, interleaved."""
    for name, (url, _) in services.items():
        asyncio.run(drive(url, plan.warmup_requests, plan.concurrency))
        runs[name].chats += plan.warmup_requests
    for index in range(plan.rounds):
        for name in interleaved(list(services), index):
            url, pid = services[name]
            runs[name].rounds.append(drive_measured(url, pid, plan.requests_per_round, plan.concurrency))
            runs[name].chats += plan.requests_per_round


def probe_assembly(plan: LoadPlan, url: str, results: ThroughputResults, since: float) -> None:
    """Ours' warm ``message_assembly`` under load (from its own reports), then one client at a time."""
    results.assembly_under_load_ms = stage_durations_ms(url, since)
    probe_since = time.time()
    asyncio.run(drive(url, plan.sequential_probe, 1))
    results.runs["ours"].chats += plan.sequential_probe
    results.assembly_sequential_ms = stage_durations_ms(url, probe_since)


def run_fixed_rate(plan: LoadPlan, services: Mapping[str, tuple[str, int]], results: ThroughputResults) -> None:
    """The same open-loop arrival rate for every peer: a share of what the first peer (off) sustained."""
    first = next(iter(services))
    results.fixed_rate = plan.fixed_rate_share * results.runs[first].median("rps")
    for index in range(plan.fixed_rate_rounds):
        for name in interleaved(list(services), index):
            run = asyncio.run(drive_at_rate(services[name][0], results.fixed_rate, plan.fixed_rate_seconds))
            results.runs[name].fixed.append(run)
            results.runs[name].chats += run.requests


def measure(plan: LoadPlan, workdir: Path, peers: Mapping[str, Peer]) -> ThroughputResults:
    """Start the backends and the peers, drive them, stop the peers (flushing their spans), count the spans."""
    results = ThroughputResults(plan, peers, {name: PeerRun() for name in peers})
    with running_backends(workdir) as backends:
        with ExitStack() as stack:
            started = {name: stack.enter_context(running_peer(name, p, backends, workdir)) for name, p in peers.items()}
            services = {name: (url, process.process.pid) for name, (url, process) in started.items()}
            warm_since = time.time()
            run_rounds(plan, services, results.runs)
            if "ours" in services:
                probe_assembly(plan, services["ours"][0], results, warm_since)
            run_fixed_rate(plan, services, results)
            for name, (_, pid) in services.items():
                results.runs[name].rss_mib = process_rss_mib(pid)
            time.sleep(EXPORT_SETTLE_SECONDS)
        counts = backends.span_counts()
    for name, run in results.runs.items():
        run.spans = counts.get(name, {})
    return results


def run(quick: bool = False, peer_names: list[str] | None = None) -> str:
    """Run the whole benchmark; return the Markdown section."""
    started = dt.datetime.now(dt.UTC)
    peers = {name: PEERS[name] for name in peer_names or PEERS}
    with tempfile.TemporaryDirectory(prefix="chat-throughput-") as workdir:
        results = measure(QUICK if quick else FULL, Path(workdir), peers)
    return render(results, started)
