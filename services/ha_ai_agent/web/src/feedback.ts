/**
 * The user's verdict on an answer: thumbs up / thumbs down and an optional short comment, posted to
 * `POST /api/v1/chat/{trace_id}/feedback`. The server stores it with the answer and records it in the
 * answer's trace; a later verdict on the same answer replaces the earlier one. A click posts the verdict
 * at once (so it is kept even if no comment follows); sending a comment posts the verdict again with it.
 */
import { errorMessage } from './chatApi';

export type Score = 'up' | 'down';

export type FeedbackOutcome = { ok: true; label: string } | { ok: false; error: string };

const TRACE_ID = /^[0-9a-f]{32}$/;

/** The route of a verdict on one answer: the server's path with `{trace_id}` in it, filled in. */
export function feedbackPath(template: string, traceId: string): string {
  return template.replace('{trace_id}', traceId);
}

/** The request body: the comment only when it says something. */
export function feedbackBody(score: Score, comment: string | null): { score: Score; comment?: string } {
  const text = comment?.trim() ?? '';
  return text === '' ? { score } : { score, comment: text };
}

export async function sendFeedback(
  pathTemplate: string,
  traceId: string,
  score: Score,
  comment: string | null,
  fetchFn: typeof fetch = fetch,
): Promise<FeedbackOutcome> {
  if (!TRACE_ID.test(traceId)) {
    return { ok: false, error: 'This answer has no trace id to attach a verdict to' };
  }
  try {
    const response = await fetchFn(feedbackPath(pathTemplate, traceId), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(feedbackBody(score, comment)),
      credentials: 'same-origin',
    });
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      return { ok: false, error: errorMessage(response.status, body) };
    }
    // The label is the server's (the trace's `gen_ai.evaluation.score.label`), never spelled here.
    const label = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['label'] : undefined;
    return typeof label === 'string' ? { ok: true, label } : { ok: false, error: 'Unexpected answer from the server' };
  } catch (err) {
    return { ok: false, error: `Feedback failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * Thumbs and a comment box under one answer. `commentChars` is the server's cap on a comment (from the
 * page config; null leaves the check to the server). The answer's element gets `data-feedback` = the
 * stored label once the server has it.
 */
export function mountFeedback(
  answer: HTMLElement,
  pathTemplate: string,
  traceId: string,
  commentChars: number | null,
): void {
  const doc = answer.ownerDocument;
  const bar = doc.createElement('div');
  bar.className = 'feedback';
  // Words, not emoji: a system without an emoji font shows those as empty boxes.
  const thumb = (score: Score, text: string, label: string): HTMLButtonElement => {
    const button = doc.createElement('button');
    button.type = 'button';
    button.className = `thumb ${score}`;
    button.textContent = text;
    button.title = label;
    button.setAttribute('aria-label', label);
    button.setAttribute('aria-pressed', 'false');
    return button;
  };
  const up = thumb('up', 'Good', 'Thumbs up: a good answer');
  const down = thumb('down', 'Bad', 'Thumbs down: a bad answer');
  const form = doc.createElement('form');
  form.className = 'feedback-comment';
  form.hidden = true;
  const comment = doc.createElement('input');
  comment.type = 'text';
  comment.name = 'comment';
  comment.placeholder = 'Why? (optional)';
  comment.setAttribute('aria-label', 'Comment on this answer');
  if (commentChars !== null) {
    comment.maxLength = commentChars;
  }
  const send = doc.createElement('button');
  send.type = 'submit';
  send.textContent = 'Send';
  form.append(comment, send);
  const status = doc.createElement('span');
  status.className = 'feedback-status';
  status.setAttribute('role', 'status');
  bar.append(up, down, form, status);
  answer.append(bar);

  let score: Score | null = null;
  // One post at a time, in the order they were made: the server keeps the last one it receives.
  let queue: Promise<unknown> = Promise.resolve();
  const post = (text: string | null): Promise<boolean> => {
    const chosen = score;
    if (chosen === null) {
      return Promise.resolve(false);
    }
    bar.dataset['state'] = 'sending';
    const sent = queue.then(async () => {
      const outcome = await sendFeedback(pathTemplate, traceId, chosen, text);
      bar.dataset['state'] = outcome.ok ? 'sent' : 'failed';
      status.textContent = outcome.ok ? 'Thanks for the feedback' : outcome.error;
      if (outcome.ok) {
        answer.dataset['feedback'] = outcome.label;
      }
      return outcome.ok;
    });
    queue = sent;
    return sent;
  };
  const choose = (chosen: Score): void => {
    score = chosen;
    up.setAttribute('aria-pressed', String(chosen === 'up'));
    down.setAttribute('aria-pressed', String(chosen === 'down'));
    form.hidden = false;
    void post(null);
  };
  up.addEventListener('click', () => choose('up'));
  down.addEventListener('click', () => choose('down'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void post(comment.value).then((ok) => {
      if (ok) {
        form.hidden = true;
        answer.dataset['feedbackComment'] = 'sent';
      }
    });
  });
}
