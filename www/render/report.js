// @ts-check
/**
 * The validation report of an import: what the file is, what it holds, and every diagnostic,
 * filterable by severity and code, and downloadable as CSV.
 */

import { button, h, replace, uid } from './dom.js';
import { formatBytes, formatCount, plural } from './locale.js';
import { countsChart } from './chart.js';
import { facts, table } from './table.js';

/** @typedef {import('../types.js').Report} Report */
/** @typedef {import('../types.js').Diagnostic} Diagnostic */
/** @typedef {import('../types.js').Severity} Severity */

/** @type {Severity[]} */
const SEVERITIES = ['error', 'warning', 'info'];

/** @type {Record<Severity, [string, string]>} */
const SEVERITY_NAMES = {
  error: ['error', 'errors'],
  warning: ['warning', 'warnings'],
  info: ['note', 'notes'],
};

/** How many diagnostic rows are drawn at once; the rest come with "Show more". */
const PAGE = 200;

/**
 * The total of each severity over every diagnostic, including those beyond the per-code cap.
 * A code's severity is read from its kept diagnostics (every counted code keeps at least one).
 * @param {Report} report
 * @returns {Record<Severity, number>}
 */
export function severityTotals(report) {
  /** @type {Map<string, Severity>} */
  const severityOf = new Map();
  for (const diagnostic of report.diagnostics) severityOf.set(diagnostic.code, diagnostic.severity);
  /** @type {Record<Severity, number>} */
  const totals = { error: 0, warning: 0, info: 0 };
  for (const [code, count] of Object.entries(report.diagnostic_totals)) {
    totals[severityOf.get(code) ?? 'error'] += count;
  }
  return totals;
}

/**
 * Where a diagnostic points, compiler style: `file:line:column`.
 * @param {Diagnostic} diagnostic
 * @returns {string}
 */
export function position(diagnostic) {
  const column = diagnostic.column === null || diagnostic.column === undefined ? '' : `:${diagnostic.column}`;
  return `${diagnostic.file}:${diagnostic.line}${column}`;
}

/**
 * The whole report.
 * @param {Report} report
 * @returns {HTMLElement}
 */
export function renderReport(report) {
  const totals = severityTotals(report);
  const files = report.files.map((file) =>
    h('li', {}, [
      h('span', { class: 'mono' }, file.name),
      ` — ${file.format.toUpperCase()}, ${encodingName(file.encoding, file.bom)}, ${formatBytes(file.bytes)}, `,
      `${plural(file.lines, 'line')}, ${plural(file.records, 'record')}`,
    ]),
  );
  const verdict = report.valid
    ? h('span', { class: 'badge badge--ok' }, 'No errors')
    : h('span', { class: 'badge badge--error' }, plural(totals.error, 'error'));
  const summary = facts([
    ['Result', verdict],
    ['Format', report.format.toUpperCase()],
    ['Encoding', encodingName(report.encoding, report.bom)],
    ['Valid recipients', formatCount(report.counts.recipients)],
    ['Aliases', formatCount(report.counts.aliases)],
    ['Groups', formatCount(report.counts.groups)],
    ['Skipped (no address)', formatCount(report.counts.skipped)],
    ['Not in a managed domain', formatCount(report.counts.unmanaged)],
  ]);
  const domains = table({
    caption: 'Records per domain in the file',
    columns: [
      { title: 'Domain', cell: (d) => h('span', { class: 'mono' }, d.domain), rowHeader: true },
      { title: 'Recipients', cell: (d) => formatCount(d.recipients), numeric: true },
      { title: 'Aliases', cell: (d) => formatCount(d.aliases), numeric: true },
      { title: 'Groups', cell: (d) => formatCount(d.groups), numeric: true },
    ],
    rows: report.domains,
    stack: false,
    empty: 'The file holds no address in any of your managed domains.',
  });
  return h('div', { class: 'report' }, [
    h('h4', {}, 'What the file holds'),
    h('ul', { class: 'files' }, files),
    summary,
    report.counts.unmanaged > 0
      ? h(
          'p',
          { class: 'hint' },
          `${plural(report.counts.unmanaged, 'address', 'addresses')} in domains this tenant does not manage will be skipped. ` +
            'Add the domain on the Export tab first if it should be imported.',
        )
      : null,
    domains,
    report.domains.length ? countsChart(report.domains) : null,
    h('h4', {}, 'Diagnostics'),
    renderDiagnostics(report, totals),
  ]);
}

/**
 * A diagnostic's sentence, with the `quoted` parts (the offending input) set as code.
 * @param {string} message
 * @returns {(string | HTMLElement)[]}
 */
function withCode(message) {
  return message.split('`').map((part, index) => (index % 2 === 1 ? h('code', {}, part) : part));
}

/**
 * @param {import('../types.js').Encoding} encoding
 * @param {boolean} bom
 * @returns {string}
 */
function encodingName(encoding, bom) {
  const names = {
    'utf-8': 'UTF-8',
    'utf-16le': 'UTF-16 LE',
    'utf-16be': 'UTF-16 BE',
    'windows-1252': 'Windows-1252 (ANSI)',
  };
  return `${names[encoding] ?? encoding}${bom ? ' with BOM' : ''}`;
}

