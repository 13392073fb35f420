"""Mounted under a path prefix, the page links, loads and calls everything under that prefix."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from perftrace.formats.snapshot import snapshot_to_json
from perftrace.paths import CONVERSATION_PAGE_PATH, PAGE_PATH
from perftrace.testing.synthetic import SERVICE, synthetic_traces
from testsupport.prefixed_app import CONVERSATION_ID, PREFIX, STAGES, create_app


def embedded_json(page: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page)
    assert found is not None, element_id
    return json.loads(found[1])


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        for _ in range(3):
            assert test_client.get(f"{PREFIX}/work").json() == {"grams": 1000}
        yield test_client


def test_every_url_of_the_page_is_under_the_prefix_and_answers(client: TestClient) -> None:
    page = client.get(f"{PREFIX}{PAGE_PATH}")
    assert page.status_code == 200

    linked = re.findall(r'(?:href|src)="(/[^"#]*)"', page.text)
    urls = embedded_json(page.text, "perftrace-urls")
    assert linked and urls
    assert [u for u in [*linked, *urls.values()] if not u.startswith(f"{PREFIX}/")] == []
    for url in linked:
        assert client.get(url).status_code == 200, url
    assert f"{PREFIX}{CONVERSATION_PAGE_PATH}/{quote(CONVERSATION_ID)}" in linked
    chart = embedded_json(page.text, "chart-data")
    assert [s["name"] for s in chart["stages"]] == list(STAGES) and len(chart["requests"]) == 3


def test_the_scripts_compare_call_works_at_the_url_the_page_gives_it(client: TestClient) -> None:
    page = client.get(f"{PREFIX}{PAGE_PATH}").text
    urls = embedded_json(page, "perftrace-urls")
    snapshot = snapshot_to_json(synthetic_traces(10, seed=7), service_name=SERVICE)

    compared = client.post(urls["compare"], json={"before": snapshot, "after": snapshot})

    assert compared.status_code == 200 and compared.json()["requests_before"] == 10
    assert client.get(urls["snapshot"]).json()["service_name"] == "prefixed-kitchen"


def test_the_compare_body_cap_holds_under_the_prefix(client: TestClient) -> None:
    # The cap is by route path: under a prefix the request's path is the prefix plus the route's.
    page = client.get(f"{PREFIX}{PAGE_PATH}")
    urls = embedded_json(page.text, "perftrace-urls")
    too_large = b"x" * (32 * 1024 * 1024 + 1)

    answer = client.post(urls["compare"], content=too_large, headers={"content-type": "application/json"})

    assert answer.status_code == 413 and "byte limit" in answer.json()["detail"]
