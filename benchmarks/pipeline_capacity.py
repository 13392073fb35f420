"""Capacity of every hop of the scale-out layer: spans per second per core, and memory, measured on real programs.

Runs docker-compose.scale.yml's layout as the tests do (testsupport.scaleout over testsupport.cassandra): the agent
collector, Kafka, one or two gateways (tail sampling keeping every trace, span metrics), two Jaegers over a
three-node Cassandra cluster. A steady load of OTLP/protobuf requests (20-span traces with 8 attributes a span,
fresh trace ids in every request) goes to the agent at a fixed rate below what Cassandra writes here, for the
whole run. Rounds alternate one gateway and two gateways (the second started, then stopped with SIGTERM), each
phase measured over the same window length after the consumer group settled. In every phase each hop's CPU time
(utime + stime of its processes, from /proc) is set against the spans that hop handled (its own counters:
spans accepted by the agent, sent to Kafka, taken from Kafka by the gateways, written by the Jaegers), which gives
spans per CPU-second: what one fully used core would carry. Memory is each process's resident set at the end of
a phase. A low rate overstates the per-span cost of fixed work (timers, heartbeats, compaction), so every figure
is a lower bound on capacity.

Runs alone: ``python -m benchmarks.pipeline_capacity [--rate 200] [--rounds 3] [--phase-seconds 30] [--no-write]``;
writes section ``pipeline_capacity`` of docs/performance.md.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import statistics
import sys
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
from testsupport.cassandra import running_cassandra
from testsupport.report import figure, section_preamble, table
from testsupport.sampled_chats import sampling_env
from testsupport.scaleout import ScaleOut, running_scaleout
from testsupport.stack import built_backends

TRACES_PER_REQUEST = 5
SPANS_PER_TRACE = 20
SPANS_PER_REQUEST = TRACES_PER_REQUEST * SPANS_PER_TRACE
SENDERS = 2
SETTLE_S = 8.0
WARMUP_S = 20.0
#: Spans/s the sizing table is worked out for.
SIZING_RATES = (1_000, 5_000, 20_000)
#: Size for this share of a core at most: headroom for bursts and for the catch-up after an outage.
TARGET_UTILIZATION = 0.5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
METRIC = r"^{name}(?:_total)?\{{[^}}]*{label}[^}}]*\}} (\S+)$"


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
        self.sent_spans = 0
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
                    self.sent_spans += SPANS_PER_REQUEST if ok else 0
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    """Resident set of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def metric_sum(url: str, name: str, label: str) -> float:
    """One counter of a collector's (Jaeger's) own metrics, summed over the series carrying ``label``."""
    pattern = re.compile(METRIC.format(name=re.escape(name), label=label), re.MULTILINE)
    return sum(float(value) for value in pattern.findall(httpx.get(url, timeout=5).text))


@dataclass
class Hop:
    """One hop: its processes (by pid) and how many spans it handled so far."""

    name: str
    pids: Callable[[], list[int]]
    spans: Callable[[], float]


@dataclass
class Reading:
    """CPU seconds and spans of every hop at one moment."""

    at: float
    cpu: dict[str, float]
    spans: dict[str, float]
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
        Hop("Jaeger ×2 (writing)", lambda: alive(("jaeger-",)), written),
        Hop("Cassandra ×3 (RF 2)", lambda: [n.process.process.pid for n in cluster.nodes if n.process], written),
    ]  # fmt: skip


def read(layout_hops: list[Hop]) -> Reading:
    """CPU and spans of every hop now, and each hop's resident sets."""
    reading = Reading(time.monotonic(), {}, {})
    for hop in layout_hops:
        pids = hop.pids()
        reading.cpu[hop.name] = sum(cpu_seconds(pid) for pid in pids)
        reading.spans[hop.name] = hop.spans()
        reading.rss[hop.name] = [rss_mib(pid) for pid in pids]
    return reading


@dataclass
class Phase:
    """One measured window: gateways running, and per hop spans per CPU-second, spans/s, RSS."""

    gateways: int
    per_cpu_second: dict[str, float]
    spans_per_s: dict[str, float]
    rss: dict[str, list[float]]


def measure_phase(layout: ScaleOut, layout_hops: list[Hop], gateways: int, seconds: float) -> Phase:
    """Read every hop before and after a window of ``seconds``."""
    before = read(layout_hops)
    time.sleep(seconds)
    after = read(layout_hops)
    window = after.at - before.at
    per_cpu: dict[str, float] = {}
    rates: dict[str, float] = {}
    for hop in layout_hops:
        spans = after.spans[hop.name] - before.spans[hop.name]
        cpu = after.cpu[hop.name] - before.cpu[hop.name]
        rates[hop.name] = spans / window
        per_cpu[hop.name] = spans / cpu if cpu > 0 else math.inf
    return Phase(gateways, per_cpu, rates, after.rss)


