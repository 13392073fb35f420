/**
 * The chat page: one send is one trace, `send_message` with the original UI's stages as
 * children. Contexts are passed explicitly rather than read from the active zone, because
 * zone.js cannot follow native `async`/`await` (the bundle targets ES2020).
 */
import { ROOT_CONTEXT, SpanStatusCode, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { sendChatMessage } from './chatApi';
import type { ChatOutcome, ToolCall } from './chatApi';
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
    const sent = await sendChatMessage(
      tracker,
      root,
      { message: text, conversation_id: conversationId },
      config.chatPath,
    );
    stageIds.push(sent.metricId);
    outcome = sent.outcome;
    uiUpdate(outcome.ok ? 'add_assistant_response' : 'add_error_message', () => {
      loading.remove();
      showOutcome(elements, outcome, traceId);
      showTraceLinks(elements, config, traceId);
    });
    return outcome.ok ? outcome.response.conversation_id : conversationId;
  } finally {
    tracker.createReport(operation, stageIds, { success: outcome.ok, trace_id: traceId });
    endRootSpan(rootSpan, outcome);
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
  elements.traceLink.href = `${config.performancePath}#${traceId}`;
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