/**
 * The diagnostics table with its severity filter.
 * @param {Report} report
 * @param {Record<Severity, number>} totals
 * @returns {HTMLElement}
 */
function renderDiagnostics(report, totals) {
  if (report.diagnostics.length === 0) {
    return h('p', { class: 'empty' }, 'No problems found: every record of the file is usable as it is.');
  }
  /** @type {Set<Severity>} */
  const shown = new Set(SEVERITIES);
  let limit = PAGE;
  const output = h('div', { class: 'diagnostics__rows' });
  const legendId = uid('legend');
  const filter = h('fieldset', { class: 'filter', 'aria-labelledby': legendId }, [
    h('legend', { id: legendId }, 'Show'),
  ]);
  for (const severity of SEVERITIES) {
    const [one, many] = SEVERITY_NAMES[severity];
    const count = totals[severity];
    const id = uid('severity');
    const box = h('input', { type: 'checkbox', id, checked: true, disabled: count === 0 });
    box.addEventListener('change', () => {
      if (box.checked) shown.add(severity);
      else shown.delete(severity);
      limit = PAGE;
      draw();
    });
    filter.append(
      h('span', { class: 'filter__option' }, [
        box,
        h('label', { for: id }, [h('span', { class: `sev sev--${severity}` }, severity), ` ${formatCount(count)} ${count === 1 ? one : many}`]),
      ]),
    );
  }

  const codeId = uid('code');
  const codeSelect = h('select', { id: codeId, class: 'input' }, [
    h('option', { value: '' }, 'All codes'),
    ...Object.entries(report.diagnostic_totals).map(([code, total]) => h('option', { value: code }, `${code} (${formatCount(total)})`)),
  ]);
  codeSelect.addEventListener('change', () => {
    limit = PAGE;
    draw();
  });
  const download = button('Download as CSV', () => downloadCsv(filtered()), 'button button--quiet');
  download.dataset.keepEnabled = 'true';

  /** The diagnostics of the chosen severities and code. */
  function filtered() {
    return report.diagnostics.filter((d) => shown.has(d.severity) && (!codeSelect.value || d.code === codeSelect.value));
  }

  const capped = Object.entries(report.diagnostic_totals)
    .map(([code, total]) => ({ code, total, kept: report.diagnostics.filter((d) => d.code === code).length }))
    .filter((entry) => entry.total > entry.kept);

  function draw() {
    const rows = filtered();
    const more =
      rows.length > limit
        ? button(`Show ${formatCount(Math.min(PAGE, rows.length - limit))} more (${formatCount(rows.length - limit)} not shown)`, () => {
            limit += PAGE;
            draw();
          }, 'button button--quiet')
        : null;
    replace(output, [
      table({
        caption: 'Diagnostics',
        hideCaption: true,
        columns: [
          { title: 'Where', cell: (d) => h('span', { class: 'mono' }, position(d)) },
          { title: 'Severity', cell: (d) => h('span', { class: `sev sev--${d.severity}` }, d.severity) },
          { title: 'Code', cell: (d) => h('code', {}, d.code), className: 'nowrap' },
          { title: 'Message', cell: (d) => withCode(d.message), className: 'wide' },
        ],
        rows: rows.slice(0, limit),
        empty: 'No diagnostic of the chosen severities and code.',
        rowClass: (d) => `row--${d.severity}`,
      }),
      more,
    ]);
  }
  draw();
  return h('div', { class: 'diagnostics' }, [
    h('div', { class: 'diagnostics__controls' }, [
      filter,
      h('div', { class: 'field' }, [h('label', { for: codeId }, 'Code'), codeSelect]),
      h('div', { class: 'actions' }, download),
    ]),
    capped.length
      ? h(
          'p',
          { class: 'hint' },
          'Only the first diagnostics of each kind are listed: ' +
            capped.map((c) => `${c.code} ${formatCount(c.kept)} of ${formatCount(c.total)}`).join(', ') +
            '.',
        )
      : null,
    output,
  ]);
}

/**
 * One CSV cell: RFC 4180 quoting, and a leading `'` on anything a spreadsheet would run as a
 * formula (messages quote the file's own text).
 * @param {string | number | null} value
 * @returns {string}
 */
function csvCell(value) {
  let text = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Downloads diagnostics as `diagnostics.csv` (UTF-8 with BOM, CRLF, like the exports).
 * @param {Diagnostic[]} diagnostics
 */
function downloadCsv(diagnostics) {
  const lines = [['file', 'line', 'column', 'severity', 'code', 'message'].join(',')];
  for (const d of diagnostics) {
    lines.push([d.file, d.line, d.column, d.severity, d.code, d.message].map(csvCell).join(','));
  }
  const url = URL.createObjectURL(new Blob(['\ufeff', lines.join('\r\n'), '\r\n'], { type: 'text/csv' }));
  const link = h('a', { href: url, download: 'diagnostics.csv', hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
