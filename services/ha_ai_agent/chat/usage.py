"""What one chat request's LLM calls used and cost, for its server span and the service's metrics.

Totals come from the usage the API reported for each call, never from an estimate of the text; the cost from
the price table (``llm/pricing.py``). The metrics carry no conversation or trace id: those are span
attributes only, so a metric series never multiplies with the number of chats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openai.types import CompletionUsage
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.util.types import AttributeValue

from ha_ai_agent.llm.pricing import PriceTable, TokenUsage
from ha_ai_agent.semconv import (
    CHAT_COST_USD,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    METRIC_ATTR_PROMPT_PART,
    METRIC_COST,
    METRIC_FEEDBACK,
    METRIC_LLM_ROUNDS,
    METRIC_PROMPT_TOKENS,
)

_TOKEN_BUCKETS = [0, 50, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000]
_ROUND_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 20, 50]


@dataclass
class UsageTotals:
    """The reported usage of a request's LLM calls, summed, and their cost while every call is priced."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cached_reported: bool = False
    cost_usd: float | None = 0.0

    def add(self, model: str, usage: CompletionUsage | None, prices: PriceTable) -> float | None:
        """Count one call's usage; returns its cost (None when unpriced or without usage: then the total is too)."""
        if usage is None:
            self.cost_usd = None
            return None
        details = usage.prompt_tokens_details
        cached = details.cached_tokens if details is not None and details.cached_tokens is not None else None
        self.input_tokens += usage.prompt_tokens
        self.output_tokens += usage.completion_tokens
        if cached is not None:
            self.cached_reported = True
            self.cached_input_tokens += cached
        cost = prices.cost(model, TokenUsage(usage.prompt_tokens, usage.completion_tokens, cached or 0))
        self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost
        return cost

    def span_attributes(self) -> dict[str, AttributeValue]:
        """The totals as the server span's attributes (cached tokens only where the API reported them)."""
        attributes: dict[str, AttributeValue] = {
            GEN_AI_USAGE_INPUT_TOKENS: self.input_tokens,
            GEN_AI_USAGE_OUTPUT_TOKENS: self.output_tokens,
        }
        if self.cached_reported:
            attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = self.cached_input_tokens
        if self.cost_usd is not None:
            attributes[CHAT_COST_USD] = self.cost_usd
        return attributes


class ChatMetrics:
    """The service's own metrics of a chat: input tokens per prompt part, cost, LLM rounds, users' verdicts."""

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        meter = get_meter(__name__, meter_provider=meter_provider)
        self._prompt_tokens = meter.create_histogram(
            METRIC_PROMPT_TOKENS,
            unit="{token}",
            description="Estimated input tokens of each part of a chat request's prompt",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._cost = meter.create_counter(
            METRIC_COST, unit="{USD}", description="What the LLM calls cost, from the price table (priced calls)"
        )
        self._rounds = meter.create_histogram(
            METRIC_LLM_ROUNDS,
            unit="{round}",
            description="LLM round trips of a chat request",
            explicit_bucket_boundaries_advisory=_ROUND_BUCKETS,
        )
        self._feedback = meter.create_counter(
            METRIC_FEEDBACK, unit="{verdict}", description="Users' verdicts on answers, by label"
        )

    def record_prompt(self, part_tokens: Mapping[str, int]) -> None:
        """One request's estimated tokens per prompt part."""
        for part, tokens in part_tokens.items():
            self._prompt_tokens.record(tokens, {METRIC_ATTR_PROMPT_PART: part})

    def record_call_cost(self, model: str, cost: float) -> None:
        """One priced LLM call."""
        self._cost.add(cost, {GEN_AI_RESPONSE_MODEL: model})

    def record_rounds(self, rounds: int) -> None:
        """The LLM round trips of one answered request."""
        self._rounds.record(rounds)

    def record_feedback(self, label: str) -> None:
        """One user's verdict on an answer (``thumbs_up`` or ``thumbs_down``)."""
        self._feedback.add(1, {GEN_AI_EVALUATION_SCORE_LABEL: label})
