// @ts-check
/**
 * The Directory Import tab.
 *
 * An import replaces every record of each domain in the file, so the flow has two steps:
 * 1. **Check**: a dry run. The server validates the file and answers with the report and, per
 *    domain, what would be added, removed and kept. A file with errors is blocked; the admin may
 *    re-check it keeping only the valid records. A domain that would lose more than the
 *    deletion threshold must be confirmed by typing its name.
 * 2. **Import**: the same request for real, with `skip_invalid` and `force` as confirmed.
 *
 * Below the form: the tenant's import rules and the "Imported User Directory History", with
 * rollback.
 */

import { ApiError, get, post, put } from '../api.js';
import { checkImport, filePicker, runImport } from '../import.js';
import { confirmAction } from '../render/dialog.js';
import { domainLabel, renderDiff, replacedScope } from '../render/diff.js';
import { button, field, h, replace, section, uid } from '../render/dom.js';
import { importHistoryTable } from '../render/history.js';
import { formatCount, plural } from '../render/locale.js';
import { describeError, messageArea, notice } from '../render/notice.js';
import { renderReport, severityTotals } from '../render/report.js';

/** @typedef {import('../types.js').DryRunResponse} DryRunResponse */
/** @typedef {import('../types.js').Report} Report */
/** @typedef {import('../types.js').HistoryEntry} HistoryEntry */
/** @typedef {import('../import.js').ImportOptions} ImportOptions */

/**
 * @param {HTMLElement} panel
 * @param {import('../types.js').Tenant} tenant
 * @returns {() => void} reloads the history and the tenant's rules
 */
