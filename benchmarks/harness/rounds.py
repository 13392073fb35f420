"""Chat load in paired rounds: every ratio between two services comes from segments run back to back.

A round runs each pair (a peer and its reference: ours and the SDK floor, a peer and off) back to back,
one closed-loop segment each; the next round runs the whole sequence reversed, so neither side of a pair
always goes first. At a fixed rate below saturation the two services of a pair take their chats at the same
time instead (each its own rate, so neither slows the other's arrivals), and a stall of the shared machine
lands in both tails. A ratio is taken per round, between the two segments of the pair, and reported as the median
over the rounds with its range: with n rounds the min … max covers the true median ratio with probability
1 − 2 · 0.5ⁿ (99.2 % for 8), whatever the machine's noise does, as long as it treats both sides of a pair
alike. A difference is real when the range leaves out 1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from perftrace.analysis.report import percentile
from testsupport.report import median

from benchmarks.harness.load import RoundResult, drive, drive_at_rate, measured, process_rss_mib
from benchmarks.harness.peers import Peer, running_backends, running_peer

#: Longer than any peer's export schedule (the SDK's default 5 s): Logfire, for one, drops what it has not
#: exported when the process stops, so the peers idle this long before they are stopped.
EXPORT_SETTLE_SECONDS = 7.0

#: (peer, reference): the ratio is the peer's figure over the reference's.
Pair = tuple[str, str]
#: Per round, the pair's two segments in the pair's order.
PairedSegments = dict[Pair, list[tuple[RoundResult, RoundResult]]]


@dataclass(frozen=True)
class LoadPlan:
    """How hard and how long the services are driven.

    Attributes:
        concurrency: clients of the closed-loop segments.
        warmup_requests: chats each service answers before anything is measured.
        requests_per_segment: chats of one closed-loop segment.
        rounds: closed-loop rounds.
        fixed_rate_share: the open-loop arrival rate, as a share of what the first service sustained.
        fixed_rate_seconds: length of one open-loop segment.
        fixed_rate_rounds: open-loop rounds (0: none).
    """

    concurrency: int
    warmup_requests: int
    requests_per_segment: int
    rounds: int
    fixed_rate_share: float = 0.2
    fixed_rate_seconds: float = 8.0
    fixed_rate_rounds: int = 0


@dataclass
class PeerRun:
    """Every segment of one peer, pooled, and what it exported."""

    segments: list[RoundResult] = field(default_factory=list)
    fixed: list[RoundResult] = field(default_factory=list)
    chats: int = 0
    rss_mib: float = 0.0
    spans: dict[str, int] = field(default_factory=dict)

    def median(self, figure: str) -> float:
        """Median over the closed-loop segments of a ``RoundResult`` property (``rps``, ``cpu_ms_per_chat``...)."""
        return median([getattr(r, figure) for r in self.segments])

    def fixed_p(self, q: float) -> float:
        """The q-th percentile (0–100) over every fixed-rate chat."""
        return percentile([ms for r in self.fixed for ms in r.latencies_ms], q)

    @property
    def spans_per_chat(self) -> float:
        """Spans the receiver got from this peer, per chat sent to it."""
        return sum(self.spans.values()) / self.chats if self.chats else 0.0


@dataclass(frozen=True)
class Ratio:
    """One figure of a pair, per round: the peer's over the reference's."""

    values: list[float]

    def text(self, digits: int = 3) -> str:
        """``median (min … max)``."""
        if not self.values:
            return "–"
        low, mid, high = min(self.values), median(self.values), max(self.values)
        return f"{mid:.{digits}f} ({low:.{digits}f} … {high:.{digits}f})"

    @property
    def median(self) -> float:
        """Median over the rounds."""
        return median(self.values)


@dataclass
class Results:
    """Every peer's segments and the pairs' ratios."""

    plan: LoadPlan
    peers: Mapping[str, Peer]
    runs: dict[str, PeerRun]
    closed: PairedSegments = field(default_factory=dict)
    fixed: PairedSegments = field(default_factory=dict)
    fixed_rate: float = 0.0
    probes: dict[str, list[float]] = field(default_factory=dict)

    def ratio(self, pair: Pair, figure: str, fixed: bool = False) -> Ratio:
        """The pair's per-round ratios of a ``RoundResult`` property."""
        rounds = (self.fixed if fixed else self.closed).get(pair, [])
        return Ratio([getattr(mine, figure) / getattr(theirs, figure) for mine, theirs in rounds])


