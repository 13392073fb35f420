"""``GET /api/v1/performance/snapshot`` (the kept traces as a snapshot) and ``POST .../compare`` (two of them)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from perftrace.analysis.compare import Comparison, compare
from perftrace.fastapi.contract import SERVER_ERROR, UNREADABLE_BODY, VALIDATION_ERROR, error_responses
from perftrace.fastapi.routes import NOT_RUNNING, Running
from perftrace.formats.snapshot import SnapshotModel
from perftrace.paths import COMPARE_PATH, SNAPSHOT_PATH

router = APIRouter(tags=["performance"], responses={**NOT_RUNNING, **SERVER_ERROR})
TOO_LARGE = error_responses({413: "The body is over the byte limit"})


class CompareRequest(BaseModel):
    """Two snapshot documents, before and after a change."""

    model_config = ConfigDict(strict=True)

    before: SnapshotModel
    after: SnapshotModel


@router.get(SNAPSHOT_PATH)
async def snapshot(state: Running) -> SnapshotModel:
    """Every kept trace with all its spans, as one versioned document (what ``perftrace snapshot`` writes)."""
    kept = state.handle.recent.traces()
    source = f"{state.service_name} {SNAPSHOT_PATH}"
    return SnapshotModel.from_records(kept, source=source, service_name=state.service_name)


@router.post(COMPARE_PATH, responses={**UNREADABLE_BODY, **TOO_LARGE, **VALIDATION_ERROR})
def compare_snapshots(body: CompareRequest, state: Running) -> Comparison:
    """Two snapshots compared stage by stage (what ``perftrace compare`` prints); a 422 names the bad field.

    A plain ``def``: the bootstrap takes a fraction of a second of CPU, which belongs in the thread pool.
    """
    service_name = body.before.service_name or state.service_name
    return compare(body.before.traces, body.after.traces, service_name)
