// @ts-check
/**
 * The Directory Import tab.
 *
 * An import replaces every record of each domain in the files, so the flow has three steps:
 * 1. **Check in the browser**: the wasm core validates the files in a Web Worker (progress bar,
 *    cancel) and shows the report and a preview. Nothing has left the browser yet. A file with
 *    errors is blocked; the admin may go on with only the valid records.
 * 2. **Dry run**: the normalised directory goes to the server, which re-validates it and
 *    answers, per domain, what would be added, removed and kept. A domain that would lose more
 *    than the deletion threshold must be confirmed by typing its name.
 * 3. **Import**: the same directory for real, with `skip_invalid` and `force` as confirmed.
 *
 * Below the form: the tenant's import rules and the "Imported User Directory History", with
 * rollback.
 */

import { ApiError, get, post, put } from '../api.js';
import { checkFiles, directoryBody, filePicker, sendDirectory } from '../import.js';
import { ValidationCancelled } from '../validate.js';
import { confirmAction } from '../render/dialog.js';
import { domainLabel, renderDiff, replacedScope } from '../render/diff.js';
import { button, field, h, replace, section, uid } from '../render/dom.js';
import { importHistoryTable } from '../render/history.js';
import { formatBytes, formatCount, plural } from '../render/locale.js';
import { describeError, messageArea, notice } from '../render/notice.js';
import { renderPreview } from '../render/preview.js';
import { renderReport, severityTotals } from '../render/report.js';

/** @typedef {import('../types.js').DryRunResponse} DryRunResponse */
/** @typedef {import('../types.js').Report} Report */
/** @typedef {import('../types.js').HistoryEntry} HistoryEntry */
/** @typedef {import('../types.js').Validation} Validation */
/** @typedef {import('../import.js').ImportOptions} ImportOptions */

/**
 * A labelled progress bar with a line of text under it.
 * @param {string} label
 */
function progressBar(label) {
  const id = uid('progress');
  const bar = h('progress', { id, max: 1, value: 0, class: 'progress__bar' });
  const text = h('p', { class: 'progress__text', 'aria-live': 'polite' }, '');
  const element = h('div', { class: 'progress' }, [h('label', { for: id, class: 'progress__label' }, label), bar, text]);
  return {
    element,
    /**
     * @param {number} done
     * @param {number} total
     * @param {string} line
     */
    set(done, total, line) {
      bar.max = Math.max(total, 1);
      bar.value = Math.min(done, bar.max);
      text.textContent = line;
    },
  };
}

/**
 * @param {HTMLElement} panel
 * @param {import('../types.js').Tenant} tenant
 * @returns {() => void} reloads the history and the tenant's rules
 */
