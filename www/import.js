// @ts-check
/**
 * Everything that touches import files: choosing or dropping them, checking them in the browser
 * (validate.js runs the wasm core in a Web Worker), and sending the normalised directory to the
 * server for the dry run and the import. No other page module reads a file's contents (the
 * worker does, for the check and the digests), and none interprets them: every check is the
 * core's, and the server re-validates what it gets.
 *
 * The upload is JSON (`{recipients, aliases, groups, files, description}`), gzip-compressed with
 * `CompressionStream` and sent with `Content-Encoding: gzip`. Each file's SHA-256 is worked out
 * when the directory is first sent, by the same worker script streaming the file through the
 * wasm module's `FileDigest` (`crypto.subtle` has no streaming digest, and reading a 700 MB
 * export whole would undo the bounded memory of the check).
 */

import { upload } from './api.js';
import { h, uid } from './render/dom.js';
import { formatBytes } from './render/locale.js';
import { digestFiles, validateFiles } from './validate.js';

/** @typedef {import('./types.js').ImportFormat} ImportFormat */
/** @typedef {import('./types.js').DryRunResponse} DryRunResponse */
/** @typedef {import('./types.js').ImportedResponse} ImportedResponse */
/** @typedef {import('./types.js').Validation} Validation */
/** @typedef {import('./types.js').ValidationProgress} ValidationProgress */
/** @typedef {import('./types.js').FileMeta} FileMeta */

/**
 * @typedef {object} ImportOptions
 * @property {string} description what the administrator typed
 * @property {boolean} skipInvalid import only the valid records
 * @property {boolean} force pass the deletion threshold
 */

/** The file types the picker offers; any file can still be dropped. */
const ACCEPT = '.ldif,.ldf,.csv,.txt,.tsv,text/csv,text/plain';

/** How many records of each kind the browser keeps for the preview. */
const PREVIEW_LIMIT = 500;

/**
 * A file chooser for one or more files, which also takes dropped files.
 * @param {(files: File[]) => void} onChange
 * @returns {{ element: HTMLElement, clear: () => void }}
 */
export function filePicker(onChange) {
  const input = h('input', { type: 'file', accept: ACCEPT, multiple: true, id: uid('file'), class: 'dropzone__input' });
  const chosen = h('p', { class: 'dropzone__chosen', 'aria-live': 'polite' }, 'No file chosen.');
  const zone = h('div', { class: 'dropzone' }, [
    h('label', { for: input.id, class: 'dropzone__label' }, [
      h('span', { class: 'dropzone__title' }, 'Choose directory files'),
      h('span', { class: 'dropzone__hint' }, 'LDIF (ldifde, OpenLDAP) or CSV (email,Display Name, or dirgate’s own exports). Several files are checked and imported together. You can also drop them here.'),
    ]),
    input,
    chosen,
  ]);

  /** @param {File[]} files */
  function choose(files) {
    const total = files.reduce((sum, file) => sum + file.size, 0);
    chosen.textContent = files.length === 0
      ? 'No file chosen.'
      : `Chosen: ${files.map((f) => f.name).join(', ')} (${formatBytes(total)})`;
    zone.classList.toggle('dropzone--chosen', files.length > 0);
    onChange(files);
  }

  input.addEventListener('change', () => choose([...(input.files ?? [])]));
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
    try {
      // Show the dropped files in the chooser too, where the browser allows it.
      input.files = files;
    } catch {
      input.value = '';
    }
    choose([...files]);
  });

  return {
    element: zone,
    clear() {
      input.value = '';
      choose([]);
    },
  };
}

/**
 * Checks the files in the browser, as one import, with the tenant's managed domains.
 * @param {File[]} files
 * @param {{ format: ImportFormat, managedDomains: string[] }} options
 * @param {(progress: ValidationProgress) => void} onProgress
 * @returns {{ result: Promise<Validation>, cancel: () => void }}
 */
export function checkFiles(files, options, onProgress) {
  return validateFiles(files, { ...options, previewLimit: PREVIEW_LIMIT }, onProgress);
}

/**
 * The gzip-compressed JSON body of a checked import. The core gives the directory as a Blob of
 * the JSON text of one object; its closing brace (the last byte) is replaced by the files and
 * the description, so that a million records never become JavaScript objects and the body is
 * never copied whole.
 * @param {File[]} files
 * @param {Validation} validation
 * @param {string} description
 * @returns {Promise<Blob>}
 */
export async function directoryBody(files, validation, description) {
  const digests = await digestFiles(files);
  /** @type {FileMeta[]} */
  const meta = files.map((file, index) => {
    const report = validation.report.files[index];
    return { name: file.name, size: file.size, sha256: digests[index], format: report?.format ?? null, encoding: report?.encoding ?? null };
  });
  const directory = validation.directory;
  const json = new Blob([
    directory.slice(0, directory.size - 1),
    `,"files":${JSON.stringify(meta)},"description":${JSON.stringify(description)}}`,
  ]);
  return new Response(json.stream().pipeThrough(new CompressionStream('gzip'))).blob();
}

/**
 * Sends a checked directory: a dry run (the per-domain diff, nothing stored) or the import.
 * A directory with errors answers 422 (`invalid-directory`) unless `skipInvalid` is set.
 * @param {Blob} body from {@link directoryBody}
 * @param {ImportOptions} options
 * @param {boolean} dryRun
 * @param {(sent: number, total: number) => void} [onProgress]
 * @returns {Promise<any>} a {@link DryRunResponse} or an {@link ImportedResponse}
 */
export function sendDirectory(body, options, dryRun, onProgress) {
  return upload('/imports', body, {
    // The description goes in the query too, which the server prefers to the body's: the body
    // is built once, and the administrator may edit the description after the dry run.
    query: { dry_run: dryRun, force: options.force, skip_invalid: options.skipInvalid, description: options.description },
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    onProgress,
  });
}
