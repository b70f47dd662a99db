// @ts-check
/**
 * What an import does to each domain it replaces: how many addresses are added, removed and
 * kept, with samples, and whether the removals pass the tenant's deletion threshold.
 */

import { h } from './dom.js';
import { formatCount, formatPercent, plural } from './locale.js';
import { table } from './table.js';

/** @typedef {import('../types.js').DomainDiff} DomainDiff */
/** @typedef {import('../types.js').Sample} Sample */

/**
 * The name of a diff's domain; `null` is the tenant's groups without an address.
 * @param {DomainDiff} diff
 * @returns {string}
 */
export function domainLabel(diff) {
  return diff.domain ?? 'groups without an address';
}

/**
 * What an import replaces, in words: "2 domains", "1 domain and the groups without an address".
 * @param {DomainDiff[]} diffs
 * @returns {string}
 */
export function replacedScope(diffs) {
  const named = diffs.filter((d) => d.domain !== null).length;
  const groups = diffs.some((d) => d.domain === null);
  if (named === 0) return groups ? 'the groups without an address' : 'nothing';
  return groups ? `${plural(named, 'domain')} and the groups without an address` : plural(named, 'domain');
}

/**
 * Every domain's diff, with a sentence on what "replace per domain" means. Named domains come
 * first, the groups without an address last.
 * @param {DomainDiff[]} diffs
 * @param {{ thresholdPercent: number | null, managedDomains: string[] }} context
 * @returns {HTMLElement}
 */
export function renderDiff(diffs, { thresholdPercent, managedDomains }) {
  const replaced = new Set(diffs.map((d) => d.domain).filter((d) => d !== null));
  const untouched = managedDomains.filter((d) => !replaced.has(d));
  const one = untouched.length === 1;
  const intro = [
    `This import replaces every record of ${replacedScope(diffs)}, all at once.`,
    untouched.length
      ? ` ${one ? 'The domain' : 'The domains'} ${untouched.join(', ')} ${one ? 'is' : 'are'} not in the file and ${one ? 'keeps its' : 'keep their'} records.`
      : '',
  ].join('');
  const ordered = [...diffs].sort((a, b) => (a.domain === null ? 1 : 0) - (b.domain === null ? 1 : 0));
  return h('div', { class: 'diff' }, [
    h('p', {}, intro),
    h('div', { class: 'diff__domains' }, ordered.map((diff) => renderDomain(diff, thresholdPercent))),
  ]);
}

/**
 * @param {DomainDiff} diff
 * @param {number | null} thresholdPercent
 * @returns {HTMLElement}
 */
function renderDomain(diff, thresholdPercent) {
  const removedShare = diff.before > 0 ? (diff.removed.count * 100) / diff.before : 0;
  const title = diff.domain ? h('span', { class: 'mono' }, diff.domain) : 'Groups without an address';
  const warning = diff.threshold_exceeded
    ? h(
        'p',
        { class: 'notice notice--warning' },
        `This removes ${formatCount(diff.removed.count)} of ${formatCount(diff.before)} addresses (${formatPercent(removedShare)})` +
          (thresholdPercent === null ? ', more than the deletion threshold allows.' : `, more than the deletion threshold of ${thresholdPercent} %.`) +
          ' Mail to removed addresses will be rejected.',
      )
    : null;
  const counts = table({
    caption: `Changes in ${domainLabel(diff)}`,
    hideCaption: true,
    columns: [
      { title: 'Kind', cell: (row) => row.kind, rowHeader: true },
      { title: 'Added', cell: (row) => formatCount(row.added), numeric: true },
      { title: 'Removed', cell: (row) => formatCount(row.removed), numeric: true },
      { title: 'Kept', cell: (row) => formatCount(row.kept), numeric: true },
    ],
    rows: [
      { kind: 'Valid recipients', ...diff.recipients },
      { kind: 'Aliases', ...diff.aliases },
      { kind: 'Groups', ...diff.groups },
      { kind: 'All addresses', added: diff.added.count, removed: diff.removed.count, kept: diff.kept.count },
    ],
    stack: false,
    empty: '',
  });
  return h('article', { class: diff.threshold_exceeded ? 'diff__domain diff__domain--danger' : 'diff__domain' }, [
    h('h5', {}, [title]),
    h('p', { class: 'diff__before-after' }, [
      `Before: ${plural(diff.before, 'address', 'addresses')}`,
      h('span', { 'aria-hidden': 'true' }, ' → '),
      h('span', { class: 'visually-hidden' }, ', '),
      `after: ${plural(diff.after, 'address', 'addresses')}`,
    ]),
    warning,
    counts,
    samples('Added', diff.added, false),
    samples('Removed', diff.removed, diff.threshold_exceeded),
    samples('Kept', diff.kept, false),
  ]);
}

/**
 * A disclosure with the first addresses of one side of the diff.
 * @param {string} label
 * @param {Sample} sample
 * @param {boolean} open
 * @returns {HTMLElement | null}
 */
function samples(label, sample, open) {
  if (sample.count === 0) return null;
  const rest = sample.count - sample.samples.length;
  return h('details', { class: 'samples', open }, [
    h('summary', {}, `${label}: ${plural(sample.count, 'address', 'addresses')}`),
    h('ul', { class: 'samples__list' }, sample.samples.map((address) => h('li', { class: 'mono' }, address))),
    rest > 0 ? h('p', { class: 'hint' }, `… and ${formatCount(rest)} more.`) : null,
  ]);
}
