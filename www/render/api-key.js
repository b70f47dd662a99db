// @ts-check
/** A newly created API key, shown once, with a copy button. */

import { button, h, uid } from './dom.js';

/**
 * @param {import('../types.js').CreatedKey} created
 * @param {string} tenantName
 * @returns {HTMLElement}
 */
export function keyReveal(created, tenantName) {
  const input = h('input', { type: 'text', readonly: true, id: uid('key'), class: 'input mono key__value', spellcheck: 'false', autocomplete: 'off' });
  input.value = created.key;
  const status = h('span', { class: 'key__status', role: 'status' });
  const copy = button('Copy key', async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      status.textContent = 'Copied to the clipboard.';
    } catch {
      // The clipboard API needs a secure context; selecting the text lets the user copy it.
      input.focus();
      input.select();
      status.textContent = 'Copying is not allowed here; the key is selected, press Ctrl+C (⌘C on a Mac).';
    }
  }, 'button button--primary');
  input.addEventListener('focus', () => input.select());
  return h('div', { class: 'key notice notice--success' }, [
    h('p', {}, [
      h('strong', {}, `New API key ${created.id}${created.name ? ` (${created.name})` : ''} for ${tenantName}.`),
      ' This is the only time the whole key is shown: copy it now into the sync agent’s configuration or your script. ',
      'Only a hash is stored; if the key is lost, create a new one and revoke the old one.',
    ]),
    h('label', { for: input.id }, 'API key'),
    h('div', { class: 'key__row' }, [input, copy]),
    status,
  ]);
}
