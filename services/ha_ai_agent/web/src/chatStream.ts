/**
 * `POST /api/v1/chat/stream`: the answer's words as the model writes them (server-sent events), inside the
 * `api_call` span as `sendChatMessage` does. A stream that does not open (no connection, a server without
 * the route, a 2xx that is not a stream) returns `outcome: null`, and the page asks the plain route instead;
 * an error the server answered (JSON, before the stream) is that error, as on the plain route.
 */
import type { Context } from '@opentelemetry/api';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { CHAT_PATH, errorMessage, parseChatResponse, parseToolCall, readJson, responseMetrics, startApiCall } from './chatApi';
import type { ChatOutcome, ChatRequest, ToolCall } from './chatApi';
import type { PerformanceTracker } from './performanceTracker';

export const CHAT_STREAM_PATH = `${CHAT_PATH}/stream`;
/** Events on the `send_message` span (perftrace's FIRST_TOKEN_EVENT / LAST_TOKEN_EVENT): words on the page. */
export const FIRST_TOKEN_EVENT = 'first_token';
export const LAST_TOKEN_EVENT = 'last_token';
/** Statuses that say the route is not there (an older server): the plain route may still be. */
const ROUTE_MISSING = new Set([404, 405]);

export interface StreamListener {
  /** A piece of the answer from LLM round `iteration`; a later round's text replaces an earlier one's. */
  text(text: string, iteration: number): void;
  /** The agent calls a tool. */
  toolCall(call: ToolCall): void;
}

export interface StreamedChat {
  /** null: the stream did not open (see the module comment). */
  outcome: ChatOutcome | null;
  metricId: string;
}

export async function streamChatMessage(
  tracker: PerformanceTracker,
  parent: Context,
  request: ChatRequest,
  listener: StreamListener,
): Promise<StreamedChat> {
  const { url, metricId, headers } = startApiCall(tracker, parent, 'streamChatMessage', CHAT_STREAM_PATH, 'text/event-stream');
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(request) });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    tracker.end(metricId, { success: false, error, 'error.type': err instanceof Error ? err.name : 'Error' });
    return { outcome: null, metricId };
  }
  const status = response.status;
  const contentType = response.headers.get('content-type') ?? '';
  if (!response.ok || !contentType.startsWith('text/event-stream') || response.body === null) {
    const opened = !response.ok && !ROUTE_MISSING.has(status);
    const error = opened ? errorMessage(status, await readJson(response)) : `no stream (HTTP ${status}, ${contentType})`;
    tracker.end(metricId, { success: false, error, 'error.type': String(status), 'http.response.status_code': status });
    return { outcome: opened ? { ok: false, error } : null, metricId };
  }
  let outcome: ChatOutcome;
  try {
    outcome = await readEvents(response.body, listener);
  } catch (err) {
    outcome = { ok: false, error: `The answer stopped: ${err instanceof Error ? err.message : String(err)}` };
  }
  tracker.end(
    metricId,
    outcome.ok
      ? { success: true, 'http.response.status_code': status, ...responseMetrics(outcome.response) }
      : { success: false, error: outcome.error, 'error.type': 'stream_error', 'http.response.status_code': status },
  );
  return { outcome, metricId };
}

/** Hands `text` and `tool_call` events to the listener until `done` (the answer) or `error`. */
export async function readEvents(body: ReadableStream<BufferSource>, listener: StreamListener): Promise<ChatOutcome> {
  const reader = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        return { ok: false, error: 'The answer stopped before it was complete' };
      }
      const data: unknown = JSON.parse(value.data);
      const fields = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
      switch (value.event) {
        case 'text':
          listener.text(String(fields['text'] ?? ''), Number(fields['iteration'] ?? 0));
          break;
        case 'tool_call': {
          const call = parseToolCall(data);
          if (call !== null) {
            listener.toolCall(call);
          }
          break;
        }
        case 'done':
          return { ok: true, response: parseChatResponse(data) };
        case 'error':
          return { ok: false, error: errorMessage(Number(fields['status'] ?? 500), data) };
        default:
          break; // tool_done, and events a later server may add
      }
    }
  } finally {
    reader.releaseLock();
  }
}
