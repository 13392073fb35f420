/** Entry point of the sign-in page (the 401 a browser gets for a page): paste a token, then reload. */
import { readPageConfig } from './config';
import { signIn } from './session';

const form = document.getElementById('sign-in-form') as HTMLFormElement | null;
const input = document.getElementById('token') as HTMLInputElement | null;
const error = document.getElementById('sign-in-error');
const config = readPageConfig(document);
form?.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = input?.value.trim() ?? '';
  if (!token) {
    return;
  }
  if (config === null) {
    showProblem('This page has no configuration from the chat service: open it from the service.');
    return;
  }
  void signIn(token, config.sessionPath).then((problem) => {
    if (problem === null) {
      window.location.reload();
    } else {
      showProblem(problem);
    }
  });
});

function showProblem(problem: string): void {
  if (error) {
    error.textContent = problem;
    error.hidden = false;
  }
}
