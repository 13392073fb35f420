"""Fault 11: a client's sampled flag can neither force nor suppress recording.

1,000 chats carry ``traceparent`` with flag ``01`` and 1,000 with ``00``, at ``OTEL_TRACES_SAMPLER_ARG=0.5``.
Whether each one was recorded is read from the service's own trace buffer. Trace ids come from a seeded
generator, so the shares are the same on every run and the test cannot flake; the stronger check is that
every single decision is the trace-id ratio's, whatever the flag said.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from testsupport.reliability_results import Outcome, record

pytestmark = pytest.mark.reliability

RATIO = 0.5
CHATS_PER_FLAG = 1000
TOLERANCE = 0.03
# TraceIdRatioBased keeps a trace when the low 64 bits of its id are below ratio * 2**64.
BOUND = round(RATIO * 2**64)


def chats_with_flag(client: TestClient, flag: str, seed: int) -> tuple[float, int]:
    """Send the chats; return the share recorded and how many decisions were not the trace id's."""
    ids = random.Random(seed)
    recorded = mismatched = 0
    for index in range(CHATS_PER_FLAG):
        trace_id = ids.getrandbits(128) | 1  # never the invalid all-zero id
        header = f"00-{trace_id:032x}-{index + 1:016x}-{flag}"
        response = client.post(
            "/api/v1/chat", json={"message": "What devices are in the kitchen?"}, headers={"traceparent": header}
        )
        assert response.status_code == 200, response.text
        kept = client.app.state.runtime.tracing.recent.get_trace(trace_id) is not None  # type: ignore[attr-defined]
        recorded += kept
        mismatched += kept != ((trace_id & (2**64 - 1)) < BOUND)
    return recorded / CHATS_PER_FLAG, mismatched


def test_sampled_flag_neither_forces_nor_suppresses_recording(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", str(RATIO))
    roomy = settings.model_copy(update={"rate_limit_per_minute": 100_000, "recent_traces": 3 * CHATS_PER_FLAG})
    with TestClient(create_app(roomy)) as client:
        forced_share, forced_mismatch = chats_with_flag(client, "01", seed=11)
        suppressed_share, suppressed_mismatch = chats_with_flag(client, "00", seed=12)
    passed = (
        abs(forced_share - RATIO) <= TOLERANCE
        and abs(suppressed_share - RATIO) <= TOLERANCE
        and forced_mismatch == suppressed_mismatch == 0
    )
    record(
        Outcome(
            "11 traceparent abuse",
            f"{CHATS_PER_FLAG} chats with flag 01 + {CHATS_PER_FLAG} with 00, sampler ratio {RATIO}",
            "recorded share per flag; decisions differing from the trace-id ratio",
            f"01: {forced_share:.3f}, 00: {suppressed_share:.3f} (±{TOLERANCE} allowed); "
            f"{forced_mismatch + suppressed_mismatch} decisions off",
            passed,
        )
    )
    assert forced_mismatch == suppressed_mismatch == 0
    assert abs(forced_share - RATIO) <= TOLERANCE, forced_share
    assert abs(suppressed_share - RATIO) <= TOLERANCE, suppressed_share
