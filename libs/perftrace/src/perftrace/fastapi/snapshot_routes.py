"""``GET /api/v1/performance/snapshot`` (the kept traces as a snapshot) and ``POST .../compare`` (two of them)."""

from __future__ import annotations

from fastapi import APIRouter

from perftrace.compare import Comparison, compare
from perftrace.fastapi.contract import SERVER_ERROR, UNREADABLE_BODY, VALIDATION_ERROR, error_responses
from perftrace.fastapi.routes import API_PREFIX, NOT_RUNNING, Running
from perftrace.fastapi.snapshot_models import CompareRequest, SnapshotModel
from perftrace.snapshot import snapshot_from_json

router = APIRouter(tags=["performance"], responses={**NOT_RUNNING, **SERVER_ERROR})
#: Where two snapshots are compared; its body is capped by ``PerformanceTracing(compare_max_body_bytes=...)``.
COMPARE_PATH = f"{API_PREFIX}/compare"
TOO_LARGE = error_responses({413: "The body is over the byte limit"})


@router.get(f"{API_PREFIX}/snapshot")
async def snapshot(state: Running) -> SnapshotModel:
    """Every kept trace with all its spans, as one versioned document (what ``perftrace snapshot`` writes)."""
    kept = state.handle.recent.traces()
    source = f"{state.service_name} {API_PREFIX}/snapshot"
    return SnapshotModel.from_records(kept, source=source, service_name=state.service_name)


@router.post(COMPARE_PATH, responses={**UNREADABLE_BODY, **TOO_LARGE, **VALIDATION_ERROR})
def compare_snapshots(body: CompareRequest, state: Running) -> Comparison:
    """Two snapshots compared stage by stage (what ``perftrace compare`` prints); a 422 names the bad field.

    A plain ``def``: the bootstrap takes a fraction of a second of CPU, which belongs in the thread pool.
    """
    # The schema has checked both documents: snapshot_from_json has nothing left to refuse.
    before, after = snapshot_from_json(body.before.model_dump()), snapshot_from_json(body.after.model_dump())
    return compare(before.traces, after.traces, before.service_name or state.service_name)
