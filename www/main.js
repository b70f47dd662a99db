// @ts-check
/**
 * The console's entry point: find out who is signed in, then show the screen of their role.
 * - the operator manages tenants (screens/tenants.js);
 * - a tenant administrator manages the tenant's directory (screens/directory.js).
 */

import { ApiError, del, get } from './api.js';
import { h, replace } from './render/dom.js';
import { describeError, notice } from './render/notice.js';
import { signInScreen } from './screens/signin.js';
import { tenantsScreen } from './screens/tenants.js';
import { directoryScreen } from './screens/directory.js';

/** @typedef {import('./types.js').SessionInfo} SessionInfo */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const whoami = /** @type {HTMLElement} */ (document.getElementById('whoami'));
const signOutButton = /** @type {HTMLButtonElement} */ (document.getElementById('sign-out'));

/** Whether a signed-in screen is shown; several requests can fail at once when a session ends. */
let signedIn = false;

/**
 * The sign-in form, with an optional reason (the session ended, the user signed out).
 * @param {string} [reason]
 */
function showSignIn(reason) {
  signedIn = false;
  whoami.hidden = true;
  signOutButton.hidden = true;
  document.title = 'Sign in — dirgate';
  signInScreen(main, showSignedIn, reason);
}

/** @param {SessionInfo} session */
function showSignedIn(session) {
  signedIn = true;
  const role = session.user.role === 'operator' ? 'operator' : 'tenant administrator';
  replace(whoami, [
    h('span', { class: 'whoami__user' }, session.user.username),
    ` (${role})`,
    session.tenant ? [' · ', h('span', { class: 'whoami__tenant' }, session.tenant.name)] : null,
  ].flat());
  whoami.hidden = false;
  signOutButton.hidden = false;
  if (session.user.role === 'operator') {
    document.title = 'Tenants — dirgate';
    tenantsScreen(main);
  } else if (session.user.role === 'admin' && session.tenant) {
    document.title = `Directory Management — ${session.tenant.name} — dirgate`;
    directoryScreen(main, session.tenant);
  } else {
    replace(main, notice('error', 'This account has no screen in the console.'));
  }
  main.focus();
}

signOutButton.addEventListener('click', async () => {
  try {
    await del('/session');
  } catch {
    // Signed out on the server or not, the page goes back to the sign-in form.
  }
  showSignIn('You are signed out.');
});

window.addEventListener('dirgate:signed-out', () => {
  if (signedIn) showSignIn('Your session has ended. Sign in again to continue.');
});

async function start() {
  try {
    showSignedIn(await get('/session'));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showSignIn();
      return;
    }
    const retry = h('button', { type: 'button', class: 'button' }, 'Try again');
    retry.addEventListener('click', start);
    replace(main, notice('error', `The console could not start. ${describeError(error)} `, retry));
  }
}

start();
