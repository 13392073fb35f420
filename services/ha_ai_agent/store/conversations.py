"""Conversations and their messages in SQLite on disk.

One connection (WAL journal) behind a lock, used from worker threads so the event loop never waits on
the disk. The connection is wrapped by the official sqlite3 instrumentation: every statement is a
span, a child of whatever stage ran it (``asyncio.to_thread`` carries the trace context over).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.trace import NoOpTracerProvider, TracerProvider

#: Paging bounds: a page is at most this long, and no offset beyond this is taken (SQLite's integers and
#: Python's arithmetic are never handed a number from outside that they cannot hold).
MAX_PAGE_LIMIT = 100
MAX_PAGE_OFFSET = 1_000_000_000
#: Longest conversation id a request may name (the store makes 37-character ones).
MAX_CONVERSATION_ID_CHARS = 200
#: Longest comment a user's feedback on an answer may carry.
MAX_FEEDBACK_COMMENT_CHARS = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    pending_preview TEXT
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT,
    tool_calls TEXT,
    tool_call_id TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id);
CREATE TRIGGER IF NOT EXISTS touch_conversation AFTER INSERT ON messages BEGIN
    UPDATE conversations SET updated_at = NEW.created_at WHERE id = NEW.conversation_id;
END;
"""
#: Columns added after the first release, with their types: ``open`` adds those an older database lacks.
#: An answer (the last message of a turn) carries its request's trace id, the id of the request's server span
#: when that span was recorded, and the user's verdict on it (``FEEDBACK_LABELS``), its comment and time.
_ADDED_MESSAGE_COLUMNS = {
    "trace_id": "TEXT",
    "span_id": "TEXT",
    "feedback": "TEXT",
    "feedback_comment": "TEXT",
    "feedback_at": "REAL",
}
_MESSAGE_INDEXES = "CREATE INDEX IF NOT EXISTS messages_by_trace ON messages(trace_id) WHERE trace_id IS NOT NULL;"


@dataclass
class StoredMessage:
    """One message as stored; ``tool_calls`` in OpenAI's shape."""

    role: str
    content: str | None
    created_at: float
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    #: On an answer: its request's trace id, and the user's verdict (``thumbs_up``/``thumbs_down``) and comment.
    trace_id: str | None = None
    feedback: str | None = None
    feedback_comment: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """The message as the chat completions API takes it."""
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        if self.tool_call_id:
            message["tool_call_id"] = self.tool_call_id
        return message


@dataclass(frozen=True)
class AnswerTrace:
    """Where an answer was traced: its request's trace id, and its server span's id when that span was recorded."""

    trace_id: str
    span_id: str | None


@dataclass(frozen=True)
class FeedbackTarget:
    """The answer a verdict was stored with: its conversation and where it was traced."""

    conversation_id: str
    trace: AnswerTrace


@dataclass
class Conversation:
    """A conversation; ``messages`` is filled only when asked for."""

    id: str
    title: str | None
    created_at: float
    updated_at: float
    message_count: int = 0
    pending_preview: dict[str, Any] | None = None
    messages: list[StoredMessage] = field(default_factory=list)


