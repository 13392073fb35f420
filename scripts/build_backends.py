#!/usr/bin/env python3
"""Build the observability backends that the end-to-end tests run, at the versions the compose files pin.

Docker cannot run on our machines, so the tests start the same programs as plain processes. This script
builds them from the Go module proxy (Kafka: from Maven Central) into a cache kept outside the clone and never
rebuilds what is there:

    ${HA_AGENT_BACKENDS_DIR:-${XDG_CACHE_HOME:-~/.cache}/ha-ai-agent/backends}/<name>-<version>/<binary>

Versions come from one place, the image tags in docker-compose.yml and docker-compose.scale.yml, plus the
``x-backend-builds`` block for what a tag alone cannot say. tests/infra checks both.

* jaeger: ``cmd/jaeger`` of github.com/jaegertracing/jaeger. Its v2 tags are no Go versions for that module
  path; the Go version holding the release commit is ``x-backend-builds.jaeger-go-module-version``.
* otelcol, otelcol-agent, otelcol-gateway: the OpenTelemetry Collector Builder (ocb) at the collector version,
  each given its own manifest (collector/builder-config.yaml, builder-agent.yaml, builder-gateway.yaml).
* prometheus: ``cmd/prometheus`` of github.com/prometheus/prometheus (Go version v0.3XX.Y for 3.XX.Y).
* compose: the Docker Compose CLI (``./cmd`` of github.com/docker/compose/v2 at
  ``x-backend-builds.compose-cli-version``), which tests/infra runs as ``docker-compose config --quiet``.
* kafka: the broker's jars (``org.apache.kafka:kafka_2.13`` and ``kafka-tools`` at the apache/kafka tag) copied
  by ``mvn dependency:copy-dependencies`` from scripts/poms/kafka/pom.xml; run on the machine's Java 17.

Jaeger, Prometheus and Compose carry replace or exclude directives (and Prometheus a go.work), so
``go install module@version`` refuses them: the module is downloaded with ``go mod download`` and built from a
writable copy.

Tempo is pinned in compose but never built here: the module proxy of our workplace refuses
github.com/grafana/tempo (AGPL, on its not-to-use list). The tests use a Tempo binary only when
HA_AGENT_TEMPO_BIN names one.

Usage: ``build_backends.py [--only NAME ...] [--json]``; progress goes to stderr, ``--json`` prints
``{"name": "/path/to/binary", ...}`` on stdout. Exit status 0 when every requested backend is there, 1 when a
build failed, 2 when the environment cannot build at all (no Go, unreadable compose file).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# Every compose file the project ships; the base file first. Their image tags are the backend versions.
COMPOSE_FILES = (COMPOSE_FILE, REPO_ROOT / "docker-compose.sampling.yml", REPO_ROOT / "docker-compose.scale.yml")
KAFKA_POM = REPO_ROOT / "scripts" / "poms" / "kafka" / "pom.xml"

BACKENDS_DIR_ENV = "HA_AGENT_BACKENDS_DIR"
BUILD_TIMEOUT_SECONDS = 60 * 60
VERSION_CHECK_TIMEOUT_SECONDS = 60
HEARTBEAT_SECONDS = 30.0

COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib"
JAEGER_IMAGE = "jaegertracing/jaeger"
PROMETHEUS_IMAGE = "prom/prometheus"
TEMPO_IMAGE = "grafana/tempo"
KAFKA_IMAGE = "apache/kafka"

JAEGER_MODULE = "github.com/jaegertracing/jaeger"
PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
COMPOSE_MODULE = "github.com/docker/compose/v2"
BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder"
#: Each collector distribution: its builder manifest (whose dist.name is the binary's name).
COLLECTOR_MANIFESTS = {
    "otelcol": REPO_ROOT / "collector" / "builder-config.yaml",
    "otelcol-agent": REPO_ROOT / "collector" / "builder-agent.yaml",
    "otelcol-gateway": REPO_ROOT / "collector" / "builder-gateway.yaml",
}
KAFKA_JARS = "libs"

BACKEND_NAMES = ("jaeger", *COLLECTOR_MANIFESTS, "prometheus", "compose", "kafka")


class BuildError(RuntimeError):
    """A backend could not be built; the message says which and why."""


class SetupError(RuntimeError):
    """Nothing can be built here (no Go toolchain, no readable compose file)."""


@dataclass(frozen=True)
class PinnedVersions:
    """The backend versions pinned in docker-compose.yml."""

    collector: str
    jaeger: str
    jaeger_go_module_version: str
    prometheus: str
    tempo: str
    compose_cli: str
    kafka: str


@dataclass(frozen=True)
class Backend:
    """One program to build: where its binary goes and what marks a finished build."""

    name: str
    version: str
    binary_name: str
    stamp_extra: str = ""

    def directory(self, cache_root: Path) -> Path:
        """The cache directory of this name and version."""
        return cache_root / f"{self.name}-{self.version}"

    def binary(self, cache_root: Path) -> Path:
        """The path of the built program (for Kafka: the directory of its jars)."""
        return self.directory(cache_root) / self.binary_name

    def stamp_record(self) -> dict[str, str]:
        """What the stamp must say for a cached build to count as this one."""
        return {"name": self.name, "version": self.version, "extra": self.stamp_extra}


def cache_root() -> Path:
    """The backends cache: $HA_AGENT_BACKENDS_DIR, else $XDG_CACHE_HOME (or ~/.cache)/ha-ai-agent/backends."""
    explicit = os.environ.get(BACKENDS_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "ha-ai-agent" / "backends"


def compose_text() -> str:
    """Every compose file the project ships, one after the other (the tags of all of them pin versions)."""
    return "\n".join(path.read_text(encoding="utf-8") for path in COMPOSE_FILES)


def read_pinned_versions(compose_text: str) -> PinnedVersions:
    """Read the image tags and the x-backend-builds block of the compose files (no YAML library needed)."""
    tags = dict(re.findall(r"^\s*image:\s*[\"']?([\w./-]+):([\w.+-]+)[\"']?\s*$", compose_text, re.MULTILINE))
    extras = dict(re.findall(r"^\s*([\w-]+-version):\s*[\"']?([\w.+-]+)", compose_text, re.MULTILINE))
    images = (COLLECTOR_IMAGE, JAEGER_IMAGE, PROMETHEUS_IMAGE, TEMPO_IMAGE, KAFKA_IMAGE)
    missing = [image for image in images if image not in tags]
    missing += [
        f"x-backend-builds.{key}" for key in ("jaeger-go-module-version", "compose-cli-version") if key not in extras
    ]
    if missing:
        raise SetupError(f"the compose files do not pin: {', '.join(missing)}")
    return PinnedVersions(
        collector=tags[COLLECTOR_IMAGE],
        jaeger=tags[JAEGER_IMAGE],
        jaeger_go_module_version=extras["jaeger-go-module-version"],
        prometheus=tags[PROMETHEUS_IMAGE].removeprefix("v"),
        tempo=tags[TEMPO_IMAGE],
        compose_cli=extras["compose-cli-version"].removeprefix("v"),
        kafka=tags[KAFKA_IMAGE],
    )


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


def planned_backends(versions: PinnedVersions) -> dict[str, Backend]:
    """The backends with their cache identity (a collector's includes its manifest's digest, Kafka's the pom's)."""
    collectors = {
        name: Backend(
            name,
            versions.collector,
            manifest_binary_name(manifest),
            hashlib.sha256(manifest.read_bytes()).hexdigest()[:16],
        )
        for name, manifest in COLLECTOR_MANIFESTS.items()
    }
    return {
        "jaeger": Backend("jaeger", versions.jaeger, "jaeger", versions.jaeger_go_module_version),
        **collectors,
        "prometheus": Backend("prometheus", versions.prometheus, "prometheus"),
        "compose": Backend("compose", versions.compose_cli, "docker-compose"),
        "kafka": Backend("kafka", versions.kafka, KAFKA_JARS, hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()[:16]),
    }


def log(message: str) -> None:
    """Progress for people: stderr, so --json output stays clean."""
    print(f"[build_backends] {message}", file=sys.stderr, flush=True)


def go_environment(work_dir: Path) -> dict[str, str]:
    """A predictable Go environment: no inherited GOFLAGS surprises, no workspace, no toolchain download."""
    env = dict(os.environ)
    env.update(
        {
            "GOFLAGS": "-buildvcs=false -trimpath -mod=readonly",
            "GOWORK": "off",
            "GOTOOLCHAIN": "local",
            "CGO_ENABLED": "0",
            "GOTMPDIR": str(work_dir),
        }
    )
    return env


def run_logged(command: Sequence[str], cwd: Path, env: dict[str, str], log_path: Path, label: str) -> None:
    """Run one build step at the lowest CPU priority, its output in log_path, a heartbeat on stderr."""
    started = time.monotonic()
    with log_path.open("a", encoding="utf-8") as log_file:
        log_file.write(f"\n$ (cd {cwd} && {' '.join(command)})\n")
        log_file.flush()
        process = subprocess.Popen(
            ["nice", "-n", "19", *command], cwd=cwd, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        finished = threading.Event()

        def heartbeat() -> None:
            while not finished.wait(HEARTBEAT_SECONDS):
                log(f"  ... {label}: {time.monotonic() - started:.0f}s")

        threading.Thread(target=heartbeat, daemon=True).start()
        try:
            returncode = process.wait(timeout=BUILD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BuildError(f"{label} took longer than {BUILD_TIMEOUT_SECONDS}s; log: {log_path}") from None
        finally:
            finished.set()
    if returncode != 0:
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-25:])
        raise BuildError(f"{label} failed (exit {returncode}); last lines of {log_path}:\n{tail}")


def download_module(module: str, version: str, work_dir: Path, env: dict[str, str], log_path: Path) -> Path:
    """Fetch one module version from the proxy and copy it to a writable directory of its own."""
    log(f"  go mod download {module}@{version}")
    completed = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        cwd=work_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    with log_path.open("a", encoding="utf-8") as log_file:
        log_file.write(completed.stdout + completed.stderr)
    try:
        info = json.loads(completed.stdout)
    except json.JSONDecodeError:
        info = {}
    if completed.returncode != 0 or "Dir" not in info:
        reason = info.get("Error") or completed.stderr.strip() or "no module directory"
        raise BuildError(f"go mod download {module}@{version} failed: {reason}")
    source = work_dir / "src"
    shutil.copytree(info["Dir"], source)
    for path in [source, *source.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    return source


def build_jaeger(backend: Backend, work_dir: Path, output: Path, log_path: Path) -> None:
    """Jaeger v2: cmd/jaeger from the Go module version that holds the v2 release commit."""
    env = go_environment(work_dir)
    source = download_module(JAEGER_MODULE, backend.stamp_extra, work_dir, env, log_path)
    ldflags = f"-X {JAEGER_MODULE}/internal/version.latestVersion=v{backend.version}"
    run_logged(
        ["go", "build", "-ldflags", ldflags, "-o", str(output), "./cmd/jaeger"],
        source,
        env,
        log_path,
        "jaeger",
    )


def build_prometheus(backend: Backend, work_dir: Path, output: Path, log_path: Path) -> None:
    """Prometheus: cmd/prometheus from the module copy (web UI assets not embedded; the API is complete)."""
    env = go_environment(work_dir)
    source = download_module(PROMETHEUS_MODULE, prometheus_go_version(backend.version), work_dir, env, log_path)
    ldflags = f"-X github.com/prometheus/common/version.Version={backend.version}"
    run_logged(
        ["go", "build", "-ldflags", ldflags, "-o", str(output), "./cmd/prometheus"],
        source,
        env,
        log_path,
        "prometheus",
    )


def build_collector(backend: Backend, work_dir: Path, output: Path, log_path: Path) -> None:
    """The collector: install ocb at the collector version, then let it generate and compile the manifest."""
    env = go_environment(work_dir)
    env["GOBIN"] = str(work_dir / "bin")
    # ocb runs `go get` and `go mod tidy` on the sources it generates: they must be allowed to write go.mod.
    env["GOFLAGS"] = "-buildvcs=false -trimpath"
    run_logged(["go", "install", f"{BUILDER_MODULE}@v{backend.version}"], work_dir, env, log_path, "ocb install")
    shutil.copyfile(COLLECTOR_MANIFESTS[backend.name], work_dir / "builder-config.yaml")
    run_logged(
        [str(work_dir / "bin" / "builder"), "--config=builder-config.yaml"],
        work_dir,
        env,
        log_path,
        f"ocb build {backend.name}",
    )
    built = work_dir / "otelcol-dist" / backend.binary_name
    if not built.is_file():
        raise BuildError(f"ocb finished but {built} is missing; log: {log_path}")
    shutil.copyfile(built, output)
    output.chmod(0o755)


def build_compose(backend: Backend, work_dir: Path, output: Path, log_path: Path) -> None:
    """The Compose CLI: ``./cmd`` of the module copy (its go.mod has exclude directives, so no ``go install``)."""
    env = go_environment(work_dir)
    source = download_module(COMPOSE_MODULE, f"v{backend.version}", work_dir, env, log_path)
    ldflags = f"-w -X {COMPOSE_MODULE}/internal.Version=v{backend.version}"
    run_logged(["go", "build", "-ldflags", ldflags, "-o", str(output), "./cmd"], source, env, log_path, "compose")


def fetch_kafka(backend: Backend, work_dir: Path, output: Path, log_path: Path) -> None:
    """Kafka's jars from Maven Central (the project's own pom), into ``output``; Maven's repository stays in ~/.m2."""
    if shutil.which("mvn") is None:
        raise BuildError("Maven (`mvn`) is not on PATH; install Maven and Java 17 to fetch Kafka")
    command = [
        "mvn", "--batch-mode", "--quiet", "-f", str(KAFKA_POM), "dependency:copy-dependencies",
        f"-Dkafka.version={backend.version}", "-DincludeScope=runtime", f"-DoutputDirectory={output}",
    ]  # fmt: skip
    run_logged(command, work_dir, dict(os.environ), log_path, "mvn kafka")


