// @ts-check
/**
 * The validation worker: runs the wasm core (pkg/, built by `make wasm`) over the chosen files,
 * read chunk by chunk from `File.stream()`, so that the page stays responsive and memory does
 * not grow with the file's size. It never interprets the bytes itself: every check is the core's.
 *
 * Messages in: `{ files, options }` (one validation per worker; cancel = `terminate()`), or
 * `{ digest: files }` for each file's SHA-256, read the same way.
 * Messages out: `{ type: 'progress', progress }` at most every 100 ms, then
 * `{ type: 'done', result }` (the directory is a Blob, passed by reference), or
 * `{ type: 'digests', digests }` (lower-case hex, in the files' order), or
 * `{ type: 'failed', message }`.
 */

import init, { FileDigest, Validator } from './pkg/dirgate_wasm.js';

/** @typedef {import('./types.js').ValidateRequest} ValidateRequest */
/** @typedef {import('./types.js').DigestRequest} DigestRequest */
/** @typedef {import('./types.js').ValidationProgress} ValidationProgress */
/** @typedef {import('./types.js').Validation} Validation */

/** How often progress is posted, in milliseconds. */
const PROGRESS_EVERY = 100;

// The page's lib types do not include the worker scope; postMessage and message events are the
// same shape as a Worker's.
const scope = /** @type {Worker} */ (/** @type {unknown} */ (self));

/**
 * Each file's SHA-256, streamed chunk by chunk: memory stays at one chunk whatever the size.
 * @param {File[]} files
 * @returns {Promise<string[]>}
 */
async function digests(files) {
  const digest = new FileDigest();
  /** @type {string[]} */
  const hex = [];
  try {
    for (const file of files) {
      const reader = file.stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        digest.update(value);
      }
      hex.push(digest.hex());
    }
  } finally {
    digest.free();
  }
  return hex;
}

scope.addEventListener('message', async (event) => {
  /** @type {ValidateRequest | DigestRequest} */
  const message = event.data;
  if ('digest' in message) {
    try {
      await init();
      scope.postMessage({ type: 'digests', digests: await digests(message.digest) });
    } catch (error) {
      scope.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    }
    return;
  }
  const request = message;
  try {
    const wasm = await init();
    const validator = new Validator(request.options);
    const total = request.files.reduce((sum, file) => sum + file.size, 0);
    const started = performance.now();
    let last = 0;
    let peakWasmBytes = wasm.memory.buffer.byteLength;
    /** @param {boolean} force */
    const report = (force) => {
      const now = performance.now();
      if (!force && now - last < PROGRESS_EVERY) return;
      last = now;
      const { bytes, records } = validator.progress();
      const seconds = Math.max((now - started) / 1000, 0.001);
      peakWasmBytes = Math.max(peakWasmBytes, wasm.memory.buffer.byteLength);
      /** @type {ValidationProgress} */
      const progress = { bytes, total, records, recordsPerSecond: records / seconds, seconds };
      scope.postMessage({ type: 'progress', progress });
    };
    for (const file of request.files) {
      validator.beginFile(file.name, file.size);
      const reader = file.stream().getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        validator.feed(value);
        report(false);
      }
    }
    report(true);
    const seconds = (performance.now() - started) / 1000;
    const finished = validator.finish();
    peakWasmBytes = Math.max(peakWasmBytes, wasm.memory.buffer.byteLength);
    /** @type {Validation} */
    const result = { ...finished, seconds, bytes: total, peakWasmBytes };
    // A Blob crosses to the page by reference: the body is not copied again.
    scope.postMessage({ type: 'done', result });
  } catch (error) {
    scope.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
});
