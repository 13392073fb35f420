"""One checkout's browser endpoint, timed on request: one worker process per checkout.

Run with that checkout's ``libs/perftrace/src`` first on ``PYTHONPATH``; it imports nothing of the repository at
module level, so the same file drives today's code and older commits. It reads an OTLP/JSON export from the
file named on its command line, then answers each line ``N`` on stdin with one JSON line on stdout: spans per
CPU second of the route's work (read, check, cap, re-serialize, copy to the buffer) over N exports, per
encoding.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
#: One export through the route's work: the body it forwards, and how many spans it kept.
RouteWork = Callable[[str, bytes], tuple[bytes, int]]


def route_work(service_name: str, forwarded_by: str) -> RouteWork:
    """What the route does with one export besides I/O, in whichever API the checkout on the path has."""
    try:
        from perftrace.fastapi import BrowserEndpointConfig
        from perftrace.fastapi.browser_endpoint.checks import ExportRejected, prepare_export
    except ImportError:
        return _route_work_before_issue_20(service_name, forwarded_by)
    try:
        from perftrace.formats.otlp import span_records
    except ImportError:  # issue 20's commits before OTLP spans had one reader
        from perftrace.fastapi.browser_endpoint.checks import span_records  # type: ignore[attr-defined,no-redef]
    config = BrowserEndpointConfig(service_names=frozenset({service_name}))

    def work(content_type: str, body: bytes) -> tuple[bytes, int]:
        export = prepare_export(content_type, None, body, config, forwarded_by=forwarded_by)
        assert not isinstance(export, ExportRejected), export
        return export.body, len(span_records(export.request))

    return work


def _route_work_before_issue_20(service_name: str, forwarded_by: str) -> RouteWork:
    # Commits before issue 20: core modules; from b4b5e4e on, the route also checked JSON against its schema.
    from perftrace.browser_export import (  # type: ignore[import-not-found]
        ExportLimits,
        prepare_export,
        span_records,
    )

    try:
        from perftrace.fastapi.otlp_schema import check_export_document  # type: ignore[import-not-found]

        schema_check = {"check_json": check_export_document}
    except ImportError:
        schema_check = {}
    limits = ExportLimits(allowed_services=frozenset({service_name}), forwarded_by=forwarded_by)

    def work(content_type: str, body: bytes) -> tuple[bytes, int]:
        checks = schema_check if content_type == JSON else {}
        export = prepare_export("/v1/traces", content_type, None, body, limits, **checks)
        return export.body, len(span_records(export.request))

    return work


def spans_per_second(work: RouteWork, bodies: dict[str, bytes], spans: int, exports: int) -> dict[str, float]:
    """Spans per CPU second of ``work`` over ``exports`` exports of each body.

    CPU time of this process, not wall time: on a shared machine the wall clock also counts the time other
    processes held the core, which is most of the noise between rounds.
    """
    rates = {}
    for content_type, body in bodies.items():
        started = time.process_time()
        for _ in range(exports):
            work(content_type, body)
        rates[content_type] = spans * exports / (time.process_time() - started)
    return rates


def main() -> None:
    """Serve timing requests until stdin closes."""
    document_path, service_name, forwarded_by = sys.argv[1:4]
    document = Path(document_path).read_bytes()
    work = route_work(service_name, forwarded_by)
    protobuf, spans = work(JSON, document)  # the protobuf form as this checkout forwards it
    bodies = {JSON: document, PROTOBUF: protobuf}
    spans_per_second(work, bodies, spans, 20)  # warm-up
    import perftrace

    print(json.dumps({"perftrace": perftrace.__file__, "spans": spans}), flush=True)
    for line in sys.stdin:
        print(json.dumps(spans_per_second(work, bodies, spans, int(line))), flush=True)


if __name__ == "__main__":
    main()
