/**
 * The original UI's `performanceTracker` API, backed by OpenTelemetry spans.
 *
 * Every `start()` opens a real span and every `end()` closes it, so the timings the page
 * logs are the same ones that reach the trace. Memory is bounded on both sides: tracked
 * metrics (the original's map grew forever) and kept reports (last 100).
 */
import {
  SpanStatusCode,
  context as otelContext,
  trace,
  type Context,
  type Span,
  type SpanKind,
  type Tracer,
} from '@opentelemetry/api';
import { toAttributes } from './spanAttributes';

export type MetricMetadata = Record<string, unknown>;

/** One timed step; times are milliseconds on the monotonic clock, like `performance.now()`. */
export interface PerformanceMetric {
  id: string;
  name: string;
  startTime: number;
  endTime?: number;
  duration?: number;
  metadata: MetricMetadata;
  traceId: string;
  spanId: string;
}

export interface PerformanceReport {
  operation: string;
  /** Wall-clock milliseconds from the earliest start to the latest end: gaps count, overlaps do not. */
  totalDuration: number;
  metrics: PerformanceMetric[];
  /** Epoch milliseconds when the report was made. */
  timestamp: number;
  metadata: MetricMetadata;
}

export interface StartOptions {
  /** Parent span or context; without it the active context is the parent. */
  parent?: Context | Span;
  kind?: SpanKind;
}

export interface PerformanceTrackerOptions {
  tracer?: Tracer;
  maxReports?: number;
  maxTrackedMetrics?: number;
  /** Monotonic clock in milliseconds. */
  now?: () => number;
  /** Epoch clock in milliseconds. */
  epochNow?: () => number;
  /** Where the `[Performance] …` line goes; informational, never an error. */
  log?: (line: string) => void;
}

interface TrackedMetric {
  metric: PerformanceMetric;
  span: Span;
  spanContext: Context;
}

export const DEFAULT_MAX_REPORTS = 100;
export const DEFAULT_MAX_TRACKED_METRICS = 1000;
export const TRACER_NAME = 'ai-automation-ui';

export class PerformanceTracker {
  private readonly tracer: Tracer;
  private readonly maxReports: number;
  private readonly maxTrackedMetrics: number;
  private readonly now: () => number;
  private readonly epochNow: () => number;
  private readonly log: (line: string) => void;
  /** Started metrics not yet reported, oldest first (Map keeps insertion order). */
  private readonly tracked = new Map<string, TrackedMetric>();
  private reports: PerformanceReport[] = [];
  private sequence = 0;

  constructor(options: PerformanceTrackerOptions = {}) {
    // A proxy tracer: spans go to whichever provider is registered, even one registered later.
    this.tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
    this.maxReports = Math.max(1, options.maxReports ?? DEFAULT_MAX_REPORTS);
    this.maxTrackedMetrics = Math.max(1, options.maxTrackedMetrics ?? DEFAULT_MAX_TRACKED_METRICS);
    this.now = options.now ?? (() => performance.now());
    this.epochNow = options.epochNow ?? (() => Date.now());
    this.log = options.log ?? ((line) => console.info(line));
  }

  /** Starts a metric and its span; returns an id unique within this tracker. */
  start(name: string, metadata: MetricMetadata = {}, options: StartOptions = {}): string {
    // The sequence number keeps ids unique for equal names started in the same millisecond.
    const id = `${name}_${this.epochNow()}_${++this.sequence}`;
    const parentContext = resolveParent(options.parent);
    const span = this.tracer.startSpan(
      name,
      { attributes: toAttributes(metadata), ...(options.kind === undefined ? {} : { kind: options.kind }) },
      parentContext,
    );
    const { traceId, spanId } = span.spanContext();
    const metric: PerformanceMetric = {
      id, name, startTime: this.now(), metadata: { ...metadata }, traceId, spanId,
    };
    this.tracked.set(id, { metric, span, spanContext: trace.setSpan(parentContext, span) });
    this.evictOverflow();
    return id;
  }

  /** Ends a metric and its span; `null` for an unknown or already ended id. */
  end(metricId: string, metadata: MetricMetadata = {}): PerformanceMetric | null {
    const entry = this.tracked.get(metricId);
    if (entry === undefined || entry.metric.endTime !== undefined) {
      return null;
    }
    finish(entry, this.now(), metadata);
    return copyMetric(entry.metric);
  }

  /** The context whose active span is the metric's span: a parent for children, a source for traceparent. */
  getContext(metricId: string): Context | undefined {
    return this.tracked.get(metricId)?.spanContext;
  }

  /** Trace id of the metric's span, for links to the trace. */
  getTraceId(metricId: string): string | undefined {
    return this.tracked.get(metricId)?.metric.traceId;
  }

