"""Traces → operations and their stages: the one grouping the report, the compare, the charts and the tracker share.

An operation is a span carrying ``performance.operation`` (``mark_operation``); its stages are that span's
direct children that started before it ended, in start order (a child started later, such as a user's verdict
on the answer recorded minutes after, is in the trace but took none of the operation's time). Browser spans in
the same trace have their own operation and service, so a reader passes the service whose operations count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_CONVERSATION_ID,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_OPERATION_NAME,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)

from perftrace.tracing.records import SpanRecord, TraceRecord
from perftrace.tracing.semconv import (
    COST_USD_ATTRIBUTE,
    EVALUATION_RESULT_EVENT,
    FIRST_TOKEN_EVENT,
    OPERATION_ATTRIBUTE,
)

#: ``gen_ai.operation.name`` of a call to a model (one LLM round) and of a tool call.
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_TOOL_OPERATION = "execute_tool"


@dataclass(frozen=True)
class Operation:
    """One tracked operation of a trace: its span and its stages (its direct children started before it ended)."""

    name: str
    span: SpanRecord
    stages: list[SpanRecord]
    trace: TraceRecord

    @property
    def trace_id(self) -> str:
        """The trace id as 32 hex digits."""
        return self.trace.trace_id_hex

    @property
    def duration_ms(self) -> float:
        """Wall-clock time of the operation's span."""
        return self.span.duration_seconds * 1000

    @property
    def start_time_unix_nano(self) -> int:
        """When the operation's span started."""
        return self.span.start_time_unix_nano

    @cached_property
    def figures(self) -> RequestFigures:
        """``request_figures(self)``, read from the trace once however many views of the operation ask."""
        return request_figures(self)


def find_operation(trace: TraceRecord, service_name: str | None = None) -> Operation | None:
    """The trace's first operation span (of ``service_name``, when given) and its stages; None without one."""
    for span in sorted(trace.spans, key=lambda s: s.start_time_unix_nano):
        name = span.attribute(OPERATION_ATTRIBUTE)
        if name is None or (service_name is not None and span.service_name != service_name):
            continue
        stages = [c for c in trace.children_of(span.span_id) if c.start_time_unix_nano <= span.end_time_unix_nano]
        return Operation(str(name), span, stages, trace)
    return None


def find_operations(traces: Iterable[TraceRecord], service_name: str | None = None) -> list[Operation]:
    """The operations among ``traces``, oldest first."""
    found = [op for trace in traces if (op := find_operation(trace, service_name)) is not None]
    return sorted(found, key=lambda op: op.start_time_unix_nano)


def stage_durations_ms(operations: Sequence[Operation]) -> dict[str, list[float]]:
    """Each stage's durations in milliseconds, stage names in the order they first appear."""
    durations: dict[str, list[float]] = {}
    for operation in operations:
        for stage in operation.stages:
            durations.setdefault(stage.name, []).append(stage.duration_seconds * 1000)
    return durations


@dataclass(frozen=True)
class RequestFigures:
    """What one operation used and how it felt, beside its stages; None where its spans do not say.

    Read from the conventions any service can follow: ``gen_ai.usage.*``, the cost and the conversation id on
    the operation's span, a ``first_token`` event on it, LLM and tool calls by ``gen_ai.operation.name``, and
    the latest ``gen_ai.evaluation.result`` event anywhere in the trace (a verdict given after the answer).
    ``largest_call_input_tokens`` is the most input tokens one LLM call read (its ``gen_ai.usage.input_tokens``):
    the prompt that came nearest an input budget, where ``input_tokens`` adds up every round.
    """

    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cost_usd: float | None
    llm_rounds: int
    tool_calls: int
    first_token_ms: float | None
    conversation_id: str | None
    feedback: str | None
    largest_call_input_tokens: int | None = None


def request_figures(operation: Operation) -> RequestFigures:
    """The figures of one operation (see ``RequestFigures``)."""
    span = operation.span
    attribute = span.attributes.get
    first_token = next((e.time_unix_nano for e in span.events if e.name == FIRST_TOKEN_EVENT), None)
    rounds = tools = 0
    largest_call: int | None = None
    verdict: tuple[int, str] | None = None
    for other in operation.trace.spans:
        if other.service_name == span.service_name:
            kind = other.attributes.get(GEN_AI_OPERATION_NAME)
            rounds += kind in _LLM_OPERATIONS
            tools += kind == _TOOL_OPERATION
            call_input = _int(other.attributes.get(GEN_AI_USAGE_INPUT_TOKENS)) if kind in _LLM_OPERATIONS else None
            if call_input is not None and (largest_call is None or call_input > largest_call):
                largest_call = call_input
        for event in other.events:
            if event.name == EVALUATION_RESULT_EVENT and (verdict is None or event.time_unix_nano >= verdict[0]):
                verdict = (event.time_unix_nano, str(event.attributes.get(GEN_AI_EVALUATION_SCORE_LABEL, "")))
    conversation = attribute(GEN_AI_CONVERSATION_ID)
    return RequestFigures(
        input_tokens=_int(attribute(GEN_AI_USAGE_INPUT_TOKENS)),
        output_tokens=_int(attribute(GEN_AI_USAGE_OUTPUT_TOKENS)),
        cached_input_tokens=_int(attribute(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)),
        cost_usd=_float(attribute(COST_USD_ATTRIBUTE)),
        llm_rounds=rounds,
        tool_calls=tools,
        first_token_ms=(first_token - span.start_time_unix_nano) / 1e6 if first_token is not None else None,
        conversation_id=str(conversation) if conversation is not None else None,
        feedback=verdict[1] if verdict is not None else None,
        largest_call_input_tokens=largest_call,
    )


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
