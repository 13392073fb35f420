"""The compose files are valid for the real Compose CLI, complete, and agree with their configs and the builds."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from testsupport.backends.pins import compose_text, planned_backends, prometheus_go_version, read_pinned_versions

from .conftest import REPO_ROOT, cached_backend, load_yaml

#: How the README and docs/stack.md tell users to run the stack: the base file alone, or a layer on top of it.
COMPOSE_LAYOUTS = {
    "one box": ("docker-compose.yml",),
    "one box, tail sampling": ("docker-compose.yml", "docker-compose.sampling.yml"),
    "scale-out": ("docker-compose.yml", "docker-compose.scale.yml"),
}
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


@pytest.fixture(scope="session")
def compose_cli() -> Path:
    """The Docker Compose CLI that `make backends` builds (it validates files without a Docker engine)."""
    return cached_backend("compose")


def run_compose(compose_cli: Path, files: tuple[str, ...], *arguments: str) -> subprocess.CompletedProcess[str]:
    """``docker compose -f FILE ... ARGUMENTS`` in the repository, with none of the caller's COMPOSE_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPOSE_", "DOCKER_"))}
    command = [str(compose_cli), "--project-directory", str(REPO_ROOT)]
    command += [argument for name in files for argument in ("-f", name)]
    return subprocess.run(
        [*command, *arguments], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("layout", sorted(COMPOSE_LAYOUTS))
def test_compose_cli_accepts_every_layout(compose_cli: Path, layout: str) -> None:
    completed = run_compose(compose_cli, COMPOSE_LAYOUTS[layout], "config", "--quiet")
    assert completed.returncode == 0, completed.stderr


def test_compose_cli_refuses_a_broken_file(compose_cli: Path, tmp_path: Path) -> None:
    """The check can fail: a healthcheck whose test is a number is refused."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "services:\n  jaeger:\n    image: jaegertracing/jaeger:2.12.0\n    healthcheck:\n      test: 5\n",
        encoding="utf-8",
    )
    completed = run_compose(compose_cli, (str(broken),), "config", "--quiet")
    assert completed.returncode != 0


def test_scale_out_layout_runs_agent_kafka_and_scalable_gateways(compose_cli: Path) -> None:
    completed = run_compose(compose_cli, COMPOSE_LAYOUTS["scale-out"], "config", "--format", "json")
    assert completed.returncode == 0, completed.stderr
    services = json.loads(completed.stdout)["services"]
    assert "/etc/otelcol/config.yaml" in services["otel-collector"]["command"][0]
    agent_config = {volume["target"]: volume["source"] for volume in services["otel-collector"]["volumes"]}
    assert agent_config["/etc/otelcol/config.yaml"].endswith("collector/agent.yaml")
    gateway = services["otel-gateway"]
    assert "container_name" not in gateway and not gateway.get("ports"), "a scaled service cannot own names or ports"
    assert any("tail-sampling.yaml" in argument for argument in gateway["command"])
    assert services["kafka"]["healthcheck"]["test"]
    assert services["otel-collector"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_scale_out_layout_stores_traces_in_a_replicated_cassandra_cluster(compose_cli: Path) -> None:
    completed = run_compose(compose_cli, COMPOSE_LAYOUTS["scale-out"], "config", "--format", "json")
    assert completed.returncode == 0, completed.stderr
    services = json.loads(completed.stdout)["services"]
    nodes = [f"cassandra-{number}" for number in (1, 2, 3)]
    for previous, name in zip([None, *nodes], nodes, strict=False):
        node = services[name]
        assert re.fullmatch(r"cassandra:\d+\.\d+\.\d+", node["image"]), node["image"]
        assert node["healthcheck"]["test"] and node["mem_limit"]
        assert {(v["type"], v["target"]) for v in node["volumes"]} == {("volume", "/var/lib/cassandra")}
        assert node["environment"]["CASSANDRA_SEEDS"] == nodes[0]
        if previous:  # one node joins the ring at a time
            assert node["depends_on"][previous]["condition"] == "service_healthy"
    store_defaults = env_defaults((REPO_ROOT / "backends" / "jaeger-cassandra.yaml").read_text(encoding="utf-8"))
    assert store_defaults["CASSANDRA_SERVERS"] == ",".join(f"{name}:9042" for name in nodes)
    for name in ("jaeger", "jaeger-2"):
        jaeger = services[name]
        mounts = {volume["target"]: volume.get("source", "") for volume in jaeger["volumes"]}
        assert mounts["/etc/jaeger/store.yaml"].endswith("backends/jaeger-cassandra.yaml"), name
        assert all(volume["type"] == "bind" for volume in jaeger["volumes"]), f"{name} must keep no state"
        assert 2 <= int(jaeger["environment"]["CASSANDRA_REPLICATION_FACTOR"]) <= len(nodes)
        assert "jaeger-writers" in jaeger["networks"]["default"]["aliases"]
        assert any(mapping["target"] == 16686 for mapping in jaeger["ports"]), f"{name} serves no query UI"
    assert services["jaeger-2"]["depends_on"]["jaeger"]["condition"] == "service_healthy"  # after the schema
    assert services["otel-gateway"]["environment"]["JAEGER_OTLP_GRPC_ENDPOINT"] == "dns:///jaeger-writers:4317"
    prometheus = {volume["target"]: volume.get("source", "") for volume in services["prometheus"]["volumes"]}
    scrape = load_yaml(Path(prometheus["/etc/prometheus/scrape.d/scale-out.yml"]))
    found = {name for job in scrape["scrape_configs"] for sd in job["dns_sd_configs"] for name in sd["names"]}
    assert "otel-gateway" in found and found <= {*services, "jaeger-writers"}
    rules = load_yaml(Path(prometheus["/etc/prometheus/rules.d/scale-out.yml"]))
    assert any("otelcol_kafka_receiver_offset_lag" in rule["expr"] for g in rules["groups"] for rule in g["rules"])


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


def expected_condition(service: dict[str, Any]) -> str:
    """Wait for health where a healthcheck exists, for the exit of a one-shot service, else for its start."""
    if "healthcheck" in service:
        return "service_healthy"
    return "service_completed_successfully" if service.get("restart") == "no" else "service_started"


def test_dependencies_wait_for_health_where_a_healthcheck_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition["condition"] == expected_condition(services[dependency]), f"{name} -> {dependency}"


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


def test_image_tags_are_the_versions_the_tests_build(compose: dict[str, Any]) -> None:
    planned = planned_backends(read_pinned_versions(compose_text()))
    images = {
        service["image"].rsplit(":", 1)[0]: service["image"].rsplit(":", 1)[1]
        for service in compose["services"].values()
    }
    scale = load_yaml(REPO_ROOT / "docker-compose.scale.yml")["services"]
    assert planned["otelcol-gateway"].version == scale["otel-gateway"]["image"].rsplit(":", 1)[1]
    assert planned["kafka"].version == scale["kafka"]["image"].rsplit(":", 1)[1]
    assert planned["otelcol"].version == images["otel/opentelemetry-collector-contrib"]
    assert planned["jaeger"].version == images["jaegertracing/jaeger"]
    assert f"v{planned['prometheus'].version}" == images["prom/prometheus"]
    assert prometheus_go_version(planned["prometheus"].version) == "v0.316.0"


def test_the_agent_judges_access_control_by_the_address_its_port_is_published_on(compose: dict[str, Any]) -> None:
    agent = compose["services"]["ha-ai-agent"]
    published = agent["ports"][0].rsplit(":", 2)[0]
    assert agent["environment"]["HA_AGENT_EXPOSED_ADDRESS"] == published == "${HA_AGENT_BIND_ADDRESS:-127.0.0.1}"
    assert agent["environment"]["HA_AGENT_AUTH"] == "${HA_AGENT_AUTH:-auto}"
    example = compose["services"]["automation-example"]["environment"]
    assert example["AI_AUTOMATION_AGENT_TOKEN"] == "${AI_AUTOMATION_AGENT_TOKEN:-}"
    assert example["AI_AUTOMATION_API_TOKEN"] == "${AI_AUTOMATION_API_TOKEN:-}"
