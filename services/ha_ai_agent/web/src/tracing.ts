/**
 * Browser tracing in one call: a web tracer provider for `ai-automation-ui` that batches
 * spans to the same-origin browser endpoint (OTLP/HTTP), zone-based context, W3C trace-context
 * propagation and fetch instrumentation for the page's other requests.
 */
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ZoneContextManager } from '@opentelemetry/context-zone';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, WebTracerProvider } from '@opentelemetry/sdk-trace-web';

export interface TracingConfig {
  /** Same-origin path of the OTLP/HTTP endpoint, e.g. `/otlp/v1/traces`. */
  otlpPath: string;
  serviceName?: string;
  /** Short, so spans reach the trace view while the user still looks at the answer. */
  scheduledDelayMillis?: number;
  /** Same-origin paths whose fetches make their own spans (the fetch instrumentation skips them). */
  untracedPaths?: string[];
}

export interface Tracing {
  /** Exports every ended span now; never rejects. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export const SERVICE_NAME = 'ai-automation-ui';
const DEFAULT_SCHEDULED_DELAY_MILLIS = 500;

export function initTracing(config: TracingConfig): Tracing {
  const provider = new WebTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName ?? SERVICE_NAME }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpPath }), {
        scheduledDelayMillis: config.scheduledDelayMillis ?? DEFAULT_SCHEDULED_DELAY_MILLIS,
        // Flushing is wired below: the built-in listener waits for `pagehide` on document,
        // where browsers never dispatch it (it fires on window).
        disableAutoFlushOnDocumentHide: true,
      }),
    ],
  });
  provider.register({
    contextManager: new ZoneContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new FetchInstrumentation({
        ignoreUrls: [config.otlpPath, ...(config.untracedPaths ?? [])].map(sameOriginUrlPattern),
      }),
    ],
  });

  const flush = (): Promise<void> => provider.forceFlush().catch(() => undefined);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      void flush();
    }
  });
  window.addEventListener('pagehide', () => void flush());
  return { flush, shutdown: () => provider.shutdown() };
}

/** Matches the absolute URL the fetch instrumentation sees for a same-origin path, with any query. */
function sameOriginUrlPattern(path: string): RegExp {
  const url = new URL(path, window.location.href).href;
  return new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:[?#]|$)`);
}
