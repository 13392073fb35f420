"""Fixtures of the reliability suite (docs/reliability.md).

Every test is marked ``reliability``. The ones that start the real backends and hold a load for tens of
seconds are also marked ``slow``: they run under ``scripts/reliability.py`` (``make reliability``), which sets
HA_AGENT_RELIABILITY_FULL=1; in a plain ``pytest`` run they are deselected, visibly, so ``make test`` stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from testsupport.stack import BackendUnavailable, Stack, running_stack

from tests.helpers import deselect_visibly, missing_dependency, report_deselected

FULL_ENV = "HA_AGENT_RELIABILITY_FULL"
_SLOW_KEY = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's markers."""
    config.addinivalue_line("markers", "reliability: a fault or abuse case of docs/reliability.md")
    config.addinivalue_line("markers", "slow: a reliability case that runs only under scripts/reliability.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the slow cases unless the full suite was asked for."""
    if os.environ.get(FULL_ENV) != "1":
        deselect_visibly(config, items, lambda item: item.get_closest_marker("slow") is not None, _SLOW_KEY)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Say why slow reliability cases were deselected."""
    why = "slow reliability cases deselected: run `make reliability` (scripts/reliability.py) for them"
    report_deselected(terminalreporter, config, _SLOW_KEY, why)


@pytest.fixture(scope="session")
def reliability_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The collector, Jaeger and Prometheus on free loopback ports, once for the slow cases."""
    log_dir: Path = tmp_path_factory.mktemp("reliability-stack")
    try:
        with running_stack(log_dir) as started:
            yield started
    except BackendUnavailable as error:
        missing_dependency(str(error))
