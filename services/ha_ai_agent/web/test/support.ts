import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Tracer } from '@opentelemetry/api';

export interface TestTracing {
  tracer: Tracer;
  finishedSpans(): ReadableSpan[];
}

/** A tracer whose ended spans are kept in memory, one per test. */
export function testTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { tracer: provider.getTracer('test'), finishedSpans: () => exporter.getFinishedSpans() };
}

/** A hand-driven monotonic clock in milliseconds. */
export function manualClock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let current = start;
  return { now: () => current, advance: (ms) => { current += ms; } };
}
