"""Shared loading of the infrastructure files that the infra tests cross-check."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
COLLECTOR_CONFIG = REPO_ROOT / "collector" / "otel-config.yaml"
BUILDER_CONFIG = REPO_ROOT / "collector" / "builder-config.yaml"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_backends.py"


def load_yaml(path: Path) -> Any:
    """Parse one YAML file of the repository."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml as data."""
    document: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return document


@pytest.fixture(scope="session")
def collector_config() -> dict[str, Any]:
    """collector/otel-config.yaml as data."""
    document: dict[str, Any] = load_yaml(COLLECTOR_CONFIG)
    return document


@pytest.fixture(scope="session")
def builder_config() -> dict[str, Any]:
    """collector/builder-config.yaml as data."""
    document: dict[str, Any] = load_yaml(BUILDER_CONFIG)
    return document


@pytest.fixture(scope="session")
def build_backends() -> ModuleType:
    """scripts/build_backends.py imported as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("build_backends", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_backends"] = module
    spec.loader.exec_module(module)
    return module
