"""Run the benchmarks and rewrite their sections of docs/performance.md (``make bench``).

``python -m benchmarks [--only NAME]... [--quick] [--no-write]``. A benchmark is a module at the top of this
package with a ``run(quick: bool) -> str`` that returns its Markdown section; the section is named after the
module. Each runs in a fresh interpreter (a benchmark that measures GC pauses must not carry the others'
imports) and rewrites only its own marked section, so figures that other benchmarks wrote stay as they are.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from testsupport.report import DOC_PATH, replace_section

_logger = logging.getLogger("benchmarks")

PACKAGE_DIR = Path(__file__).resolve().parent
#: Run first and in this order; every other benchmark runs after them, by name.
PREFERRED_ORDER = ("span_overhead", "chat_throughput")
#: Bound on one benchmark's run, so ``make bench`` always ends.
BENCHMARK_TIMEOUT_SECONDS = 3600
#: What a benchmark's own interpreter runs: import the module, write its section to a file.
CHILD_CODE = (
    "import importlib, pathlib, sys; module = importlib.import_module('benchmarks.' + sys.argv[1]); "
    "pathlib.Path(sys.argv[2]).write_text(module.run(sys.argv[3] == 'quick'))"
)


def discover() -> list[str]:
    """The benchmarks: the package's top-level modules (helpers live in ``harness/``, investigations in ``tools/``)."""
    names = [path.stem for path in PACKAGE_DIR.glob("*.py") if not path.stem.startswith("_")]
    rank = {name: index for index, name in enumerate(PREFERRED_ORDER)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def run_one(name: str, quick: bool) -> str:
    """Run a benchmark in its own interpreter, so no other module's heap or threads skew it."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        out = Path(folder) / "section.md"
        command = [sys.executable, "-c", CHILD_CODE, name, str(out), "quick" if quick else "full"]
        subprocess.run(command, cwd=PACKAGE_DIR.parent, check=True, timeout=BENCHMARK_TIMEOUT_SECONDS)
        return out.read_text()


def run_benchmarks(names: Sequence[str], quick: bool, write: bool, doc: Path) -> int:
    """Run each benchmark in turn, writing its section as soon as it is done; the number that failed."""
    failures = 0
    for name in names:
        _logger.info("running %s%s", name, " --quick" if quick else "")
        started = time.monotonic()
        try:
            section = run_one(name, quick)
        except (subprocess.SubprocessError, OSError) as error:
            _logger.error("%s failed (%s); its section is left as it was", name, error)
            failures += 1
            continue
        print(section, flush=True)
        if write:
            replace_section(name, section, doc)
        _logger.info("%s done in %.0f s", name, time.monotonic() - started)
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the chosen benchmarks; 1 if any failed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument("--quick", action="store_true", help="short runs; implies --no-write unless --write")
    parser.add_argument("--no-write", action="store_true", help="print the sections, leave the doc alone")
    parser.add_argument("--write", action="store_true", help="rewrite the doc even with --quick")
    parser.add_argument("--doc", type=Path, default=DOC_PATH, help=f"file to rewrite (default {DOC_PATH})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = discover()
    if args.only:
        if unknown := set(args.only) - set(names):
            parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {names}")
        names = [name for name in names if name in args.only]
    # Quick figures are too noisy to replace the full ones in the doc unless asked to.
    write = args.write or not (args.no_write or args.quick)
    return 1 if run_benchmarks(names, args.quick, write, args.doc) else 0


if __name__ == "__main__":
    sys.exit(main())
