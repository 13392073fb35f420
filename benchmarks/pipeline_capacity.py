"""Capacity of every hop of the scale-out layer: spans per second per core, and memory, measured on real programs.

Runs docker-compose.scale.yml's layout as the tests do (testsupport.scaleout over testsupport.cassandra): the agent
collector, Kafka, one or two gateways (span metrics, and the shipped tail sampling policies keeping a smaller share
than the shipped 10 %, so that Cassandra keeps up), two Jaegers over a three-node Cassandra cluster. Tempo is not
run (our module proxy refuses it), so the gateways get a config on top that leaves its exporter out of their
pipeline: otherwise its queue would fill with every kept span, never sent, and count in their memory.

First an idle phase (everything up, no load) gives each hop's fixed CPU per process (timers, heartbeats, gossip,
the scrapes). Then a steady load of OTLP/protobuf requests (20-span traces with 8 attributes a span, fresh trace ids
in every request) goes to the agent at a fixed rate for the rest of the run, and rounds alternate one gateway and
two gateways (the second started, then stopped with SIGTERM), each phase measured over the same window length
after the consumer group settled. In every phase each hop's CPU time (utime + stime of its processes, from /proc)
is set against the spans that hop handled (its own counters: spans accepted by the agent, sent to Kafka, taken
from Kafka by the gateways, written by the Jaegers): spans per CPU-second, once with all CPU and once with the CPU
above the idle phase's. CPU time, unlike wall time, stays meaningful on a shared, loaded machine. Memory is each
process's resident set at the end of a phase. The sizing table scales Jaeger's and Cassandra's figures (per span
they write) to the shipped share.

Runs alone (it starts Cassandra on the fixed addresses 127.0.0.2-4): ``python -m benchmarks --only
pipeline_capacity [--quick]``; writes section ``pipeline_capacity`` of docs/performance.md.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from testsupport.cassandra import HEAP as CASSANDRA_HEAP
from testsupport.cassandra import running_cassandra
from testsupport.report import figure, section_preamble, table
from testsupport.scaleout import ScaleOut, metric_sum, running_scaleout
from testsupport.stack import built_backends

from benchmarks.harness.load import process_cpu_seconds, process_rss_mib

TRACES_PER_REQUEST = 5
SPANS_PER_TRACE = 20
SPANS_PER_REQUEST = TRACES_PER_REQUEST * SPANS_PER_TRACE
SENDERS = 2
#: Spans/s sent to the agent, and the share of the traces the gateways keep in the run: the front hops get enough
#: work that their fixed costs weigh little, while Jaeger and Cassandra, which get only the kept share, keep up on
#: two shared cores.
RATE = 2000.0
KEPT_PERCENT = 2.5
#: The shipped share of ordinary traces (collector/tail-sampling.yaml, OTELCOL_SAMPLING_PERCENT): what the sizing
#: assumes reaches Jaeger and Cassandra.
SHIPPED_KEPT_PERCENT = 10
#: The Tempo exporter left out of the gateways' trace pipeline (see the module docstring).
WITHOUT_TEMPO = "service:\n  pipelines:\n    traces/store:\n      exporters: [otlp_grpc/jaeger]\n"
#: Seconds: before the idle phase, after a gateway joined or left, and under load before the first phase.
SETTLE_S = 10.0
WARMUP_S = 60.0
#: Spans/s sent to the agent that the sizing table is worked out for.
SIZING_RATES = (1_000, 5_000, 20_000)
#: Size for this share of a core at most: headroom for bursts and for the catch-up after an outage.
TARGET_UTILIZATION = 0.5


def request_template() -> tuple[bytes, list[bytes]]:
    """One serialized request whose trace ids are placeholders, and the placeholders (replaced per request)."""
    now = time.time_ns()
    markers = [bytes([0xA0 + number]) * 16 for number in range(TRACES_PER_REQUEST)]
    spans = []
    for marker in markers:
        for number in range(SPANS_PER_TRACE):
            attributes = [
                KeyValue(key=f"capacity.attribute_{i}", value=AnyValue(string_value=f"value-{i}-{number}"))
                for i in range(8)
            ]
            spans.append(
                Span(
                    trace_id=marker,
                    span_id=(number + 1).to_bytes(8, "big"),
                    parent_span_id=b"" if number == 0 else (1).to_bytes(8, "big"),
                    name="capacity-root" if number == 0 else f"capacity-stage-{number}",
                    kind=Span.SPAN_KIND_SERVER if number == 0 else Span.SPAN_KIND_INTERNAL,
                    start_time_unix_nano=now,
                    end_time_unix_nano=now + (50_000_000 if number == 0 else 2_000_000),
                    attributes=attributes,
                )
            )
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="capacity-probe"))])
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
    )
    return request.SerializeToString(), markers


class SteadyLoad:
    """``SENDERS`` threads posting requests to the agent's OTLP/HTTP endpoint at ``rate`` spans/s in all."""

    def __init__(self, endpoint: str, rate: float) -> None:
        self._endpoint = f"{endpoint}/v1/traces"
        self._interval_s = SPANS_PER_REQUEST * SENDERS / rate
        self._template, self._markers = request_template()
        self._stop = threading.Event()
        self.failed = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(SENDERS)]

    def _payload(self) -> bytes:
        payload = self._template
        for marker in self._markers:
            payload = payload.replace(marker, os.urandom(16))
        return payload

    def _run(self) -> None:
        headers = {"content-type": "application/x-protobuf"}
        next_at = time.monotonic()
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    ok = client.post(self._endpoint, content=self._payload(), headers=headers).is_success
                except httpx.HTTPError:
                    ok = False
                with self._lock:
                    self.failed += not ok
                next_at += self._interval_s
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> SteadyLoad:
        """Start sending."""
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop sending."""
        self._stop.set()
        for thread in self._threads:
            thread.join(15)


@dataclass
class Hop:
    """One hop: its processes (by pid), how many spans it handled so far, and whether it gets only kept spans."""

    name: str
    pids: Callable[[], list[int]]
    spans: Callable[[], float]
    behind_sampling: bool = False


@dataclass
class Reading:
    """CPU seconds and spans of every hop at one moment."""

    at: float
    cpu: dict[str, float] = field(default_factory=dict)
    spans: dict[str, float] = field(default_factory=dict)
    rss: dict[str, list[float]] = field(default_factory=dict)


def hops(layout: ScaleOut) -> list[Hop]:
    """The hops of the layout, each with its processes and its own span counter."""
    cluster = layout.cassandra
    assert cluster is not None
    agent_metrics = f"http://127.0.0.1:{layout.ports['collector_metrics']}/metrics"

    def alive(names: tuple[str, ...]) -> list[int]:
        return [p.process.pid for p in layout.stack.processes if p.name.startswith(names) and p.process.poll() is None]

    def taken_from_kafka() -> float:
        running = zip(layout.gateways, layout.gateway_metrics, strict=True)
        urls = [url for gateway, url in running if gateway.process.poll() is None]
        return sum(metric_sum(url, "otelcol_receiver_accepted_spans", 'receiver="kafka"') for url in urls)

    def written() -> float:
        urls = [f"http://127.0.0.1:{ports['jaeger_metrics']}/metrics" for ports in layout.jaegers]
        return sum(metric_sum(url, "otelcol_exporter_sent_spans", 'exporter="jaeger_storage_exporter"') for url in urls)

    return [
        Hop("agent collector", lambda: alive(("otel-collector",)),
            lambda: metric_sum(agent_metrics, "otelcol_receiver_accepted_spans", 'receiver="otlp"')),
        Hop("Kafka (1 broker)", lambda: [layout.kafka.process.process.pid] if layout.kafka.process else [],
            lambda: metric_sum(agent_metrics, "otelcol_exporter_sent_spans", 'exporter="kafka"')),
        Hop("gateways", lambda: alive(("otel-gateway",)), taken_from_kafka),
        Hop("Jaeger ×2 (writing)", lambda: alive(("jaeger-",)), written, True),
        Hop("Cassandra ×3 (RF 2)", lambda: [n.process.process.pid for n in cluster.nodes if n.process], written, True),
    ]  # fmt: skip


def read(layout_hops: list[Hop]) -> Reading:
    """CPU and spans of every hop now, and each hop's resident sets."""
    reading = Reading(time.monotonic())
    for hop in layout_hops:
        pids = hop.pids()
        reading.cpu[hop.name] = sum(process_cpu_seconds(pid) for pid in pids)
        reading.spans[hop.name] = hop.spans()
        reading.rss[hop.name] = [process_rss_mib(pid) for pid in pids]
    return reading


