// @ts-check
/**
 * Confirmation dialogs, built on `<dialog>` so that focus stays inside, Escape cancels and focus
 * returns to where it was.
 */

import { button, field, h, uid } from './dom.js';

/**
 * @typedef {object} ConfirmOptions
 * @property {string} title
 * @property {(string | Node)[]} body sentences (or nodes) that explain what will happen
 * @property {string} confirmLabel the button that goes ahead, named after what it does
 * @property {boolean} [danger] the action deletes or undoes something
 * @property {string} [typeToConfirm] the text the user must type before the action is allowed
 */

/**
 * Asks the user to confirm an action; resolves `true` only when they do.
 * @param {ConfirmOptions} options
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, body, confirmLabel, danger = false, typeToConfirm }) {
  const titleId = uid('dialog-title');
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
  const go = h('button', { type: 'submit', class: danger ? 'button button--danger' : 'button button--primary' }, confirmLabel);
  const cancel = button('Cancel', () => dialog.close('cancel'), 'button button--quiet');
  /** @type {HTMLInputElement | null} */
  let typed = null;
  const parts = [h('h2', { id: titleId }, title), ...body.map((text) => (typeof text === 'string' ? h('p', {}, text) : text))];
  if (typeToConfirm) {
    typed = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', class: 'input' });
    const input = typed;
    parts.push(field(`Type ${typeToConfirm} to confirm`, input));
    go.disabled = true;
    input.addEventListener('input', () => {
      go.disabled = input.value.trim().toLowerCase() !== typeToConfirm.toLowerCase();
    });
  }
  const form = h('form', { method: 'dialog', class: 'dialog__form' }, [...parts, h('div', { class: 'actions' }, [go, cancel])]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!go.disabled) dialog.close('confirm');
  });
  dialog.append(form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    dialog.showModal();
    (typed ?? cancel).focus();
  });
}
