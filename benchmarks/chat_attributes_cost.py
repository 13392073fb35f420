"""CPU of issue #21's telemetry per chat: usage totals, cost, prompt-part tokens, conversation ids, chat metrics.

One process, an SDK tracer provider and meter provider as the service has them. A chat-shaped trace (server span,
the stage spans, two LLM rounds with their ``chat <model>`` spans and a tool call) is made and OTLP-encoded
twice per round: "old" with the attributes the service set before issue #21, "new" with what it sets now,
computed by the service's own functions (prompt parts, usage totals and their cost, the chat metrics, the
conversation id on the Context). Rounds interleave the two, order reversed every other round; the figure is
the median over rounds of new minus old.

    python -m benchmarks --only chat_attributes_cost [--quick] [--no-write]
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from ha_ai_agent.chat.prompt import fit_history, prompt_part_tokens, system_prompt_parts
from ha_ai_agent.chat.usage import ChatMetrics, UsageTotals
from ha_ai_agent.llm.pricing import PriceTable
from ha_ai_agent.semconv import (
    CHAT_SERVER_SPAN,
    GEN_AI_CONVERSATION_ID,
    LLM_CHAT_SPAN_PREFIX,
    MESSAGE_ASSEMBLY,
    OPENAI_API_CALL,
    PROMPT_TOKENS_ATTRIBUTES,
    STAGES,
    TOOL_EXECUTION,
)
from openai.types import CompletionUsage
from openai.types.completion_usage import PromptTokensDetails
from opentelemetry import context as otel_context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.util.genai._conversation_context import with_conversation_id
from testsupport.report import median, section_preamble, table

from benchmarks.harness.interleaved import interleaved

MODEL = "gpt-4o-mini"
SECTIONS = {name: "Kitchen: Ceiling Light (light.kitchen): on; " * 20 for name in ("areas", "devices", "services")}
HISTORY = [{"role": "user", "content": "What is on?"}, {"role": "assistant", "content": "The kitchen light."}] * 3
USAGE = CompletionUsage(
    prompt_tokens=1200,
    completion_tokens=40,
    total_tokens=1240,
    prompt_tokens_details=PromptTokensDetails(cached_tokens=512),
)


class Collect(SpanProcessor):
    """Keeps the ended spans of one chat, for encoding."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def chat(provider: TracerProvider, collect: Collect, new: bool, prices: PriceTable, metrics: ChatMetrics) -> None:
    """One chat-shaped trace; with ``new``, the attributes and metrics of issue #21."""
    tracer = provider.get_tracer("bench")
    conversation: dict[str, Any] = {GEN_AI_CONVERSATION_ID: "conv-0123456789abcdef0123456789abcdef"} if new else {}
    with tracer.start_as_current_span(CHAT_SERVER_SPAN) as server:
        for stage in STAGES[:3]:
            with tracer.start_as_current_span(stage):
                pass
        token = otel_context.attach(with_conversation_id("conv-0123456789abcdef0123456789abcdef")) if new else None
        with tracer.start_as_current_span(MESSAGE_ASSEMBLY, attributes=conversation) as assembly:
            system = "".join(system_prompt_parts(SECTIONS).values())
            _, budget = fit_history(system, HISTORY, "Turn on the kitchen light", 16000)
            attributes: dict[str, Any] = {"chat.input_tokens_estimate": budget.total_tokens}
            if new:
                parts = prompt_part_tokens(SECTIONS, budget)
                metrics.record_prompt(parts)
                attributes.update({PROMPT_TOKENS_ATTRIBUTES[p]: n for p, n in parts.items()})
            assembly.set_attributes(attributes)
        usage = UsageTotals()
        for iteration in (1, 2):
            with tracer.start_as_current_span(OPENAI_API_CALL, attributes={"llm.iteration": iteration, **conversation}):
                llm_attributes = {"gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 40, **conversation}
                with tracer.start_as_current_span(LLM_CHAT_SPAN_PREFIX + MODEL, attributes=llm_attributes):
                    pass
                if new:
                    cost = usage.add(MODEL, USAGE, prices)
                    if cost is not None:
                        metrics.record_call_cost(MODEL, cost)
            if iteration == 1:
                with tracer.start_as_current_span(TOOL_EXECUTION, attributes=conversation):
                    pass
        for stage in STAGES[-2:]:
            with tracer.start_as_current_span(stage, attributes=conversation):
                pass
        if token is not None:
            otel_context.detach(token)
        server.set_attributes({"chat.iterations": 2, "chat.tokens_used": 2480, "chat.tool_calls": 1, **conversation})
        if new:
            server.set_attributes(usage.span_attributes())
            metrics.record_rounds(2)
    encode_spans(collect.spans).SerializeToString()
    collect.spans.clear()


def timed(run: Callable[[], None], chats: int) -> float:
    """CPU microseconds per chat."""
    started = time.process_time()
    for _ in range(chats):
        run()
    return (time.process_time() - started) * 1e6 / chats


def measure(rounds: int, chats: int) -> str:
    """Interleaved rounds of old and new; the section for docs/performance.md."""
    started = dt.datetime.now(dt.UTC)
    collect = Collect()
    provider = TracerProvider()
    provider.add_span_processor(collect)
    metrics = ChatMetrics(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    prices = PriceTable.load()
    runs = {
        name: (lambda new=new: chat(provider, collect, new, prices, metrics))
        for name, new in (("old", False), ("new", True))
    }
    for run in runs.values():
        timed(run, chats // 10)  # warm-up
    per_round = interleaved(list(runs), rounds, lambda name: timed(runs[name], chats))
    extra = [new - old for old, new in zip(per_round["old"], per_round["new"], strict=True)]
    lines = section_preamble(
        "Issue #21's attributes and metrics per chat (`benchmarks/chat_attributes_cost.py`)", started
    )
    lines += [
        f"{rounds} interleaved rounds of {chats} chat-shaped traces (13 spans, OTLP-encoded) per variant.",
        "",
        *table(
            ["variant", "CPU per chat (µs, median)", "new − old per round (µs): median", "range"],
            [
                ["old (before issue #21)", f"{median(per_round['old']):.1f}", "", ""],
                [
                    "new",
                    f"{median(per_round['new']):.1f}",
                    f"{median(extra):.1f}",
                    f"{min(extra):.1f} … {max(extra):.1f}",
                ],
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def run(quick: bool = False) -> str:
    """The section, as ``make bench`` runs it."""
    return measure(5, 300) if quick else measure(15, 1000)
