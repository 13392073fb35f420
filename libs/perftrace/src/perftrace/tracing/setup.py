"""Start and stop telemetry for a process: tracer provider, exporter, the recent-traces buffer, meters.

A meter provider is built only when metrics have somewhere to go (an OTLP endpoint).

Configuration comes from the standard ``OTEL_*`` variables, read by the SDK itself wherever it can
(service name, resource attributes, sampler, batch processor, exporter endpoint, headers, timeout).
The only choices made here are the ones the SDK leaves to the auto-instrumentation agent: which
exporter to build (none when no endpoint is configured) and which protocol it speaks.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

from opentelemetry import trace
from opentelemetry.environment_variables import OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_SDK_DISABLED,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased

from perftrace.tracing.recent import (
    DEFAULT_MAX_SPANS_PER_TRACE,
    DEFAULT_MAX_TRACES,
    RecentTracesProcessor,
)

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TracingConfig:
    """What the service decides about tracing; everything else comes from ``OTEL_*`` variables.

    Attributes:
        service_name: used when neither ``OTEL_SERVICE_NAME`` nor ``OTEL_RESOURCE_ATTRIBUTES`` names one.
        service_version: the ``service.version`` resource attribute.
        recent_traces_max: how many traces the in-memory buffer keeps; 0 keeps none: the buffer is not added
            to the provider (spans are only exported), so it and every reader of it stay empty.
        recent_spans_per_trace_max: how many spans one kept trace may hold.
        shutdown_timeout_millis: the most that ``shutdown`` waits for the last export.
        enabled: False installs nothing (as ``OTEL_SDK_DISABLED=true`` does): for a process that an agent such
            as ``opentelemetry-instrument`` traces instead.
    """

    service_name: str
    service_version: str | None = None
    recent_traces_max: int = DEFAULT_MAX_TRACES
    recent_spans_per_trace_max: int = DEFAULT_MAX_SPANS_PER_TRACE
    shutdown_timeout_millis: int = 5000
    enabled: bool = True

    @property
    def installs(self) -> bool:
        """Whether tracing is installed: ``enabled`` and not ``OTEL_SDK_DISABLED=true`` (read as the SDK does).

        When it is not, nothing is: no provider, processor, exporter or instrumentation, not even no-op ones.
        """
        return self.enabled and os.environ.get(OTEL_SDK_DISABLED, "").strip().lower() != "true"


@dataclass
class TracingHandle:
    """What ``setup_tracing`` built, and how to stop it.

    ``owns_provider`` is False when another agent (``opentelemetry-instrument``) had installed the
    provider first: then only our processor was added to it, and ``shutdown`` only flushes.
    """

    provider: TracerProvider
    recent: RecentTracesProcessor
    exporter: SpanExporter | None
    owns_provider: bool
    shutdown_timeout_millis: int
    meter_provider: MeterProvider | None = None
    _stopped: bool = field(default=False, repr=False)

    def shutdown(self) -> bool:
        """Flush and stop within ``shutdown_timeout_millis``, also when the collector is unreachable.

        Returns:
            True if everything was flushed in time.
        """
        if self._stopped:
            return True
        self._stopped = True

        def stop() -> None:
            if self.owns_provider:
                self.provider.shutdown()
            else:
                self.provider.force_flush()
            if self.meter_provider is not None:
                self.meter_provider.shutdown()

        worker = threading.Thread(target=stop, name="otel-shutdown", daemon=True)
        worker.start()
        worker.join(self.shutdown_timeout_millis / 1000)
        if worker.is_alive():
            _logger.warning(
                "Tracing shutdown gave up after %d ms; spans still queued were dropped",
                self.shutdown_timeout_millis,
            )
            return False
        return True


def build_sampler() -> Sampler | None:
    """The sampler used when ``OTEL_TRACES_SAMPLER`` is not set (None means: let the SDK read it).

    Decide at the trust boundary by trace id; inside the process, follow the parent. Root spans and spans
    with a remote parent are kept when the trace id falls under the ratio ``OTEL_TRACES_SAMPLER_ARG``
    (default 1.0; the ``TraceIdRatioBased`` rule, so every service at the same ratio agrees), whatever the
    remote parent's sampled flag says: whoever can send a ``traceparent`` header can neither force this
    service to record a trace nor hide one from it. Local children follow their parent, so a trace is never
    half recorded. That is the SDK's ``ParentBased`` with the ratio sampler in its three boundary slots.
    """
    if os.environ.get(OTEL_TRACES_SAMPLER):
        return None
    raw_ratio = os.environ.get(OTEL_TRACES_SAMPLER_ARG, "1.0")
    try:
        ratio = float(raw_ratio)
    except ValueError:
        _logger.warning("Invalid %s=%r; sampling every trace", OTEL_TRACES_SAMPLER_ARG, raw_ratio)
        ratio = 1.0
    boundary = TraceIdRatioBased(min(1.0, max(0.0, ratio)))
    return ParentBased(root=boundary, remote_parent_sampled=boundary, remote_parent_not_sampled=boundary)


def _otlp_protocol(signal_variable: str) -> str:
    protocol = (os.environ.get(signal_variable) or os.environ.get(OTEL_EXPORTER_OTLP_PROTOCOL) or "").strip().lower()
    if protocol not in ("", "grpc", "http/protobuf"):
        _logger.warning("Unsupported OTLP protocol %r; using http/protobuf", protocol)
    return protocol if protocol == "grpc" else "http/protobuf"


def _exported(exporter_variable: str, endpoint_variable: str) -> bool:
    if os.environ.get(exporter_variable, "otlp").strip().lower() == "none":
        return False
    return bool(os.environ.get(endpoint_variable) or os.environ.get(OTEL_EXPORTER_OTLP_ENDPOINT))


def otlp_http_traces_endpoint() -> str | None:
    """The OTLP/HTTP traces URL the SDK's exporter sends to, or None (no endpoint, or gRPC).

    The same rules as the exporter: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as is, else
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` with ``/v1/traces`` appended. With gRPC there is no HTTP address to give.
    """
    if _otlp_protocol(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) != "http/protobuf":
        return None
    if os.environ.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT):
        return os.environ[OTEL_EXPORTER_OTLP_TRACES_ENDPOINT]
    if os.environ.get(OTEL_EXPORTER_OTLP_ENDPOINT):
        return os.environ[OTEL_EXPORTER_OTLP_ENDPOINT].rstrip("/") + "/v1/traces"
    return None


def build_meter_provider(resource: Resource) -> MeterProvider | None:
    """A meter provider exporting OTLP (e.g. GenAI token usage) when an endpoint is configured, else None.

    The exporter and the reader read their own variables (``OTEL_EXPORTER_OTLP_METRICS_*``,
    ``OTEL_METRIC_EXPORT_INTERVAL``).
    """
    if not _exported(OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT):
        return None
    exporter: MetricExporter
    if _otlp_protocol(OTEL_EXPORTER_OTLP_METRICS_PROTOCOL) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter

        exporter = GrpcMetricExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter

        exporter = HttpMetricExporter()
    return MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(exporter)])


def build_exporter(meter_provider: MeterProvider | None = None) -> SpanExporter | None:
    """An OTLP exporter when an endpoint is configured, else None (embedded mode).

    Given ``meter_provider`` (and ``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true``), the exporter counts its
    exported and failed spans (``otel.sdk.exporter.span.exported`` with ``error.type``).

    ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`` picks ``http/protobuf`` (default) or ``grpc``; the exporter
    itself reads endpoint, headers, compression and timeout from the environment.
    """
    if not _exported(OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT):
        return None
    if _otlp_protocol(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

        return GrpcSpanExporter(meter_provider=meter_provider)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    return HttpSpanExporter(meter_provider=meter_provider)


def build_resource(config: TracingConfig) -> Resource:
    """The SDK's resource (which reads the ``OTEL_*`` variables), with our defaults under it."""
    defaults: dict[str, str] = {}
    if config.service_version:
        defaults["service.version"] = config.service_version
    # Defaults first: Resource.create(attributes) would let them override OTEL_RESOURCE_ATTRIBUTES.
    resource = Resource(defaults).merge(Resource.create())
    # Resource.create falls back to "unknown_service" when no variable names the service.
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: config.service_name}))
    return resource


def setup_tracing(config: TracingConfig) -> TracingHandle:
    """Install tracing for this process and return a handle to read and stop it.

    Call it from the application's lifespan or the CLI, never at import time. If an SDK tracer
    provider is already installed (``opentelemetry-instrument``), our recent-traces processor is added
    to it and nothing else changes. When ``config.installs`` is False, nothing is installed: the handle's
    provider is never made global and its buffer stays empty.
    """
    recent = RecentTracesProcessor(max(1, config.recent_traces_max), config.recent_spans_per_trace_max)
    if not config.installs:
        provider = TracerProvider(resource=build_resource(config))  # never made global, no processor
        return TracingHandle(provider, recent, None, False, config.shutdown_timeout_millis)
    keep_recent = config.recent_traces_max > 0
    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        if keep_recent:
            existing.add_span_processor(recent)
        return TracingHandle(existing, recent, None, False, config.shutdown_timeout_millis)

    resource = build_resource(config)
    meter_provider = build_meter_provider(resource)
    provider = TracerProvider(resource=resource, sampler=build_sampler())
    # The buffer comes first so /performance shows a span even while the exporter is busy.
    if keep_recent:
        provider.add_span_processor(recent)
    exporter = build_exporter(meter_provider)
    if exporter is not None:
        # With the meter provider, and OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED=true, the SDK counts the spans it
        # drops (otel.sdk.processor.span.processed with error.type): an outage shows as a number, not log lines.
        provider.add_span_processor(BatchSpanProcessor(exporter, meter_provider=meter_provider))
    trace.set_tracer_provider(provider)
    return TracingHandle(provider, recent, exporter, True, config.shutdown_timeout_millis, meter_provider)
