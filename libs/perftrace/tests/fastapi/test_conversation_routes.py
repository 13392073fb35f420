"""The conversations of the kept traces: two JSON routes, a section of /performance and a page per conversation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from perftrace.fastapi import PerformanceTracing
from perftrace.fastapi.contract import ErrorBody
from perftrace.paths import CONVERSATION_PAGE_PATH, CONVERSATIONS_PATH, PAGE_PATH
from perftrace.testing.conversations import (
    TURN_INPUT_GROWTH,
    TURN_INPUT_TOKENS,
    TURN_OUTPUT_TOKENS,
    conversation_traces,
)
from perftrace.testing.synthetic import SERVICE, synthetic_traces
from perftrace.tracing.records import TraceRecord

BUDGET = 4000


def keep(tracing: PerformanceTracing, traces: list[TraceRecord]) -> None:
    assert tracing.handle is not None
    tracing.handle.recent.add_records(span for trace in traces for span in trace.spans)


@pytest.fixture
def tracing() -> PerformanceTracing:
    return PerformanceTracing(service_name=SERVICE, input_token_budget=BUDGET)


@pytest.fixture
def client(tracing: PerformanceTracing) -> Iterator[TestClient]:
    app = FastAPI(lifespan=tracing.lifespan)
    tracing.mount(app)
    with TestClient(app) as test_client:
        keep(tracing, conversation_traces("kitchen", 5, seed=1, feedback={3: "thumbs_down"}))
        keep(tracing, conversation_traces("unpriced", 2, seed=2, cost_usd=None))
        keep(tracing, synthetic_traces(3, seed=3))  # requests that name no conversation
        yield test_client


def embedded(page: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page)
    assert found is not None, element_id
    return json.loads(found[1])


def test_the_list_route_gives_each_conversations_totals(client: TestClient) -> None:
    response = client.get(CONVERSATIONS_PATH)

    assert response.status_code == 200
    by_id = {c["conversation_id"]: c for c in response.json()}
    assert set(by_id) == {"kitchen", "unpriced"}
    kitchen = by_id["kitchen"]
    assert kitchen["turns"] == 5 and kitchen["errors"] == 0 and kitchen["disliked"] == 1
    assert kitchen["input_tokens"] == sum(TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH for i in range(5))
    assert kitchen["output_tokens"] == 5 * TURN_OUTPUT_TOKENS
    assert kitchen["cost_usd"] == pytest.approx(0.005) and kitchen["unpriced_turns"] == 0
    assert kitchen["first_started"] < kitchen["last_ended"]  # ISO 8601 in UTC: ordered as text
    assert (by_id["unpriced"]["cost_usd"], by_id["unpriced"]["unpriced_turns"]) == (None, 2)
    assert len(client.get(CONVERSATIONS_PATH, params={"limit": 1}).json()) == 1
    assert client.get(CONVERSATIONS_PATH, params={"limit": 0}).status_code == 422


def test_one_conversation_has_its_turns_in_order_and_an_unknown_id_is_a_404(client: TestClient) -> None:
    body = client.get(f"{CONVERSATIONS_PATH}/kitchen").json()
    missing = client.get(f"{CONVERSATIONS_PATH}/no-such-chat")

    turns = body["turns"]
    assert [t["input_tokens"] for t in turns] == [TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH for i in range(5)]
    assert [t["feedback"] for t in turns] == [None, None, None, "thumbs_down", None]
    assert all(t["llm_rounds"] == 1 and re.fullmatch("[0-9a-f]{32}", t["trace_id"]) for t in turns)
    assert {s["name"] for s in turns[0]["stages"]} >= {"message_assembly", "openai_api_call"}
    assert 0 < sum(s["share"] for s in turns[0]["stages"]) <= 1
    assert body["totals"]["turns"] == 5
    assert missing.status_code == 404 and "no-such-chat" in ErrorBody.model_validate(missing.json()).detail
    assert client.get(f"{CONVERSATIONS_PATH}/{'x' * 257}").status_code == 422


def test_the_routes_are_in_the_openapi_document_with_their_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert set(paths[CONVERSATIONS_PATH]["get"]["responses"]) == {"200", "422", "500", "503"}
    one = paths[f"{CONVERSATIONS_PATH}/{{conversation_id}}"]["get"]["responses"]
    assert set(one) == {"200", "404", "422", "500", "503"}
    schema = one["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ConversationTurns"}
    assert set(paths[f"{CONVERSATION_PAGE_PATH}/{{conversation_id}}"]["get"]["responses"]) == set(one)


def test_the_performance_page_lists_conversations_and_disliked_answers(client: TestClient) -> None:
    page = client.get(PAGE_PATH).text
    kitchen = client.get(f"{CONVERSATIONS_PATH}/kitchen").json()

    conversations = page[page.index('id="conversations"') : page.index('id="disliked"')]
    assert f'href="{CONVERSATION_PAGE_PATH}/kitchen"' in conversations and "unknown (2 unpriced)" in conversations
    disliked = page[page.index('id="disliked"') :]
    (row,) = re.findall(r'<tr data-trace-id="([0-9a-f]{32})">', disliked[: disliked.index("</table>")])
    assert row == kitchen["turns"][3]["trace_id"]
    assert "openai_api_call" in disliked[: disliked.index("</table>")]


def test_a_conversations_page_charts_latency_and_input_tokens_per_turn(client: TestClient) -> None:
    page = client.get(f"{CONVERSATION_PAGE_PATH}/kitchen")

    assert page.status_code == 200 and "conversation kitchen" in page.text
    chart = embedded(page.text, "conversation-data")
    assert chart["budget"] == BUDGET
    assert [t["input_tokens"] for t in chart["turns"]] == [TURN_INPUT_TOKENS + i * TURN_INPUT_GROWTH for i in range(5)]
    assert all(len(t["parts"]) == len(chart["stages"]) and sum(t["parts"]) <= t["total"] for t in chart["turns"])
    assert len(re.findall(r'<tr data-trace-id="', page.text)) == 5
    assert client.get(f"{CONVERSATION_PAGE_PATH}/no-such-chat").status_code == 404
