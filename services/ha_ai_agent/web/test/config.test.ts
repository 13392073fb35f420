import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePageConfig } from '../src/config';

const PATHS = {
  otlpPath: '/otlp/v1/traces',
  chatPath: '/api/v1/chat',
  chatStreamPath: '/api/v1/chat/stream',
  feedbackPath: '/api/v1/chat/{trace_id}/feedback',
  sessionPath: '/api/v1/session',
  performancePath: '/performance',
};

test('missing or malformed config is no config: the page has nothing to call', () => {
  for (const text of [undefined, null, '', 'not json', '[1]', 'null', '"x"', '{"jaegerUrl": null}']) {
    assert.equal(parsePageConfig(text), null);
  }
});

test("the server's config is read, paths as given", () => {
  const text = JSON.stringify({ jaegerUrl: 'http://localhost:16686/', ...PATHS, chatPath: '/prefix/api/v1/chat' });
  assert.deepEqual(parsePageConfig(text), {
    jaegerUrl: 'http://localhost:16686',
    ...PATHS,
    chatPath: '/prefix/api/v1/chat',
    feedbackCommentChars: null,
  });
});

test('only http(s) Jaeger URLs and same-origin paths are accepted', () => {
  assert.equal(parsePageConfig(JSON.stringify({ ...PATHS, jaegerUrl: 'javascript:alert(1)' }))?.jaegerUrl, null);
  assert.equal(parsePageConfig(JSON.stringify({ ...PATHS, jaegerUrl: 3 }))?.jaegerUrl, null);
  for (const path of ['//evil.example/v1/traces', 'http://evil.example/', 3, null]) {
    for (const name of Object.keys(PATHS)) {
      assert.equal(parsePageConfig(JSON.stringify({ ...PATHS, [name]: path })), null, `${name}: ${String(path)}`);
    }
  }
});

test('a feedback comment cap is taken only as a positive whole number', () => {
  for (const value of [0, -5, 2.5, '500', null, true]) {
    assert.equal(parsePageConfig(JSON.stringify({ ...PATHS, feedbackCommentChars: value }))?.feedbackCommentChars, null);
  }
  assert.equal(parsePageConfig(JSON.stringify({ ...PATHS, feedbackCommentChars: 200 }))?.feedbackCommentChars, 200);
});
