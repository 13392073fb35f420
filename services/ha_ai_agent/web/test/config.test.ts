import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG, parsePageConfig } from '../src/config';

test('missing or malformed config falls back to the defaults', () => {
  for (const text of [undefined, null, '', 'not json', '[1]', 'null', '"x"']) {
    assert.deepEqual(parsePageConfig(text), DEFAULT_CONFIG);
  }
});

test('the server config is read', () => {
  assert.deepEqual(parsePageConfig('{"jaegerUrl": "http://localhost:16686/", "otlpPath": "/otlp/v1/traces"}'), {
    jaegerUrl: 'http://localhost:16686',
    otlpPath: '/otlp/v1/traces',
  });
});

test('only http(s) Jaeger URLs and same-origin OTLP paths are accepted', () => {
  assert.deepEqual(parsePageConfig('{"jaegerUrl": "javascript:alert(1)", "otlpPath": "//evil.example/v1/traces"}'), {
    jaegerUrl: null,
    otlpPath: DEFAULT_CONFIG.otlpPath,
  });
  assert.equal(parsePageConfig('{"jaegerUrl": null}').jaegerUrl, null);
  assert.equal(parsePageConfig('{"jaegerUrl": 3}').jaegerUrl, null);
});