class ConversationStore:
    """Async access to the conversations database at ``path``.

    Every statement is a span of ``tracer_provider`` (the global one if None); with a ``NoOpTracerProvider``
    (tracing off, or left to an agent) the connection is left bare, not wrapped for spans nobody records.
    """

    def __init__(self, path: Path, tracer_provider: TracerProvider | None = None) -> None:
        self.path = path
        self._tracer_provider = tracer_provider
        self._lock = threading.Lock()
        self._raw: sqlite3.Connection | None = None
        self._connection: sqlite3.Connection | None = None

    def open(self) -> None:
        """Create the folder, the database and its tables if needed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        raw = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.executescript(_SCHEMA)
        present = {row[1] for row in raw.execute("PRAGMA table_info(messages)")}
        for column, kind in _ADDED_MESSAGE_COLUMNS.items():
            if column not in present:
                raw.execute(f"ALTER TABLE messages ADD COLUMN {column} {kind}")
        raw.executescript(_MESSAGE_INDEXES)
        self._raw = raw
        untraced = isinstance(self._tracer_provider, NoOpTracerProvider)
        self._connection = raw if untraced else SQLite3Instrumentor.instrument_connection(raw, self._tracer_provider)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = self._raw = None

    def ping(self) -> bool:
        """True if the database answers a query."""
        try:
            return bool(self._run(lambda cur: cur.execute("SELECT 1").fetchone()) == (1,))
        except (sqlite3.Error, RuntimeError):
            return False

    def _run(self, work: Any) -> Any:
        with self._lock:
            if self._connection is None:
                raise RuntimeError("the conversation store is not open")
            cursor = self._connection.cursor()
            try:
                return work(cursor)
            finally:
                cursor.close()

    async def _call(self, work: Any) -> Any:
        return await asyncio.to_thread(self._run, work)

    async def create(self, title: str | None = None) -> Conversation:
        """A new, empty conversation."""
        now = time.time()
        conversation = Conversation(id=f"conv-{uuid.uuid4().hex}", title=title, created_at=now, updated_at=now)
        await self._call(
            lambda cur: cur.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (conversation.id, title, now, now),
            )
        )
        return conversation

    async def get(self, conversation_id: str, with_messages: bool = True) -> Conversation | None:
        """A conversation (with its messages, oldest first), or None."""

        def work(cur: sqlite3.Cursor) -> Conversation | None:
            row = cur.execute(
                "SELECT id, title, created_at, updated_at, pending_preview,"
                " (SELECT COUNT(*) FROM messages WHERE conversation_id = c.id)"
                " FROM conversations c WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            if row is None:
                return None
            conversation = _conversation_from_row(row)
            if with_messages:
                rows = cur.execute(
                    "SELECT role, content, created_at, tool_calls, tool_call_id, trace_id, feedback, feedback_comment"
                    " FROM messages WHERE conversation_id = ? ORDER BY id",
                    (conversation_id,),
                ).fetchall()
                conversation.messages = [
                    StoredMessage(role, content, created, json.loads(calls) if calls else None, call_id, *answer)
                    for role, content, created, calls, call_id, *answer in rows
                ]
            return conversation

        result: Conversation | None = await self._call(work)
        return result

    async def list_page(self, limit: int = 20, offset: int = 0) -> tuple[list[Conversation], int]:
        """A page of conversations, most recently updated first, and the total count.

        Raises:
            ValueError: ``limit`` is not in 1..MAX_PAGE_LIMIT or ``offset`` not in 0..MAX_PAGE_OFFSET.
        """
        if not (1 <= limit <= MAX_PAGE_LIMIT and 0 <= offset <= MAX_PAGE_OFFSET):
            raise ValueError(f"limit {limit} or offset {offset} is out of range")

        def work(cur: sqlite3.Cursor) -> tuple[list[Conversation], int]:
            total = cur.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
            rows = cur.execute(
                "SELECT id, title, created_at, updated_at, pending_preview,"
                " (SELECT COUNT(*) FROM messages WHERE conversation_id = c.id)"
                " FROM conversations c ORDER BY updated_at DESC, id LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
            return [_conversation_from_row(r) for r in rows], int(total)

        result: tuple[list[Conversation], int] = await self._call(work)
        return result

    async def delete(self, conversation_id: str) -> bool:
        """Delete a conversation and its messages; False if there was none."""

        def work(cur: sqlite3.Cursor) -> bool:
            cur.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            cur.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            return cur.rowcount > 0

        deleted = bool(await self._call(work))
        return deleted

    async def add_messages(
        self,
        conversation_id: str,
        messages: list[dict[str, Any]],
        *,
        create_title: str | None = None,
        clear_preview: bool = False,
        set_preview: dict[str, Any] | None = None,
        answer_trace: AnswerTrace | None = None,
    ) -> None:
        """Append OpenAI-shaped messages in one transaction and touch the conversation.

        With ``create_title`` the conversation is created in the same transaction; ``clear_preview``
        drops its pending automation preview, ``set_preview`` replaces it (an action held for a yes).
        ``answer_trace`` is stored with the last message, the answer: what feedback on it finds it by.
        """
        now = time.time()
        last = len(messages) - 1
        rows = [
            (
                conversation_id,
                m["role"],
                m.get("content"),
                json.dumps(m["tool_calls"]) if m.get("tool_calls") else None,
                m.get("tool_call_id"),
                now,
                answer_trace.trace_id if answer_trace is not None and index == last else None,
                answer_trace.span_id if answer_trace is not None and index == last else None,
            )
            for index, m in enumerate(messages)
        ]

        def work(cur: sqlite3.Cursor) -> None:
            # Transaction control on the raw connection: a BEGIN and a COMMIT span per save would be noise.
            # (The trigger keeps updated_at current, so there is no UPDATE statement either.)
            raw = self._raw
            assert raw is not None
            raw.execute("BEGIN")
            try:
                if create_title is not None:
                    cur.execute(
                        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                        (conversation_id, create_title, now, now),
                    )
                if clear_preview or set_preview is not None:
                    preview = json.dumps(set_preview) if set_preview is not None else None
                    cur.execute("UPDATE conversations SET pending_preview = ? WHERE id = ?", (preview, conversation_id))
                cur.executemany(
                    "INSERT INTO messages"
                    " (conversation_id, role, content, tool_calls, tool_call_id, created_at, trace_id, span_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise

        await self._call(work)

    async def set_pending_preview(self, conversation_id: str, preview: dict[str, Any] | None) -> None:
        """Set (or clear, with None) the automation preview awaiting the user's approval."""
        await self._call(
            lambda cur: cur.execute(
                "UPDATE conversations SET pending_preview = ? WHERE id = ?",
                (json.dumps(preview) if preview is not None else None, conversation_id),
            )
        )

    async def set_feedback(self, trace_id: str, label: str, comment: str | None) -> FeedbackTarget | None:
        """Store a verdict with the answer traced as ``trace_id`` (replacing an earlier one); None if none is.

        Raises:
            ValueError: ``comment`` is longer than ``MAX_FEEDBACK_COMMENT_CHARS``.
        """
        if comment is not None and len(comment) > MAX_FEEDBACK_COMMENT_CHARS:
            raise ValueError(f"a feedback comment is at most {MAX_FEEDBACK_COMMENT_CHARS} characters")

        def work(cur: sqlite3.Cursor) -> FeedbackTarget | None:
            row = cur.execute(
                "UPDATE messages SET feedback = ?, feedback_comment = ?, feedback_at = ?"
                " WHERE id = (SELECT MAX(id) FROM messages WHERE trace_id = ?)"
                " RETURNING conversation_id, span_id",
                (label, comment, time.time(), trace_id),
            ).fetchone()
            return None if row is None else FeedbackTarget(row[0], AnswerTrace(trace_id, row[1]))

        target: FeedbackTarget | None = await self._call(work)
        return target


def _conversation_from_row(row: tuple[Any, ...]) -> Conversation:
    conversation_id, title, created, updated, preview, count = row
    return Conversation(
        id=conversation_id,
        title=title,
        created_at=created,
        updated_at=updated,
        message_count=int(count),
        pending_preview=json.loads(preview) if preview else None,
    )
