"""Shared loading of the infrastructure files that the infra tests cross-check."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from testsupport.stack import COLLECTOR_CONFIGS, TAIL_SAMPLING_CONFIG

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_backends.py"
#: Every collector config as it runs (files merged in order), by the distribution that runs it.
ROLES_BY_DISTRIBUTION = {
    "otelcol": {
        "one-box": COLLECTOR_CONFIGS["one-box"],
        "one-box with sampling": (*COLLECTOR_CONFIGS["one-box"], TAIL_SAMPLING_CONFIG),
    },
    "otelcol-agent": {"agent": COLLECTOR_CONFIGS["agent"]},
    "otelcol-gateway": {"gateway": COLLECTOR_CONFIGS["gateway"]},
}


def load_yaml(path: Path) -> Any:
    """Parse one YAML file of the repository."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml as data."""
    document: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return document


def merge(base: Any, overlay: Any) -> Any:
    """The collector's merge of two --config files: maps merge key by key, anything else (lists too) is replaced."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        return {key: merge(base[key], value) if key in base else value for key, value in overlay.items()} | {
            key: value for key, value in base.items() if key not in overlay
        }
    return overlay


def merged_config(paths: tuple[Path, ...]) -> dict[str, Any]:
    """The config a collector runs when started with ``--config=`` each of ``paths``."""
    document: dict[str, Any] = {}
    for path in paths:
        document = merge(document, load_yaml(path))
    return document


@pytest.fixture(scope="session")
def collector_config() -> dict[str, Any]:
    """The one-box collector's config (collector/common.yaml + otel-config.yaml) as data."""
    return merged_config(COLLECTOR_CONFIGS["one-box"])


ALL_ROLES = {role: paths for roles in ROLES_BY_DISTRIBUTION.values() for role, paths in roles.items()}


@pytest.fixture(scope="session")
def build_backends() -> ModuleType:
    """scripts/build_backends.py imported as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("build_backends", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_backends"] = module
    spec.loader.exec_module(module)
    return module
