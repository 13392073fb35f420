/**
 * The page's configuration, which the server writes into index.html in place of the
 * `<!--HA_AGENT_CONFIG-->` comment. Anything missing or malformed falls back to defaults,
 * so the page works when served as a plain file too.
 */
export interface PageConfig {
  /** Jaeger UI base URL for trace links, or null when no Jaeger is configured. */
  jaegerUrl: string | null;
  /** Same-origin path of the browser endpoint (OTLP/HTTP). */
  otlpPath: string;
  /** The server's cap on a feedback comment, in characters; null leaves the check to the server. */
  feedbackCommentChars: number | null;
}

export const CONFIG_ELEMENT_ID = 'ha-agent-config';
export const DEFAULT_CONFIG: PageConfig = { jaegerUrl: null, otlpPath: '/otlp/v1/traces', feedbackCommentChars: null };

export function readPageConfig(doc: Document): PageConfig {
  return parsePageConfig(doc.getElementById(CONFIG_ELEMENT_ID)?.textContent);
}

export function parsePageConfig(text: string | null | undefined): PageConfig {
  if (!text) {
    return { ...DEFAULT_CONFIG };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ...DEFAULT_CONFIG };
  }
  if (typeof raw !== 'object' || raw === null) {
    return { ...DEFAULT_CONFIG };
  }
  const fields = raw as Record<string, unknown>;
  return {
    jaegerUrl: httpUrlOrNull(fields['jaegerUrl']),
    otlpPath: sameOriginPathOrNull(fields['otlpPath']) ?? DEFAULT_CONFIG.otlpPath,
    feedbackCommentChars: positiveIntegerOrNull(fields['feedbackCommentChars']),
  };
}

function positiveIntegerOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

/** Only http(s) URLs become links: a `javascript:` URL in config must not become clickable. */
function httpUrlOrNull(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') {
    return null;
  }
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href.replace(/\/+$/, '') : null;
  } catch {
    return null;
  }
}

/** The exporter must stay same-origin (the browser endpoint); `//host/...` would leave it. */
function sameOriginPathOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') ? value : null;
}
