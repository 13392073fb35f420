"""The names this service puts on its telemetry: service names, span names, span attribute names.

One source for the pipeline, the tests, the benchmarks and (checked by ``tests/telemetry``) the Grafana
dashboards and alert rules. Names the tracing library itself sets (``performance.operation``) live in
``perftrace.tracing.semconv``; the GenAI ones come from OpenTelemetry's semantic-conventions package.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_CONVERSATION_ID as GEN_AI_CONVERSATION_ID,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_EXPLANATION as GEN_AI_EVALUATION_EXPLANATION,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_NAME as GEN_AI_EVALUATION_NAME,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_SCORE_LABEL as GEN_AI_EVALUATION_SCORE_LABEL,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_SCORE_VALUE as GEN_AI_EVALUATION_SCORE_VALUE,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_OPERATION_NAME as GEN_AI_OPERATION_NAME,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_RESPONSE_MODEL as GEN_AI_RESPONSE_MODEL,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GEN_AI_TOOL_CALL_ID as GEN_AI_TOOL_CALL_ID
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import GEN_AI_TOOL_NAME as GEN_AI_TOOL_NAME
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS as GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_USAGE_INPUT_TOKENS as GEN_AI_USAGE_INPUT_TOKENS,
)
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_USAGE_OUTPUT_TOKENS as GEN_AI_USAGE_OUTPUT_TOKENS,
)
from perftrace import (
    COST_USD_ATTRIBUTE,
    EFFECT_ATTRIBUTE,
    EVALUATION_RESULT_EVENT,
    THUMBS_DOWN_LABEL,
    THUMBS_UP_LABEL,
)

#: ``service.name`` of the backend, unless ``OTEL_SERVICE_NAME`` says otherwise.
SERVICE_NAME: Final = "ha-ai-agent"
#: ``service.name`` the browser app's spans carry; the only one the browser endpoint accepts by default.
BROWSER_SERVICE_NAME: Final = "ai-automation-ui"

# Span names ----------------------------------------------------------------------------------------------

#: The prefix of the service's JSON API, its chat route (the server span below is named after it) and its session
#: route; the chat page's scripts are given these (``api/ui.py``).
API_PREFIX: Final = "/api/v1"
CHAT_PATH: Final = f"{API_PREFIX}/chat"
SESSION_PATH: Final = f"{API_PREFIX}/session"
#: The server span of one chat request (the FastAPI instrumentation names it "<method> <route>").
CHAT_SERVER_SPAN: Final = f"POST {CHAT_PATH}"
#: The streamed answer's route and its server span (first_token/last_token events when the words went out).
CHAT_STREAM_PATH: Final = f"{CHAT_PATH}/stream"
CHAT_STREAM_SERVER_SPAN: Final = f"POST {CHAT_STREAM_PATH}"
#: A chat request's server span on either route (the dashboards and alert rules read both).
CHAT_SERVER_SPANS: Final = (CHAT_SERVER_SPAN, CHAT_STREAM_SERVER_SPAN)
RATE_LIMIT_CHECK: Final = "rate_limit_check"
CONVERSATION_MANAGEMENT: Final = "conversation_management"
PENDING_PREVIEW_CHECK: Final = "pending_preview_check"
MESSAGE_ASSEMBLY: Final = "message_assembly"
OPENAI_API_CALL: Final = "openai_api_call"
TOOL_EXECUTION: Final = "tool_execution"
TOKEN_COUNT_RETRIEVAL: Final = "token_count_retrieval"
SAVE_RESPONSE: Final = "save_response"
#: Every stage span, each once, in the order a request first opens them (the original metric names).
STAGES: Final = (
    RATE_LIMIT_CHECK,
    CONVERSATION_MANAGEMENT,
    PENDING_PREVIEW_CHECK,
    MESSAGE_ASSEMBLY,
    OPENAI_API_CALL,
    TOOL_EXECUTION,
    TOKEN_COUNT_RETRIEVAL,
    SAVE_RESPONSE,
)
#: The GenAI instrumentation's LLM call spans are named "chat <model>".
LLM_CHAT_SPAN_PREFIX: Final = "chat "
#: A home-context section that is built (Home Assistant reads): "context.areas", "context.devices", ...
CONTEXT_SPAN_PREFIX: Final = "context."
#: One entity's way to the state a service call asked for, under the call's ``tool_execution``: from the call
#: until Home Assistant reports the state (or the bound), so it usually ends after the request has answered.
HOME_EFFECT: Final = "home_effect"
#: An event on ``home_effect`` per state Home Assistant reported on the way (``opening``, then ``open``).
HA_STATE_CHANGED_EVENT: Final = "ha.state_changed"
#: The route a user's verdict on an answer is posted to (the answer named by its trace id).
FEEDBACK_PATH: Final = f"{CHAT_PATH}/{{trace_id}}/feedback"
#: A verdict, in the answer's trace: a short span whose parent is the answer's server span (which has ended by
#: then), carrying one ``FEEDBACK_EVENT`` with the ``gen_ai.evaluation.*`` attributes.
CHAT_FEEDBACK: Final = "chat_feedback"
FEEDBACK_EVENT: Final = EVALUATION_RESULT_EVENT
#: ``gen_ai.evaluation.name`` of a user's verdict, and its ``gen_ai.evaluation.score.label`` values (the library's:
#: what ``request_figures(...).feedback`` returns and ``/performance`` lists); ``score.value`` is 1 up, 0 down.
FEEDBACK_EVALUATION_NAME: Final = "user_feedback"
THUMBS_UP: Final = THUMBS_UP_LABEL
THUMBS_DOWN: Final = THUMBS_DOWN_LABEL
FEEDBACK_LABELS: Final = (THUMBS_UP, THUMBS_DOWN)

# Span attributes -----------------------------------------------------------------------------------------

CHAT_ITERATIONS: Final = "chat.iterations"
CHAT_TOKENS_USED: Final = "chat.tokens_used"
CHAT_TOOL_CALLS: Final = "chat.tool_calls"
#: On the server span: what the request's LLM calls cost in USD, from the price table and the reported usage
#: (absent when a model has no price or a call reported no usage). Its token totals are ``gen_ai.usage.*``.
CHAT_COST_USD: Final = COST_USD_ATTRIBUTE
CHAT_CONVERSATION_NEW: Final = "chat.conversation_new"
CHAT_HISTORY_MESSAGES: Final = "chat.history_messages"
CHAT_HISTORY_MESSAGES_KEPT: Final = "chat.history_messages_kept"
CHAT_INPUT_TOKENS_ESTIMATE: Final = "chat.input_tokens_estimate"
CHAT_TOTAL_TOKENS_ESTIMATE: Final = "chat.total_tokens_estimate"
CHAT_WITHIN_BUDGET: Final = "chat.within_budget"
RATE_LIMIT_LIMITED: Final = "rate_limit.limited"
PREVIEW_PENDING: Final = "preview.pending"
PREVIEW_ACTION: Final = "preview.action"
#: On a ``tool_execution`` of a call that opens the home: ``pending`` (held for a yes) or ``confirmed``.
ACTION_CONFIRMATION: Final = "action.confirmation"
LLM_ITERATION: Final = "llm.iteration"
LLM_TOOL_CALLS: Final = "llm.tool_calls"
LLM_FINISH_REASON: Final = "llm.finish_reason"
CONTEXT_SECTION: Final = "context.section"
#: On ``message_assembly``: the sections served from the cache, and those built (each a span).
CONTEXT_CACHE_HITS: Final = "context.cache_hits"
CONTEXT_CACHE_MISSES: Final = "context.cache_misses"
CONTEXT_STALE: Final = "context.stale"
#: On ``home_effect``: the entity, its domain (``light``, ``cover``), the service called and the state asked for.
HA_ENTITY_ID: Final = "ha.entity_id"
HA_DOMAIN: Final = "ha.domain"
HA_SERVICE: Final = "ha.service"
HA_EFFECT_TARGET: Final = "ha.effect.target"
#: On ``home_effect`` that timed its effect (reached or timed out): the domain again, under the library's name for
#: the group an effect's time is reported under (``/performance`` and ``report`` show time to effect per group).
HA_EFFECT_GROUP: Final = EFFECT_ATTRIBUTE
#: How the effect ended: one of ``EFFECT_OUTCOMES``; and the last state Home Assistant reported.
HA_EFFECT_OUTCOME: Final = "ha.effect.outcome"
HA_EFFECT_FINAL_STATE: Final = "ha.effect.final_state"
#: On each ``ha.state_changed`` event: the state reported.
HA_STATE: Final = "ha.state"
#: Home Assistant reported the target state.
EFFECT_REACHED: Final = "reached"
#: The bound passed first: the span ends at the bound, status ERROR.
EFFECT_TIMEOUT: Final = "timeout"
#: No WebSocket connection when the call was made: the span ends with the state the service call returned.
EFFECT_UNOBSERVED: Final = "unobserved"
#: The service stopped before the state or the bound.
EFFECT_CANCELLED: Final = "cancelled"
EFFECT_OUTCOMES: Final = (EFFECT_REACHED, EFFECT_TIMEOUT, EFFECT_UNOBSERVED, EFFECT_CANCELLED)

#: The home-context sections of the system prompt, in prompt order.
CONTEXT_SECTIONS: Final = ("areas", "devices", "services", "helpers_scenes")
#: The parts of the prompt ``message_assembly`` counts tokens of (estimates), in prompt order.
PROMPT_PARTS: Final = ("system_instructions", *CONTEXT_SECTIONS, "history", "new_message")
#: On ``message_assembly``: ``chat.prompt_tokens.<part>`` for each of ``PROMPT_PARTS``.
PROMPT_TOKENS_PREFIX: Final = "chat.prompt_tokens."
PROMPT_TOKENS_ATTRIBUTES: Final = {part: PROMPT_TOKENS_PREFIX + part for part in PROMPT_PARTS}

# Metrics (besides the GenAI instrumentation's gen_ai.client.token.usage and gen_ai.client.operation.duration) --
# No attribute of a metric names a conversation or a trace: those are span attributes only.

#: Histogram per chat request and prompt part (attribute ``chat.prompt.part``): estimated input tokens.
METRIC_PROMPT_TOKENS: Final = "chat.prompt.tokens"
METRIC_ATTR_PROMPT_PART: Final = "chat.prompt.part"
#: Counter: USD the LLM calls cost (attribute ``GEN_AI_RESPONSE_MODEL``); priced calls only.
METRIC_COST: Final = "chat.cost"
#: Histogram per chat request: LLM round trips.
METRIC_LLM_ROUNDS: Final = "chat.llm.rounds"
#: Counter: users' verdicts on answers, by ``GEN_AI_EVALUATION_SCORE_LABEL`` (``FEEDBACK_LABELS``) only.
METRIC_FEEDBACK: Final = "chat.feedback"

#: Every span attribute this service sets itself.
SPAN_ATTRIBUTES: Final = frozenset(
    {
        CHAT_ITERATIONS,
        CHAT_TOKENS_USED,
        CHAT_TOOL_CALLS,
        CHAT_COST_USD,
        CHAT_CONVERSATION_NEW,
        CHAT_HISTORY_MESSAGES,
        CHAT_HISTORY_MESSAGES_KEPT,
        CHAT_INPUT_TOKENS_ESTIMATE,
        CHAT_TOTAL_TOKENS_ESTIMATE,
        CHAT_WITHIN_BUDGET,
        RATE_LIMIT_LIMITED,
        PREVIEW_PENDING,
        PREVIEW_ACTION,
        ACTION_CONFIRMATION,
        LLM_ITERATION,
        LLM_TOOL_CALLS,
        LLM_FINISH_REASON,
        CONTEXT_SECTION,
        CONTEXT_CACHE_HITS,
        CONTEXT_CACHE_MISSES,
        CONTEXT_STALE,
        HA_ENTITY_ID,
        HA_DOMAIN,
        HA_SERVICE,
        HA_EFFECT_TARGET,
        HA_EFFECT_GROUP,
        HA_EFFECT_OUTCOME,
        HA_EFFECT_FINAL_STATE,
        HA_STATE,
        GEN_AI_OPERATION_NAME,
        GEN_AI_TOOL_NAME,
        GEN_AI_TOOL_CALL_ID,
        GEN_AI_CONVERSATION_ID,
        GEN_AI_USAGE_INPUT_TOKENS,
        GEN_AI_USAGE_OUTPUT_TOKENS,
        GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        *PROMPT_TOKENS_ATTRIBUTES.values(),
    }
)


# Metric names --------------------------------------------------------------------------------------------

#: Requests refused for their credential, by ``AUTH_FAILURE_REASON`` (missing, invalid, rate_limited, unverifiable).
AUTH_FAILURES_METRIC: Final = "ha_agent.auth.failures"
AUTH_FAILURE_REASON: Final = "reason"
