"""``POST /api/v1/chat/{trace_id}/feedback``: a user's thumbs up or down (and a short comment) on an answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from perftrace.fastapi.contract import TRACE_ID_PATTERN, UNREADABLE_BODY, VALIDATION_ERROR, error_responses
from pydantic import BaseModel, ConfigDict, Field

from ha_ai_agent.api.deps import RuntimeDep
from ha_ai_agent.chat.feedback import Score
from ha_ai_agent.semconv import FEEDBACK_LABELS, FEEDBACK_PATH
from ha_ai_agent.store.conversations import MAX_FEEDBACK_COMMENT_CHARS

router = APIRouter(tags=["chat"])
TraceId = Annotated[str, Path(pattern=TRACE_ID_PATTERN, description="The answer's trace id (`metadata.trace_id`)")]


class FeedbackBody(BaseModel):
    """A verdict on an answer. Strict: ``"score": 1`` is refused, not read as up."""

    model_config = ConfigDict(strict=True)

    score: Score = Field(description="`up` (thumbs up) or `down` (thumbs down)")
    comment: str | None = Field(
        None,
        max_length=MAX_FEEDBACK_COMMENT_CHARS,
        description=f"Why, in at most {MAX_FEEDBACK_COMMENT_CHARS} characters; stored with the answer, exported in "
        "the trace only when message content capture is on (redacted)",
    )


class FeedbackOut(BaseModel):
    """The verdict as stored with the answer; a later one replaces it."""

    trace_id: str
    conversation_id: str
    score: Score
    label: str = Field(description=f"As the trace and the metric name it: one of {', '.join(FEEDBACK_LABELS)}")
    comment: str | None


FEEDBACK_ERRORS = error_responses({404: "No stored answer has this trace id"}) | UNREADABLE_BODY | VALIDATION_ERROR


@router.post(FEEDBACK_PATH, response_model=FeedbackOut, responses=FEEDBACK_ERRORS)
async def post_feedback(trace_id: TraceId, body: FeedbackBody, runtime: RuntimeDep) -> FeedbackOut:
    """Store the user's verdict on an answer and record it in the answer's trace; the last verdict counts."""
    feedback = await runtime.feedback.record(trace_id, body.score, body.comment or None)
    if feedback is None:
        raise HTTPException(404, f"No answer with trace id {trace_id}")
    return FeedbackOut.model_validate(feedback, from_attributes=True)
