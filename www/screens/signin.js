// @ts-check
/** The sign-in form. */

import { ApiError, post } from '../api.js';
import { field, h, replace } from '../render/dom.js';
import { describeError, messageArea } from '../render/notice.js';

/**
 * @param {HTMLElement} main
 * @param {(session: import('../types.js').SessionInfo) => void} onSignedIn
 * @param {string} [reason] why the form is shown again
 */
export function signInScreen(main, onSignedIn, reason) {
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true, class: 'input', autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, class: 'input' });
  const submit = h('button', { type: 'submit', class: 'button button--primary' }, 'Sign in');
  const messages = messageArea();
  if (reason) messages.show('info', reason);
  const form = h('form', { class: 'signin__form', novalidate: true }, [
    field('User name', username),
    field('Password', password),
    h('div', { class: 'actions' }, submit),
  ]);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      messages.show('error', 'Enter your user name and password.');
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    messages.show('info', 'Signing in…');
    try {
      onSignedIn(await post('/session', { username: username.value.trim(), password: password.value }));
    } catch (error) {
      password.value = '';
      const text =
        error instanceof ApiError && error.code === 'bad-credentials'
          ? 'The user name or password is wrong. Check them and try again.'
          : describeError(error);
      messages.show('error', text);
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, h('div', { class: 'signin' }, [
    h('h1', {}, 'Sign in'),
    h('p', { class: 'lead' }, 'dirgate keeps the list of valid email addresses for each organisation, so that the gateway rejects mail to addresses that do not exist.'),
    messages.element,
    form,
  ]));
  username.focus();
}
