"""Run the benchmarks and rewrite their sections of docs/performance.md (``make bench``).

A benchmark is a module of this package with a ``SECTION`` name and a ``run(quick: bool) -> str`` that
returns its Markdown section. Each runs in a fresh interpreter (a benchmark that measures GC pauses
must not carry the others' imports) and rewrites only its own marked section, so figures that other
benchmarks wrote stay as they are. ``--only NAME`` (repeatable) picks benchmarks by section name.
"""

from __future__ import annotations

import argparse
import ast
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from testsupport.report import DOC_PATH, replace_section

_logger = logging.getLogger("benchmarks")

#: Run first and in this order; any other benchmark module found in the package runs after them.
PREFERRED_ORDER = ("span_overhead", "chat_throughput")
#: Modules of the package that are not benchmarks.
NOT_BENCHMARKS = {"report", "run_all"}
#: Bound on one benchmark's run, so ``make bench`` always ends.
BENCHMARK_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class Benchmark:
    """A module that can measure and render its own section."""

    section: str
    module: str


#: What a benchmark's own interpreter runs: import the module, write its section to a file.
CHILD_CODE = (
    "import importlib, pathlib, sys; module = importlib.import_module(sys.argv[1]); "
    "pathlib.Path(sys.argv[2]).write_text(module.run(sys.argv[3] == 'quick'))"
)


def declared_benchmark(path: Path) -> Benchmark | None:
    """The module's benchmark if its source declares ``SECTION = "..."`` and ``def run``; not imported."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError) as error:
        _logger.warning("skipping %s: cannot read it (%s)", path.name, error)
        return None
    section = None
    has_run = False
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if any(isinstance(t, ast.Name) and t.id == "SECTION" for t in node.targets):
                section = node.value.value if isinstance(node.value.value, str) else None
        has_run = has_run or (isinstance(node, ast.FunctionDef) and node.name == "run")
    return Benchmark(section, f"benchmarks.{path.stem}") if section and has_run else None


def discover() -> list[Benchmark]:
    """The package's benchmark modules, found by reading (not importing) their source."""
    package_dir = Path(__file__).resolve().parent
    found = [
        benchmark
        for path in sorted(package_dir.glob("*.py"))
        if path.stem not in NOT_BENCHMARKS
        and not path.stem.startswith("_")
        and (benchmark := declared_benchmark(path)) is not None
    ]
    rank = {name: index for index, name in enumerate(PREFERRED_ORDER)}
    return sorted(found, key=lambda b: (rank.get(b.section, len(rank)), b.section))


def run_one(benchmark: Benchmark, quick: bool) -> str:
    """Run a benchmark in its own interpreter, so no other module's heap or threads skew it."""
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        out = Path(folder) / "section.md"
        command = [sys.executable, "-c", CHILD_CODE, benchmark.module, str(out), "quick" if quick else "full"]
        subprocess.run(command, cwd=repo, check=True, timeout=BENCHMARK_TIMEOUT_SECONDS)
        return out.read_text()


def run_benchmarks(benchmarks: Sequence[Benchmark], quick: bool, write: bool, doc: Path) -> int:
    """Run each benchmark in turn, writing its section as soon as it is done; the number that failed."""
    failures = 0
    for benchmark in benchmarks:
        _logger.info("running %s (%s)%s", benchmark.section, benchmark.module, " --quick" if quick else "")
        started = time.monotonic()
        try:
            section = run_one(benchmark, quick)
        except (subprocess.SubprocessError, OSError) as error:
            _logger.error("%s failed (%s); its section is left as it was", benchmark.section, error)
            failures += 1
            continue
        print(section, flush=True)
        if write:
            replace_section(benchmark.section, section, doc)
        _logger.info("%s done in %.0f s", benchmark.section, time.monotonic() - started)
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.run_all [--only NAME]... [--quick] [--no-write]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short runs to check that the benchmarks work; implies --no-write unless --write",
    )
    parser.add_argument("--no-write", action="store_true", help="print the sections, leave the doc alone")
    parser.add_argument("--write", action="store_true", help="rewrite the doc even with --quick")
    parser.add_argument("--doc", type=Path, default=DOC_PATH, help=f"file to rewrite (default {DOC_PATH})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    benchmarks = discover()
    if args.only:
        unknown = set(args.only) - {b.section for b in benchmarks}
        if unknown:
            parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {[b.section for b in benchmarks]}")
        benchmarks = [b for b in benchmarks if b.section in args.only]
    # Quick figures are too noisy to replace the full ones in the doc unless asked to.
    write = args.write or not (args.no_write or args.quick)
    return 1 if run_benchmarks(benchmarks, args.quick, write, args.doc) else 0


if __name__ == "__main__":
    sys.exit(main())