export function importTab(panel, tenant) {
  /** What the diff needs to know about the tenant; reloaded when the tab is shown. */
  const context = { thresholdPercent: /** @type {number | null} */ (tenant.settings.deletion_threshold_percent), managedDomains: tenant.domains };

  /** @type {File | null} */
  let file = null;
  /** The last successful check, while the file and format are unchanged. */
  /** @type {{ response: DryRunResponse, skipInvalid: boolean } | null} */
  let checked = null;
  let nameTyped = false;

  const messages = messageArea();
  const format = h('select', { class: 'input' }, [
    h('option', { value: 'auto' }, 'Detect automatically'),
    h('option', { value: 'ldif' }, 'LDIF'),
    h('option', { value: 'csv' }, 'CSV'),
  ]);
  const name = h('input', { type: 'text', class: 'input', maxlength: 255, autocomplete: 'off', spellcheck: 'false' });
  const description = h('input', { type: 'text', class: 'input', maxlength: 500, autocomplete: 'off', placeholder: 'for example: weekly export from AD, sales OU' });
  const picker = filePicker((chosen) => {
    file = chosen;
    if (!nameTyped || !name.value.trim()) {
      name.value = chosen?.name ?? '';
      nameTyped = false;
    }
    invalidate();
  });
  name.addEventListener('input', () => {
    nameTyped = true;
  });
  format.addEventListener('change', invalidate);
  const checkButton = h('button', { type: 'submit', class: 'button button--primary' }, 'Step 1: Check the file');
  const form = h('form', { novalidate: true, class: 'import-form' }, [
    picker.element,
    h('div', { class: 'grid grid--fields' }, [
      field('Format', format, 'Automatic detection reads the first lines of the file.'),
      field('Name', name, 'Shown in the history; the file’s own name unless you change it.'),
      field('Description (optional)', description),
    ]),
    h('div', { class: 'actions' }, checkButton),
  ]);
  const results = h('div', { class: 'results', tabindex: -1 });
  const rules = h('div', {}, h('p', { class: 'loading' }, 'Loading the import rules…'));
  const historyArea = h('div', {}, h('p', { class: 'loading' }, 'Loading the history…'));
  const historyMessages = messageArea();

  replace(panel, [
    section('Import a directory file', [
      h('p', {}, [
        'An import ',
        h('strong', {}, 'replaces all records of each domain that appears in the file'),
        ', in one step; domains that are not in the file keep their records. Check the file first to see, per domain, what will be added, removed and kept.',
      ]),
      messages.element,
      form,
      results,
    ]),
    section('Imported User Directory History', [historyMessages.element, historyArea]),
    section('Import rules', [rules]),
  ]);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    check(false);
  });

  /** A new file or format makes the last check meaningless. */
  function invalidate() {
    if (!checked && !results.hasChildNodes()) return;
    checked = null;
    results.replaceChildren();
    messages.clear();
  }

  /**
   * @param {boolean} skipInvalid
   * @param {boolean} force
   * @returns {ImportOptions}
   */
  function options(skipInvalid, force) {
    const chosenFormat = /** @type {import('../types.js').ImportFormat} */ (format.value);
    return { format: chosenFormat, name: name.value.trim() || file?.name || 'upload', description: description.value.trim(), skipInvalid, force };
  }

  /**
   * Disables the buttons while a request runs.
   * @param {boolean} busy
   */
  function setBusy(busy) {
    checkButton.disabled = busy;
    // Only the buttons disabled here are enabled again: an Import button that waits for
    // confirmations stays disabled, and buttons drawn during the request keep their own state.
    for (const control of results.querySelectorAll('button')) {
      if (busy && !control.disabled) {
        control.disabled = true;
        control.dataset.busy = 'true';
      } else if (!busy && control.dataset.busy) {
        control.disabled = false;
        delete control.dataset.busy;
      }
    }
    results.setAttribute('aria-busy', String(busy));
  }

  /**
   * Step 1, the dry run.
   * @param {boolean} skipInvalid
   */
  async function check(skipInvalid) {
    if (!file) {
      messages.show('error', 'Choose a file first.');
      picker.element.querySelector('input')?.focus();
      return;
    }
    const current = file;
    checked = null;
    setBusy(true);
    messages.show('info', `Checking ${current.name}…`);
    try {
      const response = await checkImport(current, options(skipInvalid, false));
      if (file !== current) return;
      checked = { response, skipInvalid };
      messages.clear();
      showChecked(response, skipInvalid, null);
    } catch (error) {
      if (file !== current) return;
      messages.clear();
      showRefusal(error);
    } finally {
      setBusy(false);
    }
  }

  /**
   * The report and diff of a successful check, and step 2.
   * @param {DryRunResponse} response
   * @param {boolean} skipInvalid
   * @param {string | null} why a reason the check is shown again (the directory changed)
   */
  function showChecked(response, skipInvalid, why) {
    const errors = severityTotals(response.report).error;
    const exceeded = response.domains.filter((d) => d.threshold_exceeded);
    const importButton = h('button', { type: 'button', class: exceeded.length ? 'button button--danger' : 'button button--primary' }, 'Step 2: Import');
    /** @type {HTMLInputElement[]} */
    const confirmations = [];
    /** @type {HTMLElement | null} */
    let confirmBlock = null;
    if (exceeded.length) {
      const legendId = uid('legend');
      confirmBlock = h('fieldset', { class: 'confirm', 'aria-labelledby': legendId }, [
        h('legend', { id: legendId }, 'Confirm the removals'),
        h('p', {}, `Removing this many addresses is above the deletion threshold${context.thresholdPercent === null ? '' : ` of ${context.thresholdPercent} %`}. If the file is complete and the removals are intended, type the name of each domain below.`),
      ]);
      for (const diff of exceeded) {
        const label = domainLabel(diff);
        const input = h('input', { type: 'text', class: 'input mono', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', 'data-expected': label });
        input.addEventListener('input', updateImportButton);
        confirmations.push(input);
        confirmBlock.append(field(`Type ${label} to confirm`, input));
      }
    }
    function updateImportButton() {
      const confirmed = confirmations.every((input) => input.value.trim().toLowerCase() === (input.dataset.expected ?? '').toLowerCase());
      importButton.disabled = !confirmed;
    }
    updateImportButton();
    importButton.addEventListener('click', () => {
      if (!importButton.disabled) doImport(skipInvalid, exceeded.length > 0);
    });

    const scope = replacedScope(response.domains);
    const verdict = [];
    if (skipInvalid && errors > 0) {
      verdict.push(notice('warning', `${plural(errors, 'invalid record')} will be skipped; only the valid records are imported, and the history notes how many were skipped.`));
    }
    if (exceeded.length) {
      verdict.push(notice('warning', `The import replaces ${scope}, and removes more addresses than the deletion threshold allows in ${exceeded.map(domainLabel).join(', ')}. Look at the removals below before you confirm.`));
    } else if (verdict.length === 0) {
      verdict.push(notice('success', `The file can be imported. It replaces ${scope}.`));
    }
    replace(results, [
      h('h3', {}, 'Check result'),
      why ? notice('warning', why) : null,
      ...verdict,
      h('h4', {}, 'What the import changes'),
      renderDiff(response.domains, context),
      confirmBlock,
      h('div', { class: 'actions step2' }, [
        importButton,
        exceeded.length ? h('span', { class: 'hint' }, 'The Import button is enabled once every domain above is confirmed.') : null,
      ]),
      h('details', { class: 'report-details', open: !response.report.valid || response.report.diagnostics.some((d) => d.severity !== 'info') }, [
        h('summary', {}, 'Validation report'),
        renderReport(response.report),
      ]),
    ]);
    results.focus();
  }

  /**
   * Why the server refused a check or an import, and what the admin can do.
   * @param {unknown} error
   */
  function showRefusal(error) {
    if (!(error instanceof ApiError)) {
      replace(results, notice('error', describeError(error)));
      return;
    }
    const report = error.body?.report;
    if (error.code === 'invalid-directory' && report) {
      const errors = severityTotals(report).error;
      const valid = report.counts.recipients + report.counts.aliases + report.counts.groups;
      const skip = valid > 0
        ? button(`Import the valid records only (skip ${formatCount(errors)} invalid)`, () => check(true), 'button')
        : null;
      replace(results, [
        h('h3', {}, 'Check result'),
        notice(
          'error',
          `${file?.name ?? 'The file'} has ${plural(errors, 'error')} and cannot be imported as it is. `,
          valid > 0
            ? 'Fix the file and check it again, or import only the valid records: the invalid ones are left out, and you see the changes before anything is imported.'
            : 'The file holds no valid record at all; fix it and check it again.',
        ),
        skip ? h('div', { class: 'actions' }, skip) : null,
        renderReport(report),
      ]);
      results.focus();
      return;
    }
    if (error.code === 'nothing-to-import') {
      replace(results, [
        h('h3', {}, 'Check result'),
        notice('error', 'Nothing to import: no record of the file is in a domain this tenant manages. Check that the file is the right one, or add its domains on the Export tab.'),
        report ? renderReport(report) : null,
      ]);
      results.focus();
      return;
    }
    if (error.code === 'no-managed-domains') {
      replace(results, notice('error', 'This tenant manages no domain yet. Add its domains on the Export tab, then import.'));
      return;
    }
    replace(results, notice('error', describeError(error)));
    results.focus();
  }

  /**
   * Step 2, the import.
   * @param {boolean} skipInvalid
   * @param {boolean} force
   */
  async function doImport(skipInvalid, force) {
    if (!file || !checked) return;
    const current = file;
    const previous = checked;
    setBusy(true);
    messages.show('info', `Importing ${current.name}…`);
    try {
      const entry = await runImport(current, options(skipInvalid, force));
      // Reset the form first: clearing the picker also clears the results.
      picker.clear();
      name.value = '';
      nameTyped = false;
      description.value = '';
      messages.clear();
      const lines = entry.domains.map((d) => `${domainLabel(d)}: ${formatCount(d.added.count)} added, ${formatCount(d.removed.count)} removed, ${formatCount(d.kept.count)} kept`);
      replace(results, notice('success', h('strong', {}, `Import #${entry.id} is in effect.`), ` ${current.name} was imported. `, h('ul', {}, lines.map((line) => h('li', {}, line)))));
      results.focus();
      loadHistory();
    } catch (error) {
      messages.clear();
      if (error instanceof ApiError && error.code === 'deletion-threshold-exceeded' && error.body?.diff) {
        // The threshold itself may be what changed: show the current one.
        await loadRules();
        const response = { ...previous.response, threshold_exceeded: true, domains: error.body.diff.domains };
        checked = { response, skipInvalid };
        showChecked(response, skipInvalid, 'The directory or the deletion threshold changed since the check. Nothing was imported; look at the changes again.');
      } else if (error instanceof ApiError && error.status === 422) {
        showRefusal(error);
      } else {
        messages.show('error', `Nothing was imported. ${describeError(error)}`);
      }
    } finally {
      setBusy(false);
    }
  }

  async function loadHistory() {
    try {
      /** @type {import('../types.js').ImportList} */
      const answer = await get('/imports');
      replace(historyArea, importHistoryTable(answer.imports, rollback));
    } catch (error) {
      replace(historyArea, notice('error', `The history could not be loaded. ${describeError(error)}`));
    }
  }

  /** @param {HistoryEntry} entry */
  async function rollback(entry) {
    const domains = entry.domains.map(domainLabel);
    const what = entry.files.length ? ` (${entry.files.map((f) => f.name).join(', ')})` : '';
    const sure = await confirmAction({
      title: `Roll back import #${entry.id}?`,
      body: [
        `This restores ${domains.join(', ')} to exactly the state before import #${entry.id}${what}.`,
        'Addresses that the import added are removed, and addresses it removed come back. The rollback is recorded as a new entry in the history.',
      ],
      confirmLabel: `Roll back import #${entry.id}`,
      danger: true,
    });
    if (!sure) return;
    try {
      /** @type {HistoryEntry} */
      const done = await post(`/imports/${entry.id}/rollback`);
      // A shown check or import result no longer describes the directory.
      invalidate();
      historyMessages.show('success', `Import #${entry.id} is rolled back: ${domains.join(', ')} ${domains.length === 1 ? 'holds' : 'hold'} again what ${domains.length === 1 ? 'it' : 'they'} held before it. The rollback is history entry #${done.id}.`);
    } catch (error) {
      historyMessages.show('error', `The import was not rolled back. ${describeError(error)}`);
    }
    loadHistory();
  }

  async function loadRules() {
    try {
      /** @type {[import('../types.js').TenantSettings, { domains: import('../types.js').DomainView[] }]} */
      const [settings, domains] = await Promise.all([get('/settings'), get('/domains')]);
      context.thresholdPercent = settings.deletion_threshold_percent;
      context.managedDomains = domains.domains.map((d) => d.domain);
      replace(rules, rulesForm(settings));
    } catch (error) {
      replace(rules, notice('error', `The import rules could not be loaded. ${describeError(error)}`));
    }
  }

  /**
   * @param {import('../types.js').TenantSettings} settings
   * @returns {HTMLElement}
   */
  function rulesForm(settings) {
    const threshold = h('input', { type: 'number', min: 0, max: 100, step: 1, required: true, class: 'input input--short', inputmode: 'numeric' });
    threshold.value = String(settings.deletion_threshold_percent);
    const limit = h('input', { type: 'number', min: 0, step: 1, required: true, class: 'input input--short', inputmode: 'numeric' });
    limit.value = String(settings.daily_import_limit);
    const save = h('button', { type: 'submit', class: 'button' }, 'Save rules');
    const status = messageArea();
    const rulesForm = h('form', { novalidate: true }, [
      h('div', { class: 'grid grid--fields' }, [
        field('Deletion threshold (%)', threshold, 'An import or sync that removes more than this share of a domain’s addresses needs confirmation. 10 % is the default.'),
        field('Imports per day', limit, 'At most this many imports in any 24 hours (the anchor product advises 24).'),
      ]),
      h('div', { class: 'actions' }, save),
      status.element,
    ]);
    rulesForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const percent = Number(threshold.value);
      const daily = Number(limit.value);
      if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
        status.show('error', 'The deletion threshold is a whole number from 0 to 100.');
        threshold.focus();
        return;
      }
      if (!Number.isInteger(daily) || daily < 0) {
        status.show('error', 'The number of imports per day is a whole number, 0 or more.');
        limit.focus();
        return;
      }
      save.disabled = true;
      try {
        /** @type {import('../types.js').TenantSettings} */
        const saved = await put('/settings', { deletion_threshold_percent: percent, daily_import_limit: daily });
        context.thresholdPercent = saved.deletion_threshold_percent;
        status.show('success', 'The import rules are saved.');
      } catch (error) {
        status.show('error', `The rules were not saved. ${describeError(error)}`);
      } finally {
        save.disabled = false;
      }
    });
    return rulesForm;
  }

  loadHistory();
  loadRules();
  return () => {
    loadHistory();
    loadRules();
  };
}
