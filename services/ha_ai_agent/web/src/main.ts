/**
 * Entry point of the page bundle: read the server's config, start tracing, mount the chat.
 * Tracing is optional for the page: if it fails to start, spans become no-ops and the chat still works.
 * Without the server's config (the page not served by the service) there is nothing to call: say so.
 */
import { mountChat } from './chat';
import { type PageConfig, readPageConfig } from './config';
import { performanceTracker, type PerformanceTracker } from './performanceTracker';
import { mountSignOut } from './session';
import { initTracing } from './tracing';

declare global {
  interface Window {
    /** Hooks for tests and for poking at the page from the console. */
    haAgent?: { flushTraces(): Promise<void>; performanceTracker: PerformanceTracker };
  }
}

function start(config: PageConfig): void {
  let flushTraces = (): Promise<void> => Promise.resolve();
  try {
    // The chat calls make their own api_call spans and injects traceparent itself (see chatApi.ts).
    flushTraces = initTracing({ otlpPath: config.otlpPath, untracedPaths: [config.chatPath, config.chatStreamPath] }).flush;
  } catch (err) {
    console.warn('Tracing is off: could not start it', err);
  }
  window.haAgent = { flushTraces, performanceTracker };
  mountChat(document, config, performanceTracker);
  mountSignOut(document, config.sessionPath);
}

const config = readPageConfig(document);
if (config === null) {
  document.body.dataset['state'] = 'unconfigured';
  document.getElementById('messages')?.append(unconfigured(document));
} else {
  start(config);
}

function unconfigured(doc: Document): HTMLElement {
  const item = doc.createElement('li');
  item.className = 'message error';
  item.textContent = 'This page has no configuration from the chat service: open it from the service.';
  return item;
}
