"""Build what the backends cache lacks, one build at a time (a lock file), and check each build's version.

Go programs are built from a writable copy of their module (their go.mod files carry replace or exclude
directives, so ``go install module@version`` refuses them); collectors by the OpenTelemetry Collector Builder at
the collector version; Java programs are jars copied from Maven Central. Every step runs under ``nice -n 19`` with
its output in a log beside the build, and a heartbeat on stderr.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from testsupport.backends.pins import (
    BACKEND_NAMES,
    COLLECTOR_MANIFESTS,
    GO_BUILDS,
    MAVEN_FETCHES,
    Backend,
    SetupError,
    compose_text,
    planned_backends,
    read_pinned_versions,
)
from testsupport.cache import cache_dir

BACKENDS_DIR_ENV = "HA_AGENT_BACKENDS_DIR"
BUILD_TIMEOUT_SECONDS = 60 * 60
VERSION_CHECK_TIMEOUT_SECONDS = 60
HEARTBEAT_SECONDS = 30.0
BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder"


class BuildError(RuntimeError):
    """A backend could not be built; the message says which and why."""


def cache_root() -> Path:
    """The backends cache: $HA_AGENT_BACKENDS_DIR, else $XDG_CACHE_HOME (or ~/.cache)/ha-ai-agent/backends."""
    return cache_dir("backends", BACKENDS_DIR_ENV)


def log(message: str) -> None:
    """Progress for people: stderr, so a caller's stdout stays clean."""
    print(f"[backends] {message}", file=sys.stderr, flush=True)


def go_environment(work_dir: Path) -> dict[str, str]:
    """A predictable Go environment: no inherited GOFLAGS surprises, no workspace, no toolchain download."""
    return {
        **os.environ,
        "GOFLAGS": "-buildvcs=false -trimpath -mod=readonly",
        "GOWORK": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOTMPDIR": str(work_dir),
    }


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


def build_go(backend: Backend, work_dir: Path, output: Path, log_path: Path) -> None:
    """``go build`` of the table's package from the module copy, with the version stamped by ``-ldflags``."""
    recipe = GO_BUILDS[backend.name]
    env = go_environment(work_dir)
    source = download_module(recipe.module, backend.module_version, work_dir, env, log_path)
    ldflags = recipe.ldflags.format(module=recipe.module, version=backend.version)
    command = ["go", "build", "-ldflags", ldflags, "-o", str(output), recipe.package]
    run_logged(command, source, env, log_path, backend.name)


def build_collector(backend: Backend, work_dir: Path, output: Path, log_path: Path) -> None:
    """The collector: install ocb at the collector version, then let it generate and compile the manifest."""
    env = go_environment(work_dir)
    env["GOBIN"] = str(work_dir / "bin")
    # ocb runs `go get` and `go mod tidy` on the sources it generates: they must be allowed to write go.mod.
    env["GOFLAGS"] = "-buildvcs=false -trimpath"
    run_logged(["go", "install", f"{BUILDER_MODULE}@v{backend.version}"], work_dir, env, log_path, "ocb install")
    shutil.copyfile(COLLECTOR_MANIFESTS[backend.name], work_dir / "builder-config.yaml")
    builder = [str(work_dir / "bin" / "builder"), "--config=builder-config.yaml"]
    run_logged(builder, work_dir, env, log_path, f"ocb build {backend.name}")
    built = work_dir / "otelcol-dist" / backend.binary_name
    if not built.is_file():
        raise BuildError(f"ocb finished but {built} is missing; log: {log_path}")
    shutil.copyfile(built, output)
    output.chmod(0o755)


def fetch_jars(backend: Backend, work_dir: Path, output: Path, log_path: Path) -> None:
    """The jars of the backend's pom from Maven Central, into ``output``; Maven's repository stays in ~/.m2."""
    if shutil.which("mvn") is None:
        raise BuildError(f"Maven (`mvn`) is not on PATH; install Maven and Java 17 to fetch {backend.name}")
    recipe = MAVEN_FETCHES[backend.name]
    command = [
        "mvn", "--batch-mode", "--quiet", "-f", str(recipe.pom), "dependency:copy-dependencies",
        f"-D{recipe.version_property}={backend.version}", "-DincludeScope=runtime", f"-DoutputDirectory={output}",
    ]  # fmt: skip
    run_logged(command, work_dir, dict(os.environ), log_path, f"mvn {backend.name}")


def version_command(name: str, binary: Path) -> list[str]:
    """The command that makes a built backend print its version."""
    if name in MAVEN_FETCHES:
        recipe = MAVEN_FETCHES[name]
        return ["java", "-cp", f"{binary}/*", recipe.version_class, *recipe.version_arguments]
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


def _builder(name: str) -> str:
    return "maven" if name in MAVEN_FETCHES else "ocb" if name in COLLECTOR_MANIFESTS else "go"


BUILDERS = {"go": build_go, "ocb": build_collector, "maven": fetch_jars}


def ensure_backend(backend: Backend, root: Path) -> Path:
    """Return the cached binary, building it first when the cache does not have this version."""
    if is_cached(backend, root):
        return backend.binary(root)
    if _builder(backend.name) != "maven" and shutil.which("go") is None:
        raise SetupError("the Go toolchain (`go`) is not on PATH; install Go 1.26 or newer")
    directory = backend.directory(root)
    log(f"{backend.name} {backend.version}: building (minutes on 2 cores; log in {root})")
    started = time.monotonic()
    log_path = root / f"{backend.name}-{backend.version}.log"
    log_path.write_text(f"build of {backend.name} {backend.version}\n", encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix=f"{backend.name}-", dir=root) as scratch:
        work_dir = Path(scratch)
        staged = work_dir / backend.binary_name
        BUILDERS[_builder(backend.name)](backend, work_dir, staged, log_path)
        version_text = reported_version(backend.name, staged)
        if backend.version not in version_text:
            raise BuildError(f"{backend.name} built, but its version output lacks {backend.version}: {version_text!r}")
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        shutil.move(str(staged), backend.binary(root))
    seconds = time.monotonic() - started
    stamp = {**backend.stamp_record(), "built_seconds": f"{seconds:.0f}", "version_output": version_text[:300]}
    (directory / "stamp.json").write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    log(f"{backend.name} {backend.version}: built in {seconds:.0f}s -> {backend.binary(root)}")
    return backend.binary(root)


def ensure_backends(names: Sequence[str] = BACKEND_NAMES) -> dict[str, Path]:
    """Build (or find) each backend of ``names``; their binaries by name. Raises BuildError naming every failure."""
    backends = planned_backends(read_pinned_versions(compose_text()))
    root = cache_root()
    paths: dict[str, Path] = {}
    failures: list[str] = []
    with cache_lock(root):
        for name in names:
            try:
                paths[name] = ensure_backend(backends[name], root)
            except (BuildError, SetupError, OSError, subprocess.SubprocessError) as error:
                failures.append(f"{name}: {error}")
    if failures:
        raise BuildError("\n".join(failures))
    return paths
