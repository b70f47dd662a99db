// @ts-check
/**
 * The Directory Synchronize tab: what the directory sync agent last pushed, its run history,
 * downloads of the current directory, and the tenant's API keys (the agent needs one).
 */

import { del, get, post } from '../api.js';
import { keyReveal } from '../render/api-key.js';
import { countsChart } from '../render/chart.js';
import { confirmAction } from '../render/dialog.js';
import { button, field, h, replace, section } from '../render/dom.js';
import { downloadList } from '../render/downloads.js';
import { resultBadge, syncHistoryTable } from '../render/history.js';
import { formatCount, formatDate, timeElement } from '../render/locale.js';
import { describeError, messageArea, notice } from '../render/notice.js';
import { facts, table } from '../render/table.js';

/** @typedef {import('../types.js').SyncSummary} SyncSummary */

/**
 * @param {HTMLElement} panel
 * @returns {() => void} reloads the tab's data
 */
export function synchronizeTab(panel) {
  const summary = h('div', {}, h('p', { class: 'loading' }, 'Loading the synchronization summary…'));
  const history = h('div', {}, h('p', { class: 'loading' }, 'Loading the synchronization history…'));
  const keys = h('div');
  replace(panel, [
    section('Synchronization Summary', [summary]),
    section('Synchronization History', [history]),
    section('Downloads', [
      h('h3', {}, 'The directory sync agent'),
      h('p', {}, [
        'dirgate-sync runs on a machine that can reach your directory server. Build it with ',
        h('code', {}, 'cargo build --release -p dirgate-sync'),
        ', write a commented example configuration with ',
        h('code', {}, 'dirgate-sync init dirgate-sync.toml'),
        ', put the server address, an API key of this tenant (below) and your directory server in it, then try ',
        h('code', {}, 'dirgate-sync check-config'),
        ' and ',
        h('code', {}, 'dirgate-sync run --dry-run'),
        ' before ',
        h('code', {}, 'dirgate-sync daemon'),
        '. The README has a complete example.',
      ]),
      h('p', {}, [
        'Microsoft 365 / Entra ID and IBM Domino are not supported yet. Scripts can push a directory through the REST API: see the ',
        h('a', { href: '/api/docs' }, 'API documentation'),
        ' (OpenAPI: ',
        h('a', { href: '/api/openapi.json' }, 'openapi.json'),
        ').',
      ]),
      h('h3', {}, 'The directory as it is now'),
      h('p', {}, 'Across all managed domains. These files can be imported again as they are.'),
      downloadList(),
    ]),
    section('API keys', [keys]),
  ]);
  loadSync(summary, history);
  const reloadKeys = keysSection(keys);
  return () => {
    loadSync(summary, history);
    reloadKeys();
  };
}

/**
 * @param {HTMLElement} summary
 * @param {HTMLElement} history
 */
async function loadSync(summary, history) {
  try {
    /** @type {[SyncSummary, import('../types.js').SyncHistory]} */
    const [sum, runs] = await Promise.all([get('/sync/summary'), get('/sync/history')]);
    if (sum.sources.length === 0) {
      replace(summary, [
        h('p', { class: 'empty' }, 'No directory sync agent has reported yet.'),
        h('p', {}, 'To keep this directory in step with Active Directory, the AD Global Catalog or OpenLDAP automatically, run dirgate-sync near the directory server with an API key of this tenant (see Downloads below). Each run replaces the domains it reports, with the same deletion threshold as an import, and shows up here.'),
        h('p', {}, 'Until then, import files on the Directory Import tab.'),
      ]);
      replace(history, h('p', { class: 'empty' }, 'No sync run yet.'));
      return;
    }
    replace(summary, [
      h('p', {}, 'Totals from the last successful run of each source:'),
      facts([
        ['Valid recipients', h('span', { class: 'big-number' }, formatCount(sum.totals.recipients))],
        ['Email aliases', h('span', { class: 'big-number' }, formatCount(sum.totals.aliases))],
        ['Groups', h('span', { class: 'big-number' }, formatCount(sum.totals.groups))],
      ]),
      table({
        caption: 'Sources',
        columns: [
          { title: 'Source', cell: (s) => s.source, rowHeader: true },
          { title: 'Agent host', cell: (s) => s.agent?.host || h('span', { class: 'muted' }, 'unknown') },
          { title: 'IP address', cell: (s) => (s.agent?.ip ? h('span', { class: 'mono' }, s.agent.ip) : h('span', { class: 'muted' }, 'unknown')) },
          { title: 'Last run', cell: (s) => timeElement(s.last_run) },
          { title: 'Result', cell: (s) => resultBadge(s.result) },
          { title: 'Recipients', cell: (s) => formatCount(s.counts.recipients), numeric: true },
          { title: 'Aliases', cell: (s) => formatCount(s.counts.aliases), numeric: true },
          { title: 'Groups', cell: (s) => formatCount(s.counts.groups), numeric: true },
          { title: 'Last applied', cell: (s) => (s.last_applied ? timeElement(s.last_applied) : h('span', { class: 'muted' }, 'never')) },
        ],
        rows: sum.sources,
        empty: '',
      }),
      sum.sources.some((s) => s.result !== 'applied')
        ? notice('warning', 'The last run of a source was refused, so the directory still holds what that source pushed before. See its message in the history below.')
        : null,
    ]);
    replace(history, [countsOverTime(runs.runs), syncHistoryTable(runs.runs)]);
  } catch (error) {
    replace(summary, notice('error', `The synchronization summary could not be loaded. ${describeError(error)}`));
    history.replaceChildren();
  }
}

