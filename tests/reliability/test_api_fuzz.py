"""Row 16 (issue 16): schemathesis, every check on, a fresh seed and many examples, against the served app.

The short run with a fixed seed is part of ``make test`` (tests/api/test_contract.py); this one draws a new
seed each time, so every ``make reliability`` explores inputs no earlier run tried. The seed is in the row's
figure: ``st run ... --seed <it>`` replays a failure.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from testsupport.api_fuzz import FUZZED_SERVICE_ENV, run_schemathesis
from testsupport.processes import running_agent
from testsupport.reliability_results import Outcome, record

from tests.api.test_contract import require_fuzz_dependencies

EXAMPLES_PER_OPERATION = 300
RUN_TIMEOUT_SECONDS = 1200
#: pytest's own bound (300 s in pyproject) would end the run before schemathesis' bound: the service's start and
#: stop come on top of the run's.
pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 120)]


def test_fuzzing_with_a_fresh_seed_finds_no_failure(tmp_path: Path) -> None:
    require_fuzz_dependencies()
    seed = random.SystemRandom().getrandbits(64)
    with running_agent(tmp_path, env=FUZZED_SERVICE_ENV) as (url, _):
        run = run_schemathesis(
            url,
            tmp_path,
            seed=seed,
            max_examples=EXAMPLES_PER_OPERATION,
            timeout_s=RUN_TIMEOUT_SECONDS,
        )
    passed = run.failure_count == 0 and not run.errors and run.operations_tested == run.operations_selected
    record(
        Outcome(
            "16 API fuzzing (schemathesis)",
            f"`st run --checks all`, {EXAMPLES_PER_OPERATION} examples per operation, a fresh seed, against "
            "`ha-ai-agent serve` with embedded defaults, rate limits lifted; every operation, the library's too",
            "failures of any check (0): server errors, undocumented statuses or headers, responses off the "
            "schema, schema-valid requests refused, invalid ones accepted, methods and Allow",
            run.summary(),
            passed,
        )
    )
    assert passed, f"{run.summary()}\n{run.output[-8000:]}"