def run_rounds(layout: ScaleOut, rate: float, rounds: int, phase_s: float) -> list[Phase]:
    """Warm up, then per round: one gateway, then two (the second started, measured, then stopped)."""
    layout_hops = hops(layout)
    load = SteadyLoad(layout.stack.collector_otlp_http, rate).start()
    phases: list[Phase] = []
    try:
        time.sleep(WARMUP_S)
        for _ in range(rounds):
            phases.append(measure_phase(layout, layout_hops, 1, phase_s))
            second = layout.add_gateway()
            time.sleep(SETTLE_S)
            phases.append(measure_phase(layout, layout_hops, 2, phase_s))
            second.stop()
            time.sleep(SETTLE_S)
    finally:
        load.stop()
    if load.failed:
        print(f"{load.failed} requests failed", file=sys.stderr)
    return phases


def spread(values: list[float]) -> str:
    """Median with the range."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "—"
    return f"{figure(statistics.median(finite))} ({figure(min(finite))}–{figure(max(finite))})"


def report(phases: list[Phase], rate: float, phase_s: float, started: dt.datetime) -> str:
    """The docs/performance.md section: per-hop figures, the gateway ratio, the bottleneck, a sizing table."""
    lines = section_preamble("Pipeline capacity, every hop (`benchmarks/pipeline_capacity.py`)", started)
    one = [p for p in phases if p.gateways == 1]
    two = [p for p in phases if p.gateways == 2]
    lines += [
        f"A steady {rate:.0f} spans/s (OTLP/protobuf, {SPANS_PER_TRACE}-span traces, 8 attributes a span) into the",
        "scale-out layout on real programs (tail sampling keeping every trace, so every span reaches Jaeger and",
        f"Cassandra); {len(one)} rounds of one gateway then two, {phase_s:.0f} s each. Spans per CPU-second is what",
        "one fully used core carries (CPU from /proc, spans from each hop's own counters); median (range) over the",
        "rounds. All processes share the machine's 2 cores with the load generator and four other engineers' work,",
        "and the rate is low for the front hops, so fixed costs weigh in: read them as lower bounds.",
        "",
    ]
    names = list(one[0].per_cpu_second) if one else []
    rows = []
    for name in names:
        source = one
        per_cpu = [p.per_cpu_second[name] for p in source]
        rss = [sum(p.rss[name]) for p in source]
        processes = max(len(p.rss[name]) for p in source)
        rows.append(
            [name, spread(per_cpu), spread([p.spans_per_s[name] for p in source]), f"{max(rss):.0f} MiB ({processes})"]
        )
    if two:
        rows.append(
            [
                "gateways ×2",
                spread([p.per_cpu_second["gateways"] for p in two]),
                spread([p.spans_per_s["gateways"] for p in two]),
                f"{max(sum(p.rss['gateways']) for p in two):.0f} MiB (2)",
            ]
        )
    lines += table(["hop", "spans per CPU-second", "spans/s handled", "memory (processes)"], rows)
    if one and two:
        ratios = [b.per_cpu_second["gateways"] / a.per_cpu_second["gateways"] for a, b in zip(one, two, strict=False)]
        lines += [
            "",
            f"Two gateways against one, same run, paired by round: spans per CPU-second of both together over one "
            f"alone = {spread(ratios)}. Near 1 means the work per span does not grow with gateways: two gateways on "
            "two cores carry twice what one carries on one (Kafka's partitions split the traces; nothing is shared).",
        ]
    if one:
        capacity = {name: statistics.median(p.per_cpu_second[name] for p in one) for name in names}
        bottleneck = min(capacity, key=lambda name: capacity[name])
        lines += [
            "",
            f"First bottleneck per core: **{bottleneck}** ({figure(capacity[bottleneck])} spans per CPU-second).",
            "",
            f"Cores each hop needs, sized to run at {TARGET_UTILIZATION:.0%} (from the medians above; Cassandra: "
            "for the three nodes together, with replication 2):",
            "",
        ]
        sizing = [
            [name, *(f"{target / capacity[name] / TARGET_UTILIZATION:.1f}" for target in SIZING_RATES)]
            for name in names
        ]
        lines += table(["hop", *(f"{target:,} spans/s" for target in SIZING_RATES)], sizing)
    return "\n".join(lines) + "\n"


def measure(rate: float, rounds: int, phase_s: float) -> list[Phase]:
    """Start the cluster and the layout, run the rounds, stop everything."""
    jars = built_backends()["cassandra"]
    with tempfile.TemporaryDirectory(prefix="pipeline-capacity-") as scratch:
        work = Path(scratch)
        env = {**sampling_env(100.0), "OTELCOL_SAMPLING_DECISION_WAIT": "10s"}
        with (
            running_cassandra(jars, work / "cassandra") as cluster,
            running_scaleout(work / "layout", 1, env, cassandra=cluster, jaegers=2) as layout,
        ):
            return run_rounds(layout, rate, rounds, phase_s)


def run(quick: bool = False) -> str:
    """The section, as ``python -m benchmarks --only pipeline_capacity`` runs it: 200 spans/s, one gateway then two."""
    started = dt.datetime.now(dt.UTC)
    rounds, phase_s = (1, 10.0) if quick else (3, 30.0)
    return report(measure(200.0, rounds, phase_s), 200.0, phase_s, started)