/**
 * What each applied run pushed, oldest first (the last 30 runs).
 * @param {import('../types.js').HistoryEntry[]} runs
 * @returns {HTMLElement | null}
 */
function countsOverTime(runs) {
  const applied = runs.filter((r) => r.result === 'applied').slice(0, 30).reverse();
  if (applied.length < 2) return null;
  const rows = applied.map((r) => ({
    domain: formatDate(r.created_at),
    recipients: r.submitted.recipients,
    aliases: r.submitted.aliases,
    groups: r.submitted.groups,
  }));
  return countsChart(rows, 'Records pushed by each run, oldest first');
}

/**
 * @param {HTMLElement} container
 * @returns {() => void} reloads the list of keys
 */
function keysSection(container) {
  const messages = messageArea();
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading keys…'));
  const reveal = h('div');
  const name = h('input', { type: 'text', class: 'input', maxlength: 200, autocomplete: 'off', placeholder: 'for example: sync agent on dc01' });
  const submit = h('button', { type: 'submit', class: 'button button--primary' }, 'Create API key');
  const form = h('form', { novalidate: true, class: 'inline-form' }, [field('Key name (optional)', name), submit]);
  replace(container, [
    h('p', {}, 'The sync agent and scripts authenticate with an API key (Authorization: Bearer …). A key acts for this tenant only.'),
    messages.element,
    list,
    form,
    reveal,
  ]);

  async function load() {
    try {
      /** @type {{ keys: import('../types.js').ApiKeyView[] }} */
      const answer = await get('/keys');
      replace(list, table({
        caption: 'API keys of this tenant',
        hideCaption: true,
        columns: [
          { title: 'Key ID', cell: (k) => h('span', { class: 'mono' }, k.id), rowHeader: true },
          { title: 'Name', cell: (k) => k.name || h('span', { class: 'muted' }, '—') },
          { title: 'Created by', cell: (k) => k.created_by },
          { title: 'Created', cell: (k) => timeElement(k.created_at) },
          { title: 'Status', cell: (k) => (k.revoked_at ? [h('span', { class: 'badge badge--muted' }, 'Revoked'), ' ', timeElement(k.revoked_at)] : h('span', { class: 'badge badge--ok' }, 'Active')) },
          {
            title: 'Action',
            cell: (k) =>
              k.revoked_at
                ? null
                : button('Revoke', async () => {
                    const sure = await confirmAction({
                      title: `Revoke key ${k.id}?`,
                      body: ['Anything that uses this key, such as a sync agent, stops working at once. This cannot be undone; create a new key to replace it.'],
                      confirmLabel: 'Revoke key',
                      danger: true,
                    });
                    if (!sure) return;
                    try {
                      await del(`/keys/${encodeURIComponent(k.id)}`);
                      messages.show('success', `Key ${k.id} is revoked.`);
                      load();
                    } catch (error) {
                      messages.show('error', `The key was not revoked. ${describeError(error)}`);
                    }
                  }, 'button button--small button--danger'),
          },
        ],
        rows: answer.keys,
        empty: 'This tenant has no API key yet.',
      }));
    } catch (error) {
      replace(list, notice('error', `The keys could not be loaded. ${describeError(error)}`));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      /** @type {import('../types.js').CreatedKey} */
      const key = await post('/keys', { name: name.value.trim() });
      replace(reveal, keyReveal(key, 'this tenant'));
      messages.clear();
      name.value = '';
      load();
    } catch (error) {
      messages.show('error', `The key was not created. ${describeError(error)}`);
    } finally {
      submit.disabled = false;
    }
  });
  load();
  return load;
}
