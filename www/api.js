// @ts-check
/**
 * The one way the UI talks to the server: `fetch` against `/api/v1`, JSON in and out, and
 * `XMLHttpRequest` for uploads that show their progress.
 *
 * Every non-2xx answer becomes an {@link ApiError} that carries the status, the server's stable
 * error code and the whole parsed body, because several answers (422 with diagnostics, 409 with a
 * diff) carry the information the screen needs to show next.
 *
 * The session cookie is sent by the browser; `fetch` also sends `Origin` on POST, PUT, PATCH and
 * DELETE, which the server requires before it accepts a cookie for a change.
 */

/** @typedef {import('./types.js').ErrorBody} ErrorBody */

const BASE = '/api/v1';

/** Raised for every answer that is not 2xx, and when the server cannot be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status; 0 when the server could not be reached
   * @param {string} code the server's kebab-case error code
   * @param {string} message a sentence for a person
   * @param {ErrorBody | null} body the whole parsed error body
   * @param {number | null} retryAfter seconds from a `Retry-After` header
   */
  constructor(status, code, message, body, retryAfter) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/**
 * @typedef {object} RequestOptions
 * @property {unknown} [json] a value sent as a JSON body
 * @property {Blob} [body] a raw body (an uploaded file), sent as it is
 * @property {Record<string, string | boolean | undefined>} [query] query parameters; `undefined`
 *   and `false` are left out, so that flags appear only when they are set
 */

/**
 * The URL of an API path with its query string.
 * @param {string} path a path under `/api/v1`, starting with `/`
 * @param {RequestOptions['query']} [query]
 * @returns {string}
 */
export function apiUrl(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === false) continue;
    params.set(name, String(value));
  }
  const search = params.toString();
  return BASE + path + (search ? `?${search}` : '');
}

/**
 * Sends one request and returns the parsed JSON answer (`null` for an empty one).
 * @param {'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'} method
 * @param {string} path a path under `/api/v1`, starting with `/`
 * @param {RequestOptions} [options]
 * @returns {Promise<any>}
 */
export async function request(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  /** @type {BodyInit | undefined} */
  let body;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.body !== undefined) {
    // A raw file: never let its own type (a `.json` file says application/json) make the server
    // read it as a normalised directory.
    headers['Content-Type'] = 'application/octet-stream';
    body = options.body;
  }
  let response;
  try {
    response = await fetch(apiUrl(path, options.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
    });
  } catch {
    throw unreachable();
  }
  const text = await response.text();
  if (response.ok) return parseJson(text);
  throw apiError(path, response.status, response.statusText, text, response.headers.get('Retry-After'));
}

/**
 * Sends a prepared body (the gzip-compressed normalised directory) with `XMLHttpRequest`, whose
 * upload events `fetch` does not offer, and returns the parsed JSON answer.
 * @param {string} path a path under `/api/v1`, starting with `/`
 * @param {Blob} body
 * @param {{ query?: RequestOptions['query'], headers?: Record<string, string>, onProgress?: (sent: number, total: number) => void }} options
 * @returns {Promise<any>}
 */
export function upload(path, body, { query, headers = {}, onProgress }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl(path, query));
    xhr.setRequestHeader('Accept', 'application/json');
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) {
      xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded, event.lengthComputable ? event.total : body.size));
    }
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(parseJson(xhr.responseText));
      else reject(apiError(path, xhr.status, xhr.statusText, xhr.responseText, xhr.getResponseHeader('Retry-After')));
    });
    xhr.addEventListener('error', () => reject(unreachable()));
    xhr.send(body);
  });
}

/** @returns {ApiError} */
function unreachable() {
  return new ApiError(0, 'network', 'The server could not be reached. Check your network connection and try again.', null, null);
}

/**
 * @param {string} text
 * @returns {any} the parsed JSON, or `null` for an empty or unparsable answer
 */
function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * The error of a non-2xx answer.
 * @param {string} path
 * @param {number} status
 * @param {string} statusText
 * @param {string} text the body
 * @param {string | null} retryHeader
 * @returns {ApiError}
 */
function apiError(path, status, statusText, text, retryHeader) {
  const parsed = parseJson(text);
  const retryAfter = retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : null;
  /** @type {ErrorBody | null} */
  const errorBody = parsed && typeof parsed === 'object' && parsed.error ? parsed : null;
  const code = errorBody?.error.code ?? `http-${status}`;
  const message = errorBody?.error.message ?? `The server answered ${status} ${statusText}.`;
  const error = new ApiError(status, code, message, errorBody, retryAfter);
  if (status === 401 && path !== '/session') {
    // The session ended (expired, or signed out in another tab): let the page go back to the
    // sign-in form.
    window.dispatchEvent(new CustomEvent('dirgate:signed-out'));
  }
  return error;
}

/**
 * @param {string} path
 * @param {RequestOptions['query']} [query]
 */
export const get = (path, query) => request('GET', path, { query });

/**
 * @param {string} path
 * @param {unknown} [json]
 */
export const post = (path, json) => request('POST', path, { json });

/**
 * @param {string} path
 * @param {unknown} json
 */
export const put = (path, json) => request('PUT', path, { json });

/**
 * @param {string} path
 * @param {unknown} json
 */
export const patch = (path, json) => request('PATCH', path, { json });

/**
 * @param {string} path
 * @param {RequestOptions['query']} [query]
 */
export const del = (path, query) => request('DELETE', path, { query });
