"""Cost of a span, and of keeping the last 100 traces, measured in one process.

Variants, each timed as whole traces of 15 spans (a root and 14 children, the shape of a chat request):
(a) the API's no-op tracer; (b) an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` and an exporter
that does nothing; (c) the same plus ``RecentTracesProcessor``; (d) ``@traced`` functions and (e)
functions with an inline ``start_as_current_span`` carrying the attributes ``@traced`` adds, both on (c).
The variants run in interleaved rounds (the order reversed every other round) and the median of the
rounds is reported, so drift on a shared machine hits every variant alike.

Then the longest full ``gc.collect()`` with the buffer holding 100 traces of 15 spans, with nothing
stored, and, for contrast, with 1,500 SDK span objects retained instead.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ha_ai_agent.semconv import CHAT_SERVER_SPAN, MESSAGE_ASSEMBLY
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer
from opentelemetry.util.types import AttributeValue
from perftrace import RecentTracesProcessor, traced
from perftrace.tracing.decorator import _code_attributes
from testsupport.report import Target, median, section_preamble, table, targets_table

from benchmarks.harness.interleaved import interleaved
from benchmarks.harness.service_heap import longest_full_gc, run_in_subprocess

SPANS_PER_TRACE = 15
STORED_TRACES = 100
RESOURCE = Resource.create({"service.name": "span-overhead-benchmark"})


class NoOpSpanExporter(SpanExporter):
    """Accepts every batch and does nothing with it: only the processor's own cost remains."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Drop the batch."""
        return SpanExportResult.SUCCESS


# (d): every span made by @traced. ---------------------------------------------------------------------


@traced("stage")
def decorated_stage() -> None:
    """A stage whose span the decorator makes."""


@traced("request")
def decorated_request() -> None:
    """A request of 14 decorated stages."""
    for _ in range(SPANS_PER_TRACE - 1):
        decorated_stage()


# (e): the same spans written inline, with the decorator's attributes. ------------------------------------

_inline: dict[str, Tracer] = {}


def inline_stage() -> None:
    """A stage whose span is opened inline."""
    with _inline["tracer"].start_as_current_span("stage", attributes=INLINE_STAGE_ATTRIBUTES):
        return None


def inline_request() -> None:
    """A request of 14 inline stages."""
    with _inline["tracer"].start_as_current_span("request", attributes=INLINE_REQUEST_ATTRIBUTES):
        for _ in range(SPANS_PER_TRACE - 1):
            inline_stage()


# The attributes ``@traced`` puts on a function's span, from the decorator itself.
INLINE_STAGE_ATTRIBUTES = _code_attributes(inline_stage)
INLINE_REQUEST_ATTRIBUTES = _code_attributes(inline_request)


def traces_with_tracer(tracer: Tracer) -> Callable[[], None]:
    """One trace of 15 spans opened directly on ``tracer`` (variants a to c)."""
    attributes = INLINE_STAGE_ATTRIBUTES

    def one_trace() -> None:
        with tracer.start_as_current_span("request", attributes=attributes):
            for _ in range(SPANS_PER_TRACE - 1):
                with tracer.start_as_current_span("stage", attributes=attributes):
                    pass

    return one_trace


def ns_per_span(one_trace: Callable[[], None], traces: int) -> float:
    """Wall-clock nanoseconds per span over ``traces`` traces (after a collection, GC left on)."""
    gc.collect()
    started = time.perf_counter_ns()
    for _ in range(traces):
        one_trace()
    return (time.perf_counter_ns() - started) / (traces * SPANS_PER_TRACE)


def sdk_provider(with_recent: bool) -> tuple[TracerProvider, RecentTracesProcessor | None]:
    """Variant (b), or (c) with ``with_recent``: processors in the order ``setup_tracing`` adds them."""
    provider = TracerProvider(resource=RESOURCE)
    recent = RecentTracesProcessor(STORED_TRACES) if with_recent else None
    if recent is not None:
        provider.add_span_processor(recent)
    provider.add_span_processor(BatchSpanProcessor(NoOpSpanExporter()))
    return provider, recent


@dataclass(frozen=True)
class SpanCosts:
    """Median nanoseconds per span of each variant, and every round's figures."""

    medians: dict[str, float]
    rounds: dict[str, list[float]]


VARIANT_LABELS = {
    "a": "(a) no-op tracer (API only)",
    "b": "(b) SDK + BatchSpanProcessor, no-op exporter",
    "c": "(c) (b) + RecentTracesProcessor",
    "d": "(d) `@traced` functions on (c)",
    "e": "(e) inline `start_as_current_span` functions on (c), same attributes",
}


