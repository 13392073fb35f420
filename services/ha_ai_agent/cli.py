"""``ha-ai-agent serve | ask | token | report | snapshot | compare``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence

import httpx
from perftrace.cli import add_compare_arguments, add_report_arguments, add_snapshot_arguments
from perftrace.tracing.logs import configure_logging

from ha_ai_agent.auth.credentials import new_token
from ha_ai_agent.auth.policy import AuthNotConfigured
from ha_ai_agent.config import Settings
from ha_ai_agent.semconv import CHAT_PATH, SERVICE_NAME

#: Where `make run` serves: the default of the commands that read a running service.
LOCAL_URL = "http://127.0.0.1:8030"
UNREACHABLE_HINT = (
    "Start the service with `make run` (or `ha-ai-agent serve`), or pass --url for a service elsewhere "
    "or --jaeger for a Jaeger that holds its traces."
)


def _configure_logging(level: str, trace_ids: bool = True) -> None:
    configure_logging(level, trace_ids)
    # One INFO line per outgoing request would bury the stage reports; the spans have those requests.
    for chatty in ("httpx", "httpx2"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ha_ai_agent.app import create_app

    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = Settings(**overrides)
    try:
        settings.resolved_auth()
    except AuthNotConfigured as refusal:
        print(f"ha-ai-agent: {refusal}", file=sys.stderr)
        return 2
    # Tracing off (or left to an agent) installs nothing, not even the trace ids of the log lines.
    _configure_logging(settings.log_level, trace_ids=settings.installs_tracing)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=30,
    )
    return 0


def _token() -> int:
    token, digest = new_token()
    print(f"New token (shown once; the agent keeps only its hash):\n\n    {token}\n")
    print("Add its hash to the agent's settings (.env or the environment), beside any you already have:\n")
    print(f"    HA_AGENT_AUTH_TOKEN_HASHES='[\"{digest}\"]'\n")
    print("then restart it, and sign in on the chat page with the token, or send 'Authorization: Bearer <token>'.")
    return 0


async def _ask(question: str, settings: Settings) -> int:
    from ha_ai_agent.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ha-ai-agent") as client:
            response = await client.post(CHAT_PATH, json={"message": question}, timeout=120)
        body = response.json()
        if response.status_code != 200:
            print(f"Error {response.status_code}: {body.get('detail')}", file=sys.stderr)
            return 1
        print(body["message"])
        for call in body["tool_calls"]:
            print(f"  tool {call['name']}({json.dumps(call['arguments'])})")
        reports = app.state.runtime.tracker.get_reports()
        if reports:
            report = reports[-1]
            print(f"\n{'stage':<26}{'ms':>10}")
            for metric in report.metrics:
                print(f"{metric.name:<26}{(metric.duration or 0) * 1000:>10.1f}")
            print(f"{'total (wall clock)':<26}{report.total_duration * 1000:>10.1f}")
            print(f"trace {report.trace_id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="ha-ai-agent", description="Home Assistant AI chat agent")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1, HA_AGENT_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8030, HA_AGENT_PORT)")
    ask = commands.add_parser("ask", help="answer one question in-process and print the stage timings")
    ask.add_argument("question")
    commands.add_parser("token", help="make a new access token of the agent's own and print it once")
    # Reports, snapshots and comparisons are the tracing library's commands, with this service's defaults.
    report = commands.add_parser("report", help="per-stage percentiles and the critical path of the slowest chats")
    add_report_arguments(report, LOCAL_URL, SERVICE_NAME, UNREACHABLE_HINT)
    snapshot = commands.add_parser("snapshot", help="write the kept traces (or a Jaeger time window) to a file")
    add_snapshot_arguments(snapshot, LOCAL_URL, SERVICE_NAME)
    compare = commands.add_parser("compare", help="did a change make it faster? two snapshots, stage by stage")
    add_compare_arguments(compare, SERVICE_NAME)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ha-ai-agent`` command."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "token":
        return _token()
    if args.command in ("report", "snapshot", "compare"):
        return int(args.handler(args))
    settings = Settings()
    _configure_logging("WARNING")
    return asyncio.run(_ask(args.question, settings))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
