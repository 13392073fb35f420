from __future__ import annotations

import pytest
from ha_ai_agent.chat.prompt import TokenBudgetExceeded, build_system_prompt, fit_history


def history(turns: int) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = []
    for i in range(turns):
        messages += [
            {"role": "user", "content": f"question {i} " + "x" * 400},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": f"c{i}", "type": "function", "function": {"name": "t", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": f"c{i}", "content": "y" * 400},
            {"role": "assistant", "content": "answer"},
        ]
    return messages


def test_history_is_trimmed_oldest_first_at_a_user_message() -> None:
    prompt = build_system_prompt({"areas": "Kitchen (kitchen)"})
    kept, breakdown = fit_history(prompt, history(20), "hello", max_input_tokens=1500)
    assert breakdown.within_budget and breakdown.total_tokens <= 1500
    assert kept and kept[0]["role"] == "user"
    assert kept[-1] == history(20)[-1]
    assert len(kept) < len(history(20))
    assert breakdown.total_tokens == breakdown.system_tokens + breakdown.history_tokens + breakdown.new_message_tokens


def test_message_that_cannot_fit_is_refused() -> None:
    with pytest.raises(TokenBudgetExceeded):
        fit_history("system", [], "x" * 10_000, max_input_tokens=1000)
