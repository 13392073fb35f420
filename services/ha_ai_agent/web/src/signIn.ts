/** Entry point of the sign-in page (the 401 a browser gets for a page): paste a token, then reload. */
import { signIn } from './session';

const form = document.getElementById('sign-in-form') as HTMLFormElement | null;
const input = document.getElementById('token') as HTMLInputElement | null;
const error = document.getElementById('sign-in-error');
form?.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = input?.value.trim() ?? '';
  if (!token) {
    return;
  }
  void signIn(token).then((problem) => {
    if (problem === null) {
      window.location.reload();
    } else if (error) {
      error.textContent = problem;
      error.hidden = false;
    }
  });
});
