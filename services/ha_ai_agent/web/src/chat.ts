/**
 * The chat page: one send is one trace, `send_message` with the original UI's stages as
 * children. Contexts are passed explicitly rather than read from the active zone, because
 * zone.js cannot follow native `async`/`await` (the bundle targets ES2020).
 * The answer is streamed (its words shown as they come; `first_token` and `last_token` events on
 * `send_message` when the first and last words were put on the page), with the plain route as the
 * fallback when the stream does not open.
 */
import { ROOT_CONTEXT, SpanStatusCode, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { sendChatMessage } from './chatApi';
import type { ChatOutcome, ToolCall } from './chatApi';
import { FIRST_TOKEN_EVENT, LAST_TOKEN_EVENT, streamChatMessage } from './chatStream';
import type { StreamListener } from './chatStream';
import type { PageConfig } from './config';
import { TRACER_NAME } from './performanceTracker';
import type { PerformanceTracker } from './performanceTracker';

interface ChatElements {
  form: HTMLFormElement;
  message: HTMLTextAreaElement;
  send: HTMLButtonElement;
  messages: HTMLElement;
  toolCalls: HTMLElement;
  traceLink: HTMLAnchorElement;
  jaegerLink: HTMLAnchorElement | null;
}

type MessageRole = 'user' | 'assistant' | 'error' | 'loading';

export function mountChat(doc: Document, config: PageConfig, tracker: PerformanceTracker): void {
  const elements = findElements(doc);
  if (config.jaegerUrl === null) {
    elements.jaegerLink?.remove();
    elements.jaegerLink = null;
  }
  let conversationId: string | null = null;
  let sending = false;

  const submit = async (): Promise<void> => {
    const text = elements.message.value.trim();
    if (sending || text === '') {
      return;
    }
    sending = true;
    doc.body.dataset['state'] = 'sending';
    elements.send.disabled = true;
    try {
      conversationId = await sendMessage(elements, config, tracker, text, conversationId);
    } finally {
      sending = false;
      elements.send.disabled = false;
      doc.body.dataset['state'] = 'idle';
    }
  };

  elements.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });
  elements.message.addEventListener('keydown', (event) => {
    // Enter sends, Shift+Enter keeps a new line, as chat boxes usually do.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void submit();
    }
  });
  doc.body.dataset['state'] = 'idle';
}

/** Runs one traced send and returns the conversation id to use next time. */
async function sendMessage(
  elements: ChatElements,
  config: PageConfig,
  tracker: PerformanceTracker,
  text: string,
  conversationId: string | null,
): Promise<string | null> {
  const operation = `send_message_${Date.now()}`;
  // The root span belongs to the page, not to the tracker: the report covers its stages, and
  // keeping the root out of the tracker leaves nothing behind in it after the report.
  // A ROOT_CONTEXT parent makes each send its own trace, whatever happens to be active.
  const rootSpan = trace
    .getTracer(TRACER_NAME)
    .startSpan('send_message', { attributes: { 'performance.operation': operation } }, ROOT_CONTEXT);
  const root = trace.setSpan(ROOT_CONTEXT, rootSpan);
  const traceId = isSpanContextValid(rootSpan.spanContext()) ? rootSpan.spanContext().traceId : '';
  const stageIds: string[] = [];
  const uiUpdate = <T>(action: string, apply: () => T): T => {
    const id = tracker.start('ui_update', { 'ui.action': action }, { parent: root });
    stageIds.push(id);
    try {
      return apply();
    } finally {
      tracker.end(id);
    }
  };
  let outcome: ChatOutcome = { ok: false, error: 'The page failed before the request was sent' };
  try {
    uiUpdate('add_user_message', () => appendMessage(elements, 'user', text));
    elements.message.value = '';
    const loading = uiUpdate('add_loading_message', () => appendMessage(elements, 'loading', 'Thinking…'));
    const request = { message: text, conversation_id: conversationId };
    const words = new StreamedWords(elements, loading, rootSpan);
    const streamed = await streamChatMessage(tracker, root, request, words);
    stageIds.push(streamed.metricId);
    if (streamed.outcome === null) {
      const sent = await sendChatMessage(tracker, root, request);
      stageIds.push(sent.metricId);
      outcome = sent.outcome;
    } else {
      outcome = streamed.outcome;
    }
    uiUpdate(outcome.ok ? 'add_assistant_response' : 'add_error_message', () => {
      loading.remove();
      words.finish(outcome);
      showOutcome(elements, outcome, traceId);
      showTraceLinks(elements, config, traceId);
    });
    return outcome.ok ? outcome.response.conversation_id : conversationId;
  } finally {
    tracker.createReport(operation, stageIds, { success: outcome.ok, trace_id: traceId });
    endRootSpan(rootSpan, outcome);
  }
}

