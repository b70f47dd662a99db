// @ts-check
/**
 * The page's side of in-browser validation: starts a worker (worker.js, which runs the wasm
 * core), relays its progress, and returns the report, a preview and the normalised directory;
 * and the files' digests for the upload, from the same worker script.
 * Nothing here looks at the file's bytes.
 */

/** @typedef {import('./types.js').ValidatorOptions} ValidatorOptions */
/** @typedef {import('./types.js').ValidationProgress} ValidationProgress */
/** @typedef {import('./types.js').Validation} Validation */

/** Raised by {@link validateFiles}'s promise when the validation is cancelled. */
export class ValidationCancelled extends Error {
  constructor() {
    super('The check was cancelled.');
    this.name = 'ValidationCancelled';
  }
}

/**
 * Validates the files together, as one import, in a Web Worker.
 * Cancelling terminates the worker: it stops at once, even in the middle of a chunk.
 * @param {File[]} files
 * @param {ValidatorOptions} options
 * @param {(progress: ValidationProgress) => void} onProgress
 * @returns {{ result: Promise<Validation>, cancel: () => void }}
 */
export function validateFiles(files, options, onProgress) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'dirgate-validate' });
  /** @type {(reason: Error) => void} */
  let fail = () => {};
  /** @type {Promise<Validation>} */
  const result = new Promise((resolve, reject) => {
    fail = (reason) => {
      worker.terminate();
      reject(reason);
    };
    worker.addEventListener('message', (event) => {
      const message = event.data;
      if (message.type === 'progress') {
        onProgress(message.progress);
      } else if (message.type === 'done') {
        worker.terminate();
        resolve(message.result);
      } else {
        fail(new Error(`The file could not be checked in the browser: ${message.message}`));
      }
    });
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      fail(new Error('The browser could not start the file checker. Reload the page and try again.'));
    });
  });
  worker.postMessage({ files, options });
  return { result, cancel: () => fail(new ValidationCancelled()) };
}

/**
 * Each file's SHA-256 as lower-case hex, in order, worked out in a Web Worker that streams the
 * file: `crypto.subtle.digest` would need each file whole in the page's memory.
 * @param {File[]} files
 * @returns {Promise<string[]>}
 */
export function digestFiles(files) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'dirgate-digest' });
  return new Promise((resolve, reject) => {
    worker.addEventListener('message', (event) => {
      worker.terminate();
      const message = event.data;
      if (message.type === 'digests') {
        resolve(message.digests);
      } else {
        reject(new Error(`The files could not be read: ${message.message}`));
      }
    });
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error('The browser could not start the file reader. Reload the page and try again.'));
    });
    worker.postMessage({ digest: files });
  });
}
