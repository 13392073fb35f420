"""The SDK's own counters of dropped spans reach the service's meter provider (reliability fault 1)."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExporter, Sum
from perftrace import TracingConfig, setup_tracing
from perftrace.tracing import setup as telemetry_setup
from testsupport.servers import closed_port

PROCESSED = "otel.sdk.processor.span.processed"


def test_spans_dropped_while_the_collector_is_down_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()

    def in_memory_reader(exporter: MetricExporter) -> InMemoryMetricReader:
        return reader  # read the counters here instead of exporting them

    monkeypatch.setattr(telemetry_setup, "PeriodicExportingMetricReader", in_memory_reader)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")
    handle = setup_tracing(TracingConfig(service_name="test-service"))
    tracer = trace.get_tracer("test")
    for index in range(50):
        with tracer.start_as_current_span(f"span-{index}"):
            pass
    dropped = 0
    metrics = reader.get_metrics_data()
    assert metrics is not None
    for resource_metrics in metrics.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == PROCESSED and isinstance(metric.data, Sum):
                    dropped += sum(
                        int(point.value)
                        for point in metric.data.data_points
                        if (point.attributes or {}).get("error.type") == "queue_full"
                    )
    handle.shutdown()
    assert dropped >= 40, dropped
