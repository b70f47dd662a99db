// @ts-check
/**
 * Links to the three CSV exports. A plain `<a download>` works: the browser sends the session
 * cookie with it, and the server streams the file.
 */

import { apiUrl } from '../api.js';
import { h } from './dom.js';

/** @type {[string, string, string][]} */
export const EXPORTS = [
  ['recipients.csv', 'Valid recipients', 'email,name — one mailbox per row'],
  ['aliases.csv', 'Email aliases', 'alias,email — each alias and the mailbox it delivers to'],
  ['groups.csv', 'Groups', 'group,email,member — one row per member'],
];

/**
 * The URL of one export, for all domains or one.
 * @param {string} file
 * @param {string} [domain]
 * @returns {string}
 */
export function exportUrl(file, domain) {
  return apiUrl(`/exports/${file}`, { domain });
}

/**
 * The three exports of all domains, with what each holds.
 * @returns {HTMLElement}
 */
export function downloadList() {
  return h(
    'ul',
    { class: 'downloads' },
    EXPORTS.map(([file, label, columns]) =>
      h('li', {}, [
        h('a', { href: exportUrl(file), download: file, class: 'download' }, [h('span', { class: 'download__name' }, label), h('span', { class: 'mono download__file' }, file)]),
        h('span', { class: 'hint' }, ` ${columns}`),
      ]),
    ),
  );
}

/**
 * Compact links to the three exports of one domain.
 * @param {string} domain
 * @returns {HTMLElement}
 */
export function domainDownloads(domain) {
  return h(
    'ul',
    { class: 'inline-list' },
    EXPORTS.map(([file, label]) => {
      const name = `${file.replace(/\.csv$/, '')}-${domain}.csv`;
      return h('li', {}, h('a', { href: exportUrl(file, domain), download: name, 'aria-label': `${label} of ${domain} (${file})` }, file.replace(/\.csv$/, '')));
    }),
  );
}
