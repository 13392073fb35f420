/**
 * `POST /api/v1/chat`, called inside the `api_call` span: the request carries that span's
 * traceparent, so the server span is its direct child (the fetch instrumentation skips
 * this URL precisely so that no fetch span sits in between).
 */
import { SpanKind, propagation } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { PerformanceTracker } from './performanceTracker';

export const CHAT_PATH = '/api/v1/chat';

export interface ChatRequest {
  message: string;
  conversation_id: string | null;
}

export interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface ChatResponse {
  message: string;
  conversation_id: string;
  tool_calls: ToolCall[];
  metadata: Record<string, unknown>;
}

export type ChatOutcome = { ok: true; response: ChatResponse } | { ok: false; error: string };

export async function sendChatMessage(
  tracker: PerformanceTracker,
  parent: Context,
  request: ChatRequest,
): Promise<{ outcome: ChatOutcome; metricId: string }> {
  const { url, metricId, headers } = startApiCall(tracker, parent, 'sendChatMessage', CHAT_PATH, 'application/json');
  let status: number | undefined;
  try {
    const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(request) });
    status = response.status;
    const body = await readJson(response);
    if (!response.ok) {
      const error = errorMessage(response.status, body);
      tracker.end(metricId, { success: false, error, 'error.type': String(status), 'http.response.status_code': status });
      return { outcome: { ok: false, error }, metricId };
    }
    const parsed = parseChatResponse(body);
    tracker.end(metricId, { success: true, 'http.response.status_code': status, ...responseMetrics(parsed) });
    return { outcome: { ok: true, response: parsed }, metricId };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    tracker.end(metricId, {
      success: false,
      error,
      'error.type': err instanceof Error ? err.name : 'Error',
      ...(status === undefined ? {} : { 'http.response.status_code': status }),
    });
    return { outcome: { ok: false, error: `Request failed: ${error}` }, metricId };
  }
}

/**
 * Opens the `api_call` span of a chat request to `path` and the request's headers, with that span as
 * traceparent (so the server span is its child).
 */
export function startApiCall(
  tracker: PerformanceTracker,
  parent: Context,
  operation: string,
  path: string,
  accept: string,
): { url: string; metricId: string; headers: Record<string, string> } {
  const url = new URL(path, window.location.href).href;
  const metricId = tracker.start(
    'api_call',
    { 'api.operation': operation, 'http.request.method': 'POST', 'url.full': url },
    { parent, kind: SpanKind.CLIENT },
  );
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: accept };
  propagation.inject(tracker.getContext(metricId) ?? parent, headers);
  return { url, metricId, headers };
}

/** The attributes the original UI recorded when its API call ended. */
export function responseMetrics(response: ChatResponse): Record<string, unknown> {
  return {
    response_time_ms: response.metadata['response_time_ms'],
    tokens_used: response.metadata['tokens_used'],
    tool_calls_count: response.tool_calls.length,
    iterations: response.metadata['iterations'],
  };
}

export async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Validates the response shape, so the page never renders `undefined` from a surprising body. */
export function parseChatResponse(body: unknown): ChatResponse {
  if (!isRecord(body) || typeof body['message'] !== 'string' || typeof body['conversation_id'] !== 'string') {
    throw new Error('Unexpected response from the chat API');
  }
  const toolCalls = Array.isArray(body['tool_calls']) ? body['tool_calls'] : [];
  return {
    message: body['message'],
    conversation_id: body['conversation_id'],
    tool_calls: toolCalls.map(parseToolCall).filter((call) => call !== null),
    metadata: isRecord(body['metadata']) ? body['metadata'] : {},
  };
}

/** A tool call as the API describes it, or null when `call` is not an object. */
export function parseToolCall(call: unknown): ToolCall | null {
  if (!isRecord(call)) {
    return null;
  }
  return {
    id: String(call['id'] ?? ''),
    name: String(call['name'] ?? ''),
    arguments: isRecord(call['arguments']) ? call['arguments'] : {},
  };
}

/** A readable message from a FastAPI error body (`detail` is a string, a list of problems or absent). */
export function errorMessage(status: number, body: unknown): string {
  const detail = isRecord(body) ? body['detail'] : undefined;
  if (typeof detail === 'string' && detail !== '') {
    return `${detail} (HTTP ${status})`;
  }
  if (Array.isArray(detail) && detail.length > 0) {
    const problems = detail.map((item) => (isRecord(item) && typeof item['msg'] === 'string' ? item['msg'] : JSON.stringify(item)));
    return `${problems.join('; ')} (HTTP ${status})`;
  }
  return `The assistant could not answer (HTTP ${status})`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
