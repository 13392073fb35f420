from __future__ import annotations

import gzip
import json
import os
import time
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import Runtime
from ha_ai_agent.semconv import BROWSER_SERVICE_NAME, SERVICE_NAME
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from perftrace.fastapi import BrowserEndpointConfig
from perftrace.fastapi.browser_endpoint.checks import ExportRejected, prepare_export
from testsupport.otlp_payloads import JSON_HEADERS, TRACE_ID, json_export
from testsupport.otlp_receiver import otlp_receiver
from testsupport.servers import closed_port

URL = "/otlp/v1/traces"


def proto_export(service: str = BROWSER_SERVICE_NAME) -> bytes:
    span = Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex("00000000000000aa"),
        name="api_call",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=1,
        end_time_unix_nano=2,
    )
    resource_spans = ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])
    resource_spans.resource.attributes.append(KeyValue(key="service.name"))
    resource_spans.resource.attributes[0].value.string_value = service
    return ExportTraceServiceRequest(resource_spans=[resource_spans]).SerializeToString()


def with_browser_endpoint(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"browser_endpoint": settings.browser_endpoint.model_copy(update=changes)})


def post(client: TestClient, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> httpx2.Response:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    return client.post(URL, content=content, headers=headers or JSON_HEADERS)


def test_json_export_lands_in_the_buffer(client: TestClient, runtime: Runtime) -> None:
    response = post(client, json_export(spans=3))
    assert response.status_code == 200 and response.json() == {}
    record = runtime.tracing.recent.get_trace(int(TRACE_ID, 16))
    assert record is not None and len(record.spans) == 3
    assert {s.service_name for s in record.spans} == {BROWSER_SERVICE_NAME}
    assert record.spans[0].attribute("ui.action") == "add_user_message"


def test_gzip_protobuf_export_is_accepted(client: TestClient, runtime: Runtime) -> None:
    response = post(
        client,
        gzip.compress(proto_export()),
        {"content-type": "application/x-protobuf", "content-encoding": "gzip"},
    )
    assert response.status_code == 200 and response.content == b""
    record = runtime.tracing.recent.get_trace(int(TRACE_ID, 16))
    assert record is not None and record.spans[0].kind == "CLIENT"


@pytest.mark.parametrize(
    "headers,body,status,words",
    [
        ({"content-type": "text/plain"}, b"hello", 415, "content type"),
        ({"content-type": "application/json", "content-encoding": "br"}, b"{}", 415, "encoding"),
        (JSON_HEADERS, b"{not json", 400, "malformed JSON"),
        ({"content-type": "application/x-protobuf"}, b"\xff\xff\xff\xff", 400, "malformed OTLP protobuf"),
        ({"content-type": "application/json", "content-encoding": "gzip"}, b"not gzip", 400, "gzip"),
        (JSON_HEADERS, json.dumps(json_export(trace_id="xyz")).encode(), 400, "traceId"),
        (JSON_HEADERS, json.dumps(json_export(trace_id="0" * 32)).encode(), 400, "traceId"),
        (JSON_HEADERS, json.dumps({"resourceSpans": "nope"}).encode(), 400, "list"),
        (JSON_HEADERS, json.dumps(json_export(service=SERVICE_NAME)).encode(), 403, SERVICE_NAME),
        (JSON_HEADERS, json.dumps(json_export(spans=600)).encode(), 413, "spans"),
    ],
)
def test_each_error_class_gets_its_status(
    client: TestClient, headers: dict[str, str], body: bytes, status: int, words: str
) -> None:
    response = post(client, body, headers)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_backend_service_name_is_refused_and_nothing_kept(client: TestClient, runtime: Runtime) -> None:
    assert post(client, json_export(service=SERVICE_NAME)).status_code == 403
    assert post(client, proto_export(SERVICE_NAME), {"content-type": "application/x-protobuf"}).status_code == 403
    assert runtime.tracing.recent.get_trace(int(TRACE_ID, 16)) is None


def test_body_over_the_cap_and_gzip_bomb_are_413(client: TestClient, settings: Settings) -> None:
    big = b"{" + b" " * settings.browser_endpoint.max_body_bytes + b"}"
    assert post(client, big).status_code == 413
    bomb = gzip.compress(b" " * (settings.browser_endpoint.max_body_bytes * 20))
    assert len(bomb) < settings.browser_endpoint.max_body_bytes // 10
    response = post(client, bomb, {"content-type": "application/json", "content-encoding": "gzip"})
    assert response.status_code == 413 and "decompressed" in response.json()["detail"]


def test_attributes_are_capped_and_values_truncated(client: TestClient, runtime: Runtime, settings: Settings) -> None:
    attributes: list[dict[str, Any]] = [
        {"key": f"k{i}", "value": {"stringValue": "v"}}
        for i in range(settings.browser_endpoint.max_attributes_per_span + 10)
    ]
    attributes[0]["value"]["stringValue"] = "x" * 10_000
    assert post(client, json_export(attributes=attributes)).status_code == 200
    record = runtime.tracing.recent.get_trace(int(TRACE_ID, 16))
    assert record is not None
    (span,) = record.spans
    assert len(span.attributes) == settings.browser_endpoint.max_attributes_per_span
    assert len(span.attribute("k0")) == settings.browser_endpoint.max_attribute_chars


def test_unknown_paths_are_404(client: TestClient) -> None:
    assert client.post("/otlp/v1/metrics", content=b"{}", headers=JSON_HEADERS).status_code == 404
    assert client.get("/otlp/v1/traces").status_code in (404, 405)


def test_rate_limit_is_429_with_retry_after(settings: Settings) -> None:
    limited = with_browser_endpoint(settings, rate_limit_per_minute=2)
    with TestClient(create_app(limited)) as client:
        codes = [post(client, json_export()).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert int(post(client, json_export()).headers["Retry-After"]) >= 1


def test_forwards_to_the_collector_as_protobuf(settings: Settings) -> None:
    with otlp_receiver() as receiver:
        forwarding = with_browser_endpoint(settings, forward_url=f"{receiver.url}/v1/traces")
        with TestClient(create_app(forwarding)) as client:
            assert post(client, json_export(spans=2)).status_code == 200
        spans = receiver.spans()
        assert len(spans) == 2
        assert {s.service_name for s in spans} == {BROWSER_SERVICE_NAME}
        assert spans[0].resource["telemetry.forwarded_by"] == SERVICE_NAME
        assert spans[0].span.trace_id.hex() == TRACE_ID


def test_collector_down_is_a_quick_503(settings: Settings) -> None:
    down = with_browser_endpoint(settings, forward_url=f"http://127.0.0.1:{closed_port()}/v1/traces")
    with TestClient(create_app(down)) as client:
        started = time.monotonic()
        response = post(client, json_export())
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert time.monotonic() - started < 2.0
        # The chat service is unaffected.
        assert client.post("/api/v1/chat", json={"message": "What devices are in the kitchen?"}).status_code == 200


CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/x-protobuf", "text/plain", "", "application/json; charset=utf-8"]
) | st.text(max_size=40)
ENCODINGS = st.sampled_from([None, "gzip", "identity", "deflate"]) | st.text(max_size=10)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "traceId",
                    "spanId",
                    "resource",
                    "attributes",
                    "key",
                    "value",
                    "stringValue",
                    "name",
                    "links",
                    "parentSpanId",
                    "kind",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)
