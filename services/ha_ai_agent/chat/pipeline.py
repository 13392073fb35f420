"""One chat request, stage by stage, each stage a span under the request's server span.

Stages, in order (the original metric names): ``rate_limit_check``, ``conversation_management``,
``pending_preview_check``, ``message_assembly``, then up to ``max_iterations`` rounds of
``openai_api_call`` (the GenAI instrumentation's ``chat <model>`` span inside) and one
``tool_execution`` per tool call (concurrent calls are siblings), ``token_count_retrieval`` and
``save_response``. Nothing is written to the database until the answer is there, so a request that
fails stores nothing and can simply be retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NoOpTracer, Span, Status, StatusCode, Tracer, TracerProvider

# The GenAI utilities carry the conversation id on the Context to the LLM call spans the instrumentation makes
# (its public form, handler.invoke_agent(conversation_id=...), would add an agent span around the stages).
from opentelemetry.util.genai._conversation_context import with_conversation_id
from opentelemetry.util.types import AttributeValue
from perftrace import FollowingTracer, mark_operation
from perftrace.ratelimit import SlidingWindowRateLimiter, retry_after_header

from ha_ai_agent.chat.confirmations import (
    CANCELLED,
    CONFIRMED,
    ConfirmationNeeded,
    PendingAction,
    outcome_answer,
    resolve,
)
from ha_ai_agent.chat.context import HomeContext
from ha_ai_agent.chat.events import ChatListener, TextDelta, ToolFinished, ToolStarted, ignore_events
from ha_ai_agent.chat.prompt import (
    TokenBreakdown,
    TokenBudgetExceeded,
    build_system_prompt,
    fit_history,
    prompt_part_tokens,
)
from ha_ai_agent.chat.tools import TOOL_DEFINITIONS, ToolError, ToolExecutor
from ha_ai_agent.chat.usage import ChatMetrics, UsageTotals
from ha_ai_agent.home.client import HomeAssistantError
from ha_ai_agent.llm.client import UNAVAILABLE_ERRORS
from ha_ai_agent.llm.pricing import PriceTable
from ha_ai_agent.llm.streaming import STREAM_ERRORS, complete
from ha_ai_agent.llm.tokens import estimate_message_tokens, estimate_messages_tokens
from ha_ai_agent.semconv import (
    ACTION_CONFIRMATION,
    CHAT_CONVERSATION_NEW,
    CHAT_HISTORY_MESSAGES,
    CHAT_HISTORY_MESSAGES_KEPT,
    CHAT_INPUT_TOKENS_ESTIMATE,
    CHAT_ITERATIONS,
    CHAT_TOKENS_USED,
    CHAT_TOOL_CALLS,
    CHAT_TOTAL_TOKENS_ESTIMATE,
    CHAT_WITHIN_BUDGET,
    CONVERSATION_MANAGEMENT,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_NAME,
    LLM_FINISH_REASON,
    LLM_ITERATION,
    LLM_TOOL_CALLS,
    MESSAGE_ASSEMBLY,
    OPENAI_API_CALL,
    PENDING_PREVIEW_CHECK,
    PREVIEW_ACTION,
    PREVIEW_PENDING,
    PROMPT_TOKENS_ATTRIBUTES,
    RATE_LIMIT_CHECK,
    RATE_LIMIT_LIMITED,
    SAVE_RESPONSE,
    TOKEN_COUNT_RETRIEVAL,
    TOOL_EXECUTION,
)
from ha_ai_agent.store.conversations import ConversationStore

_logger = logging.getLogger(__name__)
_tracer = FollowingTracer(__name__)

APPROVE_WORDS = {"approve", "approved", "yes", "confirm"}
REJECT_WORDS = {"reject", "rejected", "no", "cancel"}


class ChatError(Exception):
    """A request the agent cannot answer; carries the HTTP status and a message safe to show."""

    status_code = 500

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class RateLimited(ChatError):
    """Too many requests from this client."""

    status_code = 429


class ConversationNotFound(ChatError):
    """The conversation id is unknown."""

    status_code = 404


class InvalidChatRequest(ChatError):
    """The request cannot be served as asked (e.g. over the token budget)."""

    status_code = 400


class DependencyUnavailable(ChatError):
    """The LLM or Home Assistant cannot answer now."""

    status_code = 503


@dataclass(frozen=True)
class ChatRequest:
    """What the user sent."""

    message: str
    conversation_id: str | None = None
    refresh_context: bool = False


@dataclass(frozen=True)
class ToolCallRecord:
    """A tool call the model made, with its arguments parsed."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class ChatResult:
    """The answer and what it took."""

    message: str
    conversation_id: str
    tool_calls: list[ToolCallRecord]
    model: str
    tokens_used: int
    response_time_ms: float
    token_breakdown: TokenBreakdown
    iterations: int
    trace_id: str | None


