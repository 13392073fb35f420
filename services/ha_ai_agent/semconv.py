"""The names this service puts on its telemetry: service names, stage span names, span attribute names.

One source for the pipeline, the tests, the benchmarks and (checked by a test) the Grafana dashboards and
alert rules. Names the tracing library itself sets (``performance.operation``) live in ``perftrace.semconv``.
"""

from __future__ import annotations

#: ``service.name`` of the backend, unless ``OTEL_SERVICE_NAME`` says otherwise.
SERVICE_NAME = "ha-ai-agent"
#: ``service.name`` the browser app's spans carry; the only one the span endpoint accepts by default.
BROWSER_SERVICE_NAME = "ai-automation-ui"
