"""Run the reliability suite and rewrite its table in docs/reliability.md (``make reliability``).

Runs every case of tests/reliability (the slow ones too: HA_AGENT_RELIABILITY_FULL=1) plus the existing browser
endpoint and chat-API abuse tests, which are rows 7 and 12 of the table without being duplicated here. Each reliability
test records its own row (testsupport.reliability_results); the reused tests are read from pytest's JUnit XML.
The table, with the machine and the date, goes between the doc's ``reliability`` markers; the text around them
(what each row means, what is not covered) is written in the doc itself. Exits with pytest's status, so a failed
criterion fails ``make reliability``.
"""

from __future__ import annotations

import datetime as dt
import os
import string
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from testsupport.paths import REPO_ROOT
from testsupport.reliability_results import RESULTS_ENV, Outcome, read_outcomes
from testsupport.report import machine_description, replace_section, table

DOC_PATH = REPO_ROOT / "docs" / "reliability.md"
SUITE_TIMEOUT_SECONDS = 3600
#: Existing tests that are rows of the table: row, what they load, what passing them shows, their node ids.
REUSED_ROWS = (
    (
        "7 browser endpoint bad input",
        "malformed JSON/protobuf, bad ids, wrong types, gzip bomb, body and span caps, rate limit, hypothesis "
        "fuzzing of bytes, documents, mutations and headers (tests/api/test_otlp.py)",
        "documented 4xx every time, never 5xx; nothing kept from a refused export",
        ("tests/api/test_otlp.py",),
    ),
    (
        "12 chat API abuse",
        "invalid JSON, missing and mistyped fields, blank and oversized messages, unknown conversation id, "
        "rate-limit burst (tests/api/test_chat.py)",
        "documented 400/404/422/429 (with Retry-After); nothing stored for a rejected request",
        (
            "tests/api/test_chat.py::test_invalid_bodies_get_4xx_and_store_nothing",
            "tests/api/test_chat.py::test_unknown_conversation_is_404_with_error_span",
            "tests/api/test_chat.py::test_rate_limit_is_429_with_retry_after",
        ),
    ),
)


def reused_rows(junit_path: Path) -> list[Outcome]:
    """Rows for the reused tests, from pytest's JUnit XML."""
    cases = ElementTree.parse(junit_path).getroot().iter("testcase") if junit_path.exists() else iter(())
    outcomes: dict[str, bool] = {}
    for case in cases:
        node = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
        outcomes[node] = not any(child.tag in ("failure", "error") for child in case)
    rows = []
    for name, load, result, prefixes in REUSED_ROWS:
        picked = [ok for node, ok in outcomes.items() if node.startswith(prefixes)]
        figure = f"{sum(picked)}/{len(picked)} tests pass"
        rows.append(Outcome(name, load, result, figure, bool(picked) and all(picked)))
    return rows


def render(outcomes: list[Outcome], exit_code: int, started: dt.datetime, seconds: float) -> str:
    """The doc's generated section: the run and the table."""
    rows = [[o.test, o.load, o.result, o.figure, "pass" if o.passed else "**FAIL**"] for o in outcomes]
    lines = [
        f"Run {started.strftime('%Y-%m-%d %H:%M UTC')} on: {machine_description()}.",
        f"The run took {seconds:.0f} s; pytest exited with {exit_code}.",
        "",
        *table(["test", "load", "result", "figure", "pass/fail"], rows),
    ]
    return "\n".join(lines)


def main() -> int:
    """Run the suite, write the document, return pytest's exit status."""
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="reliability-") as work:
        results_path = Path(work) / "results.jsonl"
        junit_path = Path(work) / "junit.xml"
        env = {**os.environ, RESULTS_ENV: str(results_path), "HA_AGENT_RELIABILITY_FULL": "1"}
        nodes = [prefix for *_, prefixes in REUSED_ROWS for prefix in prefixes]
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit_path}"]
        completed = subprocess.run(
            [*command, "tests/reliability", *nodes], cwd=REPO_ROOT, env=env, timeout=SUITE_TIMEOUT_SECONDS
        )
        outcomes = read_outcomes(results_path) + reused_rows(junit_path)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    outcomes.sort(key=lambda o: int(o.test.split()[0].rstrip(string.ascii_lowercase)))
    replace_section("reliability", render(outcomes, completed.returncode, started, seconds), DOC_PATH)
    print(f"wrote {DOC_PATH.relative_to(REPO_ROOT)}")
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
