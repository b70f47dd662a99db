// @ts-check
/**
 * The Export tab: per-domain statistics with a small chart, downloads of the three exports for
 * all domains or one, and the managed domains (add, remove, recipient checking on and off).
 */

import { ApiError, del, get, patch, post } from '../api.js';
import { countsChart } from '../render/chart.js';
import { confirmAction } from '../render/dialog.js';
import { button, field, h, replace, section } from '../render/dom.js';
import { domainDownloads, downloadList } from '../render/downloads.js';
import { formatCount, plural, timeElement } from '../render/locale.js';
import { describeError, messageArea, notice } from '../render/notice.js';
import { facts, table } from '../render/table.js';

/** @typedef {import('../types.js').Stats} Stats */
/** @typedef {import('../types.js').DomainView} DomainView */

/**
 * @param {HTMLElement} panel
 * @returns {() => void} reloads the statistics and domains
 */
export function exportTab(panel) {
  const messages = messageArea();
  const stats = h('div', {}, h('p', { class: 'loading' }, 'Loading the statistics…'));
  const domains = h('div', {}, h('p', { class: 'loading' }, 'Loading the managed domains…'));
  const newDomain = h('input', { type: 'text', class: 'input mono', required: true, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', placeholder: 'example.org' });
  const add = h('button', { type: 'submit', class: 'button button--primary' }, 'Add domain');
  const addMessages = messageArea();
  const addForm = h('form', { novalidate: true, class: 'inline-form' }, [field('New domain', newDomain), add]);

  replace(panel, [
    section('Directory statistics', [stats]),
    section('Download all domains', [downloadList()]),
    section('Managed domains', [
      h('p', {}, 'The gateway checks recipients only in managed domains, and imports keep only their addresses. Turning checking off for a domain makes the gateway accept mail to any address there, for example while you verify an import.'),
      messages.element,
      domains,
      addForm,
      addMessages.element,
    ]),
  ]);

  async function load() {
    try {
      /** @type {[Stats, { domains: DomainView[] }]} */
      const [counts, managed] = await Promise.all([get('/stats'), get('/domains')]);
      replace(stats, statsView(counts));
      replace(domains, domainsTable(managed.domains));
    } catch (error) {
      replace(stats, notice('error', `The statistics could not be loaded. ${describeError(error)}`));
      domains.replaceChildren();
    }
  }

  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const domain = newDomain.value.trim();
    if (!domain) {
      addMessages.show('error', 'Type the domain to add, for example example.org.');
      newDomain.focus();
      return;
    }
    add.disabled = true;
    try {
      /** @type {{ domain: string }} */
      const added = await post('/domains', { domain });
      addMessages.show('success', `${added.domain} is managed now. Until you import its addresses, the gateway rejects all mail to it; turn its checking off meanwhile if mail to it already flows.`);
      newDomain.value = '';
      load();
    } catch (error) {
      addMessages.show('error', `The domain was not added. ${describeError(error)}`);
    } finally {
      add.disabled = false;
    }
  });

  /**
   * @param {DomainView[]} rows
   * @returns {HTMLElement}
   */
  function domainsTable(rows) {
    return table({
      caption: 'Managed domains',
      hideCaption: true,
      columns: [
        { title: 'Domain', cell: (d) => h('span', { class: 'mono' }, d.domain), rowHeader: true },
        { title: 'Recipient checking', cell: (d) => (d.recipient_check ? h('span', { class: 'badge badge--ok' }, 'On') : h('span', { class: 'badge badge--warning' }, 'Off: all mail accepted')) },
        { title: 'Addresses', cell: (d) => formatCount(d.recipients + d.aliases + d.groups), numeric: true },
        { title: 'Added', cell: (d) => timeElement(d.added_at) },
        {
          title: 'Actions',
          cell: (d) =>
            h('div', { class: 'row-actions' }, [
              button(d.recipient_check ? 'Disable checking' : 'Enable checking', () => setChecking(d), 'button button--small'),
              button('Remove', () => remove(d), 'button button--small button--danger'),
            ]),
        },
      ],
      rows,
      empty: 'This tenant manages no domain yet. Add one below; imports keep only addresses in managed domains.',
    });
  }

  /** @param {DomainView} d */
  async function setChecking(d) {
    const enabled = !d.recipient_check;
    try {
      await patch(`/domains/${encodeURIComponent(d.domain)}`, { recipient_check: enabled });
      messages.show(
        enabled ? 'success' : 'warning',
        enabled
          ? `Recipient checking is on for ${d.domain}: the gateway rejects mail to unknown addresses there.`
          : `Recipient checking is off for ${d.domain}: the gateway accepts mail to any address there until you turn it on again.`,
      );
      load();
    } catch (error) {
      messages.show('error', `Checking was not changed. ${describeError(error)}`);
    }
  }

  /** @param {DomainView} d */
  async function remove(d) {
    const records = d.recipients + d.aliases + d.groups;
    const sure = await confirmRemoval(d.domain, records);
    if (!sure) return;
    try {
      await del(`/domains/${encodeURIComponent(d.domain)}`, { force: records > 0 });
      messages.show('success', `${d.domain} is no longer managed${records ? `, and its ${plural(records, 'address', 'addresses')} are deleted` : ''}.`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'domain-has-records') {
        // Addresses arrived since the list was loaded: ask again, with the server's count.
        const now = error.body?.records ?? 0;
        if (await confirmRemoval(d.domain, now)) {
          try {
            await del(`/domains/${encodeURIComponent(d.domain)}`, { force: true });
            messages.show('success', `${d.domain} is no longer managed, and its ${plural(now, 'address', 'addresses')} are deleted.`);
          } catch (again) {
            messages.show('error', `The domain was not removed. ${describeError(again)}`);
          }
        }
      } else {
        messages.show('error', `The domain was not removed. ${describeError(error)}`);
      }
    }
    load();
  }

  load();
  return load;
}

