"""The service traced by Logfire instead of its own tracing: the ``chat_throughput`` peer a Logfire user would run.

What Logfire's documentation tells a FastAPI user to write: ``logfire.configure``, then its FastAPI, httpx and
OpenAI integrations. Nothing goes to Logfire's cloud (``send_to_logfire=False``); spans go to the OTLP
endpoint of the standard ``OTEL_EXPORTER_OTLP_*`` variables, which Logfire reads. The service runs with
``HA_AGENT_BUILTIN_TRACING=false`` (set by the benchmark), so every span is Logfire's.

    python benchmarks/harness/logfire_serve.py --port PORT
"""

from __future__ import annotations

import argparse
import os

import logfire  # type: ignore[import-not-found, unused-ignore]
import uvicorn
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from perftrace.tracing.logs import configure_logging


def main() -> None:
    """Configure Logfire and its integrations, then serve the app as ``ha-ai-agent serve`` does."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Spans only, as for the other peers (their metrics and logs exporters are off too).
    logfire.configure(
        send_to_logfire=False,
        service_name=os.environ.get("OTEL_SERVICE_NAME", "ha-ai-agent"),
        console=False,
        metrics=False,
    )
    logfire.instrument_httpx()
    logfire.instrument_openai()
    settings = Settings(host=args.host, port=args.port)
    app = create_app(settings)
    logfire.instrument_fastapi(app)
    configure_logging(settings.log_level, trace_ids=False)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, timeout_graceful_shutdown=30)


if __name__ == "__main__":
    main()
