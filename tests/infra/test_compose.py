"""docker-compose.yml is valid, complete, and agrees with its configs and the versions the tests build."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped,unused-ignore]

from .conftest import COMPOSE_FILE, REPO_ROOT, load_yaml

COMPOSE_SCHEMA = REPO_ROOT.parent / "shared" / "schemas" / "compose-spec.json"
ENV_DEFAULT = re.compile(r"\$\{(?:env:)?([A-Z0-9_]+):-([^}]*)\}")
BACKEND_SERVICES = ("otel-collector", "jaeger", "tempo", "prometheus", "grafana")


def bind_mount_sources(service: dict[str, Any]) -> list[Path]:
    """The host paths that a service bind-mounts (named volumes left out)."""
    sources = []
    for volume in service.get("volumes", []):
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith((".", "/")):
            sources.append((REPO_ROOT / source).resolve())
    return sources


def env_defaults(text: str) -> dict[str, str]:
    """`${env:VAR:-default}` and `${VAR:-default}` of a config file, by variable name."""
    return dict(ENV_DEFAULT.findall(text))


def listening_ports(service: dict[str, Any]) -> set[int]:
    """Ports a service listens on inside the compose network, read from its own files and compose entry."""
    ports: set[int] = set()
    for source in bind_mount_sources(service):
        if source.is_file():
            for name, default in env_defaults(source.read_text(encoding="utf-8")).items():
                if match := re.fullmatch(r"0\.0\.0\.0:(\d+)", default):
                    ports.add(int(match.group(1)))
                elif name.endswith("_PORT") and default.isdigit():
                    ports.add(int(default))
    for mapping in service.get("ports", []):
        ports.add(int(str(mapping).rsplit(":", 1)[-1].split("/")[0]))
    test = " ".join(service.get("healthcheck", {}).get("test", []))
    ports.update(int(port) for port in re.findall(r"//localhost:(\d+)", test))
    return ports


def host_and_port(address: str) -> tuple[str, int]:
    """`jaeger:4317` or `http://prometheus:9090/api/v1/otlp` -> (host, port)."""
    split = urlsplit(address if "//" in address else f"//{address}")
    assert split.hostname and split.port, f"{address!r} names no host and port"
    return split.hostname, split.port


def assert_names_service_port(compose: dict[str, Any], address: str, where: str) -> None:
    host, port = host_and_port(address)
    services = compose["services"]
    assert host in services, f"{where}: {address!r} names {host!r}, which is no compose service"
    assert port in listening_ports(services[host]), f"{where}: {host} does not listen on {port}"


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)


def test_every_mounted_file_and_build_input_exists(compose: dict[str, Any]) -> None:
    missing = []
    for name, service in compose["services"].items():
        missing += [f"{name}: {path}" for path in bind_mount_sources(service) if not path.exists()]
        if build := service.get("build"):
            context = REPO_ROOT / build.get("context", ".")
            if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                missing.append(f"{name}: Dockerfile {build.get('dockerfile')}")
    assert not missing


def test_images_are_pinned_and_backends_are_healthchecked(compose: dict[str, Any]) -> None:
    for name in BACKEND_SERVICES:
        service = compose["services"][name]
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"
        assert "mem_limit" in service, f"{name} has no memory limit"
        # The contrib collector image has no shell or HTTP client, so it cannot run a healthcheck.
        if name != "otel-collector":
            assert service["healthcheck"]["test"], f"{name} has no healthcheck"


def test_dependencies_wait_for_health_where_a_healthcheck_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_healthy" if "healthcheck" in services[dependency] else "service_started"
            assert condition["condition"] == expected, f"{name} -> {dependency}"


def test_published_ports_are_the_documented_ones(compose: dict[str, Any]) -> None:
    published = {
        name: {int(str(mapping).split(":")[-2]) for mapping in service.get("ports", [])}
        for name, service in compose["services"].items()
    }
    assert published["ha-ai-agent"] == {8030}
    assert published["jaeger"] == {16686}
    assert published["grafana"] == {3000}
    assert published["prometheus"] == {9090}
    assert published["otel-collector"] == {4317, 4318}


def test_every_collector_exporter_default_endpoint_names_a_compose_service_and_port(
    compose: dict[str, Any], collector_config: dict[str, Any]
) -> None:
    exporters = collector_config["exporters"]
    assert exporters
    for exporter_id, exporter in exporters.items():
        match = ENV_DEFAULT.fullmatch(exporter["endpoint"])
        assert match, f"{exporter_id}: endpoint is not ${{env:VAR:-default}}"
        assert_names_service_port(compose, match.group(2), f"collector exporter {exporter_id}")


def test_every_other_cross_service_address_names_a_compose_service_and_port(compose: dict[str, Any]) -> None:
    agent_env = compose["services"]["ha-ai-agent"]["environment"]
    assert_names_service_port(compose, agent_env["OTEL_EXPORTER_OTLP_ENDPOINT"], "agent OTLP endpoint")
    for config, variable in (
        ("backends/jaeger.yaml", "PROMETHEUS_URL"),
        ("backends/tempo.yaml", "PROMETHEUS_REMOTE_WRITE_URL"),
    ):
        default = env_defaults((REPO_ROOT / config).read_text(encoding="utf-8"))[variable]
        assert_names_service_port(compose, default, f"{config} {variable}")
    datasources = load_yaml(REPO_ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yaml")
    for datasource in datasources["datasources"]:
        assert_names_service_port(compose, datasource["url"], f"Grafana datasource {datasource['uid']}")
    prometheus = load_yaml(REPO_ROOT / "backends" / "prometheus.yml")
    for job in prometheus["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            if not target.startswith("localhost:"):
                assert_names_service_port(compose, target, f"Prometheus job {job['job_name']}")


def test_image_tags_are_the_versions_the_tests_build(compose: dict[str, Any], build_backends: ModuleType) -> None:
    pinned = build_backends.read_pinned_versions(COMPOSE_FILE.read_text(encoding="utf-8"))
    planned = build_backends.planned_backends(pinned)
    images = {
        service["image"].rsplit(":", 1)[0]: service["image"].rsplit(":", 1)[1]
        for service in compose["services"].values()
    }
    assert planned["otelcol"].version == images["otel/opentelemetry-collector-contrib"]
    assert planned["jaeger"].version == images["jaegertracing/jaeger"]
    assert f"v{planned['prometheus'].version}" == images["prom/prometheus"]
    assert build_backends.prometheus_go_version(planned["prometheus"].version) == "v0.316.0"