@dataclass
class Phase:
    """One measured window: the gateways running (0: idle, no load), per hop CPU seconds, spans and resident sets."""

    gateways: int
    seconds: float
    cpu: dict[str, float]
    spans: dict[str, float]
    rss: dict[str, list[float]]

    def processes(self, hop: str) -> int:
        """How many processes the hop had at the end of the window."""
        return len(self.rss[hop])

    def cores_per_process(self, hop: str) -> float:
        """Cores one of the hop's processes used on average over the window."""
        return self.cpu[hop] / self.seconds / self.processes(hop)

    def rate(self, hop: str) -> float:
        """Spans per second the hop handled."""
        return self.spans[hop] / self.seconds

    def per_cpu_second(self, hop: str, idle: Phase | None = None) -> float:
        """Spans per CPU-second of the hop; with ``idle``, per CPU-second above its idle processes' CPU."""
        cpu = self.cpu[hop]
        if idle is not None:
            cpu -= idle.cores_per_process(hop) * self.processes(hop) * self.seconds
        return self.spans[hop] / cpu if cpu > 0 else math.inf


def measure_phase(layout_hops: list[Hop], gateways: int, seconds: float) -> Phase:
    """Read every hop before and after a window of ``seconds``."""
    before = read(layout_hops)
    time.sleep(seconds)
    after = read(layout_hops)
    names = [hop.name for hop in layout_hops]
    return Phase(
        gateways,
        after.at - before.at,
        {name: after.cpu[name] - before.cpu[name] for name in names},
        {name: after.spans[name] - before.spans[name] for name in names},
        after.rss,
    )


