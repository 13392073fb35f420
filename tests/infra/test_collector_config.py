"""The collector config, its builder manifest and the compose image agree on components and versions."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from .conftest import COMPOSE_FILE

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
ENV_REFERENCE = re.compile(r"\$\{env:[A-Z0-9_]+:-[^}]*\}")


def used_components(config: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, type) of every component the service section of the config actually runs."""
    used: set[tuple[str, str]] = {
        ("extensions", name.split("/")[0]) for name in config["service"].get("extensions", [])
    }
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                component_kind = "connectors" if name in config.get("connectors", {}) else kind
                used.add((component_kind, name.split("/")[0]))
    return used


def test_every_configured_component_is_used_by_a_pipeline(collector_config: dict[str, Any]) -> None:
    used = used_components(collector_config)
    declared = {(kind, name.split("/")[0]) for kind in KINDS for name in collector_config.get(kind, {})}
    assert declared == used


def test_memory_limiter_comes_first_in_every_pipeline(collector_config: dict[str, Any]) -> None:
    for name, pipeline in collector_config["service"]["pipelines"].items():
        assert pipeline["processors"][0] == "memory_limiter", name


def test_each_backend_exporter_has_its_own_queue_and_retry(collector_config: dict[str, Any]) -> None:
    for exporter_id, exporter in collector_config["exporters"].items():
        assert exporter["sending_queue"]["enabled"] is True, exporter_id
        assert exporter["retry_on_failure"]["enabled"] is True, exporter_id


def test_every_endpoint_and_listen_address_comes_from_the_environment(
    collector_config: dict[str, Any],
) -> None:
    addresses = [
        collector_config["extensions"]["health_check"]["endpoint"],
        *(protocol["endpoint"] for protocol in collector_config["receivers"]["otlp"]["protocols"].values()),
        *(exporter["endpoint"] for exporter in collector_config["exporters"].values()),
    ]
    for address in addresses:
        assert ENV_REFERENCE.fullmatch(address), address


def test_builder_versions_equal_the_collector_image_tag(
    builder_config: dict[str, Any], build_backends: ModuleType
) -> None:
    collector_version = build_backends.read_pinned_versions(COMPOSE_FILE.read_text(encoding="utf-8")).collector
    assert builder_config["dist"]["version"] == collector_version
    for kind in KINDS:
        for entry in builder_config.get(kind, []):
            module, version = entry["gomod"].split()
            assert version == f"v{collector_version}", f"{module} is at {version}"


def test_builder_manifest_has_exactly_the_components_the_config_uses(
    collector_config: dict[str, Any], builder_config: dict[str, Any], build_backends: ModuleType
) -> None:
    """The built collector says which component types its modules provide; compare with the config's."""
    pinned = build_backends.read_pinned_versions(COMPOSE_FILE.read_text(encoding="utf-8"))
    backend = build_backends.planned_backends(pinned)["otelcol"]
    root: Path = build_backends.cache_root()
    if not build_backends.is_cached(backend, root):
        message = "the collector is not built yet: run `make backends` (scripts/build_backends.py)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    listing = subprocess.run(
        [str(backend.binary(root)), "components"], capture_output=True, text=True, timeout=60, check=True
    )
    components = yaml.safe_load(listing.stdout)
    built = {(kind, item["name"]) for kind in KINDS for item in components.get(kind) or []}
    built_modules = {item["module"] for kind in KINDS for item in components.get(kind) or []}
    manifest_modules = {" ".join(entry["gomod"].split()) for kind in KINDS for entry in builder_config.get(kind, [])}
    assert built_modules == manifest_modules
    assert built == used_components(collector_config)
