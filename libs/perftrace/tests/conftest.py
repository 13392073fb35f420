from __future__ import annotations

from testsupport.otel_fixtures import exported, isolated_otel_env, tracing

__all__ = ["exported", "isolated_otel_env", "tracing"]
