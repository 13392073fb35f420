"""``perftrace report``, ``snapshot`` and ``compare``: the commands any service's CLI can delegate to.

``report --conversation ID`` prints one conversation's turns instead of the stage report.

Fetching uses the standard library (``urllib``); the payloads are read through ``perftrace.formats``.
Exit codes of ``compare``: 0 done, 1 a stage got slower than ``--fail-if-slower`` allows, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GEN_AI_CONVERSATION_ID

from perftrace.analysis.compare import compare
from perftrace.analysis.compare_report import format_markdown, format_text
from perftrace.analysis.conversations import find_conversation, format_conversation
from perftrace.analysis.report import build_report, format_report
from perftrace.analysis.stages import Operation, find_operations
from perftrace.formats.jaeger import traces_from_jaeger
from perftrace.formats.snapshot import (
    SnapshotError,
    read_snapshot,
    snapshot_from_json,
    snapshot_to_json,
    write_snapshot,
)
from perftrace.formats.spans import traces_from_json
from perftrace.paths import SNAPSHOT_PATH, TRACES_PATH
from perftrace.tracing.records import TraceRecord

EXIT_SLOWER, EXIT_UNREADABLE = 1, 2
#: What ``report`` says when nothing answers at ``--url`` (a service passes its own, naming how to start it).
UNREACHABLE_HINT = "Start the service, or pass --url for one elsewhere or --jaeger for a Jaeger holding its traces."
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``1d`` as seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 15m, 2h or 1d")
    return float(match[1]) * _UNITS[match[2]]


def _instant(text: str) -> float:
    """An ISO 8601 time, or a duration meaning that long ago, as epoch seconds."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return time.time() - _seconds(text)


def _window(text: str) -> tuple[float, float]:
    """``START,END`` (each ISO 8601 or a duration ago, e.g. ``2h,1h``) as epoch seconds."""
    start, sep, end = text.partition(",")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not START,END (e.g. 2h,1h or 2026-01-05T10:00,2026-01-05T11:00)")
    return _instant(start), _instant(end) if end else time.time()


#: A bearer token for a service whose routes ask for one (an environment variable: argv is visible to others).
TOKEN_ENV = "PERFTRACE_TOKEN"


def _get_json(url: str, params: dict[str, Any], *, signed: bool = False) -> Any:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    token = os.environ.get(TOKEN_ENV) if signed else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{url}?{query}" if query else url, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.load(response)


