"""Fixtures of the end-to-end tests: one running observability stack per test session.

With CI=true a backend that cannot be built or started fails the run; elsewhere the tests that need it
are skipped with the reason. Tempo is the exception: our Go module proxy refuses it (AGPL, on the
not-to-use list), so unless HA_AGENT_TEMPO_BIN names a Tempo binary its checks are deselected at
collection, visibly ("N deselected" and a line in the summary), rather than skipped or failed.
Backend logs stay in pytest's temporary directory, and their tails are
printed when a test that used the stack failed.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from testsupport.processes import running_agent
from testsupport.stack import AGENT_ENV, BackendUnavailable, Stack, running_stack

from tests.helpers import deselect_visibly, missing_dependency, report_deselected

_FAILED_E2E_TESTS: list[str] = []
_TEMPO_UNAVAILABLE = (
    "Tempo checks not run: our Go module proxy refuses github.com/grafana/tempo (AGPL, not-to-use list); "
    "set HA_AGENT_TEMPO_BIN to a Tempo binary to run them"
)


_TEMPO_KEY = pytest.StashKey[int]()


def _needs_tempo(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    query = callspec.params.get("query") if callspec is not None else None
    if getattr(query, "datasource_uid", None) == "tempo":
        return True  # a dashboard TraceQL query: the test asks for tempo_url only for these
    return "tempo_url" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the Tempo checks when there is no Tempo binary (see the module docstring)."""
    if os.environ.get("HA_AGENT_TEMPO_BIN"):
        return
    deselect_visibly(config, items, _needs_tempo, _TEMPO_KEY)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Say why Tempo checks were deselected."""
    report_deselected(terminalreporter, config, _TEMPO_KEY, _TEMPO_UNAVAILABLE)


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
        missing_dependency(f"observability backends unavailable: {error}")


@pytest.fixture(scope="session")
def tempo_url(stack: Stack) -> str:
    """Tempo's HTTP API (tests that use it are deselected when HA_AGENT_TEMPO_BIN is unset)."""
    if stack.tempo is None:
        missing_dependency(f"HA_AGENT_TEMPO_BIN is set but Tempo did not start; {_TEMPO_UNAVAILABLE}")
    return stack.tempo


@pytest.fixture(scope="module")
def agent_instance(request: pytest.FixtureRequest) -> str:
    """The ``service.instance.id`` of the module's agent (Prometheus' ``instance`` label): modules' agents apart."""
    return str(request.module.__name__.rpartition(".")[2])


@pytest.fixture(scope="module")
def agent_url(stack: Stack, tmp_path_factory: pytest.TempPathFactory, agent_instance: str) -> Iterator[str]:
    """ha-ai-agent on a free loopback port, exporting OTLP/HTTP to the test collector (one per test module)."""
    env = {
        **AGENT_ENV,
        "OTEL_EXPORTER_OTLP_ENDPOINT": stack.collector_otlp_http,
        "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={agent_instance}",
    }
    log_path = stack.log_dir / f"ha-ai-agent-{agent_instance}.log"
    with running_agent(tmp_path_factory.mktemp("agent"), env, log_path) as (url, managed):
        stack.processes.append(managed)
        yield url
