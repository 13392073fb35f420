"""What the browser endpoint does to an export besides I/O, as pure functions.

``prepare_export`` takes what arrived (headers, body) and returns either an ``Export`` ready to forward to
the collector as OTLP protobuf, or an ``ExportRejected`` with the HTTP status and a message saying what is
wrong: 415 content type or encoding, 413 too large (counted after decompression, so a gzip bomb is
refused), 400 malformed, 403 a service that browsers may not use (or none). Each format is read and checked
once: protobuf by its decoder and the id rules below, JSON by the schema (``otlp_json``); the limits of
``BrowserEndpointConfig`` then apply to both alike.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from perftrace.fastapi.browser_endpoint.config import BrowserEndpointConfig
from perftrace.fastapi.browser_endpoint.otlp_json import read_export
from perftrace.formats.otlp import service_name
from perftrace.tracing.semconv import FORWARDED_BY_ATTRIBUTE

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_NAME_CHARS = 256
MAX_EVENTS = 32
MAX_LINKS = 8


@dataclass(eq=False)
class ExportRejected(Exception):
    """Why an export was refused, as an HTTP status and a message for the client (raised inside, returned)."""

    status_code: int
    message: str


@dataclass(frozen=True)
class Export:
    """A checked export: ``body`` is the re-serialized protobuf to forward."""

    request: ExportTraceServiceRequest
    body: bytes
    response_content_type: str
    dropped_attributes: int = 0
    truncated_values: int = 0


def _decode_body(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    if len(body) > max_bytes:
        raise ExportRejected(413, f"body of {len(body)} bytes is over the {max_bytes}-byte limit")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ExportRejected(415, f"content encoding {encoding!r} is not supported; use gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as error:
        raise ExportRejected(400, f"body is not valid gzip: {error}") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise ExportRejected(413, f"decompressed body is over the {max_bytes}-byte limit")
    if not inflater.eof:
        raise ExportRejected(400, "gzip body is truncated")
    return data


def _check_ids(request: ExportTraceServiceRequest) -> None:
    # What the JSON schema says of ids, for the protobuf form.
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if len(span.trace_id) != 16 or not any(span.trace_id):
                    raise ExportRejected(400, "every span needs a 16-byte, non-zero trace id")
                if len(span.span_id) != 8 or not any(span.span_id):
                    raise ExportRejected(400, "every span needs an 8-byte, non-zero span id")
                if span.parent_span_id and len(span.parent_span_id) != 8:
                    raise ExportRejected(400, "a parent span id must be 8 bytes")
                for link in span.links:
                    if len(link.trace_id) != 16 or len(link.span_id) != 8:
                        raise ExportRejected(400, "a link needs a 16-byte trace id and an 8-byte span id")


def _read(data: bytes, media_type: str) -> ExportTraceServiceRequest:
    if media_type == PROTOBUF:
        try:
            request = ExportTraceServiceRequest.FromString(data)
        except (DecodeError, ValueError, RecursionError) as error:
            raise ExportRejected(400, f"malformed OTLP protobuf: {error or 'cannot decode'}") from None
        _check_ids(request)
        return request
    try:
        return read_export(data)
    except ValueError as error:
        raise ExportRejected(400, str(error)) from None


class _Caps:
    """The per-span limits applied in place to a protobuf request, with what they dropped and truncated counted."""

    def __init__(self, config: BrowserEndpointConfig) -> None:
        self.max_chars = config.max_attribute_chars
        self.max_items = config.max_attributes_per_span
        # An attribute encoded in at most this many bytes has nothing to cap: its key and a string or bytes
        # value have no more characters than bytes, and an array or map holds at most one item per two bytes.
        # Most attributes are this small, and ByteSize (C) is cheaper than reading their fields into Python.
        self.small_bytes = min(MAX_NAME_CHARS, self.max_chars, 2 * self.max_items)
        self.dropped_attributes = 0
        self.truncated_values = 0

    def value(self, value: AnyValue) -> None:
        kind = value.WhichOneof("value")
        if kind == "string_value" and len(value.string_value) > self.max_chars:
            value.string_value = value.string_value[: self.max_chars]
            self.truncated_values += 1
        elif kind == "bytes_value" and len(value.bytes_value) > self.max_chars:
            value.bytes_value = value.bytes_value[: self.max_chars]
            self.truncated_values += 1
        elif kind == "array_value":
            del value.array_value.values[self.max_items :]
            for item in value.array_value.values:
                self.value(item)
        elif kind == "kvlist_value":
            del value.kvlist_value.values[self.max_items :]
            for entry in value.kvlist_value.values:
                self.value(entry.value)

    def attributes(self, attributes: Any) -> int:
        dropped = max(0, len(attributes) - self.max_items)
        if dropped:
            del attributes[self.max_items :]
            self.dropped_attributes += dropped
        for attribute in attributes:
            if attribute.ByteSize() <= self.small_bytes:
                continue
            # Written only when over: a protobuf field's setter costs more than the check.
            if len(attribute.key) > MAX_NAME_CHARS:
                attribute.key = attribute.key[:MAX_NAME_CHARS]
            self.value(attribute.value)
        return dropped

    def span(self, span: Span) -> None:
        if len(span.name) > MAX_NAME_CHARS:
            span.name = span.name[:MAX_NAME_CHARS]
        dropped = self.attributes(span.attributes)
        if dropped:
            span.dropped_attributes_count += dropped
        if len(span.events) > MAX_EVENTS:
            span.dropped_events_count += len(span.events) - MAX_EVENTS
            del span.events[MAX_EVENTS:]
        for event in span.events:
            if len(event.name) > MAX_NAME_CHARS:
                event.name = event.name[:MAX_NAME_CHARS]
            event.dropped_attributes_count += self.attributes(event.attributes)
        if len(span.links) > MAX_LINKS:
            span.dropped_links_count += len(span.links) - MAX_LINKS
            del span.links[MAX_LINKS:]
        for link in span.links:
            link.dropped_attributes_count += self.attributes(link.attributes)


def _apply_limits(
    request: ExportTraceServiceRequest, config: BrowserEndpointConfig, forwarded_by: str, caps: _Caps
) -> None:
    span_count = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if span_count > config.max_spans:
        raise ExportRejected(413, f"{span_count} spans in one export; at most {config.max_spans} are accepted")
    for resource_spans in request.resource_spans:
        resource = resource_spans.resource
        service = service_name(resource.attributes)
        if service is None:
            # Forbidden rather than malformed: OTLP does not require the attribute, browsers may not omit it.
            raise ExportRejected(403, "a resource without service.name may not send spans through the browser endpoint")
        if service not in config.service_names:
            raise ExportRejected(403, f"service.name {service[:100]!r} may not send spans through the browser endpoint")
        caps.attributes(resource.attributes)
        marker = resource.attributes.add()
        marker.key, marker.value.string_value = FORWARDED_BY_ATTRIBUTE, forwarded_by
        for scope_spans in resource_spans.scope_spans:
            caps.attributes(scope_spans.scope.attributes)
            for span in scope_spans.spans:
                caps.span(span)


def prepare_export(
    content_type: str | None,
    content_encoding: str | None,
    body: bytes,
    config: BrowserEndpointConfig,
    *,
    forwarded_by: str,
) -> Export | ExportRejected:
    """Check a browser's OTLP/HTTP export and rewrite it for the collector.

    ``forwarded_by`` (the receiving service's name) marks every resource, so a browser span is never taken
    for the backend's.
    """
    caps = _Caps(config)
    try:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()  # without parameters (charset)
        if media_type not in (PROTOBUF, JSON):
            supported = f"use {PROTOBUF} or {JSON}"
            raise ExportRejected(415, f"content type {media_type or 'none'!r} is not supported; {supported}")
        data = _decode_body(body, content_encoding, config.max_body_bytes)
        request = _read(data, media_type)
        _apply_limits(request, config, forwarded_by, caps)
    except ExportRejected as rejected:
        return rejected.with_traceback(None)
    return Export(
        request=request,
        body=request.SerializeToString(),
        response_content_type=media_type,
        dropped_attributes=caps.dropped_attributes,
        truncated_values=caps.truncated_values,
    )


__all__ = ["JSON", "PROTOBUF", "Export", "ExportRejected", "prepare_export"]
