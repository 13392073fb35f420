from __future__ import annotations

import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from perftrace import RecentTracesProcessor, TraceRecord, TracingHandle
from perftrace.tracing.records import SpanRecord


def provider_with(processor: RecentTracesProcessor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def make_trace(tracer: trace.Tracer, name: str, children: int = 0) -> int:
    with tracer.start_as_current_span(name) as root:
        for i in range(children):
            with tracer.start_as_current_span(f"{name}.child{i}"):
                pass
    return root.get_span_context().trace_id


def test_keeps_exactly_the_newest_traces_oldest_evicted_first() -> None:
    processor = RecentTracesProcessor(max_traces=100)
    tracer = provider_with(processor).get_tracer("t")
    ids = [make_trace(tracer, f"trace{i}") for i in range(150)]

    kept = processor.traces()
    assert [t.trace_id for t in kept] == ids[50:]
    assert processor.evicted_traces == 50
    assert processor.get_trace(ids[49]) is None
    assert processor.get_trace(ids[50]) is not None


def test_spans_over_the_cap_are_counted_not_stored() -> None:
    processor = RecentTracesProcessor(max_traces=10, max_spans_per_trace=5)
    tracer = provider_with(processor).get_tracer("t")
    trace_id = make_trace(tracer, "big", children=9)

    record = processor.get_trace(trace_id)
    assert record is not None
    assert len(record.spans) == 5
    assert record.dropped_spans == 5  # 9 children + the root = 10 spans


def test_records_are_compact_copies_not_sdk_spans() -> None:
    processor = RecentTracesProcessor()
    tracer = provider_with(processor).get_tracer("t")
    with tracer.start_as_current_span("root", attributes={"a": 1, "tags": ["x", "y"]}) as span:
        trace_id = span.get_span_context().trace_id
    (record,) = processor.get_trace(trace_id).spans  # type: ignore[union-attr]
    assert isinstance(record, SpanRecord)
    assert record.attribute("a") == 1
    assert record.attributes_dict() == {"a": 1, "tags": ["x", "y"]}
    assert record.parent_span_id == 0
    # The getter returns a copy: clearing the buffer leaves what a caller holds intact.
    snapshot = processor.traces()
    processor.clear()
    assert len(snapshot) == 1 and processor.traces() == []


def test_concurrent_threads_lose_nothing_and_never_mix_traces() -> None:
    processor = RecentTracesProcessor(max_traces=32 * 200)
    tracer = provider_with(processor).get_tracer("t")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(200):
                with tracer.start_as_current_span(f"w{n}") as root:
                    root.set_attribute("worker", n)
                    root.set_attribute("iteration", i)
                    for _ in range(2):
                        with tracer.start_as_current_span(f"w{n}.child") as child:
                            child.set_attribute("worker", n)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    traces = processor.traces()
    assert len(traces) == 32 * 200
    for record in traces:
        assert len(record.spans) == 3
        workers = {span.attribute("worker") for span in record.spans}
        assert len(workers) == 1
        root = record.root
        assert root is not None and root.name == f"w{workers.pop()}"
        assert all(s.parent_span_id == root.span_id for s in record.spans if s is not root)


def test_span_path_never_raises_on_a_broken_span() -> None:
    processor = RecentTracesProcessor()

    class Broken:
        @property
        def context(self) -> Any:
            raise RuntimeError("broken span")

    processor.on_end(Broken())  # type: ignore[arg-type]
    processor.on_end(Broken())  # type: ignore[arg-type]
    assert processor.traces() == []


def test_listener_gets_the_trace_when_its_local_root_ends() -> None:
    processor = RecentTracesProcessor()
    tracer = provider_with(processor).get_tracer("t")
    completed: list[int] = []
    processor.add_listener(lambda record: completed.append(len(record.spans)))

    def failing(record: TraceRecord) -> None:
        raise RuntimeError("a failing listener must not break the others")

    processor.add_listener(failing)
    make_trace(tracer, "root", children=3)
    assert completed == [4]


def test_setup_tracing_puts_the_buffer_on_the_provider(tracing: TracingHandle) -> None:
    tracer = trace.get_tracer("t")
    trace_id = make_trace(tracer, "app")
    record = tracing.recent.get_trace(trace_id)
    assert record is not None and record.spans[0].service_name == "test-service"


def test_a_child_that_ends_after_its_local_root_is_kept() -> None:
    processor = RecentTracesProcessor()
    tracer = provider_with(processor).get_tracer("t")
    with tracer.start_as_current_span("request") as root:
        late = tracer.start_span("fire-and-forget")  # a child of the request, ended after it
    late.end()
    record = processor.get_trace(root.get_span_context().trace_id)
    assert record is not None
    assert [s.name for s in record.spans] == ["request", "fire-and-forget"]


def test_spans_of_unfinished_requests_wait_in_bounded_numbers() -> None:
    processor = RecentTracesProcessor(max_traces=5)
    tracer = provider_with(processor).get_tracer("t")
    roots = []
    for i in range(12):  # requests whose root never ends (still running), each with an ended child
        root = tracer.start_span(f"running{i}")
        with trace.use_span(root):
            with tracer.start_as_current_span(f"running{i}.step"):
                pass
        roots.append(root)
    assert len(processor._waiting) <= 5
    # What had to leave the waiting room was stored; a reader sees every child that still fits the buffer.
    kept = processor.traces()
    assert [t.spans[0].name for t in kept] == [f"running{i}.step" for i in range(7, 12)]
    for root in roots:
        root.end()


def test_a_long_request_does_not_pile_up_waiting_spans() -> None:
    processor = RecentTracesProcessor(max_spans_per_trace=10)
    tracer = provider_with(processor).get_tracer("t")
    with tracer.start_as_current_span("long request") as root:
        for i in range(25):
            with tracer.start_as_current_span(f"step{i}"):
                pass
            assert sum(len(spans) for spans in processor._waiting.values()) < 10
    record = processor.get_trace(root.get_span_context().trace_id)
    assert record is not None and len(record.spans) == 10 and record.dropped_spans == 16
