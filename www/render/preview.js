// @ts-check
/**
 * The records preview of a checked file: the first recipients, aliases and groups the browser
 * kept, with a search box. It shows records exactly as they will be uploaded (normalised).
 */

import { h, uid } from './dom.js';
import { formatCount } from './locale.js';
import { table } from './table.js';

/** @typedef {import('../types.js').Preview} Preview */
/** @typedef {{ kind: string, address: string, detail: string }} PreviewRow */

/** How many matching rows are drawn. */
const SHOWN = 25;

/**
 * @param {Preview} preview
 * @param {import('../types.js').Report['counts']} counts
 * @returns {HTMLElement}
 */
export function renderPreview(preview, counts) {
  /** @type {PreviewRow[]} */
  const rows = [
    ...preview.recipients.map((r) => ({ kind: 'Recipient', address: r.address, detail: r.name ?? '' })),
    ...preview.aliases.map((a) => ({ kind: 'Alias', address: a.address, detail: `→ ${a.target}` })),
    ...preview.groups.map((g) => ({
      kind: 'Group',
      address: g.address ?? '',
      detail: `${g.name} (${formatCount(g.members.length)} ${g.members.length === 1 ? 'member' : 'members'})`,
    })),
  ];
  const total = counts.recipients + counts.aliases + counts.groups;
  const search = h('input', { type: 'search', class: 'input', autocomplete: 'off', spellcheck: 'false', id: uid('search') });
  const status = h('p', { class: 'hint', 'aria-live': 'polite' });
  const output = h('div', {});

  function draw() {
    const needle = search.value.trim().toLowerCase();
    const matches = needle ? rows.filter((row) => `${row.address} ${row.detail}`.toLowerCase().includes(needle)) : rows;
    status.textContent = needle
      ? `${formatCount(matches.length)} of the ${formatCount(rows.length)} previewed records match.`
      : `The first ${formatCount(rows.length)} of ${formatCount(total)} records, as they will be uploaded.`;
    output.replaceChildren(
      table({
        caption: 'Records preview',
        hideCaption: true,
        columns: [
          { title: 'Kind', cell: (row) => row.kind },
          { title: 'Address', cell: (row) => h('span', { class: 'mono' }, row.address) },
          { title: 'Name or target', cell: (row) => row.detail, className: 'wide' },
        ],
        rows: matches.slice(0, SHOWN),
        empty: needle ? 'No previewed record matches the search.' : 'The file holds no valid record.',
      }),
    );
  }
  search.addEventListener('input', draw);
  draw();
  return h('div', { class: 'preview' }, [
    h('h4', {}, 'Records preview'),
    h('div', { class: 'field' }, [h('label', { for: search.id }, 'Search the preview'), search]),
    status,
    output,
  ]);
}
