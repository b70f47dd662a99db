// @ts-check
/**
 * Messages to the user: success, errors and empty states, in plain words. Each screen keeps one
 * live region, so that screen readers hear the outcome of what was just done.
 */

import { ApiError } from '../api.js';
import { h, replace } from './dom.js';
import { plural } from './locale.js';

/** @typedef {'success' | 'error' | 'warning' | 'info'} Tone */

/**
 * A live region that shows one message at a time.
 * @returns {{ element: HTMLDivElement, show: (tone: Tone, ...text: (string | Node)[]) => void, clear: () => void }}
 */
export function messageArea() {
  const element = h('div', { class: 'messages', role: 'status', 'aria-live': 'polite' });
  return {
    element,
    show(tone, ...text) {
      replace(element, notice(tone, ...text));
    },
    clear() {
      element.replaceChildren();
    },
  };
}

/**
 * A message box.
 * @param {Tone} tone
 * @param {...(string | Node)} text
 * @returns {HTMLDivElement}
 */
export function notice(tone, ...text) {
  return h('div', { class: `notice notice--${tone}` }, text);
}

/**
 * A paragraph explaining why a list is empty.
 * @param {string} text
 * @returns {HTMLParagraphElement}
 */
export function emptyState(text) {
  return h('p', { class: 'empty' }, text);
}

/**
 * What went wrong, in words for a person: the server's own sentence, with advice where the
 * status alone tells what to do.
 * @param {unknown} error
 * @returns {string}
 */
export function describeError(error) {
  if (error instanceof ApiError) {
    const message = sentence(error.message);
    switch (error.status) {
      case 0:
        return message;
      case 401:
        return `${message} Your session may have ended; sign in again.`;
      case 403:
        return `Not allowed: ${message}`;
      case 413:
        return `${message} Split the file, or send it gzip-compressed through the API.`;
      case 429:
        return error.retryAfter ? `${message} You can try again in ${waitingTime(error.retryAfter)}.` : message;
      default:
        return error.status >= 500 ? `The server had a problem: ${message}` : message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * "about 5 minutes", "about 3 hours".
 * @param {number} seconds
 * @returns {string}
 */
function waitingTime(seconds) {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  if (minutes < 90) return `about ${plural(minutes, 'minute')}`;
  return `about ${plural(Math.round(minutes / 60), 'hour')}`;
}

/**
 * The server's messages are lower-case clauses; a sentence starts with a capital and ends with
 * a full stop.
 * @param {string} text
 * @returns {string}
 */
function sentence(text) {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
