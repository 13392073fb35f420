"""Snapshots: a set of traces written to one versioned JSON document, to compare before and after a change.

The document::

    {"format": "perftrace.snapshot", "version": 1, "created_unix_nano": ..., "source": "...",
     "service_name": "ha-ai-agent",
     "traces": [{"trace_id": "<32 hex>", "dropped_spans": 0,
                 "spans": [{"span_id": "<16 hex>", "parent_span_id": "<16 hex>" | null, "name": "...",
                            "kind": "SERVER", "service_name": "...", "start_time_unix_nano": ...,
                            "end_time_unix_nano": ..., "status": "OK", "status_message": null,
                            "attributes": {...}}]}]}

Reading validates every field and names the first bad one (``traces[3].spans[0].name: ...``), so a
truncated or foreign file fails with a message instead of a wrong comparison.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from perftrace.tracing.records import SpanRecord, TraceRecord, attribute_map

SNAPSHOT_FORMAT: Final = "perftrace.snapshot"
SNAPSHOT_VERSION: Final = 1
_STATUSES = ("UNSET", "OK", "ERROR")


class SnapshotError(ValueError):
    """The input is not a readable snapshot; the message says where and why."""


@dataclass(frozen=True)
class Snapshot:
    """Traces read from a snapshot, with where they came from."""

    traces: list[TraceRecord]
    source: str = ""
    service_name: str | None = None
    created_unix_nano: int = 0


def span_to_json(span: SpanRecord) -> dict[str, Any]:
    """One span as the snapshot (and the trace viewer's JSON) writes it."""
    return {
        "span_id": span.span_id_hex,
        "parent_span_id": span.parent_span_id_hex,
        "name": span.name,
        "kind": span.kind,
        "service_name": span.service_name,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano,
        "status": span.status,
        "status_message": span.status_message,
        "attributes": span.attributes_dict(),
    }


def snapshot_to_json(
    traces: Iterable[TraceRecord], source: str = "", service_name: str | None = None
) -> dict[str, Any]:
    """The snapshot document of ``traces`` (spans in start order)."""
    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "created_unix_nano": time.time_ns(),
        "source": source,
        "service_name": service_name,
        "traces": [
            {
                "trace_id": t.trace_id_hex,
                "dropped_spans": t.dropped_spans,
                "spans": [span_to_json(s) for s in sorted(t.spans, key=lambda s: s.start_time_unix_nano)],
            }
            for t in traces
        ],
    }


def write_snapshot(snapshot: Mapping[str, Any], path: str | Path) -> None:
    """Write a snapshot document to a file (``-`` is not handled here: the caller prints)."""
    Path(path).write_text(json.dumps(snapshot, separators=(",", ":")), encoding="utf-8")


def read_snapshot(path: str | Path) -> Snapshot:
    """Read and validate a snapshot file.

    Raises:
        SnapshotError: the file cannot be read, is not JSON, or is not a snapshot of a known version.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SnapshotError(f"{path}: cannot read: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SnapshotError(f"{path}: not JSON: {error}") from None
    try:
        return snapshot_from_json(document)
    except SnapshotError as error:
        raise SnapshotError(f"{path}: {error}") from None


def snapshot_from_json(document: Any) -> Snapshot:
    """Validate a parsed snapshot document and turn it into traces.

    Raises:
        SnapshotError: naming the first field that is missing or of the wrong type.
    """
    doc = _mapping(document, "document")
    if doc.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"not a {SNAPSHOT_FORMAT} document (format is {doc.get('format')!r})")
    if doc.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {doc.get('version')!r} is not supported (this reads {SNAPSHOT_VERSION})")
    traces = [_trace(t, f"traces[{i}]") for i, t in enumerate(_list(doc.get("traces"), "traces"))]
    service = doc.get("service_name")
    return Snapshot(
        traces=traces,
        source=str(doc.get("source") or ""),
        service_name=service if isinstance(service, str) else None,
        created_unix_nano=_int(doc.get("created_unix_nano", 0), "created_unix_nano"),
    )


def _trace(value: Any, where: str) -> TraceRecord:
    trace = _mapping(value, where)
    trace_id = _hex(trace.get("trace_id"), f"{where}.trace_id", 32)
    spans = tuple(
        _span(s, trace_id, f"{where}.spans[{i}]") for i, s in enumerate(_list(trace.get("spans"), f"{where}.spans"))
    )
    return TraceRecord(trace_id, spans, _int(trace.get("dropped_spans", 0), f"{where}.dropped_spans"))


def _span(value: Any, trace_id: int, where: str) -> SpanRecord:
    span = _mapping(value, where)
    parent = span.get("parent_span_id")
    start = _int(span.get("start_time_unix_nano"), f"{where}.start_time_unix_nano")
    end = _int(span.get("end_time_unix_nano"), f"{where}.end_time_unix_nano")
    if end < start:
        raise SnapshotError(f"{where}: ends before it starts")
    status = span.get("status", "UNSET")
    if status not in _STATUSES:
        raise SnapshotError(f"{where}.status: expected one of {', '.join(_STATUSES)}, got {status!r}")
    message = span.get("status_message")
    return SpanRecord(
        trace_id=trace_id,
        span_id=_hex(span.get("span_id"), f"{where}.span_id", 16),
        parent_span_id=0 if parent is None else _hex(parent, f"{where}.parent_span_id", 16),
        parent_is_remote=False,
        name=_str(span.get("name"), f"{where}.name"),
        kind=_str(span.get("kind", "INTERNAL"), f"{where}.kind"),
        service_name=_str(span.get("service_name", ""), f"{where}.service_name"),
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        status=status,
        status_message=message if isinstance(message, str) else None,
        attributes=attribute_map(_mapping(span.get("attributes", {}), f"{where}.attributes")),
    )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SnapshotError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SnapshotError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise SnapshotError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SnapshotError(f"{where}: expected a non-negative integer, got {value!r}")
    return value


def _hex(value: Any, where: str, digits: int) -> int:
    text = _str(value, where)
    try:
        number = int(text, 16)
    except ValueError:
        number = -1
    if len(text) != digits or number < 0:
        raise SnapshotError(f"{where}: expected {digits} hex digits, got {text!r}")
    return number
