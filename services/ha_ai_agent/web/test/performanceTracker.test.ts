import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context } from '@opentelemetry/api';
import { StackContextManager } from '@opentelemetry/sdk-trace-web';
import { PerformanceTracker, formatReportLine } from '../src/performanceTracker';
import { manualClock, testTracing } from './support';

context.setGlobalContextManager(new StackContextManager().enable());

function quietTracker(overrides: ConstructorParameters<typeof PerformanceTracker>[0] = {}): {
  tracker: PerformanceTracker;
  lines: string[];
  spans: ReturnType<typeof testTracing>['finishedSpans'];
} {
  const { tracer, finishedSpans } = testTracing();
  const lines: string[] = [];
  const tracker = new PerformanceTracker({ tracer, log: (line) => lines.push(line), ...overrides });
  return { tracker, lines, spans: finishedSpans };
}

test('ids stay unique for the same name started in the same millisecond', () => {
  const clock = manualClock();
  const { tracker } = quietTracker({ now: clock.now, epochNow: () => 1_700_000_000_000 });
  const first = tracker.start('tool_execution');
  const second = tracker.start('tool_execution');
  assert.notEqual(first, second);
  clock.advance(5);
  assert.equal(tracker.end(first)?.duration, 5);
  clock.advance(7);
  // The original overwrote the first metric with the second; here each keeps its own timing.
  assert.equal(tracker.end(second)?.duration, 12);
});

test('start opens a span and end closes it with the metadata as attributes', () => {
  const { tracker, spans } = quietTracker();
  const id = tracker.start('ui_update', { 'ui.action': 'add_user_message' });
  assert.equal(spans().length, 0);
  tracker.end(id, { rows: 3, details: { a: 1 } });
  const [span] = spans();
  assert.equal(span?.name, 'ui_update');
  assert.deepEqual(span?.attributes, { 'ui.action': 'add_user_message', rows: 3, details: '{"a":1}' });
});

test('a span is a child of the given parent, else of the active span', () => {
  const { tracker, spans } = quietTracker();
  const root = tracker.start('send_message', {}, { parent: ROOT_CONTEXT });
  const rootContext = tracker.getContext(root);
  assert.ok(rootContext);
  const explicit = tracker.start('api_call', {}, { parent: rootContext, kind: SpanKind.CLIENT });
  const viaActive = context.with(rootContext, () => tracker.start('ui_update'));
  for (const id of [explicit, viaActive, root]) {
    tracker.end(id);
  }
  const byName = new Map(spans().map((s) => [s.name, s]));
  const rootSpan = byName.get('send_message');
  assert.equal(rootSpan?.parentSpanContext, undefined);
  for (const name of ['api_call', 'ui_update']) {
    assert.equal(byName.get(name)?.parentSpanContext?.spanId, rootSpan?.spanContext().spanId);
    assert.equal(byName.get(name)?.spanContext().traceId, rootSpan?.spanContext().traceId);
  }
  assert.equal(byName.get('api_call')?.kind, SpanKind.CLIENT);
  assert.equal(tracker.getTraceId(root), rootSpan?.spanContext().traceId);
});

test('a parent given as a span works like its context', () => {
  const { tracker, spans } = quietTracker();
  const { tracer } = testTracing();
  const parent = tracer.startSpan('outer');
  tracker.end(tracker.start('inner', {}, { parent }));
  assert.equal(spans()[0]?.parentSpanContext?.spanId, parent.spanContext().spanId);
});

test('a failed metric marks its span as an error', () => {
  const { tracker, spans } = quietTracker();
  tracker.end(tracker.start('api_call'), { success: false, error: 'HTTP 503' });
  assert.deepEqual(spans()[0]?.status, { code: SpanStatusCode.ERROR, message: 'HTTP 503' });
});

test('end returns null for an unknown or already ended id', () => {
  const { tracker } = quietTracker();
  const id = tracker.start('x');
  assert.ok(tracker.end(id));
  assert.equal(tracker.end(id), null);
  assert.equal(tracker.end('nope'), null);
});

test('total is wall clock from first start to last end, not a sum of durations', () => {
  const clock = manualClock(1000);
  const { tracker } = quietTracker({ now: clock.now });
  const a = tracker.start('tool_execution');
  const b = tracker.start('tool_execution'); // runs in parallel with a
  clock.advance(100);
  tracker.end(a);
  tracker.end(b);
  clock.advance(400); // an untracked gap
  const c = tracker.start('ui_update');
  clock.advance(50);
  tracker.end(c);
  const report = tracker.createReport('send_message_1', [a, b, c]);
  assert.equal(report.totalDuration, 550);
  assert.equal(report.metrics.reduce((sum, m) => sum + (m.duration ?? 0), 0), 250);
});