/**
 * Asks before a domain stops being managed; with records, the domain name must be typed.
 * @param {string} domain
 * @param {number} records
 * @returns {Promise<boolean>}
 */
function confirmRemoval(domain, records) {
  if (records === 0) {
    return confirmAction({
      title: `Stop managing ${domain}?`,
      body: ['The domain holds no address. Once removed, the gateway no longer checks recipients in it, and imports skip its addresses.'],
      confirmLabel: 'Remove domain',
      danger: true,
    });
  }
  return confirmAction({
    title: `Remove ${domain} and its ${plural(records, 'address', 'addresses')}?`,
    body: [
      `${domain} still holds ${plural(records, 'address', 'addresses')}. Removing the domain deletes them, and this cannot be rolled back: to restore them, add the domain again and re-import.`,
      'Download its exports first if you may need them.',
    ],
    confirmLabel: 'Remove domain and addresses',
    danger: true,
    typeToConfirm: domain,
  });
}

/**
 * @param {Stats} counts
 * @returns {HTMLElement}
 */
function statsView(counts) {
  const totals = facts([
    ['Valid recipients', h('span', { class: 'big-number' }, formatCount(counts.totals.recipients))],
    ['Email aliases', h('span', { class: 'big-number' }, formatCount(counts.totals.aliases))],
    ['Groups', h('span', { class: 'big-number' }, formatCount(counts.totals.groups))],
  ]);
  if (counts.domains.length === 0) {
    return h('div', {}, [totals, h('p', { class: 'empty' }, 'No managed domain yet. Add one under Managed domains below.')]);
  }
  const empty = counts.totals.recipients + counts.totals.aliases + counts.totals.groups === 0;
  return h('div', {}, [
    totals,
    empty
      ? h('p', { class: 'empty' }, 'The directory is empty. Import a file on the Directory Import tab, or let the sync agent push one.')
      : countsChart(counts.domains),
    table({
      caption: 'Counts and downloads per domain',
      columns: [
        { title: 'Domain', cell: (d) => h('span', { class: 'mono' }, d.domain), rowHeader: true },
        { title: 'Recipients', cell: (d) => formatCount(d.recipients), numeric: true },
        { title: 'Aliases', cell: (d) => formatCount(d.aliases), numeric: true },
        { title: 'Groups', cell: (d) => formatCount(d.groups), numeric: true },
        { title: 'Checking', cell: (d) => (d.recipient_check ? 'On' : h('span', { class: 'badge badge--warning' }, 'Off')) },
        { title: 'Download', cell: (d) => domainDownloads(d.domain) },
      ],
      rows: counts.domains,
      empty: '',
    }),
    counts.groups_without_address > 0
      ? h('p', { class: 'hint' }, `${plural(counts.groups_without_address, 'group')} without an address ${counts.groups_without_address === 1 ? 'belongs' : 'belong'} to no domain; ${counts.groups_without_address === 1 ? 'it is' : 'they are'} in groups.csv of all domains.`)
      : null,
  ]);
}
