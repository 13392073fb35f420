from __future__ import annotations

from pathlib import Path
from typing import Any

from ha_ai_agent.store.conversations import ConversationStore
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
