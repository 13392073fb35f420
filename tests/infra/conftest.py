"""Shared loading of the infrastructure files that the infra tests cross-check."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from testsupport.backends.build import cache_root, is_cached
from testsupport.backends.pins import compose_text, planned_backends, read_pinned_versions
from testsupport.stack import COLLECTOR_CONFIGS, TAIL_SAMPLING_CONFIG

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
#: Every collector config as it runs (files merged in order), by the distribution that runs it.
ROLES_BY_DISTRIBUTION = {
    "otelcol": {
        "one-box": COLLECTOR_CONFIGS["one-box"],
        "one-box with sampling": (*COLLECTOR_CONFIGS["one-box"], TAIL_SAMPLING_CONFIG),
    },
    "otelcol-agent": {"agent": COLLECTOR_CONFIGS["agent"]},
    "otelcol-gateway": {"gateway": COLLECTOR_CONFIGS["gateway"]},
}


class ComposeLoader(yaml.SafeLoader):
    """A safe loader that reads Compose's merge tags (``!override``, ``!reset``) as the plain value they tag."""


def _tagged_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


for _tag in ("!override", "!reset"):
    ComposeLoader.add_constructor(_tag, _tagged_value)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file of the repository (compose files may carry Compose's merge tags)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=ComposeLoader)


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


def cached_backend(name: str) -> Path:
    """The binary of backend ``name`` from the cache ``make backends`` fills; skipped when absent (failed under CI)."""
    backend = planned_backends(read_pinned_versions(compose_text()))[name]
    root = cache_root()
    if not is_cached(backend, root):
        message = f"{name} is not built yet: run `make backends`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return backend.binary(root)