CONFIG = BrowserEndpointConfig(service_names={BROWSER_SERVICE_NAME})


@given(content_type=CONTENT_TYPES, encoding=ENCODINGS, body=st.binary(max_size=2000))
@hypothesis_settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")), deadline=None)
def test_fuzzed_bytes_and_headers_never_give_5xx(content_type: str, encoding: str | None, body: bytes) -> None:
    result = prepare_export(content_type, encoding, body, CONFIG, forwarded_by=SERVICE_NAME)
    if isinstance(result, ExportRejected):
        assert 400 <= result.status_code < 500, result


@given(document=JSONISH, gzip_it=st.booleans())
@hypothesis_settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")), deadline=None)
def test_fuzzed_json_documents_never_give_5xx(document: Any, gzip_it: bool) -> None:
    body = json.dumps(document).encode()
    result = prepare_export(
        "application/json",
        "gzip" if gzip_it else None,
        gzip.compress(body) if gzip_it else body,
        CONFIG,
        forwarded_by=SERVICE_NAME,
    )
    if isinstance(result, ExportRejected):
        assert 400 <= result.status_code < 500, result


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            paths += _paths(child, (*prefix, index))
    return paths


VALID = json_export(spans=2)
VALID["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(
    {
        "events": [{"name": "e", "timeUnixNano": "1", "attributes": []}],
        "links": [{"traceId": TRACE_ID, "spanId": "00000000000000ff"}],
        "status": {"code": 2, "message": "x"},
    }
)
VALID_PATHS = _paths(VALID)[1:]


@given(data=st.data())
@hypothesis_settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")), deadline=None)
def test_fuzzed_mutations_of_a_valid_export_never_give_5xx(data: st.DataObject) -> None:
    document = json.loads(json.dumps(VALID))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(VALID_PATHS))
        node = document
        try:
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = data.draw(JSONISH)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    result = prepare_export("application/json", None, json.dumps(document).encode(), CONFIG, forwarded_by=SERVICE_NAME)
    if isinstance(result, ExportRejected):
        assert 400 <= result.status_code < 500, result


@given(body=st.binary(max_size=500), content_type=CONTENT_TYPES, encoding=ENCODINGS)
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_requests_through_the_route_never_give_5xx(
    client: TestClient, body: bytes, content_type: str, encoding: str | None
) -> None:
    headers = {"content-type": content_type}
    if encoding:
        headers["content-encoding"] = encoding
    try:
        response = client.post(URL, content=body, headers=headers)
    except UnicodeEncodeError:
        return  # a header value no HTTP client can send
    assert response.status_code < 500
