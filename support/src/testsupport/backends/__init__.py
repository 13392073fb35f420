"""The observability backends the end-to-end tests run, at the versions the compose files pin.

Docker cannot run on our machines, so the tests start the same programs as plain processes: built from the Go
module proxy (Jaeger, Prometheus, the Compose CLI; the collectors with the OpenTelemetry Collector Builder) or
fetched from Maven Central (Kafka, Cassandra), into a cache outside the clone that is never rebuilt when it has
the version::

    ${HA_AGENT_BACKENDS_DIR:-${XDG_CACHE_HOME:-~/.cache}/ha-ai-agent/backends}/<name>-<version>/<binary>

``pins`` reads the versions and holds one table row per backend; ``build`` builds what the cache lacks.
Tempo is pinned in compose but never built: our module proxy refuses github.com/grafana/tempo (AGPL); the tests use
a Tempo binary only when HA_AGENT_TEMPO_BIN names one.
"""

from __future__ import annotations

from testsupport.backends.build import BuildError, cache_root, ensure_backends
from testsupport.backends.pins import BACKEND_NAMES, SetupError

__all__ = ["BACKEND_NAMES", "BuildError", "SetupError", "cache_root", "ensure_backends"]
