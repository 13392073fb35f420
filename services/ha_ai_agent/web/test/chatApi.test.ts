import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { errorMessage, parseChatResponse, sendChatMessage } from '../src/chatApi';
import { PerformanceTracker } from '../src/performanceTracker';
import { testTracing } from './support';

propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const CHAT_RESPONSE = {
  message: 'The kitchen has a light and a sensor.',
  conversation_id: 'conv-1',
  tool_calls: [{ id: 'call_1', name: 'get_entities', arguments: { area: 'kitchen' } }],
  metadata: { model: 'mock', tokens_used: 321, response_time_ms: 12.5, iterations: 2, trace_id: 'x' },
};

interface Captured {
  url: string;
  init: RequestInit;
}

let captured: Captured[] = [];
const originalFetch = globalThis.fetch;

function answerWith(respond: () => Response): void {
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    captured.push({ url: String(input), init: init ?? {} });
    return respond();
  };
}

beforeEach(() => {
  captured = [];
  Object.defineProperty(globalThis, 'window', {
    value: { location: { href: 'http://agent.test:8030/' } },
    configurable: true,
  });
});

afterEach(() => {
  globalThis.fetch = originalFetch;
});

function setup(): { tracker: PerformanceTracker; root: Context; spans: () => ReadableSpan[] } {
  const { tracer, finishedSpans } = testTracing();
  const tracker = new PerformanceTracker({ tracer, log: () => undefined });
  const root = trace.setSpan(ROOT_CONTEXT, tracer.startSpan('send_message', {}, ROOT_CONTEXT));
  return { tracker, root, spans: finishedSpans };
}

test('the chat request carries the api_call span as traceparent, so the server span is its child', async () => {
  answerWith(() => Response.json(CHAT_RESPONSE));
  const { tracker, root, spans } = setup();
  const { outcome } = await sendChatMessage(tracker, root, { message: 'hi', conversation_id: null }, '/api/v1/chat');
  assert.ok(outcome.ok);
  const apiCall = spans().find((s) => s.name === 'api_call');
  assert.ok(apiCall);
  assert.equal(apiCall.parentSpanContext?.spanId, trace.getSpanContext(root)?.spanId);
  const headers = captured[0]?.init.headers as Record<string, string>;
  assert.equal(captured[0]?.url, 'http://agent.test:8030/api/v1/chat');
  assert.equal(headers['traceparent'], `00-${apiCall.spanContext().traceId}-${apiCall.spanContext().spanId}-01`);
  assert.deepEqual(JSON.parse(String(captured[0]?.init.body)), { message: 'hi', conversation_id: null });
  assert.equal(apiCall.kind, SpanKind.CLIENT);
  assert.deepEqual(apiCall.attributes, {
    'api.operation': 'sendChatMessage',
    'http.request.method': 'POST',
    'url.full': 'http://agent.test:8030/api/v1/chat',
    'http.response.status_code': 200,
    success: true,
    response_time_ms: 12.5,
    tokens_used: 321,
    tool_calls_count: 1,
    iterations: 2,
  });
});

test('an error status ends api_call as failed with the server detail', async () => {
  answerWith(() => Response.json({ detail: 'LLM unavailable' }, { status: 503 }));
  const { tracker, root, spans } = setup();
  const { outcome } = await sendChatMessage(tracker, root, { message: 'hi', conversation_id: 'conv-1' }, '/api/v1/chat');
  assert.deepEqual(outcome, { ok: false, error: 'LLM unavailable (HTTP 503)' });
  const apiCall = spans().find((s) => s.name === 'api_call');
  assert.equal(apiCall?.attributes['http.response.status_code'], 503);
  assert.equal(apiCall?.attributes['success'], false);
  assert.equal(apiCall?.status.code, SpanStatusCode.ERROR);
});

test('a network failure ends api_call as failed instead of leaking it', async () => {
  globalThis.fetch = async () => {
    throw new TypeError('Failed to fetch');
  };
  const { tracker, root, spans } = setup();
  const { outcome } = await sendChatMessage(tracker, root, { message: 'hi', conversation_id: null }, '/api/v1/chat');
  assert.deepEqual(outcome, { ok: false, error: 'Request failed: Failed to fetch' });
  assert.equal(spans().find((s) => s.name === 'api_call')?.attributes['error.type'], 'TypeError');
});

test('a response of the wrong shape is an error, not undefined on the page', () => {
  assert.throws(() => parseChatResponse({ detail: 'x' }));
  assert.deepEqual(parseChatResponse({ message: 'm', conversation_id: 'c', tool_calls: [null, { name: 'n' }] }), {
    message: 'm',
    conversation_id: 'c',
    tool_calls: [{ id: '', name: 'n', arguments: {} }],
    metadata: {},
  });
});

test('FastAPI error bodies become readable messages', () => {
  assert.equal(errorMessage(429, { detail: 'Rate limit exceeded' }), 'Rate limit exceeded (HTTP 429)');
  assert.equal(errorMessage(422, { detail: [{ msg: 'Field required' }] }), 'Field required (HTTP 422)');
  assert.equal(errorMessage(500, 'oops'), 'The assistant could not answer (HTTP 500)');
});