@dataclass
class _Turn:
    """Mutable state of one request between stages."""

    request: ChatRequest
    #: Told the answer's text as it comes and each tool call (the stream route's; no one's otherwise).
    listener: ChatListener = ignore_events
    conversation_id: str = ""
    is_new_conversation: bool = False
    user_message: str = ""
    pending_preview: dict[str, Any] | None = None
    clear_preview: bool = False
    #: A call that opens the home, held for the user's yes (stored as the conversation's pending preview).
    held: PendingAction | None = None
    #: The conversation's pending action and what this message does to it.
    resolving: tuple[PendingAction, str] | None = None
    system_prompt: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    new_messages: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    tokens_used: int = 0
    model: str = ""
    iterations: int = 0
    answer: str = ""
    usage: UsageTotals = field(default_factory=UsageTotals)

    def llm_messages(self) -> list[dict[str, Any]]:
        return [{"role": "system", "content": self.system_prompt}, *self.history, *self.new_messages]

    def say(self, answer: str) -> None:
        """Answer with words of the agent's own (not the model's), told to the listener in one piece."""
        self.answer = answer
        self.new_messages.append({"role": "assistant", "content": answer})
        self.listener(TextDelta(answer, self.iterations))


def _parse_arguments(raw: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {"_unparsed": raw}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}


