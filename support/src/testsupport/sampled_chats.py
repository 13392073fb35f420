"""Chats of every kind that tail sampling must tell apart, and what Jaeger kept of them.

The chats go to the real service, whose model is the OpenAI-compatible test server (testsupport.openai_server):
words in the message make a chat fail, slow or truncated. Each chat carries a ``traceparent`` made here, so the
test knows every trace id, also of the chats that fail (their error answer carries none).
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from testsupport.backend_queries import finite_values, jaeger_trace, prometheus_query
from testsupport.openai_server import create_openai_app
from testsupport.processes import running_agent
from testsupport.servers import serve_in_thread
from testsupport.stack import AGENT_ENV

QUESTION = "What devices are in the kitchen?"
CHAT_SPAN = "POST /api/v1/chat"
SLOW_MS = 3000  # a slow chat's model answer; the "slow" policy's threshold is 1 s less
#: The latest decision: these chats carry the test's traceparent, so no root span ever comes; longer than a slow chat.
DECISION_WAIT_S = 6
KEPT_KINDS = frozenset({"error", "slow", "length", "content_filter"})
LOOKUP_THREADS = 8
#: The parent span every chat's server span claims: it is never exported, so a complete trace has one root.
CALLER_SPAN_ID = "00f067aa0ba902b7"


def messages(slow_ms: int) -> dict[str, str]:
    """The message of each kind of chat; ``slow_ms`` is how long a slow chat's model answer takes."""
    return {
        "normal": QUESTION,
        "error": f"{QUESTION} #error",
        "slow": f"{QUESTION} #slow={slow_ms}",
        "length": f"{QUESTION} #length",
        "content_filter": f"{QUESTION} #content_filter",
    }


@dataclass(frozen=True)
class SentChat:
    """One chat: its kind, the trace id it was sent under and the HTTP status of its answer."""

    kind: str
    trace_id: str
    status: int


def sampling_env(percent: float) -> dict[str, str]:
    """The collector settings of the sampling tests: their decision wait, slow threshold and share of the rest."""
    return {
        "OTELCOL_SAMPLING_DECISION_WAIT": f"{DECISION_WAIT_S}s",
        "OTELCOL_SAMPLING_SLOW_MS": str(SLOW_MS - 1000),
        "OTELCOL_SAMPLING_PERCENT": str(percent),
        "OTELCOL_SPANMETRICS_FLUSH_INTERVAL": "1s",
    }


@contextmanager
def agent_with_test_model(work_dir: Path, collector_otlp_http: str) -> Iterator[str]:
    """The real service (compose's SDK settings) answering with the test model, exporting to the collector."""
    with service_env_with_test_model() as model_env:
        env = {**AGENT_ENV, **model_env, "OTEL_EXPORTER_OTLP_ENDPOINT": collector_otlp_http}
        with running_agent(work_dir, env) as (url, _):
            yield url


@contextmanager
def service_env_with_test_model() -> Iterator[dict[str, str]]:
    """Run the test model server; yield the service's environment that points the real openai client at it."""
    with serve_in_thread(create_openai_app()) as url:
        yield {
            "OPENAI_BASE_URL": f"{url}/v1",
            "OPENAI_MODEL": "test-model",
            # A failed model call is retried by the client; once is enough to show the retry in the trace.
            "HA_AGENT_LLM_MAX_RETRIES": "1",
            "HA_AGENT_RATE_LIMIT_PER_MINUTE": "100000",
        }


def send(client: httpx.Client, url: str, kind: str, message: str) -> SentChat:
    """One chat under a fresh trace id (sampled flag set)."""
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{CALLER_SPAN_ID}-01"}
    try:
        response = client.post(f"{url}/api/v1/chat", json={"message": message}, headers=headers, timeout=60.0)
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    return SentChat(kind, trace_id, status)


def mixed_kinds(counts: Mapping[str, int], seed: int = 12) -> list[str]:
    """Every kind as often as ``counts`` says, in a shuffled (but repeatable) order."""
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    random.Random(seed).shuffle(kinds)
    return kinds


def complete_trace(jaeger_url: str, trace_id: str) -> bool | None:
    """None when Jaeger has no such trace; else whether it is whole: its server span in, and one root only."""
    spans = jaeger_trace(jaeger_url, trace_id)
    if not spans:
        return None
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if span.parent_span_id not in ids]
    return any(span.name == CHAT_SPAN for span in spans) and [root.name for root in roots] == [CHAT_SPAN]


def send_all(url: str, kinds: list[str], slow_ms: int, workers: int) -> list[SentChat]:
    """Send one chat per entry of ``kinds`` from ``workers`` threads; every result, in no particular order."""
    text = messages(slow_ms)
    pending = list(kinds)
    lock = threading.Lock()
    sent: list[SentChat] = []

    def work() -> None:
        with httpx.Client() as client:
            while True:
                with lock:
                    if not pending:
                        return
                    kind = pending.pop()
                chat = send(client, url, kind, text[kind])
                with lock:
                    sent.append(chat)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


@dataclass(frozen=True)
class KeptFigures:
    """What Jaeger holds of the chats sent: kept and sent per kind, and the kept traces that are not whole."""

    kept: dict[str, int]
    sent: dict[str, int]
    incomplete: int

    def share(self, kind: str) -> float:
        """The share of the chats of ``kind`` that Jaeger holds."""
        return self.kept.get(kind, 0) / self.sent[kind] if self.sent.get(kind) else 0.0

    def meets(self, percent: float, tolerance_pp: float, counted: float) -> bool:
        """Every error, slow and stopped chat kept; the rest within tolerance of percent; all whole; all counted."""
        sent = sum(self.sent.values())
        return (
            all(self.share(kind) == 1.0 for kind in KEPT_KINDS if kind in self.sent)
            and abs(self.share("normal") * 100 - percent) <= tolerance_pp
            and self.incomplete == 0
            and counted == sent
        )

    def describe(self) -> str:
        """One line for a report: kept/sent per kind."""
        return ", ".join(f"{kind} {self.kept.get(kind, 0)}/{count}" for kind, count in sorted(self.sent.items()))


def look_up(jaeger_url: str, trace_ids: list[str]) -> list[bool | None]:
    """complete_trace for each id, several requests at a time (a thousand one by one take minutes)."""
    with ThreadPoolExecutor(max_workers=LOOKUP_THREADS) as pool:
        return list(pool.map(lambda trace_id: complete_trace(jaeger_url, trace_id), trace_ids))


def kept_figures(jaeger_url: str, sent: list[SentChat]) -> KeptFigures:
    """Look every chat's trace up in Jaeger."""
    kept: dict[str, int] = {}
    counts: dict[str, int] = {}
    incomplete = 0
    for chat, whole in zip(sent, look_up(jaeger_url, [chat.trace_id for chat in sent]), strict=True):
        counts[chat.kind] = counts.get(chat.kind, 0) + 1
        if whole is not None:
            kept[chat.kind] = kept.get(chat.kind, 0) + 1
            incomplete += not whole
    return KeptFigures(kept, counts, incomplete)


def chat_calls_counted(prometheus_url: str) -> float:
    """How many chat requests the span metrics counted (summed over every collector that counts)."""
    query = f'sum(traces_span_metrics_calls_total{{service_name="ha-ai-agent", span_name="{CHAT_SPAN}"}})'
    values = finite_values(prometheus_query(prometheus_url, query))
    return values[0] if values else 0.0
