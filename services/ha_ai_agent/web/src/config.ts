/**
 * The page's configuration, which the server writes into the page in place of the
 * `<!--HA_AGENT_CONFIG-->` comment: the Jaeger UI's address and every path the page calls or links to,
 * each from its one constant on the server. Without it (the page not served by the service) there is
 * nothing to call: `parsePageConfig` gives null.
 */
export interface PageConfig {
  /** Jaeger UI base URL for trace links, or null when no Jaeger is configured. */
  jaegerUrl: string | null;
  /** Same-origin path of the browser endpoint (OTLP/HTTP). */
  otlpPath: string;
  /** Same-origin path of the chat API, of its stream, and of a verdict on an answer (``{trace_id}`` in it). */
  chatPath: string;
  chatStreamPath: string;
  feedbackPath: string;
  /** Same-origin path of signing in and out. */
  sessionPath: string;
  /** Same-origin path of the performance page. */
  performancePath: string;
  /** The server's cap on a feedback comment, in characters; null leaves the check to the server. */
  feedbackCommentChars: number | null;
}

export const CONFIG_ELEMENT_ID = 'ha-agent-config';
const PATHS = ['otlpPath', 'chatPath', 'chatStreamPath', 'feedbackPath', 'sessionPath', 'performancePath'] as const;

export function readPageConfig(doc: Document): PageConfig | null {
  return parsePageConfig(doc.getElementById(CONFIG_ELEMENT_ID)?.textContent);
}

/** The server's configuration, or null when it is missing, malformed, or a path is not same-origin. */
export function parsePageConfig(text: string | null | undefined): PageConfig | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? '');
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) {
    return null;
  }
  const fields = raw as Record<string, unknown>;
  const paths = PATHS.map((name) => [name, sameOriginPathOrNull(fields[name])] as const);
  if (paths.some(([, path]) => path === null)) {
    return null;
  }
  const given = Object.fromEntries(paths) as Pick<PageConfig, (typeof PATHS)[number]>;
  return {
    jaegerUrl: httpUrlOrNull(fields['jaegerUrl']),
    ...given,
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

/** The page's calls must stay same-origin (its session, the browser endpoint); `//host/...` would leave it. */
function sameOriginPathOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') ? value : null;
}