def measure_span_costs(rounds: int, traces: int) -> SpanCosts:
    """Time every variant in ``rounds`` interleaved rounds of ``traces`` traces each (plus a warm-up)."""
    provider_b, _ = sdk_provider(with_recent=False)
    provider_c, recent_c = sdk_provider(with_recent=True)
    # @traced follows the global provider; (e) uses the SDK tracer directly, the cheapest inline form.
    trace.set_tracer_provider(provider_c)
    _inline["tracer"] = provider_c.get_tracer("benchmarks.inline")
    variants: dict[str, Callable[[], None]] = {
        "a": traces_with_tracer(trace.NoOpTracerProvider().get_tracer("benchmarks")),
        "b": traces_with_tracer(provider_b.get_tracer("benchmarks")),
        "c": traces_with_tracer(provider_c.get_tracer("benchmarks")),
        "d": decorated_request,
        "e": inline_request,
    }
    for one_trace in variants.values():
        ns_per_span(one_trace, max(1, traces // 4))
    results = interleaved(list(variants), rounds, lambda key: ns_per_span(variants[key], traces))
    provider_b.shutdown()
    provider_c.shutdown()
    if recent_c is not None:
        recent_c.clear()  # the GC measurement that follows starts from an empty process
    return SpanCosts({key: median(values) for key, values in results.items()}, results)


# Full-GC pauses. ---------------------------------------------------------------------------------------

STAGE_ATTRIBUTES: dict[str, AttributeValue] = {
    "chat.stage": MESSAGE_ASSEMBLY,
    "chat.input_tokens_estimate": 1834,
    "chat.history_messages_kept": 4,
    "code.function.name": "ha_ai_agent.chat.pipeline.ChatAgent._assemble",
}


def fill(tracer: Tracer, traces: int = STORED_TRACES) -> None:
    """End ``traces`` traces of 15 spans with stage-like attributes."""
    for _ in range(traces):
        with tracer.start_as_current_span(CHAT_SERVER_SPAN, attributes={"http.route": "/api/v1/chat"}):
            for index in range(SPANS_PER_TRACE - 1):
                with tracer.start_as_current_span(f"stage_{index}", attributes=STAGE_ATTRIBUTES):
                    pass


@dataclass(frozen=True)
class GcPauses:
    """Per state: the rounds' longest full-GC pauses (wall and CPU ms) and the GC-tracked object count."""

    wall_ms: dict[str, list[float]]
    cpu_ms: dict[str, list[float]]
    tracked_objects: dict[str, int]


GC_LABELS = {
    "empty": "nothing stored",
    "records": "buffer full: 100 traces × 15 spans as records",
    "sdk_spans": "contrast: 1,500 SDK span objects retained instead",
    "records_frozen": "buffer full, start-up heap moved out of the GC's way with `gc.freeze()`",
}


def measure_gc_pauses(rounds: int, collections: int) -> GcPauses:
    """Longest full-GC pause with the buffer empty, full of records, or with SDK spans retained."""
    recent = RecentTracesProcessor(STORED_TRACES)
    retaining = InMemorySpanExporter()  # keeps every ended SDK span object, as a naive in-memory buffer would
    records_provider = TracerProvider(resource=RESOURCE)
    records_provider.add_span_processor(recent)
    spans_provider = TracerProvider(resource=RESOURCE)
    spans_provider.add_span_processor(SimpleSpanProcessor(retaining))

    def prepare(state: str) -> None:
        recent.clear()
        retaining.clear()
        gc.collect()
        if state == "records_frozen":
            gc.freeze()  # what a service would do once at the end of start-up
        if state in ("records", "records_frozen"):
            fill(records_provider.get_tracer("benchmarks"))
        elif state == "sdk_spans":
            fill(spans_provider.get_tracer("benchmarks"))

    tracked: dict[str, int] = {}

    def longest(state: str) -> tuple[float, float]:
        prepare(state)
        wall_and_cpu = longest_full_gc(collections)
        tracked[state] = len(gc.get_objects())
        gc.unfreeze()
        return wall_and_cpu

    pauses = interleaved(list(GC_LABELS), rounds, longest)
    prepare("empty")
    wall = {state: [wall_ms for wall_ms, _ in found] for state, found in pauses.items()}
    cpu = {state: [cpu_ms for _, cpu_ms in found] for state, found in pauses.items()}
    return GcPauses(wall, cpu, tracked)


# Report. -----------------------------------------------------------------------------------------------


def service_pause_ms(service: list[dict[str, Any]]) -> float:
    """The longest full-GC pause (CPU) seen in the service process."""
    return max(float(r["longest_cpu_ms"]) for r in service)


def service_heap_lines(service: list[dict[str, Any]]) -> list[str]:
    """The table of the service-process measurement."""
    rows = [
        [
            "the service as shipped (`gc.freeze()` at the end of start-up)",
            f"{service_pause_ms(service):.2f}",
            f"{max(r['longest_wall_ms'] for r in service):.2f}",
            f"{service[-1]['tracked_objects']:,}",
        ]
    ]
    return [
        "The same measurement in the real service's process (`benchmarks/harness/service_heap.py`, a fresh "
        f"interpreter: app and lifespan started, 110 chats answered in-process so the buffer holds 100 chat traces; "
        f"{len(service)} run(s), longest):",
        "",
        *table(["service process", "longest, CPU (ms)", "longest, wall (ms)", "GC-tracked objects"], rows),
        "",
    ]


def render(
    costs: SpanCosts,
    pauses: GcPauses,
    service: list[dict[str, Any]],
    started: dt.datetime,
    rounds: int,
    traces: int,
) -> str:
    """The Markdown section."""
    m = costs.medians
    recent_ratio, traced_ratio = m["c"] / m["b"], m["d"] / m["e"]
    targets = [
        Target("(c)/(b): RecentTracesProcessor over SDK + Batch", recent_ratio, 1.30, "×"),
        Target("(d)/(e): `@traced` over inline", traced_ratio, 1.05, "×"),
        Target(
            "longest full-GC pause (CPU), buffer full, in the service process", service_pause_ms(service), 2.0, "ms"
        ),
    ]
    lines = section_preamble("Span overhead (`benchmarks/span_overhead.py`)", started)
    lines += [
        f"Traces of {SPANS_PER_TRACE} spans (a root and 14 children), {traces:,} traces per variant per round, "
        f"{rounds} interleaved rounds (order reversed every other round); median of the rounds. GC enabled.",
        "",
        *table(
            ["variant", "ns per span (median)", "min … max over rounds"],
            [[VARIANT_LABELS[k], f"{m[k]:,.0f}", f"{min(v):,.0f} … {max(v):,.0f}"] for k, v in costs.rounds.items()],
        ),
        "",
        f"Ratios from the same run: (c)/(b) = **{recent_ratio:.3f}**, (d)/(e) = **{traced_ratio:.3f}**; "
        f"the buffer adds {m['c'] - m['b']:,.0f} ns per span.",
        "",
        "Full `gc.collect()` pause in the same process, per state the longest of "
        f"{len(pauses.cpu_ms['empty'])} rounds × the timed collections of each round. CPU time of the collecting "
        "thread leaves out preemption by other work on this shared machine; wall time keeps it.",
        "",
        *table(
            ["state", "longest, CPU (ms)", "median of rounds, CPU (ms)", "longest, wall (ms)", "GC-tracked objects"],
            [
                [
                    label,
                    f"{max(pauses.cpu_ms[s]):.2f}",
                    f"{median(pauses.cpu_ms[s]):.2f}",
                    f"{max(pauses.wall_ms[s]):.2f}",
                    f"{pauses.tracked_objects[s]:,}",
                ]
                for s, label in GC_LABELS.items()
            ],
        ),
        "",
        f"The buffer adds {median(pauses.cpu_ms['records']) - median(pauses.cpu_ms['empty']):.2f} ms to a full "
        f"collection (medians, CPU); SDK span objects would add "
        f"{median(pauses.cpu_ms['sdk_spans']) - median(pauses.cpu_ms['empty']):.2f} ms.",
        "",
        *service_heap_lines(service),
        *targets_table(targets),
    ]
    return "\n".join(lines) + "\n"


def run(quick: bool = False) -> str:
    """Run the whole benchmark; return the Markdown section."""
    started = dt.datetime.now(dt.UTC)
    rounds, traces = (5, 300) if quick else (15, 2000)
    costs = measure_span_costs(rounds, traces)
    pauses = measure_gc_pauses(rounds=3 if quick else 7, collections=5 if quick else 10)
    # The service's own process as shipped (its lifespan freezes the start-up heap), buffer full.
    service = [run_in_subprocess() for _ in range(1 if quick else 2)]
    return render(costs, pauses, service, started, rounds, traces)
