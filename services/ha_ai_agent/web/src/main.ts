/**
 * Entry point of the page bundle: read the server's config, start tracing, mount the chat.
 * Tracing is optional for the page: if it fails to start, spans become no-ops and the chat still works.
 */
import { CHAT_PATH } from './chatApi';
import { CHAT_STREAM_PATH } from './chatStream';
import { mountChat } from './chat';
import { readPageConfig } from './config';
import { performanceTracker, type PerformanceTracker } from './performanceTracker';
import { mountSignOut } from './session';
import { initTracing } from './tracing';

declare global {
  interface Window {
    /** Hooks for tests and for poking at the page from the console. */
    haAgent?: { flushTraces(): Promise<void>; performanceTracker: PerformanceTracker };
  }
}

const config = readPageConfig(document);
let flushTraces = (): Promise<void> => Promise.resolve();
try {
  // The chat calls make their own api_call spans and inject traceparent themselves (see chatApi.ts).
  flushTraces = initTracing({ otlpPath: config.otlpPath, untracedPaths: [CHAT_PATH, CHAT_STREAM_PATH] }).flush;
} catch (err) {
  console.warn('Tracing is off: could not start it', err);
}
window.haAgent = { flushTraces, performanceTracker };
mountChat(document, config, performanceTracker);
mountSignOut(document);