@dataclass
class Run:
    """The phases of one run and what the machine's load was around them."""

    idle: Phase
    loaded: list[Phase]
    #: The hops that get only the kept spans.
    behind_sampling: set[str]
    load_averages: list[str]
    failed_requests: int

    def of(self, gateways: int) -> list[Phase]:
        """The loaded phases with that many gateways."""
        return [phase for phase in self.loaded if phase.gateways == gateways]

    def sized_share(self, hop: str) -> float:
        """The share of the spans sent to the agent that the hop handles with the shipped sampling."""
        return SHIPPED_KEPT_PERCENT / 100 if hop in self.behind_sampling else 1.0


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as uptime shows them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def run_rounds(layout: ScaleOut, rounds: int, phase_s: float, warmup_s: float) -> Run:
    """Idle, then under load: per round one gateway, then two (the second started, measured, then stopped)."""
    layout_hops = hops(layout)
    time.sleep(SETTLE_S)
    idle = measure_phase(layout_hops, 0, phase_s)
    load_averages = [load_average()]
    load = SteadyLoad(layout.stack.collector_otlp_http, RATE).start()
    loaded: list[Phase] = []
    try:
        time.sleep(warmup_s)
        for _ in range(rounds):
            loaded.append(measure_phase(layout_hops, 1, phase_s))
            second = layout.add_gateway()
            time.sleep(SETTLE_S)
            loaded.append(measure_phase(layout_hops, 2, phase_s))
            second.stop()
            time.sleep(SETTLE_S)
            load_averages.append(load_average())
    finally:
        load.stop()
    behind = {hop.name for hop in layout_hops if hop.behind_sampling}
    return Run(idle, loaded, behind, load_averages, load.failed)