test('createReport writes the original line with console.info, never console.error', () => {
  const info = mock.method(console, 'info', () => undefined);
  const error = mock.method(console, 'error', () => undefined);
  try {
    const clock = manualClock();
    const { tracer } = testTracing();
    const tracker = new PerformanceTracker({ tracer, now: clock.now });
    const a = tracker.start('ui_update');
    clock.advance(1.5);
    tracker.end(a);
    const b = tracker.start('api_call');
    clock.advance(3178.5);
    tracker.end(b);
    tracker.createReport('send_message_1700000000000', [a, b]);
    assert.equal(info.mock.callCount(), 1);
    assert.equal(error.mock.callCount(), 0);
    assert.equal(
      info.mock.calls[0]?.arguments[0],
      '[Performance] send_message_1700000000000: Total: 3180.00ms (3.180s), Metrics: 2, ' +
        'Details: ui_update=1.50ms, api_call=3178.50ms',
    );
  } finally {
    info.mock.restore();
    error.mock.restore();
  }
});

test('only the last 100 reports are kept', () => {
  const { tracker } = quietTracker();
  for (let i = 0; i < 150; i++) {
    tracker.createReport(`op_${i}`, [tracker.start('step')]);
  }
  const reports = tracker.getReports();
  assert.equal(reports.length, 100);
  assert.equal(reports[0]?.operation, 'op_50');
  assert.equal(reports[99]?.operation, 'op_149');
});

test('createReport forgets its metrics and ends any still running', () => {
  const { tracker, spans } = quietTracker();
  const ended = tracker.start('a');
  tracker.end(ended);
  const running = tracker.start('b');
  const report = tracker.createReport('op', [ended, running]);
  assert.equal(tracker.trackedCount, 0);
  assert.equal(spans().length, 2);
  assert.equal(report.metrics[1]?.metadata['incomplete'], true);
});

test('tracked metrics are bounded even when no report is ever made', () => {
  const { tracker, spans } = quietTracker({ maxTrackedMetrics: 10 });
  for (let i = 0; i < 25; i++) {
    tracker.start('leaky');
  }
  assert.equal(tracker.trackedCount, 10);
  assert.equal(spans().length, 15, 'evicted metrics end their spans');
});

test('clear forgets reports and metrics and ends running spans', () => {
  const { tracker, spans } = quietTracker();
  tracker.createReport('op', [tracker.start('done')]);
  tracker.start('running');
  tracker.clear();
  assert.deepEqual(tracker.getReports(), []);
  assert.equal(tracker.trackedCount, 0);
  assert.equal(spans().length, 2);
  assert.equal(tracker.exportReports(), '[]');
});

test('reports are found by operation family and averaged', () => {
  const clock = manualClock();
  const { tracker } = quietTracker({ now: clock.now });
  for (const [operation, ms] of [['send_message_1', 100], ['send_message_2', 300], ['other_3', 1000]] as const) {
    const id = tracker.start('step');
    clock.advance(ms);
    tracker.end(id);
    tracker.createReport(operation, [id]);
  }
  assert.equal(tracker.getReportsForOperation('send_message').length, 2);
  assert.equal(tracker.getReportsForOperation('send_message_2').length, 1);
  assert.equal(tracker.getReportsForOperation('send').length, 0);
  assert.equal(tracker.getAverageDuration('send_message'), 200);
  assert.equal(tracker.getAverageDuration('missing'), 0);
});

test('exportReports is JSON with operation, total, timestamp and metric durations', () => {
  const clock = manualClock();
  const { tracker } = quietTracker({ now: clock.now, epochNow: () => 42 });
  const id = tracker.start('api_call', { 'api.operation': 'sendChatMessage' });
  clock.advance(10);
  tracker.end(id, { success: true });
  tracker.createReport('send_message_42', [id], { conversation_id: 'c1' });
  assert.deepEqual(JSON.parse(tracker.exportReports()), [
    {
      operation: 'send_message_42',
      totalDuration: 10,
      timestamp: 42,
      metadata: { conversation_id: 'c1' },
      metrics: [{ name: 'api_call', duration: 10, metadata: { 'api.operation': 'sendChatMessage', success: true } }],
    },
  ]);
});

test('reports handed out are copies', () => {
  const { tracker } = quietTracker();
  tracker.createReport('op', [tracker.start('a')]);
  const [report] = tracker.getReports();
  report?.metrics.pop();
  assert.equal(tracker.getReports()[0]?.metrics.length, 1);
});

test('formatReportLine with no metrics', () => {
  assert.equal(
    formatReportLine({ operation: 'op', totalDuration: 0, metrics: [], timestamp: 0, metadata: {} }),
    '[Performance] op: Total: 0.00ms (0.000s), Metrics: 0, Details: ',
  );
});

test('the module exports a ready tracker, like the original', async () => {
  const module = await import('../src/performanceTracker');
  assert.ok(module.performanceTracker instanceof PerformanceTracker);
});
