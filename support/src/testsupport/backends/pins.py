"""What ``make backends`` builds: the versions the compose files pin, and one table row per backend.

The image tags of the compose files are the versions; the ``x-backend-builds`` block of docker-compose.yml says what
a tag alone cannot (the Go module version of a Jaeger release, the Compose CLI version). A backend's cache identity
is its name, version and ``stamp_extra`` (a Go module version, or a digest of the manifest or pom it is made from).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from testsupport.paths import REPO_ROOT

#: Every compose file the project ships; the base file first. Their image tags are the backend versions.
COMPOSE_FILES = tuple(
    REPO_ROOT / name for name in ("docker-compose.yml", "docker-compose.sampling.yml", "docker-compose.scale.yml")
)
POMS_DIR = REPO_ROOT / "scripts" / "poms"
COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib"
TEMPO_IMAGE = "grafana/tempo"
#: Each collector distribution: its builder manifest (whose dist.name is the binary's name).
COLLECTOR_MANIFESTS = {
    "otelcol": REPO_ROOT / "collector" / "builder-config.yaml",
    "otelcol-agent": REPO_ROOT / "collector" / "builder-agent.yaml",
    "otelcol-gateway": REPO_ROOT / "collector" / "builder-gateway.yaml",
}
#: The ``x-backend-builds`` keys that must be present.
BUILD_KEYS = ("jaeger-go-module-version", "compose-cli-version")


class SetupError(RuntimeError):
    """Nothing can be built here (no Go toolchain, no readable compose file)."""


@dataclass(frozen=True)
class GoBuild:
    """A program built with ``go build`` from a module copy (their go.mod files refuse ``go install``)."""

    module: str
    package: str
    #: ``-ldflags``, with ``{module}`` and ``{version}`` (the release, without a ``v``) filled in.
    ldflags: str


@dataclass(frozen=True)
class MavenFetch:
    """Jars copied from Maven Central by ``mvn dependency:copy-dependencies`` on one of ``scripts/poms``."""

    pom: Path
    #: The pom property that takes the release version.
    version_property: str
    #: The class whose ``main`` prints the version (checked after the fetch).
    version_class: str
    version_arguments: tuple[str, ...] = ()


GO_BUILDS = {
    "jaeger": GoBuild(
        "github.com/jaegertracing/jaeger", "./cmd/jaeger", "-X {module}/internal/version.latestVersion=v{version}"
    ),
    "prometheus": GoBuild(
        "github.com/prometheus/prometheus",
        "./cmd/prometheus",
        "-X github.com/prometheus/common/version.Version={version}",
    ),
    "compose": GoBuild("github.com/docker/compose/v2", "./cmd", "-w -X {module}/internal.Version=v{version}"),
}
MAVEN_FETCHES = {
    "kafka": MavenFetch(POMS_DIR / "kafka" / "pom.xml", "kafka.version", "kafka.Kafka", ("--version",)),
    "cassandra": MavenFetch(
        POMS_DIR / "cassandra" / "pom.xml", "cassandra.version", "org.apache.cassandra.tools.GetVersion"
    ),
}
#: The image whose tag is each backend's version (the Compose CLI's is ``x-backend-builds.compose-cli-version``).
IMAGES = {
    **dict.fromkeys(COLLECTOR_MANIFESTS, COLLECTOR_IMAGE),
    "jaeger": "jaegertracing/jaeger",
    "prometheus": "prom/prometheus",
    "kafka": "apache/kafka",
    "cassandra": "cassandra",
}
BACKEND_NAMES = ("jaeger", *COLLECTOR_MANIFESTS, "prometheus", "compose", *MAVEN_FETCHES)
JARS_DIR = "libs"


@dataclass(frozen=True)
class PinnedVersions:
    """The image tags and ``x-backend-builds`` values of the compose files."""

    tags: dict[str, str]
    builds: dict[str, str]

    @property
    def collector(self) -> str:
        """The collector release every distribution is built at."""
        return self.tags[COLLECTOR_IMAGE]

    @property
    def tempo(self) -> str:
        """Tempo's image tag (never built: see docs/stack.md)."""
        return self.tags[TEMPO_IMAGE]

    def release(self, name: str) -> str:
        """The release of backend ``name``, without a leading ``v``."""
        tag = self.builds["compose-cli-version"] if name == "compose" else self.tags[IMAGES[name]]
        return tag.removeprefix("v")


