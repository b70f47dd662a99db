// @ts-check
/**
 * Everything that touches an import file: choosing or dropping it, and sending it to the server
 * to be checked (a dry run) or imported.
 *
 * For now the server does all validation: the file goes up as it is, and the dry run answers
 * with the report and the per-domain diff. A later version validates in the browser, in a Web
 * Worker running the wasm core, and uploads only the normalised directory. That change is meant
 * to stay inside this module: no other module reads a file's contents, and this one only sends
 * them.
 */

import { request } from './api.js';
import { h, uid } from './render/dom.js';
import { formatBytes } from './render/locale.js';

/** @typedef {import('./types.js').ImportFormat} ImportFormat */
/** @typedef {import('./types.js').DryRunResponse} DryRunResponse */
/** @typedef {import('./types.js').ImportedResponse} ImportedResponse */

/**
 * @typedef {object} ImportOptions
 * @property {ImportFormat} format
 * @property {string} name the file name recorded in the history
 * @property {string} description what the administrator typed
 * @property {boolean} skipInvalid import only the valid records
 * @property {boolean} force pass the deletion threshold
 */

/** The file types the picker offers; any file can still be dropped. */
const ACCEPT = '.ldif,.ldf,.csv,.txt,.tsv,text/csv,text/plain';

/**
 * A file chooser that also takes a dropped file.
 * @param {(file: File | null) => void} onChange
 * @returns {{ element: HTMLElement, clear: () => void }}
 */
export function filePicker(onChange) {
  const input = h('input', { type: 'file', accept: ACCEPT, id: uid('file'), class: 'dropzone__input' });
  const chosen = h('p', { class: 'dropzone__chosen', 'aria-live': 'polite' }, 'No file chosen.');
  const zone = h('div', { class: 'dropzone' }, [
    h('label', { for: input.id, class: 'dropzone__label' }, [
      h('span', { class: 'dropzone__title' }, 'Choose a directory file'),
      h('span', { class: 'dropzone__hint' }, 'LDIF (ldifde, OpenLDAP) or CSV (email,Display Name, or dirgate’s own exports). You can also drop the file here.'),
    ]),
    input,
    chosen,
  ]);

  /** @param {File | null} file */
  function choose(file) {
    chosen.textContent = file ? `Chosen: ${file.name} (${formatBytes(file.size)})` : 'No file chosen.';
    zone.classList.toggle('dropzone--chosen', file !== null);
    onChange(file);
  }

  input.addEventListener('change', () => choose(input.files?.[0] ?? null));
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dropzone--over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dropzone--over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dropzone--over');
    const files = event.dataTransfer?.files;
    if (!files || files.length === 0) return;
    if (files.length > 1) {
      chosen.textContent = 'Drop one file at a time; this version imports a single file.';
      return;
    }
    try {
      // Show the dropped file in the chooser too, where the browser allows it.
      input.files = files;
    } catch {
      input.value = '';
    }
    choose(files[0]);
  });

  return {
    element: zone,
    clear() {
      input.value = '';
      choose(null);
    },
  };
}

/**
 * The query of an import request.
 * @param {ImportOptions} options
 * @param {boolean} dryRun
 */
function query(options, dryRun) {
  return {
    name: options.name,
    format: options.format,
    description: options.description || undefined,
    dry_run: dryRun,
    force: options.force,
    skip_invalid: options.skipInvalid,
  };
}

/**
 * Step 1: validates the file and computes what it would change, storing nothing. A file with
 * errors answers 422 (`invalid-directory`, with the report) unless `skipInvalid` is set.
 * @param {File} file
 * @param {ImportOptions} options
 * @returns {Promise<DryRunResponse>}
 */
export function checkImport(file, options) {
  return request('POST', '/imports', { body: file, query: query(options, true) });
}

/**
 * Step 2: imports the file. Answers with the new history entry and the report.
 * @param {File} file
 * @param {ImportOptions} options
 * @returns {Promise<ImportedResponse>}
 */
export function runImport(file, options) {
  return request('POST', '/imports', { body: file, query: query(options, false) });
}
