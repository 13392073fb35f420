import assert from 'node:assert/strict';
import { test } from 'node:test';
import { feedbackBody, feedbackPath, sendFeedback } from '../src/feedback';

const FEEDBACK_PATH = '/api/v1/chat/{trace_id}/feedback';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

function answering(response: Response, seen: { url: string; init: RequestInit }[] = []): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(input), init: init ?? {} });
    return response;
  }) as typeof fetch;
}

test('a verdict is posted as JSON to the answer’s feedback route, same-origin', async () => {
  const seen: { url: string; init: RequestInit }[] = [];
  const stored = { trace_id: TRACE_ID, conversation_id: 'c', score: 'down', label: 'thumbs_down', comment: 'slow' };
  const outcome = await sendFeedback(FEEDBACK_PATH, TRACE_ID, 'down', '  slow ', answering(Response.json(stored), seen));
  assert.deepEqual(outcome, { ok: true, label: 'thumbs_down' });
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.url, `/api/v1/chat/${TRACE_ID}/feedback`);
  assert.equal(seen[0]?.init.method, 'POST');
  assert.equal(seen[0]?.init.credentials, 'same-origin');
  assert.deepEqual(JSON.parse(String(seen[0]?.init.body)), { score: 'down', comment: 'slow' });
});

test('a blank comment is left out', () => {
  assert.deepEqual(feedbackBody('up', null), { score: 'up' });
  assert.deepEqual(feedbackBody('up', '   '), { score: 'up' });
  assert.deepEqual(feedbackBody('down', 'no'), { score: 'down', comment: 'no' });
  assert.equal(feedbackPath(FEEDBACK_PATH, TRACE_ID), `/api/v1/chat/${TRACE_ID}/feedback`);
});

test('the label shown is the server’s; an answer without one is an error', async () => {
  const liked = Response.json({ label: 'thumbs_up' });
  assert.deepEqual(await sendFeedback(FEEDBACK_PATH, TRACE_ID, 'up', null, answering(liked)), { ok: true, label: 'thumbs_up' });
  const odd = await sendFeedback(FEEDBACK_PATH, TRACE_ID, 'up', null, answering(Response.json({ stored: true })));
  assert.deepEqual(odd, { ok: false, error: 'Unexpected answer from the server' });
});

test('a refusal shows the server’s words', async () => {
  const missing = Response.json({ detail: `No answer with trace id ${TRACE_ID}` }, { status: 404 });
  assert.deepEqual(await sendFeedback(FEEDBACK_PATH, TRACE_ID, 'up', null, answering(missing)), {
    ok: false,
    error: `No answer with trace id ${TRACE_ID} (HTTP 404)`,
  });
  const tooLong = Response.json({ detail: 'body.comment: String should have at most 500 characters' }, { status: 422 });
  const refused = await sendFeedback(FEEDBACK_PATH, TRACE_ID, 'down', 'x', answering(tooLong));
  assert.ok(!refused.ok && refused.error.includes('at most 500 characters'));
});

test('a network failure or a page without a trace id is an error, never a throw', async () => {
  const failing = (async () => {
    throw new TypeError('Failed to fetch');
  }) as typeof fetch;
  assert.deepEqual(await sendFeedback(FEEDBACK_PATH, TRACE_ID, 'up', null, failing), {
    ok: false,
    error: 'Feedback failed: Failed to fetch',
  });
  const seen: { url: string; init: RequestInit }[] = [];
  const noTrace = await sendFeedback(FEEDBACK_PATH, '', 'up', null, answering(Response.json({}), seen));
  assert.equal(noTrace.ok, false);
  assert.equal(seen.length, 0);
});
