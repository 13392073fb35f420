"""The collector configs, their builder manifests and the compose image agree on components and versions."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml
from testsupport.backends.pins import COLLECTOR_MANIFESTS, compose_text, read_pinned_versions

from .conftest import ALL_ROLES, ROLES_BY_DISTRIBUTION, cached_backend, load_yaml, merged_config

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


def declared_components(config: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, type) of every component the config defines (the collector needs a factory for each)."""
    return {(kind, name.split("/")[0]) for kind in KINDS for name in config.get(kind) or {}}


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_every_configured_component_is_used_by_a_pipeline(role: str) -> None:
    config = merged_config(ALL_ROLES[role])
    assert declared_components(config) == used_components(config)


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_memory_limiter_comes_first_in_every_pipeline(role: str) -> None:
    for name, pipeline in merged_config(ALL_ROLES[role])["service"]["pipelines"].items():
        assert pipeline["processors"][0] == "memory_limiter", name


@pytest.mark.parametrize("role", sorted(set(ALL_ROLES) - {"gateway"}))
def test_every_exporter_queues_on_disk_and_retries(role: str) -> None:
    """The collector the service sends to keeps everything it accepted on disk, and batches only after the disk."""
    config = merged_config(ALL_ROLES[role])
    assert "file_storage" in config["service"]["extensions"]
    assert ENV_REFERENCE.fullmatch(config["extensions"]["file_storage"]["directory"])
    assert "batch" not in config.get("processors", {}), "a batch processor holds spans in memory, before the disk"
    for exporter_id, exporter in config["exporters"].items():
        assert exporter["sending_queue"]["enabled"] is True, exporter_id
        assert exporter["sending_queue"]["storage"] == "file_storage", exporter_id
        assert exporter["retry_on_failure"]["enabled"] is True, exporter_id


def test_gateway_queues_in_memory_so_sigterm_drains_them() -> None:
    config = merged_config(ALL_ROLES["gateway"])
    for exporter_id, exporter in config["exporters"].items():
        assert exporter["sending_queue"]["enabled"] is True, exporter_id
        assert exporter["sending_queue"].get("storage") is None, exporter_id
    kafka = config["receivers"]["kafka"]
    assert kafka["message_marking"] == {"after": True, "on_error": False}


@pytest.mark.parametrize("role", ["one-box", "one-box with sampling", "gateway"])
def test_span_metrics_see_every_span_before_any_sampling(role: str) -> None:
    """The span_metrics pipeline has no sampler; sampling happens only on the way to storage."""
    pipelines = merged_config(ALL_ROLES[role])["service"]["pipelines"]
    assert pipelines["traces/spanmetrics"]["exporters"] == ["span_metrics"]
    assert "tail_sampling" not in pipelines["traces/spanmetrics"]["processors"]
    assert pipelines["traces/spanmetrics"]["receivers"] == pipelines["traces/store"]["receivers"]
    sampled = "tail_sampling" in pipelines["traces/store"]["processors"]
    assert sampled == (role != "one-box"), "sampling is off on the one box unless the overlay is added"


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
def test_every_endpoint_and_listen_address_comes_from_the_environment(role: str) -> None:
    config = merged_config(ALL_ROLES[role])
    addresses = [config["extensions"]["health_check"]["endpoint"]]
    if "otlp" in config.get("receivers", {}):
        addresses += [protocol["endpoint"] for protocol in config["receivers"]["otlp"]["protocols"].values()]
    for component in (*config["exporters"].values(), *config.get("receivers", {}).values()):
        addresses += [component["brokers"]] if "brokers" in component else []
    addresses += [exporter["endpoint"] for exporter in config["exporters"].values() if "endpoint" in exporter]
    for address in addresses:
        assert ENV_REFERENCE.fullmatch(address), address


def test_agent_partitions_by_trace_id_and_gateways_share_one_group() -> None:
    agent = merged_config(ALL_ROLES["agent"])["exporters"]["kafka"]
    gateway = merged_config(ALL_ROLES["gateway"])["receivers"]["kafka"]
    assert agent["partition_traces_by_id"] is True
    assert gateway["traces"]["topics"] == [agent["traces"]["topic"]]
    assert gateway["metrics"]["topics"] == [agent["metrics"]["topic"]]
    assert gateway["group_id"] and "$" not in gateway["group_id"]


def test_kafka_brokers_is_a_list_taken_whole_from_the_environment() -> None:
    """``brokers: ${env:KAFKA_BROKERS}``, not ``["${env:KAFKA_BROKERS}"]``, which made "a:9092,b:9092" one address.

    The collector splits a string given for a list at commas; testsupport.kafka passes two brokers (one of them
    dead) to every scale-out test, which shows it at run time.
    """
    for role, component in (("agent", "exporters"), ("gateway", "receivers")):
        brokers = merged_config(ALL_ROLES[role])[component]["kafka"]["brokers"]
        assert isinstance(brokers, str) and brokers.startswith("${env:KAFKA_BROKERS"), (role, brokers)


def manifest(distribution: str) -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COLLECTOR_MANIFESTS[distribution])
    return document


@pytest.mark.parametrize("distribution", sorted(ROLES_BY_DISTRIBUTION))
def test_builder_versions_equal_the_collector_image_tag(distribution: str) -> None:
    collector_version = read_pinned_versions(compose_text()).collector
    builder_config = manifest(distribution)
    assert builder_config["dist"]["version"] == collector_version
    for kind in KINDS:
        for entry in builder_config.get(kind, []):
            module, version = entry["gomod"].split()
            assert version == f"v{collector_version}", f"{module} is at {version}"


@pytest.mark.parametrize("distribution", sorted(ROLES_BY_DISTRIBUTION))
def test_builder_manifest_has_exactly_the_components_the_configs_use(distribution: str) -> None:
    """The built collector says which component types its modules provide; compare with its configs' (both ways)."""
    listing = subprocess.run(
        [str(cached_backend(distribution)), "components"], capture_output=True, text=True, timeout=60, check=True
    )
    components = yaml.safe_load(listing.stdout)
    built = {(kind, item["name"]) for kind in KINDS for item in components.get(kind) or []}
    built_modules = {item["module"] for kind in KINDS for item in components.get(kind) or []}
    builder_config = manifest(distribution)
    manifest_modules = {" ".join(entry["gomod"].split()) for kind in KINDS for entry in builder_config.get(kind, [])}
    assert built_modules == manifest_modules
    used = set().union(
        *(used_components(merged_config(paths)) for paths in ROLES_BY_DISTRIBUTION[distribution].values())
    )
    assert built == used
