"""The LLM client: the real ``openai.AsyncOpenAI``.

It points at OpenAI, at any compatible server (Ollama, vLLM), or at the embedded responder.
"""

from __future__ import annotations

import httpx2
import openai
from openai import AsyncOpenAI

from ha_ai_agent.llm.mock import create_embedded_transport

EMBEDDED_BASE_URL = "http://embedded-llm/v1"

#: Errors that mean "the LLM cannot answer now" (HTTP 503 to our caller), not a bug of ours.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.RateLimitError,
    openai.InternalServerError,
    openai.AuthenticationError,
    openai.PermissionDeniedError,
    openai.NotFoundError,
)


def create_llm_client(
    *,
    api_key: str | None,
    base_url: str | None,
    timeout_seconds: float,
    max_retries: int,
    embedded_latency_ms: int,
    embedded_stream_chunk_ms: int,
) -> AsyncOpenAI:
    """The OpenAI client; with neither a key nor a base URL, one bound to the embedded responder."""
    if api_key is None and base_url is None:
        # openai talks through httpx2, so the in-process transport is httpx2's.
        transport = create_embedded_transport(embedded_latency_ms, embedded_stream_chunk_ms)
        http = httpx2.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL, timeout=timeout_seconds)
        return AsyncOpenAI(api_key="embedded", base_url=EMBEDDED_BASE_URL, http_client=http, max_retries=max_retries)
    # A local OpenAI-compatible server (Ollama, vLLM) usually needs no key, but the client wants one.
    return AsyncOpenAI(
        api_key=api_key or "not-needed", base_url=base_url, timeout=timeout_seconds, max_retries=max_retries
    )
