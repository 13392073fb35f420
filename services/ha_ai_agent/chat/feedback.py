"""A user's verdict on an answer: stored with the answer, recorded in the answer's trace, counted.

The answer's request has ended when the verdict comes, so the verdict is a short ``chat_feedback`` span whose
parent is the answer's server span (its id is stored with the answer), in the answer's trace; the span carries
the GenAI conventions' ``gen_ai.evaluation.result`` event. Jaeger shows it on the trace, the recent-traces
buffer adds it to the trace it holds, and the library's ``request_figures`` reads the verdict from it. It is
linked to the span of the request that posted it. The comment is stored; it is exported only when message
content capture is on, and then redacted like every captured text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opentelemetry import trace
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
    Tracer,
    TracerProvider,
)
from opentelemetry.util.types import AttributeValue

from ha_ai_agent.chat.usage import ChatMetrics
from ha_ai_agent.redaction import redact
from ha_ai_agent.semconv import (
    CHAT_FEEDBACK,
    FEEDBACK_EVALUATION_NAME,
    FEEDBACK_EVENT,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_EVALUATION_EXPLANATION,
    GEN_AI_EVALUATION_NAME,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_EVALUATION_SCORE_VALUE,
    THUMBS_DOWN,
    THUMBS_UP,
)
from ha_ai_agent.store.conversations import AnswerTrace, ConversationStore

Score = Literal["up", "down"]
#: What each score is called in the trace and the metric, and its value there.
LABELS: dict[str, str] = {"up": THUMBS_UP, "down": THUMBS_DOWN}
VALUES: dict[str, float] = {"up": 1.0, "down": 0.0}


@dataclass(frozen=True)
class Feedback:
    """A stored verdict."""

    trace_id: str
    conversation_id: str
    score: Score
    label: str
    comment: str | None


class FeedbackRecorder:
    """Stores verdicts and records them; spans go to ``tracer_provider``, the count to ``metrics``.

    ``capture_content``: whether the comment may be exported (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``).
    """

    def __init__(
        self,
        store: ConversationStore,
        *,
        tracer_provider: TracerProvider | None = None,
        metrics: ChatMetrics | None = None,
        capture_content: bool = False,
    ) -> None:
        self.store = store
        self._tracer: Tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self.metrics = metrics or ChatMetrics()
        self.capture_content = capture_content

    async def record(self, trace_id: str, score: Score, comment: str | None) -> Feedback | None:
        """Store the verdict on the answer traced as ``trace_id`` and record it; None if no answer is."""
        label = LABELS[score]
        target = await self.store.set_feedback(trace_id, label, comment)
        if target is None:
            return None
        self.metrics.record_feedback(label)
        self._trace(target.trace, target.conversation_id, score, comment)
        return Feedback(trace_id, target.conversation_id, score, label, comment)

    def _trace(self, answer: AnswerTrace, conversation_id: str, score: Score, comment: str | None) -> None:
        if answer.span_id is None:  # the answer's span was not recorded: its trace is not exported either
            return
        parent = SpanContext(
            int(answer.trace_id, 16),
            int(answer.span_id, 16),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        posted = trace.get_current_span().get_span_context()
        attributes: dict[str, AttributeValue] = {
            GEN_AI_EVALUATION_NAME: FEEDBACK_EVALUATION_NAME,
            GEN_AI_EVALUATION_SCORE_LABEL: LABELS[score],
            GEN_AI_EVALUATION_SCORE_VALUE: VALUES[score],
        }
        if comment and self.capture_content:
            attributes[GEN_AI_EVALUATION_EXPLANATION] = redact(comment)
        span = self._tracer.start_span(
            CHAT_FEEDBACK,
            context=trace.set_span_in_context(NonRecordingSpan(parent)),
            kind=SpanKind.INTERNAL,
            attributes={GEN_AI_CONVERSATION_ID: conversation_id},
            links=[Link(posted)] if posted.is_valid else None,
        )
        span.add_event(FEEDBACK_EVENT, attributes)
        span.end()
