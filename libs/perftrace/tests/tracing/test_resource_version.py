from __future__ import annotations

import pytest
from perftrace import TracingConfig, setup_tracing


def test_service_version_from_the_environment_beats_the_configured_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """`compare --versions` tells two deployments apart by the service.version an operator sets this way."""
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.version=2.0-canary")
    handle = setup_tracing(TracingConfig(service_name="svc", service_version="1.0"))

    assert handle.provider.resource.attributes["service.version"] == "2.0-canary"
    assert handle.provider.resource.attributes["service.name"] == "svc"
    handle.shutdown()