def spread(values: list[float]) -> str:
    """Median with the range."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "—"
    if len(finite) == 1:
        return figure(finite[0])
    return f"{figure(statistics.median(finite))} ({figure(min(finite))}–{figure(max(finite))})"


def hop_row(name: str, phases: list[Phase], idle: Phase, share: float) -> list[str]:
    """One row of the capacity table over ``phases``."""
    handled = [p.rate(name) for p in phases]
    above_idle = [p.per_cpu_second(name, idle) for p in phases]
    return [
        name,
        str(phases[0].processes(name)),
        spread(handled),
        spread([p.cpu[name] / p.seconds for p in phases]),
        figure(idle.cores_per_process(name) * phases[0].processes(name)),
        spread([p.per_cpu_second(name) for p in phases]),
        spread(above_idle),
        spread([value / share for value in above_idle]),
        f"{max(max(p.rss[name]) for p in phases):.0f}",
    ]


def capacity_lines(run: Run, names: list[str]) -> list[str]:
    """The capacity table, the gateways' ratio and the first bottleneck."""
    one, two, idle = run.of(1), run.of(2), run.idle
    rows = [hop_row(name, one, idle, run.sized_share(name)) for name in names]
    gateways = names[2]
    if two:
        rows.append(hop_row(gateways, two, idle, 1.0))
        rows[-1][0] = "gateways ×2"
    lines = table(
        [
            "hop", "processes", "spans/s handled", "CPU used (cores)", "idle CPU (cores)", "spans per CPU-second",
            "spans per CPU-second above idle", f"spans/s sent to the agent per core ({SHIPPED_KEPT_PERCENT} % kept)",
            "max RSS per process (MiB)",
        ],
        rows,
    )  # fmt: skip
    if two:
        paired = list(zip(one, two, strict=False))
        above = [b.per_cpu_second(gateways, idle) / a.per_cpu_second(gateways, idle) for a, b in paired]
        whole = [b.per_cpu_second(gateways) / a.per_cpu_second(gateways) for a, b in paired]
        lines += [
            "",
            "Two gateways against one, same run, each round's two-gateway phase over its one-gateway phase: spans "
            f"per CPU-second above idle **{spread(above)}**, with all CPU {spread(whole)}. Above idle near 1 means "
            "the work per span does not grow with gateways: Kafka's partitions split the traces and the gateways "
            "share nothing, so two on two cores carry twice what one carries on one; with all CPU the second "
            "gateway's own fixed cost shows, which a gateway with real work to do pays only once.",
        ]
    per_core = {name: sent_per_core(run, name) for name in names}
    first = min(per_core, key=lambda name: per_core[name])
    ingested, stored = names[0], names[-1]
    kept = [p.rate(stored) / (p.rate(ingested) * KEPT_PERCENT / 100) for p in one]
    lines += [
        "",
        f"First bottleneck, per core: **{first}**, one core of it for every {figure(per_core[first])} spans/s sent "
        "to the agent (above idle, all loaded phases together), the next being "
        + ", ".join(f"{name} {figure(per_core[name])}" for name in sorted(per_core, key=per_core.__getitem__)[1:])
        + f". The Jaegers wrote {spread(kept)} × the kept share of what the agent took: near 1, Cassandra kept "
        "up; below, it was the limit at the time and the gateways held the rest in their sending queues.",
    ]
    return lines


def sent_per_core(run: Run, name: str) -> float:
    """Spans/s sent to the agent that one core of the hop carries above idle, over every loaded phase together.

    Pooled rather than a median of phases: background work that comes in bursts (a compaction, a flush) falls in
    some phases only, and is part of the cost of every span all the same. Two gateways count as one hop.
    """
    idle = run.idle.cores_per_process(name)
    cpu = sum(p.cpu[name] - idle * p.processes(name) * p.seconds for p in run.loaded)
    return sum(p.spans[name] for p in run.loaded) / cpu / run.sized_share(name) if cpu > 0 else math.inf


