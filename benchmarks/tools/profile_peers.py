"""Where a peer's CPU goes under the chat load: ``py-spy`` samples of the running service, by component.

Each chosen peer of ``service_peers`` runs alone under the same closed-loop load as ``chat_throughput``
while ``py-spy record`` samples it (all threads; those waiting on a lock, a queue or a selector left out).
A sample counts for the component of its innermost frame outside the standard library (the OTLP exporter,
the SDK's spans, the instrumentations, our library, logging, ...); the rest is the service's own work.
Shares are of the samples; times per chat are the shares of the CPU per chat that /proc measured over the
same load.

    python -m benchmarks.tools.profile_peers [--seconds 20] off ours floor
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from testsupport.report import table

from benchmarks.harness.load import drive, process_cpu_seconds
from benchmarks.harness.peers import PEERS, running_backends, running_peer

#: (component, path fragment of its frames).
COMPONENTS = (
    ("OTLP export (encode, HTTP)", "/opentelemetry/exporter/"),
    ("batch span processor", "/opentelemetry/sdk/trace/export/"),
    ("batch span processor", "/opentelemetry/sdk/_shared_internal/"),
    ("SDK spans (start, end, attributes, sampler)", "/opentelemetry/sdk/"),
    ("OpenTelemetry API and context", "/opentelemetry/trace/"),
    ("OpenTelemetry API and context", "/opentelemetry/context/"),
    ("instrumentations (ASGI, httpx, sqlite3, GenAI)", "/opentelemetry/instrumentation/"),
    ("instrumentations (ASGI, httpx, sqlite3, GenAI)", "/opentelemetry/util/"),
    ("instrumentations (ASGI, httpx, sqlite3, GenAI)", "/wrapt/"),
    ("Logfire", "/logfire/"),
    ("our library (buffer, report line, @traced)", "/perftrace/"),
    ("logging", "/logging/"),
)
OTHER = "the service's own work (FastAPI, openai, httpx, the store, ...)"
STANDARD_LIBRARY = "standard library only (event loop, threads, locks, selectors)"


def is_standard_library(frame: str) -> bool:
    """Whether a frame (``function (path:line)``) runs code of Python's standard library."""
    return "<frozen" in frame or ("/lib/python3" in frame and "/site-packages/" not in frame)


def component_of(stack: str) -> str:
    """The component of one collapsed stack (``frame;frame;...``, outermost first).

    The innermost frame outside the standard library decides: a wrapper's own code counts for the
    instrumentation, the wrapped call's work (the openai client, a SQLite statement) does not.
    """
    for frame in reversed(stack.split(";")):
        if is_standard_library(frame):
            continue
        return next((component for component, fragment in COMPONENTS if fragment in frame), OTHER)
    return STANDARD_LIBRARY


#: Innermost frames of a thread that waits: py-spy cannot always tell (here it counts such threads busy).
WAITING = ("Condition.wait (", "_worker (", "Event.wait (", "BaseSelector.select (", "EpollSelector.select (")


def shares(raw: str) -> Counter[str]:
    """Samples per component from py-spy's raw (collapsed) output, waiting threads left out."""
    samples: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit() and not stack.rpartition(";")[2].startswith(WAITING):
            samples[component_of(stack)] += int(count)
    return samples


def profile(name: str, seconds: float, workdir: Path, raw_dir: Path | None = None) -> tuple[Counter[str], float]:
    """Samples per component of one peer under load, and its CPU per chat (ms) over the same load."""
    spy = Path(sys.executable).parent / "py-spy"
    backends_dir = workdir / f"{name}-backends"
    backends_dir.mkdir()
    with running_backends(backends_dir) as backends, running_peer(name, PEERS[name], backends, workdir) as peer:
        url, process = peer
        pid = process.process.pid
        asyncio.run(drive(url, 100, 8))
        out = (raw_dir or workdir) / f"{name}.txt"
        command = [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "200",
            "--full-filenames",
        ]
        recorder = subprocess.Popen([*command, "--format", "raw", "--output", str(out)], stdout=subprocess.DEVNULL)
        before, chats = process_cpu_seconds(pid), 0
        while recorder.poll() is None:
            asyncio.run(drive(url, 200, 8))
            chats += 200
        cpu_ms = (process_cpu_seconds(pid) - before) * 1000 / chats
        return shares(out.read_text()), cpu_ms


def render(profiles: dict[str, tuple[Counter[str], float]]) -> str:
    """Milliseconds of CPU per chat by component, one column per peer."""
    names = list(profiles)
    components = [c for c, _ in COMPONENTS if any(profiles[n][0][c] for n in names)]
    rows = []
    for component in dict.fromkeys([*components, OTHER, STANDARD_LIBRARY]):
        cells = []
        for name in names:
            samples, cpu_ms = profiles[name]
            cells.append(f"{cpu_ms * samples[component] / max(1, samples.total()):.2f}")
        rows.append([component, *cells])
    rows.append(["total (CPU per chat from /proc)", *(f"{profiles[n][1]:.2f}" for n in names)])
    return "\n".join(table(["ms of CPU per chat", *(f"`{n}`" for n in names)], rows)) + "\n"


def main() -> None:
    """Profile the chosen peers one after another; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peers", nargs="+", choices=list(PEERS))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--raw-dir", type=Path, help="keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-peers-") as folder:
        workdir = Path(folder)
        profiles = {}
        for name in args.peers:
            profiles[name] = profile(name, args.seconds, workdir, args.raw_dir)
    print(render(profiles))


if __name__ == "__main__":
    main()
