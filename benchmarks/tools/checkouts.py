"""The service's CPU per chat from several checkouts of its code, in one run with rounds interleaved.

For choices such as issue #11's "SDK parts from the SDK, unless a hand-written replacement saves at least 2 %
of the service's CPU per chat": each checkout (a ``git worktree`` of one commit, perhaps with one file of
another) runs as its own ``ha-ai-agent serve`` with tracing as shipped, the embedded model at 0 ms and the
same load as ``chat_throughput``. Ratios are against the first checkout, per round (the services of one round
ran back to back), then the median over the rounds.

    python -m benchmarks.tools.checkouts [--rounds N] [--requests N] NAME=PATH NAME=PATH ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from testsupport.report import median, section_preamble, table

from benchmarks.chat_throughput import LoadPlan, ThroughputResults, measure
from benchmarks.harness.peers import Peer


def per_round_ratios(results: ThroughputResults, name: str, reference: str) -> list[float]:
    """CPU per chat of ``name`` over the reference's, round by round."""
    return [
        mine.cpu_ms_per_chat / theirs.cpu_ms_per_chat
        for mine, theirs in zip(results.runs[name].rounds, results.runs[reference].rounds, strict=True)
    ]


def render(results: ThroughputResults, started: dt.datetime) -> str:
    """The comparison as Markdown: CPU per chat and its ratio to the first checkout."""
    reference = next(iter(results.runs))
    rows = []
    for name, run in results.runs.items():
        ratios = per_round_ratios(results, name, reference)
        rows.append(
            [
                f"`{name}`",
                f"{run.median('cpu_ms_per_chat'):.3f}",
                f"{median(ratios):.3f}",
                f"{min(ratios):.3f} … {max(ratios):.3f}",
                f"{run.median('rps'):.1f}",
                str(sum(r.errors for r in run.rounds)),
            ]
        )
    plan = results.plan
    lines = section_preamble("CPU per chat by checkout (`benchmarks/checkouts.py`)", started)
    lines += [
        f"{plan.rounds} interleaved rounds of {plan.requests_per_round} chats from {plan.concurrency} clients "
        f"after {plan.warmup_requests} warm-up chats; CPU per chat is the service process's user + system time "
        f"(/proc) over the chats of a round. Ratio: to `{reference}` in the same round, median over rounds.",
        "",
        *table(["checkout", "CPU per chat (ms)", f"ratio to `{reference}`", "range", "requests/s", "errors"], rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse ``NAME=PATH`` checkouts, measure them, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", metavar="NAME=PATH")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=400, help="chats per round and checkout")
    args = parser.parse_args()
    peers = {}
    for item in args.checkouts:
        name, _, path = item.partition("=")
        peers[name] = Peer(name, source=Path(path).resolve())
    plan = LoadPlan(
        concurrency=8,
        warmup_requests=60,
        requests_per_round=args.requests,
        rounds=args.rounds,
        sequential_probe=0,
        fixed_rate_rounds=0,
    )
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="checkouts-") as workdir:
        results = measure(plan, Path(workdir), peers)
    print(render(results, started))


if __name__ == "__main__":
    main()