def sizing_lines(run: Run, names: list[str]) -> list[str]:
    """Cores each hop needs for the sizing rates: its idle CPU plus the spans above idle at the target use."""
    rows = []
    for name in names:
        per_core, fixed = sent_per_core(run, name), run.idle.cpu[name] / run.idle.seconds
        rows.append([name, *(f"{fixed + rate / per_core / TARGET_UTILIZATION:.1f}" for rate in SIZING_RATES)])
    return [
        "",
        "Cores each hop needs: its idle CPU as measured, plus the spans at its CPU per span above idle over "
        f"all loaded phases together, with {TARGET_UTILIZATION:.0%} of the cores busy (room for bursts and "
        "catch-up); for spans/s sent to the agent with "
        f"{SHIPPED_KEPT_PERCENT} % of the traces kept (the shipped share; errors and slow traces add to it):",
        "",
        *table(["hop", *(f"{rate:,} spans/s" for rate in SIZING_RATES)], rows),
    ]


def report(run: Run, phase_s: float, started: dt.datetime) -> str:
    """The docs/performance.md section: per-hop figures, the gateway ratio, the bottleneck, a sizing table."""
    names = list(run.idle.cpu)
    lines = section_preamble("Pipeline capacity, every hop (`benchmarks/pipeline_capacity.py`)", started)
    lines += [
        f"A steady {RATE:.0f} spans/s (OTLP/protobuf, {SPANS_PER_TRACE}-span traces, 8 attributes a span) into the "
        f"scale-out layout on real programs, the gateways keeping {KEPT_PERCENT} % of the traces (the shipped "
        "tail sampling policies at a lower share, so that Cassandra keeps up; no Tempo). An idle phase, then "
        f"{len(run.of(1))} rounds of one gateway then two, "
        f"{phase_s:.0f} s each; figures are the median (range) over the rounds. CPU is each hop's processes' "
        "user + system time from /proc; spans are each hop's own counters. Load average (1, 5, 15 min) at the "
        f"idle phase and after each round: {'; '.join(run.load_averages)}. Requests the agent refused or that "
        f"failed: {run.failed_requests}. Cassandra runs the tests' node settings ({' '.join(CASSANDRA_HEAP)}, "
        "a third of compose's heap), Jaeger its shipped store config (every span attribute indexed).",
        "",
    ]
    lines += capacity_lines(run, names)
    lines += sizing_lines(run, names)
    return "\n".join(lines) + "\n"


def measure(rounds: int, phase_s: float, warmup_s: float) -> Run:
    """Start the cluster and the layout, run the rounds, stop everything."""
    jars = built_backends()["cassandra"]
    with tempfile.TemporaryDirectory(prefix="pipeline-capacity-") as scratch:
        work = Path(scratch)
        without_tempo = work / "gateway-without-tempo.yaml"
        without_tempo.write_text(WITHOUT_TEMPO, encoding="utf-8")
        env = {"OTELCOL_SAMPLING_PERCENT": str(KEPT_PERCENT)}
        with (
            running_cassandra(jars, work / "cassandra") as cluster,
            running_scaleout(
                work / "layout", 1, env, cassandra=cluster, jaegers=2, gateway_configs=[without_tempo]
            ) as layout,
        ):
            return run_rounds(layout, rounds, phase_s, warmup_s)


def run(quick: bool = False) -> str:
    """The section, as ``python -m benchmarks --only pipeline_capacity`` runs it."""
    started = dt.datetime.now(dt.UTC)
    rounds, phase_s, warmup_s = (1, 15.0, 15.0) if quick else (3, 40.0, WARMUP_S)
    return report(measure(rounds, phase_s, warmup_s), phase_s, started)