  /**
   * Reports the given metrics, logs the original `[Performance]` line and forgets the metrics.
   * A metric still running is ended now, so no span outlives its report.
   */
  createReport(operation: string, metricIds: string[], additionalMetadata: MetricMetadata = {}): PerformanceReport {
    const metrics: PerformanceMetric[] = [];
    for (const id of metricIds) {
      const entry = this.tracked.get(id);
      if (entry === undefined) {
        continue;
      }
      this.tracked.delete(id);
      if (entry.metric.endTime === undefined) {
        finish(entry, this.now(), { incomplete: true });
      }
      metrics.push(copyMetric(entry.metric));
    }
    const report: PerformanceReport = {
      operation,
      totalDuration: wallClockDuration(metrics),
      metrics,
      timestamp: this.epochNow(),
      metadata: { ...additionalMetadata },
    };
    this.reports.push(report);
    if (this.reports.length > this.maxReports) {
      this.reports.splice(0, this.reports.length - this.maxReports);
    }
    this.log(formatReportLine(report));
    return copyReport(report);
  }

  getReports(): PerformanceReport[] {
    return this.reports.map(copyReport);
  }

  /** Reports of `operation` itself or of its timestamped runs (`send_message` matches `send_message_<ms>`). */
  getReportsForOperation(operation: string): PerformanceReport[] {
    return this.reports.filter((r) => matchesOperation(r.operation, operation)).map(copyReport);
  }

  /** Mean total duration in ms of the operation's reports; 0 when there are none. */
  getAverageDuration(operation: string): number {
    const reports = this.reports.filter((r) => matchesOperation(r.operation, operation));
    if (reports.length === 0) {
      return 0;
    }
    return reports.reduce((sum, r) => sum + r.totalDuration, 0) / reports.length;
  }

  /** Forgets all reports and tracked metrics; running spans are ended so none leak. */
  clear(): void {
    const endTime = this.now();
    for (const entry of this.tracked.values()) {
      if (entry.metric.endTime === undefined) {
        finish(entry, endTime, { incomplete: true });
      }
    }
    this.tracked.clear();
    this.reports = [];
  }

  exportReports(): string {
    const exported = this.reports.map((r) => ({
      operation: r.operation,
      totalDuration: r.totalDuration,
      timestamp: r.timestamp,
      metadata: r.metadata,
      metrics: r.metrics.map((m) => ({ name: m.name, duration: m.duration ?? null, metadata: m.metadata })),
    }));
    return JSON.stringify(exported, null, 2);
  }

  /** Number of metrics started and not yet reported (bounded by `maxTrackedMetrics`). */
  get trackedCount(): number {
    return this.tracked.size;
  }

  private evictOverflow(): void {
    for (const [id, entry] of this.tracked) {
      if (this.tracked.size <= this.maxTrackedMetrics) {
        return;
      }
      this.tracked.delete(id);
      if (entry.metric.endTime === undefined) {
        finish(entry, this.now(), { incomplete: true, evicted: true });
      }
    }
  }
}

/** `[Performance] <op>: Total: X.XXms (Y.YYYs), Metrics: N, Details: name=Z.ZZms, …` as the original logged it. */
export function formatReportLine(report: PerformanceReport): string {
  const total = report.totalDuration;
  const details = report.metrics.map((m) => `${m.name}=${(m.duration ?? 0).toFixed(2)}ms`).join(', ');
  return (
    `[Performance] ${report.operation}: Total: ${total.toFixed(2)}ms (${(total / 1000).toFixed(3)}s), ` +
    `Metrics: ${report.metrics.length}, Details: ${details}`
  );
}

function wallClockDuration(metrics: PerformanceMetric[]): number {
  if (metrics.length === 0) {
    return 0;
  }
  const firstStart = Math.min(...metrics.map((m) => m.startTime));
  const lastEnd = Math.max(...metrics.map((m) => m.endTime ?? m.startTime));
  return Math.max(0, lastEnd - firstStart);
}

function finish(entry: TrackedMetric, endTime: number, metadata: MetricMetadata): void {
  const { metric, span } = entry;
  metric.endTime = endTime;
  metric.duration = Math.max(0, endTime - metric.startTime);
  Object.assign(metric.metadata, metadata);
  span.setAttributes(toAttributes(metadata));
  if (metadata['success'] === false) {
    const error = metadata['error'];
    span.setStatus(
      typeof error === 'string' ? { code: SpanStatusCode.ERROR, message: error } : { code: SpanStatusCode.ERROR },
    );
  }
  span.end();
}

function resolveParent(parent: Context | Span | undefined): Context {
  if (parent === undefined) {
    return otelContext.active();
  }
  return isSpan(parent) ? trace.setSpan(otelContext.active(), parent) : parent;
}

function isSpan(value: Context | Span): value is Span {
  return typeof (value as Partial<Span>).spanContext === 'function';
}

function matchesOperation(reported: string, operation: string): boolean {
  return reported === operation || (reported.startsWith(operation) && /^_\d+$/.test(reported.slice(operation.length)));
}

function copyMetric(metric: PerformanceMetric): PerformanceMetric {
  return { ...metric, metadata: { ...metric.metadata } };
}

function copyReport(report: PerformanceReport): PerformanceReport {
  return { ...report, metrics: report.metrics.map(copyMetric), metadata: { ...report.metadata } };
}

/** The page's tracker, as the original exported it. */
export const performanceTracker = new PerformanceTracker();
