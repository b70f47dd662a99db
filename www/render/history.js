// @ts-check
/**
 * The change log as tables: "Imported User Directory History" (imports, rollbacks and domain
 * removals) and the Synchronization History (sync runs).
 */

import { button, h } from './dom.js';
import { formatCount, timeElement } from './locale.js';
import { table } from './table.js';
import { domainLabel } from './diff.js';

/** @typedef {import('../types.js').HistoryEntry} HistoryEntry */
/** @typedef {import('../types.js').ChangeStatus} ChangeStatus */
/** @typedef {import('../types.js').ChangeResult} ChangeResult */

/** @type {Record<ChangeStatus, [string, string]>} */
const STATUS = {
  'in-effect': ['In effect', 'ok'],
  superseded: ['Superseded', 'muted'],
  'rolled-back': ['Rolled back', 'warning'],
  'not-applied': ['Not applied', 'error'],
};

/** @type {Record<ChangeResult, [string, string]>} */
const RESULT = {
  applied: ['Applied', 'ok'],
  'threshold-exceeded': ['Refused: too many removals', 'error'],
  invalid: ['Refused: invalid records', 'error'],
};

/**
 * @param {ChangeStatus} status
 * @returns {HTMLSpanElement}
 */
export function statusBadge(status) {
  const [label, tone] = STATUS[status] ?? [status, 'muted'];
  return h('span', { class: `badge badge--${tone}` }, label);
}

/**
 * The per-domain counts of a change, one line per domain.
 * @param {HistoryEntry} entry
 * @returns {HTMLElement}
 */
function domainChanges(entry) {
  if (entry.domains.length === 0) return h('span', { class: 'muted' }, '—');
  const notes = [];
  if (entry.forced) notes.push('confirmed past the deletion threshold');
  if (entry.skipped_invalid > 0) notes.push(`${formatCount(entry.skipped_invalid)} invalid skipped`);
  return h('div', {}, [
    h(
      'ul',
      { class: 'domain-changes' },
      entry.domains.map((d) =>
        h('li', {}, [
          h('span', { class: d.domain ? 'mono' : undefined }, domainLabel(d)),
          ': ',
          h('span', { class: 'delta delta--added' }, `${formatCount(d.added.count)} added`),
          ', ',
          h('span', { class: 'delta delta--removed' }, `${formatCount(d.removed.count)} removed`),
          ', ',
          h('span', { class: 'delta' }, `${formatCount(d.kept.count)} kept`),
        ]),
      ),
    ),
    notes.length ? h('p', { class: 'hint' }, notes.join('; ')) : null,
  ]);
}

/**
 * What kind of change an import-history row is, for the file column of changes without a file.
 * @param {HistoryEntry} entry
 * @returns {import('./dom.js').Child}
 */
function fileCell(entry) {
  if (entry.kind === 'rollback') return h('span', { class: 'muted' }, 'Rollback');
  if (entry.kind === 'domain-removal') return h('span', { class: 'muted' }, 'Domain removal');
  if (entry.files.length === 0) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'mono' }, entry.files.map((f) => f.name).join(', '));
}

/**
 * The import history.
 * @param {HistoryEntry[]} entries newest first
 * @param {(entry: HistoryEntry) => void} onRollback
 * @returns {HTMLElement}
 */
export function importHistoryTable(entries, onRollback) {
  return table({
    caption: 'Imported User Directory History',
    hideCaption: true,
    columns: [
      { title: 'ID', cell: (e) => `#${e.id}`, numeric: true },
      { title: 'Date', cell: (e) => timeElement(e.created_at) },
      { title: 'File', cell: fileCell },
      { title: 'Description', cell: (e) => e.description || h('span', { class: 'muted' }, '—') },
      {
        title: 'Format',
        cell: (e) => (e.format ? [e.format.toUpperCase(), e.encoding ? h('span', { class: 'hint' }, ` ${e.encoding.toUpperCase()}`) : null] : '—'),
      },
      { title: 'By', cell: (e) => e.created_by },
      { title: 'Changes per domain', cell: domainChanges, className: 'wide' },
      { title: 'Status', cell: (e) => statusBadge(e.status) },
      {
        title: 'Action',
        cell: (e) =>
          e.rollback_available
            ? button('Roll back', () => onRollback(e), 'button button--small')
            : null,
      },
    ],
    rows: entries,
    empty:
      'No import yet. Check and import a file above; every import is listed here and can be rolled back while no later import has replaced its domains.',
  });
}

/**
 * The synchronization history.
 * @param {HistoryEntry[]} runs newest first
 * @returns {HTMLElement}
 */
export function syncHistoryTable(runs) {
  return table({
    caption: 'Synchronization History',
    hideCaption: true,
    columns: [
      { title: 'Date', cell: (e) => timeElement(e.created_at) },
      { title: 'Source', cell: (e) => e.source ?? 'default' },
      {
        title: 'Agent',
        cell: (e) => [
          e.agent?.host || h('span', { class: 'muted' }, 'unknown host'),
          e.agent?.ip ? h('span', { class: 'hint' }, ` ${e.agent.ip}`) : null,
          e.agent?.version ? h('span', { class: 'hint' }, ` v${e.agent.version}`) : null,
        ],
      },
      { title: 'Recipients', cell: (e) => formatCount(e.submitted.recipients), numeric: true },
      { title: 'Aliases', cell: (e) => formatCount(e.submitted.aliases), numeric: true },
      { title: 'Groups', cell: (e) => formatCount(e.submitted.groups), numeric: true },
      { title: 'Changes per domain', cell: domainChanges, className: 'wide' },
      {
        title: 'Result',
        cell: (e) => [resultBadge(e.result), e.message ? h('p', { class: 'hint' }, e.message) : null],
      },
    ],
    rows: runs,
    empty: 'No sync run yet.',
  });
}

/**
 * A result badge for a sync source.
 * @param {ChangeResult} result
 * @returns {HTMLSpanElement}
 */
export function resultBadge(result) {
  const [label, tone] = RESULT[result] ?? [result, 'muted'];
  return h('span', { class: `badge badge--${tone}` }, label);
}