@dataclass(frozen=True)
class Backend:
    """One program to build or fetch: where it goes in the cache and what marks a finished build."""

    name: str
    version: str
    binary_name: str
    stamp_extra: str = ""
    #: The Go module version to download (Go builds only).
    module_version: str = ""

    def directory(self, cache_root: Path) -> Path:
        """The cache directory of this name and version."""
        return cache_root / f"{self.name}-{self.version}"

    def binary(self, cache_root: Path) -> Path:
        """The path of the built program (for a Maven fetch: the directory of its jars)."""
        return self.directory(cache_root) / self.binary_name

    def stamp_record(self) -> dict[str, str]:
        """What the stamp must say for a cached build to count as this one."""
        return {"name": self.name, "version": self.version, "extra": self.stamp_extra}


def compose_text() -> str:
    """Every compose file the project ships, one after the other (the tags of all of them pin versions)."""
    return "\n".join(path.read_text(encoding="utf-8") for path in COMPOSE_FILES)


def read_pinned_versions(compose_text: str) -> PinnedVersions:
    """Read the image tags and the x-backend-builds block of the compose files (no YAML library needed)."""
    tags = dict(re.findall(r"^\s*image:\s*[\"']?([\w./-]+):([\w.+-]+)[\"']?\s*$", compose_text, re.MULTILINE))
    builds = dict(re.findall(r"^\s*([\w-]+-version):\s*[\"']?([\w.+-]+)", compose_text, re.MULTILINE))
    missing = [image for image in {*IMAGES.values(), TEMPO_IMAGE} if image not in tags]
    missing += [f"x-backend-builds.{key}" for key in BUILD_KEYS if key not in builds]
    if missing:
        raise SetupError(f"the compose files do not pin: {', '.join(sorted(missing))}")
    return PinnedVersions(tags, builds)


def manifest_binary_name(manifest: Path) -> str:
    """dist.name of a builder manifest: the name of the binary ocb writes."""
    match = re.search(
        r"^dist:\s*\n(?:\s+.*\n)*?\s+name:\s*([\w.-]+)", manifest.read_text(encoding="utf-8"), re.MULTILINE
    )
    if match is None:
        raise SetupError(f"{manifest} has no dist.name")
    return match.group(1)


def prometheus_go_version(release: str) -> str:
    """Prometheus 3.XX.Y is published to the Go module proxy as v0.3XX.Y."""
    match = re.fullmatch(r"3\.(\d+)\.(\d+)", release)
    if match is None:
        raise SetupError(f"cannot map Prometheus {release} to its Go module version (expected 3.X.Y)")
    return f"v0.{300 + int(match.group(1))}.{match.group(2)}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def planned_backends(versions: PinnedVersions) -> dict[str, Backend]:
    """Every backend with its cache identity, in build order."""
    jaeger_module = versions.builds["jaeger-go-module-version"]
    go_module_versions = {
        "jaeger": jaeger_module,
        "prometheus": prometheus_go_version(versions.release("prometheus")),
        "compose": f"v{versions.release('compose')}",
    }
    planned: dict[str, Backend] = {}
    for name in BACKEND_NAMES:
        release = versions.release(name)
        if name in COLLECTOR_MANIFESTS:
            manifest = COLLECTOR_MANIFESTS[name]
            planned[name] = Backend(name, release, manifest_binary_name(manifest), _digest(manifest))
        elif name in MAVEN_FETCHES:
            planned[name] = Backend(name, release, JARS_DIR, _digest(MAVEN_FETCHES[name].pom))
        else:
            # Jaeger's stamp names its Go module version: a new module for the same release is a new build.
            extra = jaeger_module if name == "jaeger" else ""
            binary = "docker-compose" if name == "compose" else name
            planned[name] = Backend(name, release, binary, extra, go_module_versions[name])
    return planned
