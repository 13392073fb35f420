"""A slow trace split across a gateway's SIGTERM (issue 23, point 4): what tail sampling makes of it.

On SIGTERM a gateway decides every trace it holds on the spans it has (``drop_pending_traces_on_shutdown:
false``) and the partition moves to another gateway, which sees only the spans that arrive after the hand-over.
The trace here: a root span of 8 s (slow: over the threshold) whose first three children reach gateway 1 before
its SIGTERM and whose last child and root reach gateway 2 after it. The row states which part Jaeger ends up with.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from testsupport.backend_queries import jaeger_trace
from testsupport.processes import poll
from testsupport.reliability_results import Outcome, record
from testsupport.sampled_chats import SLOW_MS, sampling_env
from testsupport.scaleout import ScaleOut, running_scaleout
from testsupport.stack import BackendUnavailable

from tests.helpers import missing_dependency

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(600)]

EARLY_SPANS = 3
ROOT_SECONDS = 8.0
ACCEPTED = re.compile(r'^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*receiver="kafka"[^}]*\} (\S+)$', re.MULTILINE)


@pytest.fixture(scope="module")
def one_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOut]:
    """One gateway that keeps only errors, slow and stopped traces, and waits long for a root span."""
    env = {**sampling_env(0.0), "OTELCOL_SAMPLING_DECISION_WAIT": "60s", "OTELCOL_SAMPLING_AFTER_ROOT_WAIT": "1s"}
    try:
        with running_scaleout(tmp_path_factory.mktemp("handover"), gateways=1, gateway_env=env) as layout:
            yield layout
    except BackendUnavailable as error:
        missing_dependency(str(error))


def accepted(metrics_url: str) -> float:
    """Spans a gateway took from Kafka so far."""
    return sum(float(value) for value in ACCEPTED.findall(httpx.get(metrics_url, timeout=5).text))


def test_slow_trace_split_by_a_sigterm_is_judged_in_two_parts(one_gateway: ScaleOut) -> None:
    layout = one_gateway
    exporter = OTLPSpanExporter(endpoint=f"{layout.stack.collector_otlp_http}/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": "handover-probe"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(__name__)
    start = time.time_ns()
    root = tracer.start_span("slow-request", start_time=start)
    context = trace.set_span_in_context(root)
    trace_id = format(root.get_span_context().trace_id, "032x")
    for number in range(EARLY_SPANS):
        tracer.start_span(f"early-{number}", context, start_time=start).end(end_time=start + 10_000_000)
    first = layout.gateway_metrics[0]
    poll(lambda: accepted(first) >= EARLY_SPANS, 30, what="gateway 1 holding the early spans")
    layout.add_gateway()
    # SIGTERM (waited for): it decides what it holds and leaves the group; the late spans wait in Kafka for gateway 2.
    layout.gateways[0].stop()
    time.sleep(max(0.0, start / 1e9 + ROOT_SECONDS - time.time()))
    end = start + int(ROOT_SECONDS * 1e9)
    tracer.start_span("late", context, start_time=end - 10_000_000).end(end_time=end)
    root.end(end_time=end)
    provider.shutdown()
    spans = poll(lambda: jaeger_trace(layout.stack.jaeger_query, trace_id), 30, what="the late part in Jaeger")
    time.sleep(3)  # anything else of the trace would be in by now
    names = sorted(span.name for span in jaeger_trace(layout.stack.jaeger_query, trace_id) or spans)
    early_kept = sum(name.startswith("early-") for name in names)
    late_kept = {"late", "slow-request"} <= set(names)
    record(
        Outcome(
            "14 slow trace split by a gateway's SIGTERM",
            f"one trace, root {ROOT_SECONDS:.0f} s (slow: threshold {SLOW_MS - 1000} ms); {EARLY_SPANS} children "
            "reach gateway 1, which then gets SIGTERM (gateway 2 joined just before); the last child and the root "
            "reach gateway 2; the rest share 0 %",
            "measured: which spans Jaeger keeps; the late part (root and last child) kept (the root's latency is "
            "judged by the gateway that gets it)",
            f"{len(names)} of {EARLY_SPANS + 2} spans in Jaeger: {early_kept} of {EARLY_SPANS} early children "
            f"(decided by gateway 1 on its part alone), late part {'kept' if late_kept else 'missing'}",
            late_kept,
        )
    )
    assert late_kept, names
