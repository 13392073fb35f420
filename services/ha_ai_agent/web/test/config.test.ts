import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG, parsePageConfig } from '../src/config';

test('missing or malformed config falls back to the defaults', () => {
  for (const text of [undefined, null, '', 'not json', '[1]', 'null', '"x"']) {
    assert.deepEqual(parsePageConfig(text), DEFAULT_CONFIG);
  }
});

test('the server config is read', () => {
  const text = '{"jaegerUrl": "http://localhost:16686/", "otlpPath": "/otlp/v1/traces", "feedbackCommentChars": 500}';
  assert.deepEqual(parsePageConfig(text), {
    jaegerUrl: 'http://localhost:16686',
    otlpPath: '/otlp/v1/traces',
    feedbackCommentChars: 500,
  });
});

test('only http(s) Jaeger URLs and same-origin OTLP paths are accepted', () => {
  assert.deepEqual(parsePageConfig('{"jaegerUrl": "javascript:alert(1)", "otlpPath": "//evil.example/v1/traces"}'), {
    jaegerUrl: null,
    otlpPath: DEFAULT_CONFIG.otlpPath,
    feedbackCommentChars: null,
  });
  assert.equal(parsePageConfig('{"jaegerUrl": null}').jaegerUrl, null);
  assert.equal(parsePageConfig('{"jaegerUrl": 3}').jaegerUrl, null);
});

test('a feedback comment cap is taken only as a positive whole number', () => {
  for (const value of ['0', '-5', '2.5', '"500"', 'null', 'true']) {
    assert.equal(parsePageConfig(`{"feedbackCommentChars": ${value}}`).feedbackCommentChars, null, value);
  }
  assert.equal(parsePageConfig('{"feedbackCommentChars": 200}').feedbackCommentChars, 200);
});
