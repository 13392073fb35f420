from __future__ import annotations

import json
from pathlib import Path

import pytest
from perftrace.formats.snapshot import (
    SnapshotError,
    read_snapshot,
    snapshot_from_json,
    snapshot_to_json,
    write_snapshot,
)
from perftrace.testing.synthetic import synthetic_traces


def test_a_written_snapshot_reads_back_as_the_same_spans(tmp_path: Path) -> None:
    traces = synthetic_traces(5, seed=1)
    path = tmp_path / "before.json"

    write_snapshot(snapshot_to_json(traces, source="test", service_name="svc"), path)
    snapshot = read_snapshot(path)

    assert snapshot.source == "test" and snapshot.service_name == "svc"
    assert [sorted(t.spans) for t in snapshot.traces] == [sorted(t.spans) for t in traces]


def test_a_file_that_is_not_json_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "perftrace.snap', encoding="utf-8")

    with pytest.raises(SnapshotError, match=r"broken\.json: not JSON"):
        read_snapshot(path)


def test_another_format_or_version_is_refused() -> None:
    document = snapshot_to_json(synthetic_traces(1, seed=2))

    with pytest.raises(SnapshotError, match="not a perftrace.snapshot document"):
        snapshot_from_json({**document, "format": "jaeger"})
    with pytest.raises(SnapshotError, match="version 99 is not supported"):
        snapshot_from_json({**document, "version": 99})


def test_the_first_bad_field_is_named() -> None:
    document = json.loads(json.dumps(snapshot_to_json(synthetic_traces(2, seed=3))))
    document["traces"][1]["spans"][0]["start_time_unix_nano"] = "soon"

    with pytest.raises(SnapshotError, match=r"traces\[1\]\.spans\[0\]\.start_time_unix_nano: expected a non-negative"):
        snapshot_from_json(document)
