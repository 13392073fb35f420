import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, propagation, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { ToolCall } from '../src/chatApi';
import { streamChatMessage } from '../src/chatStream';
import type { StreamListener } from '../src/chatStream';
import { PerformanceTracker } from '../src/performanceTracker';
import { testTracing } from './support';

propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const DONE = {
  message: 'The kitchen has a light.',
  conversation_id: 'conv-1',
  tool_calls: [{ id: 'call_1', name: 'get_entities', arguments: { area: 'kitchen' } }],
  metadata: { model: 'mock', tokens_used: 321, response_time_ms: 12.5, iterations: 2, trace_id: 'x' },
};

let requests: { url: string; init: RequestInit }[] = [];
const originalFetch = globalThis.fetch;

beforeEach(() => {
  requests = [];
  Object.defineProperty(globalThis, 'window', {
    value: { location: { href: 'http://agent.test:8030/' } },
    configurable: true,
  });
});

afterEach(() => {
  globalThis.fetch = originalFetch;
});

function answerWith(respond: () => Response): void {
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    requests.push({ url: String(input), init: init ?? {} });
    return respond();
  };
}

/** A server-sent events body, delivered in pieces cut mid-event, as a network would. */
function eventStream(events: [string, unknown][]): Response {
  const text = events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join('');
  const pieces = [text.slice(0, 7), text.slice(7, 40), text.slice(40)];
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) {
        controller.enqueue(new TextEncoder().encode(piece));
      }
      controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
}

function recorder(): StreamListener & { texts: [string, number][]; calls: ToolCall[] } {
  const texts: [string, number][] = [];
  const calls: ToolCall[] = [];
  return { texts, calls, text: (text, iteration) => texts.push([text, iteration]), toolCall: (call) => calls.push(call) };
}

function setup(): { tracker: PerformanceTracker; root: Context; spans: () => ReadableSpan[] } {
  const { tracer, finishedSpans } = testTracing();
  const tracker = new PerformanceTracker({ tracer, log: () => undefined });
  const root = trace.setSpan(ROOT_CONTEXT, tracer.startSpan('send_message', {}, ROOT_CONTEXT));
  return { tracker, root, spans: finishedSpans };
}

test('the words and tool calls reach the listener in order, then the answer', async () => {
  answerWith(() =>
    eventStream([
      ['tool_call', DONE.tool_calls[0]],
      ['tool_done', { id: 'call_1', name: 'get_entities', ok: true }],
      ['text', { text: 'The kitchen ', iteration: 2 }],
      ['text', { text: 'has a light.', iteration: 2 }],
      ['done', DONE],
    ]),
  );
  const { tracker, root, spans } = setup();
  const listener = recorder();
  const { outcome } = await streamChatMessage(tracker, root, { message: 'hi', conversation_id: null }, listener);
  assert.deepEqual(listener.calls, DONE.tool_calls);
  assert.deepEqual(listener.texts, [['The kitchen ', 2], ['has a light.', 2]]);
  assert.deepEqual(outcome, { ok: true, response: DONE });
  const headers = requests[0]?.init.headers as Record<string, string>;
  assert.equal(requests[0]?.url, 'http://agent.test:8030/api/v1/chat/stream');
  assert.equal(headers['Accept'], 'text/event-stream');
  const apiCall = spans().find((s) => s.name === 'api_call');
  assert.ok(apiCall);
  assert.equal(apiCall.kind, SpanKind.CLIENT);
  assert.equal(headers['traceparent'], `00-${apiCall.spanContext().traceId}-${apiCall.spanContext().spanId}-01`);
  assert.equal(apiCall.attributes['api.operation'], 'streamChatMessage');
  assert.equal(apiCall.attributes['success'], true);
  assert.equal(apiCall.attributes['tokens_used'], 321);
});

test('an error event after words is the outcome, with the status the plain route would have', async () => {
  answerWith(() =>
    eventStream([
      ['text', { text: 'The kit', iteration: 1 }],
      ['error', { detail: 'The language model is unavailable', status: 503, trace_id: null }],
    ]),
  );
  const { tracker, root, spans } = setup();
  const { outcome } = await streamChatMessage(tracker, root, { message: 'hi', conversation_id: null }, recorder());
  assert.deepEqual(outcome, { ok: false, error: 'The language model is unavailable (HTTP 503)' });
  assert.equal(spans().find((s) => s.name === 'api_call')?.attributes['success'], false);
});

test('a stream that ends without its answer is an error, not a silent half answer', async () => {
  answerWith(() => eventStream([['text', { text: 'The kit', iteration: 1 }]]));
  const { tracker, root } = setup();
  const { outcome } = await streamChatMessage(tracker, root, { message: 'hi', conversation_id: null }, recorder());
  assert.deepEqual(outcome, { ok: false, error: 'The answer stopped before it was complete' });
});

test('a JSON error before the stream is the answer: the plain route is not asked again', async () => {
  answerWith(() => Response.json({ detail: 'Rate limit exceeded' }, { status: 429 }));
  const { tracker, root } = setup();
  const { outcome } = await streamChatMessage(tracker, root, { message: 'hi', conversation_id: null }, recorder());
  assert.deepEqual(outcome, { ok: false, error: 'Rate limit exceeded (HTTP 429)' });
});

test('a stream that does not open asks for the fallback (null outcome)', async () => {
  const { tracker, root, spans } = setup();
  answerWith(() => Response.json({ detail: 'Not Found' }, { status: 404 }));
  assert.equal((await streamChatMessage(tracker, root, { message: 'hi', conversation_id: null }, recorder())).outcome, null);
  answerWith(() => Response.json(DONE));
  assert.equal((await streamChatMessage(tracker, root, { message: 'hi', conversation_id: null }, recorder())).outcome, null);
  globalThis.fetch = async () => {
    throw new TypeError('Failed to fetch');
  };
  assert.equal((await streamChatMessage(tracker, root, { message: 'hi', conversation_id: null }, recorder())).outcome, null);
  const failed = spans().filter((s) => s.name === 'api_call');
  assert.equal(failed.length, 3);
  assert.ok(failed.every((s) => s.attributes['success'] === false));
  assert.equal(failed[2]?.attributes['error.type'], 'TypeError');
});
