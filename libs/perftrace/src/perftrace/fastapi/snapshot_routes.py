"""``GET /api/v1/performance/snapshot`` (the kept traces as a snapshot) and ``POST .../compare`` (two of them)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from perftrace.compare import Comparison, compare
from perftrace.fastapi.routes import API_PREFIX, Running
from perftrace.fastapi.snapshot_models import CompareRequest, SnapshotModel
from perftrace.snapshot import Snapshot, SnapshotError, snapshot_from_json

router = APIRouter(tags=["performance"])


@router.get(f"{API_PREFIX}/snapshot")
async def snapshot(state: Running) -> SnapshotModel:
    """Every kept trace with all its spans, as one versioned document (what ``perftrace snapshot`` writes)."""
    kept = state.handle.recent.traces()
    source = f"{state.service_name} {API_PREFIX}/snapshot"
    return SnapshotModel.from_records(kept, source=source, service_name=state.service_name)


@router.post(f"{API_PREFIX}/compare")
def compare_snapshots(body: CompareRequest, state: Running) -> Comparison:
    """Two snapshots compared stage by stage (what ``perftrace compare`` prints); a 400 names the bad field.

    A plain ``def``: the bootstrap takes a fraction of a second of CPU, which belongs in the thread pool.
    """
    before, after = _read(body.before, "before"), _read(body.after, "after")
    return compare(before.traces, after.traces, before.service_name or state.service_name)


def _read(document: object, side: str) -> Snapshot:
    try:
        return snapshot_from_json(document)
    except SnapshotError as error:
        raise HTTPException(400, f"{side} is not a readable snapshot: {error}") from None
