"""Conversations: the operations that name the same ``gen_ai.conversation.id``, rolled up turn by turn.

Any service whose operation spans carry the GenAI conventions' conversation id gets this view; the figures of
each turn are ``request_figures``' (the one reader of the usage, cost and feedback attributes). The same
functions, given ``find_operations``' result, serve the JSON routes, the ``/performance`` pages and
``perftrace report --conversation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from perftrace.analysis.report import or_dash
from perftrace.analysis.stages import Operation
from perftrace.tracing.semconv import THUMBS_DOWN_LABEL


@dataclass(frozen=True)
class TurnStage:
    """Time one stage took in a turn (same-named stages, e.g. two LLM rounds, summed) and its share of the turn."""

    name: str
    duration_ms: float
    share: float


@dataclass(frozen=True)
class ConversationTurn:
    """One request of a conversation: when, how long, what it used and cost, how it was judged.

    Tokens and cost are None where the request's span does not report them (cost: no price for its model).
    ``input_tokens`` adds up every LLM round; ``largest_call_input_tokens`` is the largest single prompt, the
    one to hold against an input budget.
    """

    trace_id: str
    started: datetime
    duration_ms: float
    llm_rounds: int
    tool_calls: int
    input_tokens: int | None
    output_tokens: int | None
    largest_call_input_tokens: int | None
    cost_usd: float | None
    failed: bool
    feedback: str | None
    stages: list[TurnStage]


@dataclass(frozen=True)
class ConversationTotals:
    """A conversation's turns added up.

    ``total_duration_ms`` is the turns' time, not the time between them. ``cost_usd`` is None as soon as one
    turn has no cost (``unpriced_turns`` says how many): a total that leaves calls out would look right and
    be wrong. Token totals add the turns that report tokens.
    """

    conversation_id: str
    turns: int
    first_started: datetime
    last_ended: datetime
    total_duration_ms: float
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    unpriced_turns: int
    errors: int
    disliked: int


@dataclass(frozen=True)
class ConversationTurns:
    """One conversation: its totals and its turns, oldest first."""

    totals: ConversationTotals
    turns: list[ConversationTurn]


@dataclass(frozen=True)
class DislikedAnswer:
    """A turn whose latest feedback is a thumbs-down, with the conversation it belongs to (if any)."""

    conversation_id: str | None
    turn: ConversationTurn


def _started(unix_nano: int) -> datetime:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC)


def turn_of(operation: Operation) -> ConversationTurn:
    """One operation as a turn: its figures and the time and share of each of its stages."""
    figures = operation.figures
    durations: dict[str, float] = {}
    for stage in operation.stages:
        durations[stage.name] = durations.get(stage.name, 0.0) + stage.duration_seconds * 1000
    total = operation.duration_ms
    return ConversationTurn(
        trace_id=operation.trace_id,
        started=_started(operation.start_time_unix_nano),
        duration_ms=total,
        llm_rounds=figures.llm_rounds,
        tool_calls=figures.tool_calls,
        input_tokens=figures.input_tokens,
        output_tokens=figures.output_tokens,
        largest_call_input_tokens=figures.largest_call_input_tokens,
        cost_usd=figures.cost_usd,
        failed=operation.span.status == "ERROR" or any(s.status == "ERROR" for s in operation.stages),
        feedback=figures.feedback,
        stages=[TurnStage(name, ms, ms / total if total else 0.0) for name, ms in durations.items()],
    )


def _by_conversation(operations: Iterable[Operation]) -> dict[str, list[Operation]]:
    grouped: dict[str, list[Operation]] = {}
    for operation in operations:
        if operation.figures.conversation_id:
            grouped.setdefault(operation.figures.conversation_id, []).append(operation)
    return grouped


def _sum(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _conversation(conversation_id: str, operations: Sequence[Operation]) -> ConversationTurns:
    turns = [turn_of(op) for op in operations]
    costs = [t.cost_usd for t in turns]
    unpriced = sum(cost is None for cost in costs)
    totals = ConversationTotals(
        conversation_id=conversation_id,
        turns=len(turns),
        first_started=turns[0].started,
        last_ended=_started(max(op.span.end_time_unix_nano for op in operations)),
        total_duration_ms=sum(t.duration_ms for t in turns),
        input_tokens=_sum([t.input_tokens for t in turns]),
        output_tokens=_sum([t.output_tokens for t in turns]),
        cost_usd=None if unpriced else sum(c for c in costs if c is not None),
        unpriced_turns=unpriced,
        errors=sum(t.failed for t in turns),
        disliked=sum(t.feedback == THUMBS_DOWN_LABEL for t in turns),
    )
    return ConversationTurns(totals, turns)


def recent_conversations(operations: Iterable[Operation], limit: int = 50) -> list[ConversationTotals]:
    """The conversations among ``operations`` (oldest first), the one active last first, at most ``limit``."""
    summaries = [_conversation(cid, ops).totals for cid, ops in _by_conversation(operations).items()]
    return sorted(summaries, key=lambda s: s.last_ended, reverse=True)[:limit]


def find_conversation(operations: Iterable[Operation], conversation_id: str) -> ConversationTurns | None:
    """The turns among ``operations`` (oldest first) that name ``conversation_id``; None when none does."""
    named = _by_conversation(operations).get(conversation_id)
    return _conversation(conversation_id, named) if named else None


def disliked_answers(operations: Sequence[Operation]) -> list[DislikedAnswer]:
    """The turns among ``operations`` (oldest first) whose latest feedback is a thumbs-down, newest first."""
    return [
        DislikedAnswer(op.figures.conversation_id, turn_of(op))
        for op in reversed(operations)
        if op.figures.feedback == THUMBS_DOWN_LABEL
    ]


def format_conversation(conversation: ConversationTurns) -> str:
    """A conversation as plain text: its totals, then one line per turn with its slowest stage."""
    s = conversation.totals
    cost = f"${s.cost_usd:.6f}" if s.cost_usd is not None else f"unknown ({s.unpriced_turns} turns without a price)"
    lines = [
        f"conversation {s.conversation_id}: {s.turns} turns, {s.first_started:%Y-%m-%d %H:%M:%S} – "
        f"{s.last_ended:%H:%M:%S} UTC, {s.total_duration_ms:.1f} ms in requests",
        f"tokens in {or_dash(s.input_tokens)}, out {or_dash(s.output_tokens)}; cost {cost}; "
        f"{s.errors} failed; {s.disliked} disliked",
        "",
        f"{'#':>3}  {'started':<9}{'ms':>10}{'rounds':>8}{'tools':>7}{'in tok':>9}{'out tok':>9}{'cost $':>11}"
        f"  {'feedback':<12}{'trace':<34}slowest stage",
    ]
    for i, t in enumerate(conversation.turns, 1):
        slowest = max(t.stages, key=lambda stage: stage.duration_ms, default=None)
        where = f"{slowest.name} {slowest.share * 100:.0f}%" if slowest else ""
        lines.append(
            f"{i:>3}  {t.started:%H:%M:%S} {t.duration_ms:>10.1f}{t.llm_rounds:>8}{t.tool_calls:>7}"
            f"{or_dash(t.input_tokens):>9}{or_dash(t.output_tokens):>9}"
            f"{or_dash(t.cost_usd, '.6f'):>11}  {(t.feedback or ''):<12}"
            f"{t.trace_id:<34}{where}{'  FAILED' if t.failed else ''}"
        )
    return "\n".join(lines)
