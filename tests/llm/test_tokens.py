from __future__ import annotations

from ha_ai_agent.llm.tokens import estimate_message_tokens, estimate_messages_tokens, estimate_tokens


def test_estimates_grow_with_text_and_tool_calls() -> None:
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    plain = {"role": "assistant", "content": "The kitchen light is on."}
    with_call = {**plain, "tool_calls": [{"id": "c1", "function": {"name": "get_entities", "arguments": "{}"}}]}
    assert estimate_message_tokens(with_call) > estimate_message_tokens(plain) > estimate_tokens(plain["content"])
    assert estimate_messages_tokens([plain, with_call]) == estimate_message_tokens(plain) + estimate_message_tokens(
        with_call
    )
