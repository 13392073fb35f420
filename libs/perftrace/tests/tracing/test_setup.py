from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.test.globals_test import reset_trace_globals
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from perftrace import TracingConfig, setup_tracing
from perftrace.tracing.setup import otlp_http_traces_endpoint
from testsupport.servers import silent_port


@pytest.fixture(name="silent_port")
def silent_port_fixture() -> Iterator[int]:
    """A port that accepts connections and never answers: the worst collector there is."""
    with silent_port() as port:
        yield port


def test_embedded_mode_has_no_exporter() -> None:
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    assert handle.exporter is None and handle.owns_provider
    assert trace.get_tracer_provider() is handle.provider
    handle.shutdown()


def test_endpoint_variable_builds_http_protobuf_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    assert isinstance(handle.exporter, HttpExporter)
    assert handle.exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    handle.shutdown()


def test_meter_provider_only_when_metrics_have_somewhere_to_go(monkeypatch: pytest.MonkeyPatch) -> None:
    assert setup_tracing(TracingConfig(service_name="test-service")).meter_provider is None
    reset_trace_globals()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    with_endpoint = setup_tracing(TracingConfig(service_name="test-service"))
    assert with_endpoint.meter_provider is not None
    with_endpoint.shutdown()
    reset_trace_globals()
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    assert setup_tracing(TracingConfig(service_name="test-service")).meter_provider is None


def test_traces_endpoint_and_grpc_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    assert isinstance(handle.exporter, GrpcExporter)
    handle.shutdown()


def test_traces_exporter_none_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert setup_tracing(TracingConfig(service_name="test-service")).exporter is None


def test_service_name_and_resource_attributes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,team=home")
    handle = setup_tracing(TracingConfig(service_name="default-name", service_version="9.9"))
    attributes = handle.provider.resource.attributes
    assert attributes["service.name"] == "from-env"
    assert attributes["team"] == "home" and attributes["service.version"] == "9.9"


def test_default_service_name_when_environment_names_none() -> None:
    handle = setup_tracing(TracingConfig(service_name="kitchen-service"))
    assert handle.provider.resource.attributes["service.name"] == "kitchen-service"


def test_sdk_disabled_records_nothing_and_installs_no_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    with trace.get_tracer("t").start_as_current_span("x"):
        pass
    assert handle.recent.traces() == []
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    assert handle.shutdown()  # nothing to flush, and no "gave up" warning


def test_not_enabled_leaves_an_agents_provider_alone() -> None:
    theirs = TracerProvider()
    trace.set_tracer_provider(theirs)
    handle = setup_tracing(TracingConfig(service_name="test-service", enabled=False))
    with trace.get_tracer("t").start_as_current_span("theirs"):
        pass
    # Our buffer was not added to their provider.
    assert handle.recent.traces() == [] and handle.provider is not theirs


def test_no_recent_traces_kept_means_no_buffer_on_the_provider() -> None:
    handle = setup_tracing(TracingConfig(service_name="test-service", recent_traces_max=0))
    with trace.get_tracer("t").start_as_current_span("exported only"):
        pass
    assert trace.get_tracer_provider() is handle.provider and handle.recent.traces() == []
    handle.shutdown()


def test_existing_sdk_provider_gets_our_processor_and_is_kept() -> None:
    theirs = TracerProvider()
    trace.set_tracer_provider(theirs)
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    assert handle.provider is theirs and not handle.owns_provider
    with trace.get_tracer("t").start_as_current_span("theirs"):
        pass
    assert [t.spans[0].name for t in handle.recent.traces()] == ["theirs"]
    handle.shutdown()
    # We did not shut their provider down: it still records.
    with theirs.get_tracer("t").start_as_current_span("after"):
        pass
    assert len(handle.recent.traces()) == 2


def test_shutdown_is_bounded_when_the_collector_never_answers(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{silent_port}")
    handle = setup_tracing(TracingConfig(service_name="test-service", shutdown_timeout_millis=1000))
    for _ in range(10):
        with trace.get_tracer("t").start_as_current_span("lost"):
            pass
    started = time.monotonic()
    flushed = handle.shutdown()
    elapsed = time.monotonic() - started
    assert flushed is False
    assert elapsed < 2.5


@pytest.mark.parametrize("remote_flag", [TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)])
def test_remote_sampled_flag_neither_forces_nor_suppresses(
    remote_flag: TraceFlags, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    tracer = trace.get_tracer("t")
    sampled = 0
    total = 2000
    ids = random.Random(7)
    for i in range(total):
        remote = SpanContext(trace_id=ids.getrandbits(128), span_id=i + 1, is_remote=True, trace_flags=remote_flag)
        with tracer.start_as_current_span("server", context=trace.set_span_in_context(NonRecordingSpan(remote))) as s:
            sampled += s.get_span_context().trace_flags.sampled
    share = sampled / total
    assert 0.45 <= share <= 0.55, share
    handle.shutdown()


def test_explicit_sampler_variable_is_left_to_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    with trace.get_tracer("t").start_as_current_span("x") as span:
        assert not span.get_span_context().trace_flags.sampled
    handle.shutdown()


def test_local_children_follow_their_parent_and_keep_its_trace_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    tracer = trace.get_tracer("t")
    state = TraceState([("vendor", "value")])
    decisions = set()
    ids = random.Random(11)
    for i in range(200):
        remote = SpanContext(ids.getrandbits(128), i + 1, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
        with tracer.start_as_current_span("server", context=trace.set_span_in_context(NonRecordingSpan(remote))) as s:
            with tracer.start_as_current_span("child") as child:
                parent_sampled = s.get_span_context().trace_flags.sampled
                assert child.get_span_context().trace_flags.sampled == parent_sampled
                assert child.get_span_context().trace_state == state
                decisions.add(parent_sampled)
    assert decisions == {True, False}
    handle.shutdown()


@pytest.mark.parametrize(("ratio", "expected"), [("0", 0), ("1", 200), ("not-a-number", 200)])
def test_ratio_bounds(ratio: str, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", ratio)
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    tracer = trace.get_tracer("t")
    kept = 0
    for _ in range(200):
        with tracer.start_as_current_span("root") as span:
            kept += span.get_span_context().trace_flags.sampled
    assert kept == expected
    handle.shutdown()


def test_otlp_http_traces_endpoint_follows_the_sdk_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert otlp_http_traces_endpoint() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert otlp_http_traces_endpoint() == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/custom")
    assert otlp_http_traces_endpoint() == "http://traces:4318/custom"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert otlp_http_traces_endpoint() is None