export function importTab(panel, tenant) {
  /** What the diff needs to know about the tenant; reloaded when the tab is shown. */
  const context = { thresholdPercent: /** @type {number | null} */ (tenant.settings.deletion_threshold_percent), managedDomains: tenant.domains };

  /** @type {File[]} */
  let files = [];
  /** The browser's check of the chosen files, while the files and format are unchanged. */
  /** @type {Validation | null} */
  let validation = null;
  /** The upload body of that check, built once for the dry run and the import. */
  /** @type {Blob | null} */
  let body = null;
  /** The last successful dry run. */
  /** @type {{ response: DryRunResponse, skipInvalid: boolean } | null} */
  let checked = null;
  /** Cancels the running browser check. */
  /** @type {(() => void) | null} */
  let cancelCheck = null;

  const messages = messageArea();
  const format = h('select', { class: 'input' }, [
    h('option', { value: 'auto' }, 'Detect automatically'),
    h('option', { value: 'ldif' }, 'LDIF'),
    h('option', { value: 'csv' }, 'CSV'),
  ]);
  const description = h('input', { type: 'text', class: 'input', maxlength: 500, autocomplete: 'off', placeholder: 'for example: weekly export from AD, sales OU' });
  const picker = filePicker((chosen) => {
    files = chosen;
    invalidate();
  });
  format.addEventListener('change', invalidate);
  const checkButton = h('button', { type: 'submit', class: 'button button--primary' }, 'Step 1: Check the files');
  const form = h('form', { novalidate: true, class: 'import-form' }, [
    picker.element,
    h('div', { class: 'grid grid--fields' }, [
      field('Format', format, 'Automatic detection reads the first lines of each file.'),
      field('Description (optional)', description, 'Shown in the history with the file names.'),
    ]),
    h('div', { class: 'actions' }, checkButton),
  ]);
  const results = h('div', { class: 'results', tabindex: -1 });
  const localArea = h('div', { class: 'results__local' });
  const serverArea = h('div', { class: 'results__server', tabindex: -1 });
  const rules = h('div', {}, h('p', { class: 'loading' }, 'Loading the import rules…'));
  const historyArea = h('div', {}, h('p', { class: 'loading' }, 'Loading the history…'));
  const historyMessages = messageArea();

  replace(panel, [
    section('Import a directory file', [
      h('p', {}, [
        'An import ',
        h('strong', {}, 'replaces all records of each domain that appears in the files'),
        ', in one step; domains that are not in the files keep their records. The files are checked here in your browser first; only the valid addresses, names and group memberships are sent, and you see per domain what will be added, removed and kept before anything changes.',
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
    checkInBrowser();
  });

  /** New files or a new format make the last check meaningless. */
  function invalidate() {
    cancelCheck?.();
    validation = null;
    body = null;
    checked = null;
    results.replaceChildren();
    localArea.replaceChildren();
    serverArea.replaceChildren();
    messages.clear();
  }

  /**
   * @param {boolean} skipInvalid
   * @param {boolean} force
   * @returns {ImportOptions}
   */
  function options(skipInvalid, force) {
    return { description: description.value.trim(), skipInvalid, force };
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
      if (control.dataset.keepEnabled) continue;
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

  /** Step 1: the wasm core checks the files in a worker. */
  async function checkInBrowser() {
    if (files.length === 0) {
      messages.show('error', 'Choose a file first.');
      picker.element.querySelector('input')?.focus();
      return;
    }
    invalidate();
    const current = files;
    const bar = progressBar(`Checking ${current.map((f) => f.name).join(', ')} in your browser`);
    const cancel = button('Cancel the check', () => cancelCheck?.(), 'button button--quiet');
    cancel.dataset.keepEnabled = 'true';
    replace(results, h('div', { class: 'check-progress' }, [bar.element, h('div', { class: 'actions' }, cancel)]));
    setBusy(true);
    const total = current.reduce((sum, file) => sum + file.size, 0);
    bar.set(0, total, `0 of ${formatBytes(total)}`);
    const run = checkFiles(current, { format: /** @type {import('../types.js').ImportFormat} */ (format.value), managedDomains: context.managedDomains }, (progress) => {
      bar.set(progress.bytes, progress.total, `${formatBytes(progress.bytes)} of ${formatBytes(progress.total)} · ${plural(progress.records, 'record')} · ${formatCount(Math.round(progress.recordsPerSecond))} records/s`);
    });
    cancelCheck = run.cancel;
    try {
      const done = await run.result;
      if (files !== current) return;
      validation = done;
      showValidation(done);
    } catch (error) {
      if (files !== current) return;
      replace(results, error instanceof ValidationCancelled
        ? notice('info', 'The check was cancelled. Nothing was sent to the server.')
        : notice('error', describeError(error)));
    } finally {
      if (cancelCheck === run.cancel) cancelCheck = null;
      setBusy(false);
    }
  }

  /**
   * The browser's report and preview; a valid directory goes straight on to the dry run.
   * @param {Validation} done
   */
  function showValidation(done) {
    const report = done.report;
    const errors = severityTotals(report).error;
    const valid = report.counts.recipients + report.counts.aliases + report.counts.groups;
    const speed = done.seconds > 0 ? ` in ${(done.seconds).toFixed(1)} s (${formatBytes(done.bytes / done.seconds)}/s)` : '';
    /** @type {import('../render/dom.js').Child[]} */
    const verdict = [];
    if (!report.valid) {
      verdict.push(notice(
        'error',
        `${files.length === 1 ? files[0].name : 'The files'} ${files.length === 1 ? 'has' : 'have'} ${plural(errors, 'error')} and cannot be imported as ${files.length === 1 ? 'it is' : 'they are'}. Nothing was sent to the server. `,
        valid > 0
          ? 'Fix the file and check it again, or import only the valid records: the invalid ones are left out, and you see the changes before anything is imported.'
          : 'There is no valid record at all; fix the file and check it again.',
      ));
      if (valid > 0) {
        verdict.push(h('div', { class: 'actions' }, button(`Import the ${formatCount(valid)} valid records, skip ${formatCount(errors)}`, () => dryRun(true), 'button')));
      }
    } else if (valid === 0) {
      verdict.push(notice('error', 'Nothing to import: no record of the files is in a domain this tenant manages. Check that the files are the right ones, or add their domains on the Export tab.'));
    }
    replace(localArea, [
      h('h3', {}, 'Check result'),
      // The measurements as data attributes too, for the browser tests' throughput figures.
      h('p', { class: 'hint check-timing', 'data-seconds': done.seconds, 'data-bytes': done.bytes, 'data-peak-wasm-bytes': done.peakWasmBytes }, `Checked in your browser${speed}.`),
      ...verdict,
      renderReport(report),
      renderPreview(done.preview, report.counts),
    ]);
    replace(results, [localArea, serverArea]);
    results.focus();
    if (report.valid && valid > 0) dryRun(false);
  }

  /**
   * Step 2: the server's dry run of the normalised directory.
   * @param {boolean} skipInvalid
   */
  async function dryRun(skipInvalid) {
    if (!validation) return;
    const current = validation;
    checked = null;
    setBusy(true);
    const bar = progressBar('Sending the checked directory for a dry run (nothing is stored)');
    replace(serverArea, [h('h3', {}, 'What the import changes'), bar.element]);
    try {
      body ??= await directoryBody(files, current, description.value.trim());
      const sent = /** @type {Blob} */ (body);
      bar.set(0, sent.size, `0 of ${formatBytes(sent.size)} (gzip)`);
      /** @type {DryRunResponse} */
      const response = await sendDirectory(sent, options(skipInvalid, false), true, (done, total) => bar.set(done, total, `${formatBytes(done)} of ${formatBytes(total)} (gzip)`));
      if (validation !== current) return;
      checked = { response, skipInvalid };
      showChecked(response, skipInvalid, null);
    } catch (error) {
      if (validation !== current) return;
      showRefusal(error);
    } finally {
      setBusy(false);
    }
  }

  /**
   * The per-domain diff of a successful dry run, and step 3.
   * @param {DryRunResponse} response
   * @param {boolean} skipInvalid
   * @param {string | null} why a reason the check is shown again (the directory changed)
   */
  function showChecked(response, skipInvalid, why) {
    const errors = validation ? severityTotals(validation.report).error : 0;
    const exceeded = response.domains.filter((d) => d.threshold_exceeded);
    const importButton = h('button', { type: 'button', class: exceeded.length ? 'button button--danger' : 'button button--primary' }, 'Step 3: Import');
    /** @type {HTMLInputElement[]} */
    const confirmations = [];
    /** @type {HTMLElement | null} */
    let confirmBlock = null;
    if (exceeded.length) {
      const legendId = uid('legend');
      confirmBlock = h('fieldset', { class: 'confirm', 'aria-labelledby': legendId }, [
        h('legend', { id: legendId }, 'Confirm the removals'),
        h('p', {}, `Removing this many addresses is above the deletion threshold${context.thresholdPercent === null ? '' : ` of ${context.thresholdPercent} %`}. If the files are complete and the removals are intended, type the name of each domain below.`),
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
      verdict.push(notice('success', `The files can be imported. The import replaces ${scope}.`));
    }
    replace(serverArea, [
      h('h3', {}, 'What the import changes'),
      why ? notice('warning', why) : null,
      ...verdict,
      renderDiff(response.domains, context),
      confirmBlock,
      h('div', { class: 'actions step2' }, [
        importButton,
        exceeded.length ? h('span', { class: 'hint' }, 'The Import button is enabled once every domain above is confirmed.') : null,
      ]),
    ]);
    serverArea.focus();
  }

  /**
   * Why the server refused a dry run or an import, and what the admin can do.
   * @param {unknown} error
   */
  function showRefusal(error) {
    /** @type {import('../render/dom.js').Child[]} */
    let shown;
    if (!(error instanceof ApiError)) {
      shown = [notice('error', describeError(error))];
    } else if (error.code === 'invalid-directory' && error.body?.report) {
      shown = [notice('error', 'The server found errors the browser did not report, and refused the directory. Nothing was imported.'), renderReport(error.body.report)];
    } else if (error.code === 'nothing-to-import') {
      shown = [notice('error', 'Nothing to import: no record of the files is in a domain this tenant manages. Check that the files are the right ones, or add their domains on the Export tab.')];
    } else if (error.code === 'no-managed-domains') {
      shown = [notice('error', 'This tenant manages no domain yet. Add its domains on the Export tab, then import.')];
    } else {
      shown = [notice('error', `Nothing was imported. ${describeError(error)}`)];
    }
    replace(serverArea, [h('h3', {}, 'What the import changes'), ...shown]);
    serverArea.focus();
  }

  /**
   * Step 3, the import.
   * @param {boolean} skipInvalid
   * @param {boolean} force
   */
  async function doImport(skipInvalid, force) {
    if (!body || !checked) return;
    const previous = checked;
    const names = files.map((f) => f.name).join(', ');
    setBusy(true);
    const bar = progressBar('Uploading the directory');
    serverArea.append(bar.element);
    try {
      /** @type {import('../types.js').ImportedResponse} */
      const entry = await sendDirectory(body, options(skipInvalid, force), false, (done, total) => bar.set(done, total, `${formatBytes(done)} of ${formatBytes(total)} (gzip)`));
      // Reset the form first: clearing the picker also clears the results.
      picker.clear();
      description.value = '';
      const lines = entry.domains.map((d) => `${domainLabel(d)}: ${formatCount(d.added.count)} added, ${formatCount(d.removed.count)} removed, ${formatCount(d.kept.count)} kept`);
      replace(results, notice('success', h('strong', {}, `Import #${entry.id} is in effect.`), ` ${names} ${files.length > 1 ? 'were' : 'was'} imported. `, h('ul', {}, lines.map((line) => h('li', {}, line)))));
      results.focus();
      loadHistory();
    } catch (error) {
      bar.element.remove();
      if (error instanceof ApiError && error.code === 'deletion-threshold-exceeded' && error.body?.diff) {
        // The threshold itself may be what changed: show the current one.
        await loadRules();
        const response = { ...previous.response, threshold_exceeded: true, domains: error.body.diff.domains };
        checked = { response, skipInvalid };
        showChecked(response, skipInvalid, 'The directory or the deletion threshold changed since the check. Nothing was imported; look at the changes again.');
      } else {
        showRefusal(error);
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
