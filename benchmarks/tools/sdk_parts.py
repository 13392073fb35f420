"""Each hand-written SDK replacement against the SDK's way, per chat, in one process with rounds interleaved.

Issue #11 keeps a hand-written replacement only if it saves at least 2 % of the service's CPU per chat. On a
shared 2-core machine the service-level comparison (``benchmarks/checkouts.py``) varies by ±15 % from round to
round, too much to see 2 %; this measures the replaced code itself, doing one chat's worth of its work on real
SDK objects, with ``time.thread_time`` (CPU of this thread only):

- sampler: ``should_sample`` for a chat's spans (one root, the rest local children);
- span context manager: entering and leaving a span block for each stage and context-section span;
- records: turning a chat's ended SDK spans into ``SpanRecord`` s;
- report line: the ``[Performance]`` line of one chat trace.

The hand-written code is read from ``--hand-written-commit`` (the commit before the replacement) with
``git show``; the SDK's way is the installed ``perftrace``. The saving per chat is divided by the CPU per chat
that ``chat_throughput`` measured for the service (``--cpu-ms-per-chat``).

    python -m benchmarks.tools.sdk_parts --hand-written-commit COMMIT --cpu-ms-per-chat MS
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from perftrace.records import SpanRecord, TraceRecord
from perftrace.tracker import format_report_line, report_from_trace
from testsupport.report import median, table

from benchmarks.harness.spans import chat_spans

REPO = Path(__file__).resolve().parents[2]
LIBRARY = "libs/perftrace/src/perftrace"
#: Spans per chat made through the span context manager: 9 stages, 4 context sections.
BLOCKS_PER_CHAT = 13


def load_old(commit: str, name: str, folder: Path) -> ModuleType:
    """A module of the library as it was at ``commit``, loaded under another name."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:{LIBRARY}/{name}.py"], check=True, capture_output=True, text=True
    ).stdout
    path = folder / f"hand_written_{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


class Keep(SpanProcessor):
    """Keeps ended spans (to build records and traces from)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        """Keep it."""
        self.spans.append(span)


def parts(old: dict[str, ModuleType], provider: TracerProvider, spans: list[ReadableSpan]) -> dict[str, Any]:
    """For each replacement: (hand-written, SDK's way, calls per chat), each a callable doing one call."""
    tracer = provider.get_tracer("bench")
    server = next(s for s in spans if s.parent is None)
    child_context = trace.set_span_in_context(trace.NonRecordingSpan(server.get_span_context()))  # type: ignore[arg-type]
    hand_sampler = old["setup"].TrustBoundarySampler(1.0)
    ratio = TraceIdRatioBased(1.0)
    sdk_sampler = ParentBased(root=ratio, remote_parent_sampled=ratio, remote_parent_not_sampled=ratio)
    trace_id = server.context.trace_id
    hand_span, attributes = old["decorator"].CurrentSpan, {"stage.detail": 1}
    trace_record = TraceRecord(trace_id, tuple(SpanRecord.from_readable_span(s) for s in spans))

    def hand_block() -> None:
        with hand_span(tracer, "stage", attributes):
            pass

    def sdk_block() -> None:
        with tracer.start_as_current_span("stage", attributes=attributes):
            pass

    def sdk_line() -> None:
        report = report_from_trace(trace_record, "bench", with_metadata=False)
        assert report is not None
        format_report_line(report)

    return {
        "sampler (per span)": (
            lambda: hand_sampler.should_sample(child_context, trace_id, "stage"),
            lambda: sdk_sampler.should_sample(child_context, trace_id, "stage"),
            len(spans),
        ),
        "span context manager (per stage or section span)": (hand_block, sdk_block, BLOCKS_PER_CHAT),
        "records (per span)": (
            lambda: old["records"].SpanRecord.from_readable_span(spans[3]),
            lambda: SpanRecord.from_readable_span(spans[3]),
            len(spans),
        ),
        "`[Performance]` line (per chat)": (
            lambda: old["tracker"].report_line_from_trace(trace_record, "bench"),
            sdk_line,
            1,
        ),
    }


def cpu_us(call: Callable[[], object], repeat: int) -> float:
    """CPU µs of this thread per call."""
    started = time.thread_time_ns()
    for _ in range(repeat):
        call()
    return (time.thread_time_ns() - started) / repeat / 1000


def measure(commit: str, rounds: int, repeat: int) -> dict[str, tuple[float, float, int]]:
    """Median µs per call of each part, hand-written and SDK, rounds interleaved (order swapped every round)."""
    provider = TracerProvider(resource=Resource({"service.name": "bench"}))
    keep = Keep()
    provider.add_span_processor(keep)
    chat_spans(provider.get_tracer("bench"))
    with tempfile.TemporaryDirectory(prefix="sdk-parts-") as folder:
        old = {name: load_old(commit, name, Path(folder)) for name in ("setup", "decorator", "records", "tracker")}
        found = {}
        for label, (hand, sdk, per_chat) in parts(old, provider, keep.spans).items():
            times: dict[str, list[float]] = {"hand": [], "sdk": []}
            for index in range(rounds):
                order = (("hand", hand), ("sdk", sdk)) if index % 2 == 0 else (("sdk", sdk), ("hand", hand))
                for name, call in order:
                    times[name].append(cpu_us(call, repeat))
            found[label] = (median(times["hand"]), median(times["sdk"]), per_chat)
    return found


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hand-written-commit", required=True)
    parser.add_argument("--cpu-ms-per-chat", type=float, required=True)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=20000)
    args = parser.parse_args()
    rows = []
    for label, (hand, sdk, per_chat) in measure(args.hand_written_commit, args.rounds, args.repeat).items():
        saved_us = (sdk - hand) * per_chat
        share = saved_us / (args.cpu_ms_per_chat * 1000)
        verdict = "keep hand-written" if share >= 0.02 else "SDK's way"
        rows.append([label, f"{hand:.2f}", f"{sdk:.2f}", str(per_chat), f"{saved_us:.1f}", f"{share:.2%}", verdict])
    header = ["part", "hand-written µs", "SDK µs", "per chat", "saved µs per chat", "of CPU per chat", "decision"]
    print("\n".join(table(header, rows)))


if __name__ == "__main__":
    main()