def jaeger_traces(
    jaeger: str,
    service: str,
    window: tuple[float, float],
    limit: int,
    version: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> list[TraceRecord]:
    """Traces of ``service`` that Jaeger's query API holds for the window (epoch seconds).

    With ``version``, only those whose ``service`` process has that ``service.version``: Jaeger's tag
    search does not look at resource attributes, so the traces are split here. With ``tags``, only traces
    with a span of ``service`` carrying those attribute values (Jaeger's own tag search).
    """
    params = {"service": service, "start": int(window[0] * 1e6), "end": int(window[1] * 1e6), "limit": limit}
    params["tags"] = json.dumps(dict(tags)) if tags else None
    payload = _get_json(f"{jaeger.rstrip('/')}/api/traces", params)
    if version is not None:
        payload = {"data": [t for t in payload.get("data") or [] if _has_version(t, service, version)]}
    return traces_from_jaeger(payload)


def _has_version(trace: dict[str, Any], service: str, version: str) -> bool:
    return any(
        process.get("serviceName") == service
        and any(t.get("key") == "service.version" and str(t.get("value")) == version for t in process.get("tags") or [])
        for process in (trace.get("processes") or {}).values()
    )


def snapshot_document(args: argparse.Namespace) -> dict[str, Any]:
    """The snapshot that ``snapshot`` writes: from ``--jaeger`` or from the service at ``--url``."""
    if args.jaeger:
        if not args.service:
            raise SnapshotError("--jaeger needs --service")
        window = (time.time() - args.since, time.time())
        traces = jaeger_traces(args.jaeger, args.service, window, args.limit)
        return snapshot_to_json(traces, source=f"{args.jaeger} since {args.since:g}s", service_name=args.service)
    if not args.url:
        raise SnapshotError("give --url (a running service) or --jaeger")
    document = _get_json(f"{args.url.rstrip('/')}{SNAPSHOT_PATH}", {}, signed=True)
    snapshot_from_json(document)  # refuse to write what could not be read back
    return dict(document)


def run_snapshot(args: argparse.Namespace) -> int:
    """Write a snapshot to ``-o`` (or standard output)."""
    try:
        document = snapshot_document(args)
    except (OSError, ValueError) as error:  # URLError and SnapshotError are among these
        print(f"Could not read traces: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.output and args.output != "-":
        write_snapshot(document, args.output)
        print(f"{len(document['traces'])} traces written to {args.output}", file=sys.stderr)
    else:
        print(json.dumps(document))
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Print the bottleneck report of a running service's kept traces, or of a Jaeger window."""
    source = args.jaeger or args.url
    try:
        if args.jaeger:
            window = (time.time() - args.lookback, time.time())
            tags = {GEN_AI_CONVERSATION_ID: args.conversation} if args.conversation else None
            traces = jaeger_traces(args.jaeger, args.service, window, args.limit, tags=tags)
        else:
            payload = _get_json(f"{args.url.rstrip('/')}{TRACES_PATH}", {"limit": args.limit}, signed=True)
            traces = traces_from_json(payload)
    except (OSError, ValueError) as error:  # URLError is an OSError, pydantic's ValidationError a ValueError
        # An HTTPError's reason is its message: only a refused connection means nothing answers.
        refused = isinstance(error, urllib.error.URLError) and isinstance(error.reason, ConnectionRefusedError)
        hint = f"Nothing answers at {source}. {args.unreachable_hint}"
        print(hint if refused else f"Could not read traces from {source}: {error}", file=sys.stderr)
        return 1
    operations = find_operations(traces, args.service)
    if args.conversation:
        return print_conversation(operations, args)
    print(format_report(build_report(operations, args.slowest)))
    return 0


def print_conversation(operations: Sequence[Operation], args: argparse.Namespace) -> int:
    """Print ``--conversation``'s turns among ``operations``; 1 when none of them names it."""
    found = find_conversation(operations, args.conversation)
    if found is None:
        print(f"No trace read names conversation {args.conversation!r}.", file=sys.stderr)
        return 1
    print(format_conversation(found))
    return 0


def _inputs(args: argparse.Namespace) -> tuple[list[TraceRecord], list[TraceRecord], str | None]:
    if args.before and args.after:
        before, after = read_snapshot(args.before), read_snapshot(args.after)
        return before.traces, after.traces, args.service or before.service_name
    if not args.jaeger:
        raise SnapshotError("give BEFORE and AFTER snapshot files, or --jaeger with windows or versions")
    if args.versions:
        window = (time.time() - args.since, time.time())
        sides = [jaeger_traces(args.jaeger, args.service, window, args.limit, v) for v in args.versions]
    elif args.before_window and args.after_window:
        sides = [
            jaeger_traces(args.jaeger, args.service, w, args.limit) for w in (args.before_window, args.after_window)
        ]
    else:
        raise SnapshotError("with --jaeger, give --before-window and --after-window, or --versions BEFORE AFTER")
    return sides[0], sides[1], args.service


def run_compare(args: argparse.Namespace) -> int:
    """Print the comparison; exit 1 when the gate fails, 2 for unreadable input."""
    try:
        before, after, service = _inputs(args)
    except (OSError, ValueError) as error:
        print(f"Could not read traces: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    result = compare(
        before,
        after,
        service,
        confidence=args.confidence,
        resamples=args.resamples,
        seed=args.seed,
        min_effect_ms=args.min_effect_ms,
    )
    gate = args.fail_if_slower / 100 if args.fail_if_slower is not None else None
    failing = result.slower_than(gate) if gate is not None else []
    if args.format == "json":  # changes and interval bounds as fractions, 0.3 = +30 %
        print(json.dumps({**asdict(result), "slower_than_gate": failing if gate else []}))
    elif args.format == "markdown":
        print(format_markdown(result, gate))
    else:
        print(format_text(result))
    if failing:
        print(f"Slower by more than {args.fail_if_slower:g}%: {', '.join(failing)}", file=sys.stderr)
        return EXIT_SLOWER
    return 0


def add_report_arguments(
    parser: argparse.ArgumentParser, url: str | None, service: str | None, unreachable_hint: str = UNREACHABLE_HINT
) -> None:
    """The options of ``report``; ``url``, ``service`` and the hint are the adopting service's."""
    parser.add_argument("--url", default=url, help=f"a running service: its kept traces (default {url})")
    parser.add_argument("--jaeger", help="read from Jaeger's API at this address instead, e.g. http://localhost:16686")
    parser.add_argument("--service", default=service, help="the service whose operations count")
    parser.add_argument("--limit", type=int, default=100, help="how many recent traces to read")
    parser.add_argument("--lookback", type=_seconds, default=3600.0, help="with --jaeger: how far back (e.g. 1h)")
    parser.add_argument("--slowest", type=int, default=3, help="how many slowest traces to show the path of")
    parser.add_argument(
        "--conversation", metavar="ID", help="instead: the turns of this gen_ai.conversation.id, in order"
    )
    parser.set_defaults(handler=run_report, unreachable_hint=unreachable_hint)


def add_snapshot_arguments(parser: argparse.ArgumentParser, url: str | None, service: str | None) -> None:
    """The options of ``snapshot``; ``url`` and ``service`` are the defaults of the adopting service."""
    parser.add_argument("--url", default=url, help=f"a running service: its kept traces (default {url})")
    parser.add_argument("--jaeger", help="read a time window from Jaeger's API instead, e.g. http://localhost:16686")
    parser.add_argument("--service", default=service, help="with --jaeger: the service whose traces to read")
    parser.add_argument("--since", type=_seconds, default=3600.0, help="with --jaeger: how far back (e.g. 30m, 2h)")
    parser.add_argument("--limit", type=int, default=1000, help="with --jaeger: at most this many traces")
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    parser.set_defaults(handler=run_snapshot)


def add_compare_arguments(parser: argparse.ArgumentParser, service: str | None) -> None:
    """The options of ``compare``."""
    parser.add_argument("before", nargs="?", help="snapshot file from before the change")
    parser.add_argument("after", nargs="?", help="snapshot file from after it")
    parser.add_argument("--jaeger", help="compare traces from Jaeger's API instead of files")
    parser.add_argument("--service", default=service, help="the service whose operations count")
    parser.add_argument("--before-window", type=_window, help="with --jaeger: START,END, e.g. 2h,1h")
    parser.add_argument("--after-window", type=_window, help="with --jaeger: START,END, e.g. 1h,0s")
    parser.add_argument(
        "--versions", nargs=2, metavar=("BEFORE", "AFTER"), help="with --jaeger: service.version values"
    )
    parser.add_argument("--since", type=_seconds, default=86400.0, help="with --versions: how far back (default 1d)")
    parser.add_argument("--limit", type=int, default=1000, help="with --jaeger: at most this many traces per side")
    parser.add_argument("--fail-if-slower", type=float, metavar="PCT", help="exit 1 if a stage is surely PCT %% slower")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument("--confidence", type=float, default=0.95, help="simultaneous confidence of the intervals")
    parser.add_argument(
        "--min-effect-ms", type=float, default=0.1, help="smaller changes get no verdict (default 0.1 ms)"
    )
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples per stage and statistic")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling (results are reproducible)")
    parser.set_defaults(handler=run_compare)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``perftrace`` command."""
    parser = argparse.ArgumentParser(prog="perftrace", description="reports, snapshots and comparisons of traces")
    commands = parser.add_subparsers(dest="command", required=True)
    add_report_arguments(commands.add_parser("report", help="per-stage percentiles and critical paths"), None, None)
    add_snapshot_arguments(commands.add_parser("snapshot", help="write traces to a snapshot file"), None, None)
    add_compare_arguments(commands.add_parser("compare", help="compare two snapshots stage by stage"), None)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
