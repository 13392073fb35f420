/**
 * Signing in and out. The session lives in an HttpOnly cookie the server sets: page scripts never see it,
 * and the browser sends it with every same-origin request (the chat, /performance, the span exports).
 */
/** Trade a token for the session cookie; the error to show, or null when signed in. */
export async function signIn(
  token: string,
  sessionPath: string,
  fetchFn: typeof fetch = fetch,
): Promise<string | null> {
  const response = await fetchFn(sessionPath, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
    credentials: 'same-origin',
  });
  if (response.ok) {
    return null;
  }
  if (response.status === 429) {
    return `Too many wrong tokens: try again in ${response.headers.get('Retry-After') ?? 'a few'} seconds.`;
  }
  const body = (await response.json().catch(() => ({}))) as { detail?: unknown };
  return typeof body.detail === 'string' ? body.detail : `Sign-in failed (HTTP ${response.status}).`;
}

/** End the session on the server too: the old cookie, replayed, is refused. */
export async function signOut(sessionPath: string, fetchFn: typeof fetch = fetch): Promise<void> {
  await fetchFn(sessionPath, { method: 'DELETE', credentials: 'same-origin' });
}

/** The chat page's sign-out button (the server puts it in the page only when access control is on). */
export function mountSignOut(doc: Document, sessionPath: string): void {
  const button = doc.getElementById('sign-out');
  button?.addEventListener('click', () => {
    void signOut(sessionPath).finally(() => doc.defaultView?.location.reload());
  });
}
