"""The browser endpoint's checks (pure functions): every limit applies to both formats alike."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from perftrace.fastapi import BrowserEndpointConfig
from perftrace.fastapi.browser_endpoint.checks import JSON, PROTOBUF, Export, prepare_export, span_records
from perftrace.fastapi.browser_endpoint.otlp_json import validate_export
from perftrace.tracing.records import SpanEvent

BROWSER = "kitchen-ui"
CONFIG = BrowserEndpointConfig(service_names={BROWSER}, max_attributes_per_span=16, max_attribute_chars=32)


def export_with(attributes: list[dict[str, Any]]) -> bytes:
    span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "attributes": attributes}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": BROWSER}}]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}).encode()


def prepared(body: bytes, content_type: str = JSON) -> Export:
    export = prepare_export(content_type, None, body, CONFIG, forwarded_by="kitchen-service")
    assert isinstance(export, Export), export
    return export


@pytest.mark.parametrize("content_type", [JSON, PROTOBUF])
def test_every_cap_applies_to_small_and_large_attributes_in_both_formats(content_type: str) -> None:
    attributes = [
        {"key": "k" * 300, "value": {"boolValue": True}},
        {"key": "long", "value": {"stringValue": "x" * 40}},
        {"key": "just-over", "value": {"stringValue": "y" * 33}},
        {"key": "bytes", "value": {"bytesValue": base64.b64encode(b"q" * 40).decode()}},
        {"key": "many", "value": {"arrayValue": {"values": [{"boolValue": True}] * 40}}},
        {"key": "map", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"stringValue": "z" * 50}}]}}},
        {"key": "short", "value": {"stringValue": "fine"}},
    ]
    body = export_with(attributes)
    if content_type == PROTOBUF:
        body = prepared(body).request.SerializeToString()
    export = prepared(body, content_type)
    span = export.request.resource_spans[0].scope_spans[0].spans[0]
    values = {kv.key: kv.value for kv in span.attributes}
    assert len(span.attributes[0].key) == 256
    assert len(values["long"].string_value) == len(values["just-over"].string_value) == 32
    assert len(values["bytes"].bytes_value) == 32
    assert len(values["many"].array_value.values) == 16
    assert len(values["map"].kvlist_value.values[0].value.string_value) == 32
    assert values["short"].string_value == "fine"
    if content_type == JSON:
        assert export.truncated_values == 4


def test_attributes_over_the_count_are_dropped_and_counted() -> None:
    export = prepared(export_with([{"key": f"k{i}", "value": {"intValue": i}} for i in range(20)]))
    span = export.request.resource_spans[0].scope_spans[0].spans[0]
    assert len(span.attributes) == 16 and span.dropped_attributes_count == 4 and export.dropped_attributes == 4


def test_json_and_protobuf_of_one_export_forward_the_same_request() -> None:
    body = export_with([{"key": "n", "value": {"intValue": "-12"}}, {"key": "d", "value": {"doubleValue": 1.5}}])
    from_json = prepared(body).request
    again = prepared(from_json.SerializeToString(), PROTOBUF).request
    # Through the protobuf path the forwarding marker is added a second time; nothing else changes.
    assert again.resource_spans[0].scope_spans == from_json.resource_spans[0].scope_spans
    assert [kv.value.int_value for kv in again.resource_spans[0].scope_spans[0].spans[0].attributes][:1] == [-12]


def test_a_schema_problem_names_the_field_and_a_list_is_called_a_list() -> None:
    with pytest.raises(ValueError, match="resourceSpans: Input should be a valid list"):
        validate_export(b'{"resourceSpans": "nope"}')


def test_the_recorded_spans_keep_their_events() -> None:
    body = json.loads(export_with([]))
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["events"] = [
        {"timeUnixNano": "1700000000000000001", "name": "first_token"},
        {
            "timeUnixNano": "1700000000500000000",
            "name": "last_token",
            "attributes": [{"key": "n", "value": {"intValue": 3}}],
        },
    ]
    [record] = span_records(prepared(json.dumps(body).encode()).request)
    assert record.events == (
        SpanEvent("first_token", 1700000000000000001, {}),
        SpanEvent("last_token", 1700000000500000000, {"n": 3}),
    )
