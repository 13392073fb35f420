"""Snapshots: a set of traces written to one versioned JSON document, to compare before and after a change.

The document::

    {"format": "perftrace.snapshot", "version": 1, "created_unix_nano": ..., "source": "...",
     "service_name": "ha-ai-agent",
     "traces": [{"trace_id": "<32 hex>", "dropped_spans": 0, "spans": [<span>, ...], <summary>}]}

A trace and its spans are written as the JSON routes write them (``perftrace.formats.spans``): one model for
the file, the snapshot route and the compare route's body. Reading validates every field once and names the
first bad one (``traces[3].spans[0].name: expected a string``), so a truncated or foreign file fails with a
message instead of a wrong comparison.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from perftrace.formats.spans import JSON_INTEGRAL, TraceJson, UInt64
from perftrace.tracing.records import TraceRecord

SNAPSHOT_FORMAT: Final = "perftrace.snapshot"
SNAPSHOT_VERSION: Final = 1


class SnapshotError(ValueError):
    """The input is not a readable snapshot; the message says where and why."""


class SnapshotModel(BaseModel):
    """A ``perftrace.snapshot`` document: what ``snapshot`` writes and ``compare`` reads."""

    model_config = ConfigDict(strict=True, frozen=True)

    format: Literal["perftrace.snapshot"]
    version: Annotated[Literal[1], JSON_INTEGRAL]
    created_unix_nano: UInt64 = 0
    source: str = ""
    service_name: str | None = None
    traces: list[TraceJson]

    @classmethod
    def from_records(
        cls, traces: Iterable[TraceRecord], source: str = "", service_name: str | None = None
    ) -> SnapshotModel:
        """The snapshot of ``traces``, made now."""
        return cls.model_construct(
            format=SNAPSHOT_FORMAT,
            version=SNAPSHOT_VERSION,
            created_unix_nano=time.time_ns(),
            source=source,
            service_name=service_name,
            traces=list(traces),
        )


def snapshot_to_json(
    traces: Iterable[TraceRecord], source: str = "", service_name: str | None = None
) -> dict[str, Any]:
    """The snapshot document of ``traces`` (spans in start order)."""
    return SnapshotModel.from_records(traces, source, service_name).model_dump(mode="json")


def write_snapshot(snapshot: Mapping[str, Any], path: str | Path) -> None:
    """Write a snapshot document to a file (``-`` is not handled here: the caller prints)."""
    Path(path).write_text(json.dumps(snapshot, separators=(",", ":")), encoding="utf-8")


def read_snapshot(path: str | Path) -> SnapshotModel:
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


def snapshot_from_json(document: Any) -> SnapshotModel:
    """Validate a parsed snapshot document.

    Raises:
        SnapshotError: naming the first field that is missing or of the wrong type.
    """
    try:
        return SnapshotModel.model_validate(document)
    except ValidationError as error:
        raise SnapshotError(_first_problem(error, document)) from None


#: Pydantic's error types, in the words of this file's readers.
_EXPECTED = {"int": "expected a non-negative integer", "string_type": "expected a string"}
_EXPECTED |= {"model_type": "expected an object", "dict_type": "expected an object", "list_type": "expected a list"}


def _first_problem(error: ValidationError, document: Any) -> str:
    problem = error.errors()[0]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]).lstrip(".")
    if where in ("format", "version") and isinstance(document, Mapping):
        if where == "format":
            return f"not a {SNAPSHOT_FORMAT} document (format is {document.get('format')!r})"
        return f"snapshot version {document.get('version')!r} is not supported (this reads {SNAPSHOT_VERSION})"
    kind = "int" if problem["type"].startswith(("int_", "greater_than", "less_than")) else problem["type"]
    what = _EXPECTED.get(kind, problem["msg"])
    return f"{where or 'document'}: {what}" + ("" if problem["type"] == "missing" else f", got {problem['input']!r}")