class ChatAgent:
    """Answers chat messages with the LLM and Home Assistant tools.

    Its spans go to ``tracer_provider`` (the global provider if None). With a ``NoOpTracerProvider`` it makes
    no spans and sets no span attributes of its own (tracing off, or left to an agent that instruments the
    process).
    """

    def __init__(
        self,
        *,
        store: ConversationStore,
        context: HomeContext,
        tools: ToolExecutor,
        llm: AsyncOpenAI,
        model: str,
        rate_limiter: SlidingWindowRateLimiter,
        max_input_tokens: int = 16000,
        max_iterations: int = 10,
        tracer_provider: TracerProvider | None = None,
        confirm_seconds: float = 60.0,
        prices: PriceTable | None = None,
        metrics: ChatMetrics | None = None,
    ) -> None:
        self._tracer: Tracer = _tracer if tracer_provider is None else tracer_provider.get_tracer(__name__)
        # The request's span is someone else's (the server's, or an agent's): annotated only if we trace.
        self._annotates_request = not isinstance(self._tracer, NoOpTracer)
        self.store = store
        self.context = context
        self.tools = tools
        self.llm = llm
        self.model = model
        self.rate_limiter = rate_limiter
        self.max_input_tokens = max_input_tokens
        self.max_iterations = max_iterations
        self.confirm_seconds = confirm_seconds
        self.prices = prices or PriceTable.load()
        self.metrics = metrics or ChatMetrics()

    def stage(self, name: str, attributes: dict[str, AttributeValue] | None = None) -> AbstractContextManager[Span]:
        """A stage span, current while the stage runs; an exception is recorded and marks it ERROR."""
        return self._tracer.start_as_current_span(name, attributes=attributes)

    async def chat(self, request: ChatRequest, client: str, listener: ChatListener = ignore_events) -> ChatResult:
        """Run every stage of one request; raises ``ChatError`` subclasses for the caller to map.

        ``listener`` is told the answer's text as the model produces it and each tool call (see ``events``).
        """
        started = time.perf_counter()
        request_span = trace.get_current_span()
        if self._annotates_request:
            mark_operation("chat_request")
        turn = _Turn(request, listener, user_message=request.message)

        with self.stage(RATE_LIMIT_CHECK) as span:
            self._check_rate_limit(client, span)
        with self.stage(CONVERSATION_MANAGEMENT) as span:
            await self._load_conversation(turn, span)
        with self.stage(PENDING_PREVIEW_CHECK, self._conversation(turn)) as span:
            self._apply_pending_preview(turn, span)
        # The conversation is known: the LLM call spans the GenAI instrumentation makes name it too.
        token = otel_context.attach(with_conversation_id(turn.conversation_id)) if self._annotates_request else None
        try:
            breakdown = await self._answer(turn)
        finally:
            if token is not None:
                otel_context.detach(token)
            if self._annotates_request:  # a failed request still shows what its LLM calls used
                request_span.set_attributes(self._request_attributes(turn))
        self.metrics.record_rounds(turn.iterations)
        trace_id = request_span.get_span_context().trace_id
        return ChatResult(
            message=turn.answer,
            conversation_id=turn.conversation_id,
            tool_calls=turn.tool_calls,
            model=turn.model or self.model,
            tokens_used=turn.tokens_used,
            response_time_ms=round((time.perf_counter() - started) * 1000, 2),
            token_breakdown=breakdown,
            iterations=turn.iterations,
            trace_id=format(trace_id, "032x") if trace_id else None,
        )

    async def _answer(self, turn: _Turn) -> TokenBreakdown:
        """The stages once the conversation is known, each span naming it."""
        conversation = self._conversation(turn)
        with self.stage(MESSAGE_ASSEMBLY, conversation) as span:
            await self._assemble(turn, span)
        if turn.resolving is not None:
            await self._carry_out(turn, *turn.resolving)
        else:
            await self._converse(turn)
        with self.stage(TOKEN_COUNT_RETRIEVAL, conversation) as span:
            breakdown = self._count_tokens(turn, span)
        with self.stage(SAVE_RESPONSE, conversation):
            await self._save(turn)
        return breakdown

    async def _converse(self, turn: _Turn) -> None:
        """Rounds of the model and its tool calls, until it answers (or a call is held for a yes)."""
        conversation = self._conversation(turn)
        for iteration in range(1, self.max_iterations + 1):
            turn.iterations = iteration
            with self.stage(OPENAI_API_CALL, {LLM_ITERATION: iteration, **conversation}) as span:
                calls = await self._call_llm(turn, span)
            if not calls:
                break
            # Concurrent tool calls are sibling spans; results go back in the order of the calls.
            turn.new_messages.extend(await asyncio.gather(*(self._run_tool(turn, call) for call in calls)))
            if turn.held is not None:  # the agent asks instead of acting, whatever the model would say next
                turn.say(turn.held.question(self.confirm_seconds))
                break
        else:
            turn.say(f"I stopped after {self.max_iterations} steps without a final answer.")

    async def _carry_out(self, turn: _Turn, action: PendingAction, outcome: str) -> None:
        """Answer a yes or no about the pending action; on a timely yes make the held call (no model asked)."""
        result = None
        if outcome == CONFIRMED:
            call_id = f"confirmed-{uuid.uuid4().hex[:12]}"
            arguments = {"domain": action.domain, "service": action.service, "entity_id": action.entity_id}
            attributes: dict[str, AttributeValue] = {
                GEN_AI_OPERATION_NAME: "execute_tool",
                GEN_AI_TOOL_NAME: "call_service",
                GEN_AI_TOOL_CALL_ID: call_id,
                ACTION_CONFIRMATION: CONFIRMED,
                **self._conversation(turn),
            }
            turn.listener(ToolStarted(call_id, "call_service", arguments))
            with self.stage(TOOL_EXECUTION, attributes) as span:
                try:
                    result = await self.tools.call_service(action.domain, action.service, action.entity_id, action.data)
                except HomeAssistantError as error:
                    result = {"error": str(error)}
                if "error" in result:
                    span.set_status(Status(StatusCode.ERROR, str(result["error"])[:200]))
            turn.listener(ToolFinished(call_id, "call_service", "error" not in result))
            turn.tool_calls.append(ToolCallRecord(call_id, "call_service", arguments))
            function = {"name": "call_service", "arguments": json.dumps({**arguments, "data": action.data})}
            tool_call = {"id": call_id, "type": "function", "function": function}
            turn.new_messages.append({"role": "assistant", "content": None, "tool_calls": [tool_call]})
            turn.new_messages.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)})
        turn.say(outcome_answer(action, outcome, result))

    @staticmethod
    def _conversation(turn: _Turn) -> dict[str, AttributeValue]:
        return {GEN_AI_CONVERSATION_ID: turn.conversation_id}

    @staticmethod
    def _request_attributes(turn: _Turn) -> dict[str, AttributeValue]:
        """The server span's totals: LLM rounds, tool calls, reported tokens and their cost."""
        return {
            CHAT_ITERATIONS: turn.iterations,
            CHAT_TOKENS_USED: turn.tokens_used,
            CHAT_TOOL_CALLS: len(turn.tool_calls),
            GEN_AI_CONVERSATION_ID: turn.conversation_id,
            **turn.usage.span_attributes(),
        }

    def _check_rate_limit(self, client: str, span: Span) -> None:
        retry_after = self.rate_limiter.acquire(client)
        span.set_attribute(RATE_LIMIT_LIMITED, retry_after > 0)
        if retry_after > 0:
            raise RateLimited(
                "Rate limit exceeded: too many chat requests, try again later",
                {"Retry-After": retry_after_header(retry_after)},
            )

    async def _load_conversation(self, turn: _Turn, span: Span) -> None:
        conversation_id = turn.request.conversation_id
        if conversation_id is None:
            # Created when the answer is saved: a failed first request leaves no empty conversation.
            turn.conversation_id = f"conv-{uuid.uuid4().hex}"
            turn.is_new_conversation = True
        else:
            conversation = await self.store.get(conversation_id)
            if conversation is None:
                raise ConversationNotFound(f"Conversation {conversation_id} not found")
            turn.conversation_id = conversation.id
            turn.history = [m.to_openai() for m in conversation.messages]
            turn.pending_preview = conversation.pending_preview
        span.set_attributes(
            {
                GEN_AI_CONVERSATION_ID: turn.conversation_id,
                CHAT_CONVERSATION_NEW: turn.is_new_conversation,
                CHAT_HISTORY_MESSAGES: len(turn.history),
            }
        )

    def _apply_pending_preview(self, turn: _Turn, span: Span) -> None:
        preview = turn.pending_preview
        span.set_attribute(PREVIEW_PENDING, preview is not None)
        if preview is None:
            return
        held = PendingAction.from_preview(preview)
        if held is not None:  # a call that opens the home: only the very next message may confirm it
            outcome = resolve(held, turn.request.message, time.time())
            turn.clear_preview = True
            turn.resolving = None if outcome == CANCELLED else (held, outcome)
            span.set_attribute(PREVIEW_ACTION, outcome)
            return
        word = turn.request.message.strip().lower().rstrip(".!")
        summary = str(preview.get("summary") or preview.get("alias") or "the automation")
        if word in APPROVE_WORDS:
            turn.user_message = f"I approve the automation preview ({summary}). Please create it."
            action = "approve"
        elif word in REJECT_WORDS:
            turn.user_message = f"I reject the automation preview ({summary}). Do not create it."
            action = "reject"
        else:
            return
        turn.clear_preview = True
        span.set_attribute(PREVIEW_ACTION, action)

    async def _assemble(self, turn: _Turn, span: Span) -> None:
        try:
            sections = await self.context.sections(refresh=turn.request.refresh_context)
        except HomeAssistantError as error:
            raise DependencyUnavailable("Home Assistant is unavailable; try again shortly") from error
        turn.system_prompt = build_system_prompt(sections)  # built once per request
        try:
            turn.history, budget = fit_history(
                turn.system_prompt, turn.history, turn.user_message, self.max_input_tokens
            )
        except TokenBudgetExceeded as error:
            raise InvalidChatRequest(f"Token budget exceeded: {error}") from error
        turn.new_messages.append({"role": "user", "content": turn.user_message})
        part_tokens = prompt_part_tokens(sections, budget)
        self.metrics.record_prompt(part_tokens)
        span.set_attributes(
            {
                CHAT_INPUT_TOKENS_ESTIMATE: budget.total_tokens,
                CHAT_HISTORY_MESSAGES_KEPT: len(turn.history),
                **{PROMPT_TOKENS_ATTRIBUTES[part]: tokens for part, tokens in part_tokens.items()},
            }
        )

    async def _call_llm(self, turn: _Turn, span: Span) -> list[ChatCompletionMessageFunctionToolCall]:
        iteration = turn.iterations
        # Streamed only for a listener: reading the answer as chunks costs the client CPU (llm/streaming.py).
        on_text = None if turn.listener is ignore_events else lambda text: turn.listener(TextDelta(text, iteration))
        try:
            response = await complete(
                self.llm,
                on_text,
                model=self.model,
                messages=cast(Any, turn.llm_messages()),
                tools=cast(Any, TOOL_DEFINITIONS),
                tool_choice="auto",
            )
        except (*UNAVAILABLE_ERRORS, *STREAM_ERRORS) as error:
            raise DependencyUnavailable("The language model is unavailable; try again shortly") from error
        except openai.APIError as error:
            raise DependencyUnavailable("The language model could not answer this request") from error
        turn.model = response.model
        if response.usage is not None:
            turn.tokens_used += response.usage.total_tokens
        cost = turn.usage.add(response.model, response.usage, self.prices)
        if cost is not None:
            self.metrics.record_call_cost(response.model, cost)
        message = response.choices[0].message
        # Only function tools are offered, so only function calls can come back.
        calls = [c for c in message.tool_calls or [] if isinstance(c, ChatCompletionMessageFunctionToolCall)]
        span.set_attributes({LLM_TOOL_CALLS: len(calls), LLM_FINISH_REASON: response.choices[0].finish_reason})
        if calls:
            turn.new_messages.append(
                {
                    "role": "assistant",
                    "content": message.content,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.function.name, "arguments": c.function.arguments},
                        }
                        for c in calls
                    ],
                }
            )
            return calls
        turn.answer = message.content or ""
        turn.new_messages.append({"role": "assistant", "content": turn.answer})
        return []

    async def _run_tool(self, turn: _Turn, call: ChatCompletionMessageFunctionToolCall) -> dict[str, Any]:
        name = call.function.name
        arguments = _parse_arguments(call.function.arguments)
        record = ToolCallRecord(id=call.id, name=name, arguments=arguments)
        turn.tool_calls.append(record)
        attributes: dict[str, AttributeValue] = {
            GEN_AI_OPERATION_NAME: "execute_tool",
            GEN_AI_TOOL_NAME: name,
            GEN_AI_TOOL_CALL_ID: call.id,
            GEN_AI_CONVERSATION_ID: turn.conversation_id,
        }
        turn.listener(ToolStarted(call.id, name, arguments))
        with self.stage(TOOL_EXECUTION, attributes) as span:
            try:
                result = await self.tools.execute(name, arguments)
            except (ToolError, HomeAssistantError) as error:
                result = {"error": str(error)}
            except ConfirmationNeeded as needed:
                turn.held = replace(needed.action, expires_at=time.time() + self.confirm_seconds)
                span.set_attribute(ACTION_CONFIRMATION, "pending")
                result = {"needs_confirmation": True, "message": turn.held.question(self.confirm_seconds)}
            if "error" in result:
                span.set_status(Status(StatusCode.ERROR, str(result["error"])[:200]))
        turn.listener(ToolFinished(call.id, name, "error" not in result))
        return {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}

    def _count_tokens(self, turn: _Turn, span: Span) -> TokenBreakdown:
        """Tokens of the last LLM call's input: stored history plus this turn's tool rounds."""
        system = estimate_message_tokens({"content": turn.system_prompt})
        user = estimate_message_tokens({"content": turn.user_message})
        rounds = turn.new_messages[1:-1] if turn.answer else turn.new_messages[1:]
        history = estimate_messages_tokens(turn.history) + estimate_messages_tokens(rounds)
        total = system + history + user
        breakdown = TokenBreakdown(system, history, user, total, self.max_input_tokens, total <= self.max_input_tokens)
        span.set_attributes(
            {
                CHAT_TOTAL_TOKENS_ESTIMATE: breakdown.total_tokens,
                CHAT_WITHIN_BUDGET: breakdown.within_budget,
            }
        )
        return breakdown

    async def _save(self, turn: _Turn) -> None:
        await self.store.add_messages(
            turn.conversation_id,
            turn.new_messages,
            create_title=turn.request.message.strip()[:80] if turn.is_new_conversation else None,
            clear_preview=turn.clear_preview,
            set_preview=turn.held.to_preview() if turn.held is not None else None,
        )