BUILDERS = {
    "jaeger": build_jaeger,
    **dict.fromkeys(COLLECTOR_MANIFESTS, build_collector),
    "prometheus": build_prometheus,
    "compose": build_compose,
    "kafka": fetch_kafka,
}


def version_command(name: str, binary: Path) -> list[str]:
    """The command that makes a built backend print its version."""
    if name == "kafka":
        return ["java", "-cp", f"{binary}/*", "kafka.Kafka", "--version"]
    if name in ("jaeger", "compose"):
        return [str(binary), "version"]
    return [str(binary), "--version"]


def reported_version(name: str, binary: Path) -> str:
    """Run the program's own version command; the built version must appear in what it prints."""
    completed = subprocess.run(
        version_command(name, binary),
        capture_output=True,
        text=True,
        timeout=VERSION_CHECK_TIMEOUT_SECONDS,
        check=False,
    )
    return (completed.stdout + completed.stderr).strip()


def is_cached(backend: Backend, root: Path) -> bool:
    """A build is cached when its binary exists and its stamp names the same name, version and inputs."""
    stamp = backend.directory(root) / "stamp.json"
    if not (stamp.is_file() and backend.binary(root).exists()):
        return False
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return all(recorded.get(key) == value for key, value in backend.stamp_record().items())


