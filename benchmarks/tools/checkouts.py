"""The service's CPU per chat from several checkouts of its code, in one run with rounds interleaved.

For choices such as issue #11's "SDK parts from the SDK, unless a hand-written replacement saves at least 2 %
of the service's CPU per chat": each checkout (a ``git worktree`` of one commit, perhaps with one file of
another) runs as its own ``ha-ai-agent serve`` with tracing as shipped, the embedded model at 0 ms and the
same load as ``chat_throughput``, each back to back with the first in paired rounds (``harness/rounds.py``).

    python -m benchmarks.tools.checkouts [--rounds N] [--requests N] NAME=PATH NAME=PATH ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from testsupport.report import section_preamble, table

from benchmarks.harness.peers import Peer
from benchmarks.harness.rounds import LoadPlan, Results, measure


def render(results: Results, started: dt.datetime) -> str:
    """The comparison as Markdown: CPU per chat and its paired ratio to the first checkout."""
    reference = next(iter(results.runs))
    rows = [
        [
            f"`{name}`",
            f"{run.median('cpu_ms_per_chat'):.3f}",
            results.ratio((name, reference), "cpu_ms_per_chat").text(),
            f"{run.median('rps'):.1f}",
            str(sum(r.errors for r in run.segments)),
        ]
        for name, run in results.runs.items()
    ]
    plan = results.plan
    lines = section_preamble("CPU per chat by checkout (`benchmarks/tools/checkouts.py`)", started)
    lines += [
        f"{plan.rounds} paired rounds of {plan.requests_per_segment} chats from {plan.concurrency} clients after "
        f"{plan.warmup_requests} warm-up chats, each checkout back to back with `{reference}`; CPU per chat is the "
        "service process's user + system time (/proc). Ratio: median over rounds (min … max).",
        "",
        *table(["checkout", "CPU per chat (ms)", f"ratio to `{reference}`", "requests/s", "errors"], rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse ``NAME=PATH`` checkouts, measure them, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", metavar="NAME=PATH")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=400, help="chats per segment")
    args = parser.parse_args()
    peers = {}
    for item in args.checkouts:
        name, _, path = item.partition("=")
        peers[name] = Peer(name, source=Path(path).resolve())
    plan = LoadPlan(concurrency=8, warmup_requests=60, requests_per_segment=args.requests, rounds=args.rounds)
    reference = next(iter(peers))
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="checkouts-") as workdir:
        results = measure(plan, Path(workdir), peers, [(name, reference) for name in peers if name != reference])
    print(render(results, started))


if __name__ == "__main__":
    main()
