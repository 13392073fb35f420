import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SESSION_PATH, signIn, signOut } from '../src/session';

function answering(response: Response, seen: RequestInit[] = []): typeof fetch {
  return (async (_input: string | URL | Request, init?: RequestInit) => {
    seen.push(init ?? {});
    return response;
  }) as typeof fetch;
}

test('signing in posts the token same-origin and reports success as null', async () => {
  const seen: RequestInit[] = [];
  assert.equal(await signIn('secret', answering(new Response(null, { status: 204 }), seen)), null);
  assert.equal(seen[0]?.method, 'POST');
  assert.equal(seen[0]?.credentials, 'same-origin');
  assert.deepEqual(JSON.parse(String(seen[0]?.body)), { token: 'secret' });
});

test("a refusal shows the server's words, and a rate limit how long to wait", async () => {
  const refused = new Response(JSON.stringify({ detail: 'Authentication required: send a token' }), { status: 401 });
  assert.equal(await signIn('wrong', answering(refused)), 'Authentication required: send a token');
  const limited = new Response('{}', { status: 429, headers: { 'Retry-After': '42' } });
  assert.equal(await signIn('wrong', answering(limited)), 'Too many wrong tokens: try again in 42 seconds.');
  assert.equal(await signIn('x', answering(new Response('not json', { status: 503 }))), 'Sign-in failed (HTTP 503).');
});

test('signing out deletes the session on the server', async () => {
  const seen: RequestInit[] = [];
  await signOut(answering(new Response(null, { status: 204 }), seen));
  assert.equal(seen[0]?.method, 'DELETE');
  assert.equal(SESSION_PATH, '/api/v1/session');
});