@contextlib.contextmanager
def cache_lock(root: Path) -> Iterator[None]:
    """One build at a time per cache, so two test sessions starting together do not build twice."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_backend(backend: Backend, root: Path) -> Path:
    """Return the cached binary, building it first when the cache does not have this version."""
    if is_cached(backend, root):
        log(f"{backend.name} {backend.version}: cached at {backend.binary(root)}")
        return backend.binary(root)
    directory = backend.directory(root)
    log(f"{backend.name} {backend.version}: building (several minutes on 2 cores; log in {root})")
    started = time.monotonic()
    log_path = root / f"{backend.name}-{backend.version}.log"
    log_path.write_text(f"build of {backend.name} {backend.version}\n", encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix=f"{backend.name}-", dir=root) as scratch:
        work_dir = Path(scratch)
        staged = work_dir / backend.binary_name
        BUILDERS[backend.name](backend, work_dir, staged, log_path)
        version_text = reported_version(backend.name, staged)
        if backend.version not in version_text:
            raise BuildError(f"{backend.name} built, but its version output lacks {backend.version}: {version_text!r}")
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        shutil.move(str(staged), backend.binary(root))
    seconds = time.monotonic() - started
    stamp = {
        **backend.stamp_record(),
        "built_seconds": f"{seconds:.0f}",
        "version_output": version_text[:300],
    }
    (directory / "stamp.json").write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    log(f"{backend.name} {backend.version}: built in {seconds:.0f}s -> {backend.binary(root)}")
    return backend.binary(root)


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", action="append", choices=BACKEND_NAMES, help="build only this backend (repeatable)")
    parser.add_argument("--json", action="store_true", help="print {name: binary path} as JSON on stdout")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build what is missing; report where every binary is."""
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        if shutil.which("go") is None:
            raise SetupError("the Go toolchain (`go`) is not on PATH; install Go 1.26 or newer")
        versions = read_pinned_versions(compose_text())
        backends = planned_backends(versions)
    except (OSError, SetupError) as error:
        log(f"error: {error}")
        return 2
    root = cache_root()
    wanted = arguments.only or list(BACKEND_NAMES)
    log(f"cache: {root}; tempo {versions.tempo} is not built here (compose runs its image)")
    paths: dict[str, str] = {}
    failures: list[str] = []
    with cache_lock(root):
        for name in wanted:
            try:
                paths[name] = str(ensure_backend(backends[name], root))
            except (BuildError, OSError, subprocess.SubprocessError) as error:
                failures.append(name)
                log(f"error: {name}: {error}")
    if arguments.json:
        print(json.dumps(paths, indent=2))
    if failures:
        log(f"failed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
