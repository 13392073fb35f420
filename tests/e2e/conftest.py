"""Fixtures of the end-to-end tests: one running observability stack per test session.

With CI=true a backend that cannot be built or started fails the run; elsewhere the tests that need it
are skipped with the reason. Backend logs stay in pytest's temporary directory, and their tails are
printed when a test that used the stack failed.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from .stack import BackendUnavailable, Stack, running_stack

_FAILED_E2E_TESTS: list[str] = []


def unavailable(reason: str) -> NoReturn:
    """Fail in CI, skip elsewhere: a missing backend must never pass silently in CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember which stack tests failed, so the stack fixture prints the backend logs at the end."""
    report = yield
    if report.failed and "stack" in getattr(item, "fixturenames", ()):
        _FAILED_E2E_TESTS.append(item.nodeid)
    return report


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Prometheus, Jaeger, the collector (and Tempo if available) on free loopback ports, per session."""
    log_dir: Path = tmp_path_factory.mktemp("e2e-stack")
    try:
        with running_stack(log_dir) as started:
            yield started
            if _FAILED_E2E_TESTS:
                print(f"\nbackend logs after failed tests ({log_dir}):\n{started.log_tails()}")
    except BackendUnavailable as error:
        unavailable(f"observability backends unavailable: {error}")


@pytest.fixture(scope="session")
def tempo_url(stack: Stack) -> str:
    """Tempo's HTTP API, or a skip: our Go module proxy does not serve Tempo (AGPL, not-to-use list)."""
    if stack.tempo is None:
        pytest.skip(
            "Tempo is not run here: our Go module proxy refuses github.com/grafana/tempo (AGPL, not-to-use); "
            "set HA_AGENT_TEMPO_BIN to a Tempo binary to run these checks"
        )
    return stack.tempo
