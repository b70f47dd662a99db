// @ts-check
/**
 * Data tables. A table sits in a scrollable, focusable region so that it stays usable on a
 * narrow screen and by keyboard. On a phone, wide tables are shown as one card per row, each
 * cell labelled with its column (`data-label`); the explicit ARIA roles keep the table's
 * semantics when CSS changes its display.
 */

import { h, uid } from './dom.js';
import { emptyState } from './notice.js';

/**
 * @template Row
 * @typedef {object} Column
 * @property {string} title the header text
 * @property {(row: Row) => import('./dom.js').Child | import('./dom.js').Child[]} cell the cell's content
 * @property {boolean} [numeric] right-aligned, tabular figures
 * @property {boolean} [rowHeader] this cell names the row (`<th scope="row">`)
 * @property {string} [className] an extra class for the header and cells
 */

/**
 * @template Row
 * @typedef {object} TableOptions
 * @property {string} caption what the table shows; also the scroll region's name
 * @property {Column<Row>[]} columns
 * @property {Row[]} rows
 * @property {string} empty the sentence shown instead of an empty table
 * @property {boolean} [hideCaption] keep the caption for screen readers only
 * @property {(row: Row) => string | undefined} [rowClass]
 * @property {boolean} [stack] show one card per row on narrow screens (default); small tables
 *   of numbers read better as they are
 */

/**
 * A table, or the empty-state sentence when there are no rows.
 * @template Row
 * @param {TableOptions<Row>} options
 * @returns {HTMLElement}
 */
export function table({ caption, columns, rows, empty, hideCaption = false, rowClass, stack = true }) {
  if (rows.length === 0) return emptyState(empty);
  const captionId = uid('caption');
  const head = h(
    'thead',
    { role: 'rowgroup' },
    h(
      'tr',
      { role: 'row' },
      columns.map((column) => h('th', { scope: 'col', role: 'columnheader', class: classes(column) }, column.title)),
    ),
  );
  const body = h('tbody', { role: 'rowgroup' });
  for (const row of rows) {
    const tr = h('tr', { role: 'row', class: rowClass?.(row) });
    for (const column of columns) {
      const attributes = { class: classes(column), 'data-label': column.title };
      // One wrapper per cell, so that a cell of several nodes stays one grid item as a card.
      const content = h('div', { class: 'cell' }, column.cell(row));
      tr.append(
        column.rowHeader
          ? h('th', { ...attributes, scope: 'row', role: 'rowheader' }, content)
          : h('td', { ...attributes, role: 'cell' }, content),
      );
    }
    body.append(tr);
  }
  const element = h('table', { class: 'data', role: 'table' }, [
    h('caption', { id: captionId, class: hideCaption ? 'visually-hidden' : undefined }, caption),
    head,
    body,
  ]);
  const wrapClass = stack ? 'table-wrap table-wrap--stack' : 'table-wrap';
  return h('div', { class: wrapClass, role: 'region', 'aria-labelledby': captionId, tabindex: 0 }, element);
}

/**
 * @param {Column<any>} column
 * @returns {string | undefined}
 */
function classes(column) {
  const names = [column.numeric ? 'num' : '', column.className ?? ''].filter(Boolean);
  return names.length ? names.join(' ') : undefined;
}

/**
 * A definition list of label and value pairs, for summaries.
 * @param {[string, import('./dom.js').Child | import('./dom.js').Child[]][]} pairs
 * @returns {HTMLDListElement}
 */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([term, value]) => h('div', { class: 'facts__item' }, [h('dt', {}, term), h('dd', {}, value)])),
  );
}
