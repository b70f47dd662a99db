// @ts-check
/**
 * A small bar chart of recipients, aliases and groups per domain. Every bar carries its number
 * as text, so the chart reads the same without colour or sight; the bar lengths (set through
 * CSSOM, which the page's CSP allows) are decoration.
 */

import { h } from './dom.js';
import { formatCount } from './locale.js';

/** @typedef {{ domain: string, recipients: number, aliases: number, groups: number }} ChartRow */

/** @type {[keyof Omit<ChartRow, 'domain'>, string][]} */
const SERIES = [
  ['recipients', 'Recipients'],
  ['aliases', 'Aliases'],
  ['groups', 'Groups'],
];

/**
 * @param {ChartRow[]} rows
 * @param {string} [caption]
 * @returns {HTMLElement}
 */
export function countsChart(rows, caption = 'Records per domain') {
  const max = Math.max(1, ...rows.flatMap((row) => SERIES.map(([key]) => row[key])));
  const groups = rows.map((row) =>
    h('div', { class: 'chart__group', role: 'group', 'aria-label': row.domain }, [
      h('p', { class: 'chart__domain mono' }, row.domain),
      ...SERIES.map(([key, label]) => {
        const fill = h('span', { class: `chart__fill chart__fill--${key}` });
        const value = row[key];
        // A non-zero count always shows at least a sliver.
        fill.style.width = value === 0 ? '0' : `max(2px, ${(value / max) * 100}%)`;
        return h('div', { class: 'chart__row' }, [
          h('span', { class: 'chart__label' }, label),
          h('span', { class: 'chart__bar', 'aria-hidden': 'true' }, fill),
          h('span', { class: 'chart__value num' }, formatCount(value)),
        ]);
      }),
    ]),
  );
  return h('figure', { class: 'chart' }, [
    h('figcaption', {}, caption),
    h('div', { class: 'chart__groups' }, groups),
  ]);
}