def paired_rounds(
    pairs: Sequence[Pair], rounds: int, segment: Callable[[Pair], Sequence[RoundResult]]
) -> PairedSegments:
    """``segment`` runs a pair's two services in the order given; every other round runs everything reversed."""
    found: PairedSegments = {pair: [] for pair in pairs}
    for index in range(rounds):
        forward = index % 2 == 0
        for pair in pairs if forward else pairs[::-1]:
            first, second = segment(pair if forward else (pair[1], pair[0]))
            found[pair].append((first, second) if forward else (second, first))
    return found


#: Called between the closed-loop and the fixed-rate rounds with every service's URL by name.
Probe = Callable[[Mapping[str, str], Results], None]


@dataclass
class Segments:
    """The running services, and one segment of load against one of them."""

    plan: LoadPlan
    services: Mapping[str, tuple[str, int]]
    results: Results

    def closed_loop(self, pair: Pair) -> list[RoundResult]:
        """The pair's services one after the other, each under the closed-loop load."""
        requests, concurrency = self.plan.requests_per_segment, self.plan.concurrency
        return [
            self.pool(name, measured([(pid, drive(url, requests, concurrency))])[0], False)
            for name, (url, pid) in ((name, self.services[name]) for name in pair)
        ]

    def fixed_rate(self, pair: Pair) -> list[RoundResult]:
        """The pair's services at the same time, each at the fixed rate: a stall of the machine hits both."""
        rate, seconds = self.results.fixed_rate, self.plan.fixed_rate_seconds
        loads = [(self.services[name][1], drive_at_rate(self.services[name][0], rate, seconds)) for name in pair]
        return [self.pool(name, result, True) for name, result in zip(pair, measured(loads), strict=True)]

    def pool(self, name: str, result: RoundResult, fixed: bool) -> RoundResult:
        """Add a segment to the service's run."""
        run = self.results.runs[name]
        (run.fixed if fixed else run.segments).append(result)
        run.chats += result.requests
        return result


def measure(
    plan: LoadPlan,
    workdir: Path,
    peers: Mapping[str, Peer],
    pairs: Sequence[Pair],
    fixed_pairs: Sequence[Pair] = (),
    probe: Probe | None = None,
) -> Results:
    """Start the backends and the peers; warm-up, closed-loop rounds, ``probe``, fixed-rate rounds; count spans."""
    results = Results(plan, peers, {name: PeerRun() for name in peers})
    with running_backends(workdir) as backends:
        with ExitStack() as stack:
            started = {name: stack.enter_context(running_peer(name, p, backends, workdir)) for name, p in peers.items()}
            services = {name: (url, process.process.pid) for name, (url, process) in started.items()}
            segments = Segments(plan, services, results)
            for name, (url, _) in services.items():
                asyncio.run(drive(url, plan.warmup_requests, plan.concurrency))
                results.runs[name].chats += plan.warmup_requests
            results.closed = paired_rounds(pairs, plan.rounds, segments.closed_loop)
            if probe is not None:
                probe({name: url for name, (url, _) in services.items()}, results)
            results.fixed_rate = plan.fixed_rate_share * results.runs[next(iter(peers))].median("rps")
            results.fixed = paired_rounds(fixed_pairs, plan.fixed_rate_rounds, segments.fixed_rate)
            for name, (_, pid) in services.items():
                results.runs[name].rss_mib = process_rss_mib(pid)
            time.sleep(EXPORT_SETTLE_SECONDS)
        counts = backends.span_counts()
    for name, run in results.runs.items():
        run.spans = counts.get(name, {})
    return results
