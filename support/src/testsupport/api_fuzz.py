"""Schemathesis against a served app: every check on, its JSON report read back as figures.

The contract test (a fixed seed, a few examples per operation) and the reliability row (a fresh seed, many
more) run the same command; only the seed and the number of examples differ.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Settings of the fuzzed service: rate limits out of the way. One client sends thousands of requests a minute,
#: and 429 answers would leave the logic behind them unexplored (the limits have tests of their own).
FUZZED_SERVICE_ENV = {
    "HA_AGENT_RATE_LIMIT_PER_MINUTE": "1000000",
    "HA_AGENT_BROWSER_ENDPOINT__RATE_LIMIT_PER_MINUTE": "1000000",
    # Else schemathesis's wrong-credential probes (ST401 wants 401 or 403) meet the declared 429 after a few.
    "HA_AGENT_AUTH_FAILURES_PER_MINUTE": "1000000",
}


@dataclass(frozen=True)
class FuzzRun:
    """What one ``st run`` did and found."""

    seed: int
    max_examples: int
    cases: int
    operations_selected: int
    operations_tested: int
    #: Distinct failures found (schemathesis's "unique failures").
    failure_count: int
    failures: list[dict[str, Any]]
    errors: list[Any]
    seconds: float
    output: str

    def summary(self) -> str:
        """One line of figures, for assertion messages and the reliability table."""
        return (
            f"{self.cases} cases on {self.operations_tested} operations, {self.failure_count} failures, "
            f"{len(self.errors)} errors; seed {self.seed}, {self.max_examples} examples per operation, "
            f"{self.seconds:.0f} s"
        )


def schemathesis_command(
    schema_url: str, report_path: Path, *, seed: int, max_examples: int, headers: Mapping[str, str] | None = None
) -> list[str]:
    """``st run`` with every check, one worker (repeatable) and no example database left behind.

    ``headers`` go with every request (``Authorization`` to fuzz a guarded service signed in).
    """
    sent = [argument for name, value in (headers or {}).items() for argument in ("--header", f"{name}: {value}")]
    return [
        str(Path(sys.executable).parent / "st"),
        "run",
        schema_url,
        "--checks",
        "all",
        "--seed",
        str(seed),
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report_path),
        *sent,
    ]


def run_schemathesis(
    base_url: str,
    work_dir: Path,
    *,
    seed: int,
    max_examples: int,
    timeout_s: float = 600.0,
    headers: Mapping[str, str] | None = None,
) -> FuzzRun:
    """Fuzz the app served at ``base_url`` through its own ``/openapi.json``; return the run's figures."""
    report_path = work_dir / "schemathesis.json"
    command = schemathesis_command(
        f"{base_url}/openapi.json", report_path, seed=seed, max_examples=max_examples, headers=headers
    )
    started = time.monotonic()
    completed = subprocess.run(command, cwd=work_dir, capture_output=True, text=True, timeout=timeout_s)
    seconds = time.monotonic() - started
    if not report_path.is_file():
        raise AssertionError(f"schemathesis wrote no report (exit {completed.returncode}):\n{completed.stdout}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return FuzzRun(
        seed=seed,
        max_examples=max_examples,
        cases=int(report["test_cases"]["generated"]),
        operations_selected=int(report["operations"]["selected"]),
        operations_tested=int(report["operations"]["tested"]),
        failure_count=int(report["test_cases"]["unique_failures"]),
        failures=list(report["failures"]),
        errors=list(report["errors"]),
        seconds=seconds,
        output=completed.stdout + completed.stderr,
    )
