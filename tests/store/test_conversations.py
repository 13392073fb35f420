from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from ha_ai_agent.store.conversations import (
    MAX_FEEDBACK_COMMENT_CHARS,
    AnswerTrace,
    ConversationStore,
    FeedbackTarget,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TOOL_CALL: dict[str, Any] = {"id": "c1", "type": "function", "function": {"name": "get_entities", "arguments": "{}"}}


async def test_a_saved_turn_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "data" / "conversations.sqlite3"
    store = ConversationStore(path)
    store.open()
    turn: list[dict[str, Any]] = [
        {"role": "user", "content": "What is on in the kitchen?"},
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "[]"},
        {"role": "assistant", "content": "Nothing is on."},
    ]
    await store.add_messages("conv-1", turn, create_title="What is on in the kitchen?")
    store.close()

    reopened = ConversationStore(path)
    reopened.open()
    conversation = await reopened.get("conv-1")
    assert conversation is not None and conversation.title == "What is on in the kitchen?"
    assert [m.to_openai() for m in conversation.messages] == turn
    assert conversation.message_count == 4
    reopened.close()


async def test_pending_preview_is_kept_until_cleared(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    store.open()
    await store.add_messages("conv-1", [{"role": "user", "content": "hi"}], create_title="hi")
    await store.set_pending_preview("conv-1", {"alias": "Night lights"})
    found = await store.get("conv-1", with_messages=False)
    assert found is not None and found.pending_preview == {"alias": "Night lights"}
    await store.add_messages("conv-1", [{"role": "user", "content": "approve"}], clear_preview=True)
    found = await store.get("conv-1", with_messages=False)
    assert found is not None and found.pending_preview is None
    store.close()


async def test_paging_and_delete(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    store.open()
    for n in range(3):
        await store.create(f"conversation {n}")
    page, total = await store.list_page(limit=2, offset=0)
    assert total == 3 and len(page) == 2
    assert await store.delete(page[0].id) is True
    assert await store.delete(page[0].id) is False
    assert (await store.list_page())[1] == 2
    store.close()
    assert store.ping() is False  # closed: answers, does not raise


async def test_queries_are_spans_of_the_given_provider(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = ConversationStore(tmp_path / "c.sqlite3", provider)
    store.open()
    await store.create("traced")
    store.close()
    assert any(span.name.startswith("INSERT") for span in exporter.get_finished_spans())


async def test_the_answer_keeps_its_trace_and_the_last_verdict(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    store.open()
    traced = AnswerTrace("ab" * 16, "cd" * 8)
    turn: list[dict[str, Any]] = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello."}]
    await store.add_messages("conv-1", turn, create_title="hi", answer_trace=traced)

    assert await store.set_feedback("ef" * 16, "thumbs_up", None) is None
    assert await store.set_feedback(traced.trace_id, "thumbs_down", "rude") == FeedbackTarget("conv-1", traced)
    assert await store.set_feedback(traced.trace_id, "thumbs_up", None) == FeedbackTarget("conv-1", traced)
    with pytest.raises(ValueError, match="at most"):
        await store.set_feedback(traced.trace_id, "thumbs_down", "x" * (MAX_FEEDBACK_COMMENT_CHARS + 1))

    conversation = await store.get("conv-1")
    assert conversation is not None
    user, answer = conversation.messages
    assert (user.trace_id, user.feedback) == (None, None)
    assert (answer.trace_id, answer.feedback, answer.feedback_comment) == (traced.trace_id, "thumbs_up", None)
    assert [m.to_openai() for m in conversation.messages] == turn
    store.close()


async def test_a_database_from_before_feedback_gains_its_columns_and_keeps_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT, created_at REAL NOT NULL,"
        " updated_at REAL NOT NULL, pending_preview TEXT);"
        "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL,"
        " role TEXT NOT NULL, content TEXT, tool_calls TEXT, tool_call_id TEXT, created_at REAL NOT NULL);"
        "INSERT INTO conversations VALUES ('conv-old', 'Old', 1.0, 1.0, NULL);"
        "INSERT INTO messages (conversation_id, role, content, created_at) VALUES ('conv-old', 'user', 'hi', 1.0);"
    )
    old.commit()
    old.close()

    store = ConversationStore(path)
    store.open()
    found = await store.get("conv-old")
    assert found is not None and [(m.role, m.content, m.trace_id) for m in found.messages] == [("user", "hi", None)]
    traced = AnswerTrace("12" * 16, None)
    await store.add_messages("conv-old", [{"role": "assistant", "content": "Hello."}], answer_trace=traced)
    assert await store.set_feedback(traced.trace_id, "thumbs_down", None) == FeedbackTarget("conv-old", traced)
    store.close()
