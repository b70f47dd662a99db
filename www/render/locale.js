// @ts-check
/** Numbers, sizes and dates in the user's own locale. */

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/**
 * A count, with the locale's digit grouping.
 * @param {number} value
 * @returns {string}
 */
export function formatCount(value) {
  return integer.format(value);
}

/**
 * A percentage, to one decimal.
 * @param {number} value 0 to 100
 * @returns {string}
 */
export function formatPercent(value) {
  return `${decimal.format(value)} %`;
}

/**
 * A file size in bytes, KB, MB or GB (powers of 1024, as file managers show them).
 * @param {number} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  const units = ['bytes', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? integer.format(value) : decimal.format(value)} ${units[unit]}`;
}

/**
 * A server timestamp (RFC 3339) as local date and time.
 * @param {string | null | undefined} timestamp
 * @returns {string}
 */
export function formatDate(timestamp) {
  if (!timestamp) return '—';
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? timestamp : date.toLocaleString();
}

/**
 * A `<time>` element for a server timestamp.
 * @param {string | null | undefined} timestamp
 * @returns {HTMLTimeElement}
 */
export function timeElement(timestamp) {
  const element = document.createElement('time');
  if (timestamp) element.dateTime = timestamp;
  element.textContent = formatDate(timestamp);
  return element;
}

/**
 * "1 recipient" or "3 recipients".
 * @param {number} count
 * @param {string} singular
 * @param {string} [plural]
 * @returns {string}
 */
export function plural(count, singular, plural = `${singular}s`) {
  return `${formatCount(count)} ${count === 1 ? singular : plural}`;
}