/** The answer's words on the page as they come, and the moments the first and the last were put there. */
class StreamedWords implements StreamListener {
  private item: HTMLElement | null = null;
  private iteration = -1;
  private lastWordsAt: number | null = null;
  private readonly calls: ToolCall[] = [];

  constructor(
    private readonly elements: ChatElements,
    private readonly loading: HTMLElement,
    private readonly span: Span,
  ) {}

  text(text: string, iteration: number): void {
    if (this.item === null) {
      this.loading.remove();
      this.item = appendMessage(this.elements, 'assistant', '');
      this.item.dataset['streaming'] = 'true';
      this.span.addEvent(FIRST_TOKEN_EVENT);
    }
    if (iteration !== this.iteration) {
      this.item.textContent = ''; // a later round's text replaces the model's note before its tool calls
      this.iteration = iteration;
    }
    this.item.textContent += text;
    this.lastWordsAt = Date.now();
  }

  toolCall(call: ToolCall): void {
    this.calls.push(call);
    renderToolCalls(this.elements.toolCalls, this.calls);
  }

  /** Takes the streamed words off the page (the outcome is shown whole) and marks when the last came. */
  finish(outcome: ChatOutcome): void {
    if (this.item === null) {
      if (outcome.ok) {
        // No words were streamed (the plain route answered): they all appear now.
        this.span.addEvent(FIRST_TOKEN_EVENT);
        this.span.addEvent(LAST_TOKEN_EVENT);
      }
      return;
    }
    this.item.remove();
    if (this.lastWordsAt !== null) {
      this.span.addEvent(LAST_TOKEN_EVENT, this.lastWordsAt);
    }
  }
}

function endRootSpan(span: Span, outcome: ChatOutcome): void {
  span.setAttribute('success', outcome.ok);
  if (!outcome.ok) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
  }
  span.end();
}

function showOutcome(elements: ChatElements, outcome: ChatOutcome, traceId: string): void {
  if (outcome.ok) {
    appendMessage(elements, 'assistant', outcome.response.message, traceId);
    renderToolCalls(elements.toolCalls, outcome.response.tool_calls);
  } else {
    appendMessage(elements, 'error', outcome.error, traceId);
    renderToolCalls(elements.toolCalls, []);
  }
}

function appendMessage(elements: ChatElements, role: MessageRole, text: string, traceId?: string): HTMLElement {
  const item = document.createElement('li');
  item.className = `message ${role}`;
  // textContent, never innerHTML: the answer is model output.
  item.textContent = text;
  if (role === 'error') {
    item.setAttribute('role', 'alert');
  }
  if (role === 'loading') {
    item.setAttribute('aria-busy', 'true');
  }
  if (traceId) {
    item.dataset['traceId'] = traceId;
  }
  elements.messages.append(item);
  item.scrollIntoView({ block: 'end' });
  return item;
}

function renderToolCalls(list: HTMLElement, toolCalls: ToolCall[]): void {
  list.replaceChildren(
    ...toolCalls.map((call) => {
      const item = document.createElement('li');
      const name = document.createElement('code');
      name.className = 'tool-name';
      name.textContent = call.name;
      const args = document.createElement('pre');
      args.className = 'tool-arguments';
      args.textContent = JSON.stringify(call.arguments, null, 2);
      item.append(name, args);
      return item;
    }),
  );
  list.dataset['count'] = String(toolCalls.length);
}

function showTraceLinks(elements: ChatElements, config: PageConfig, traceId: string): void {
  if (traceId === '') {
    return;
  }
  elements.traceLink.href = `/performance#${traceId}`;
  elements.traceLink.hidden = false;
  if (elements.jaegerLink !== null && config.jaegerUrl !== null) {
    elements.jaegerLink.href = `${config.jaegerUrl}/trace/${traceId}`;
    elements.jaegerLink.hidden = false;
  }
}

function findElements(doc: Document): ChatElements {
  const get = <T extends HTMLElement>(id: string, type: new () => T): T => {
    const element = doc.getElementById(id);
    if (!(element instanceof type)) {
      throw new Error(`chat page: missing #${id}`);
    }
    return element;
  };
  const jaeger = doc.getElementById('jaeger-link');
  return {
    form: get('chat-form', HTMLFormElement),
    message: get('message', HTMLTextAreaElement),
    send: get('send', HTMLButtonElement),
    messages: get('messages', HTMLElement),
    toolCalls: get('tool-calls', HTMLElement),
    traceLink: get('trace-link', HTMLAnchorElement),
    jaegerLink: jaeger instanceof HTMLAnchorElement ? jaeger : null,
  };
}
