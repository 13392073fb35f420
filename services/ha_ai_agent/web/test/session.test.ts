import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signIn, signOut } from '../src/session';

const SESSION_PATH = '/prefix/api/v1/session';

function answering(response: Response, seen: RequestInit[] = [], urls: string[] = []): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    urls.push(String(input));
    seen.push(init ?? {});
    return response;
  }) as typeof fetch;
}

test('signing in posts the token same-origin, to the path the page was given, and reports success as null', async () => {
  const seen: RequestInit[] = [];
  const urls: string[] = [];
  assert.equal(await signIn('secret', SESSION_PATH, answering(new Response(null, { status: 204 }), seen, urls)), null);
  assert.equal(seen[0]?.method, 'POST');
  assert.equal(seen[0]?.credentials, 'same-origin');
  assert.deepEqual(JSON.parse(String(seen[0]?.body)), { token: 'secret' });
  assert.deepEqual(urls, [SESSION_PATH]);
});

test("a refusal shows the server's words, and a rate limit how long to wait", async () => {
  const refused = new Response(JSON.stringify({ detail: 'Authentication required: send a token' }), { status: 401 });
  assert.equal(await signIn('wrong', SESSION_PATH, answering(refused)), 'Authentication required: send a token');
  const limited = new Response('{}', { status: 429, headers: { 'Retry-After': '42' } });
  assert.equal(await signIn('wrong', SESSION_PATH, answering(limited)), 'Too many wrong tokens: try again in 42 seconds.');
  assert.equal(await signIn('x', SESSION_PATH, answering(new Response('not json', { status: 503 }))), 'Sign-in failed (HTTP 503).');
});

test('signing out deletes the session on the server, at the path the page was given', async () => {
  const seen: RequestInit[] = [];
  const urls: string[] = [];
  await signOut(SESSION_PATH, answering(new Response(null, { status: 204 }), seen, urls));
  assert.equal(seen[0]?.method, 'DELETE');
  assert.deepEqual(urls, [SESSION_PATH]);
});
