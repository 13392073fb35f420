"""Figures of the reliability suite: each test appends one outcome; scripts/reliability.py turns them into a table.

A test records its outcome before it asserts, so a failed criterion still leaves its figure in the report.
Outside the runner (no results file named) recording does nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS_ENV = "HA_AGENT_RELIABILITY_RESULTS"
# Read once at import: fixtures such as ``settings`` clear every HA_AGENT_* variable for the test's duration.
_RESULTS_PATH = os.environ.get(RESULTS_ENV)


@dataclass(frozen=True)
class Outcome:
    """One row of docs/reliability.md."""

    test: str
    load: str
    result: str
    figure: str
    passed: bool


def record(outcome: Outcome) -> None:
    """Append the outcome to the results file the runner named (one JSON object per line)."""
    if not _RESULTS_PATH:
        return
    with Path(_RESULTS_PATH).open("a", encoding="utf-8") as results:
        results.write(json.dumps(asdict(outcome)) + "\n")


def read_outcomes(path: Path) -> list[Outcome]:
    """Every outcome recorded in the file, in recording order."""
    if not path.exists():
        return []
    return [Outcome(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
