"""The system prompt and the input-token budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ha_ai_agent.llm.tokens import estimate_message_tokens, estimate_tokens

SYSTEM_INSTRUCTIONS = """You are the assistant of a Home Assistant smart home.
Answer questions about the home's devices, areas and states, and control devices when asked.
Use the tools to read current states and to call services; never invent entity ids.
Answer briefly, in plain words, naming devices by their friendly names."""

SECTION_TITLES = {
    "areas": "Areas",
    "devices": "Devices by area",
    "services": "Available services",
    "helpers_scenes": "Helpers and scenes",
}


@dataclass(frozen=True)
class TokenBreakdown:
    """Estimated input tokens of one LLM request, against the budget."""

    system_tokens: int
    history_tokens: int
    new_message_tokens: int
    total_tokens: int
    max_input_tokens: int
    within_budget: bool


class TokenBudgetExceeded(Exception):
    """The system prompt and the new message alone do not fit the input budget."""


def system_prompt_parts(sections: Mapping[str, str]) -> dict[str, str]:
    """The system prompt in parts: ``system_instructions``, then each non-empty home-context section."""
    parts = {"system_instructions": f"{SYSTEM_INSTRUCTIONS}\n\n# Home context"}
    for name, title in SECTION_TITLES.items():
        if sections.get(name):
            parts[name] = f"\n\n## {title}\n{sections[name]}"
    return parts


def build_system_prompt(sections: Mapping[str, str]) -> str:
    """Instructions plus the home context, built once per request."""
    return "".join(system_prompt_parts(sections).values())


def prompt_part_tokens(sections: Mapping[str, str], budget: TokenBreakdown) -> dict[str, int]:
    """Estimated input tokens of each part of the prompt (``semconv.PROMPT_PARTS``; an empty section is 0).

    The instructions carry the system message's framing; history and new message are the budget's figures
    (the history after trimming).
    """
    texts = system_prompt_parts(sections)
    counts = {"system_instructions": estimate_message_tokens({"content": texts.pop("system_instructions")})}
    counts.update({name: estimate_tokens(texts.get(name, "")) for name in SECTION_TITLES})
    counts["history"] = budget.history_tokens
    counts["new_message"] = budget.new_message_tokens
    return counts


def fit_history(
    system_prompt: str,
    history: list[dict[str, Any]],
    new_message: str,
    max_input_tokens: int,
) -> tuple[list[dict[str, Any]], TokenBreakdown]:
    """Drop the oldest history until the request fits the budget.

    History is cut only at a user message, so no tool result is left without the call it answers.

    Raises:
        TokenBudgetExceeded: when even an empty history does not fit.
    """
    system_tokens = estimate_message_tokens({"content": system_prompt})
    new_tokens = estimate_message_tokens({"content": new_message})
    if system_tokens + new_tokens > max_input_tokens:
        raise TokenBudgetExceeded(
            f"the message needs about {new_tokens} tokens; with the home context that exceeds the "
            f"{max_input_tokens}-token input budget"
        )
    costs = [estimate_message_tokens(m) for m in history]
    start = 0
    while start < len(history) and system_tokens + new_tokens + sum(costs[start:]) > max_input_tokens:
        start += 1
        while start < len(history) and history[start].get("role") != "user":
            start += 1
    kept = history[start:]
    history_tokens = sum(costs[start:])
    total = system_tokens + history_tokens + new_tokens
    return kept, TokenBreakdown(
        system_tokens=system_tokens,
        history_tokens=history_tokens,
        new_message_tokens=new_tokens,
        total_tokens=total,
        max_input_tokens=max_input_tokens,
        within_budget=total <= max_input_tokens,
    )


__all__ = [
    "TokenBreakdown",
    "TokenBudgetExceeded",
    "build_system_prompt",
    "estimate_tokens",
    "fit_history",
    "prompt_part_tokens",
    "system_prompt_parts",
]
