// @ts-check
/**
 * Building DOM nodes. Text always goes in as text nodes, never as HTML: addresses, names and
 * descriptions come from uploaded files and must be treated as hostile.
 */

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * An element with attributes and children. `class` sets the class name; `true` sets a boolean
 * attribute; `false`, `null` and `undefined` leave the attribute out. Event handlers are added by
 * the caller with `addEventListener`, never as attributes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attributes]
 * @param {Child[] | Child} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') {
      element.className = String(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

/**
 * Appends children; strings and numbers become text nodes, falsy children are skipped.
 * @param {Element | DocumentFragment} parent
 * @param {Child[] | Child} children
 */
export function append(parent, children) {
  for (const child of Array.isArray(children) ? children : [children]) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/**
 * Replaces all children of `parent`.
 * @param {Element} parent
 * @param {Child[] | Child} children
 */
export function replace(parent, children) {
  parent.replaceChildren();
  append(parent, children);
}

let counter = 0;

/**
 * A page-unique id, for `for`/`id`, `aria-controls` and `aria-describedby` pairs.
 * @param {string} prefix
 * @returns {string}
 */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * A labelled form field: a wrapper with a `<label>`, the control and an optional hint.
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control
 * @param {string} [hint]
 * @returns {HTMLDivElement}
 */
export function field(label, control, hint) {
  if (!control.id) control.id = uid('field');
  /** @type {Node[]} */
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hintId = uid('hint');
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('p', { class: 'field__hint', id: hintId }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

/**
 * A button with a click handler.
 * @param {string} label
 * @param {(event: MouseEvent) => void} onClick
 * @param {string} [className]
 * @returns {HTMLButtonElement}
 */
export function button(label, onClick, className = 'button') {
  const element = h('button', { type: 'button', class: className }, label);
  element.addEventListener('click', onClick);
  return element;
}

/**
 * A section with a heading.
 * @param {string} title
 * @param {Child[]} children
 * @param {2 | 3 | 4} [level]
 * @returns {HTMLElement}
 */
export function section(title, children, level = 2) {
  const headingId = uid('heading');
  const heading = h(/** @type {'h2' | 'h3' | 'h4'} */ (`h${level}`), { id: headingId }, title);
  return h('section', { class: 'panel', 'aria-labelledby': headingId }, [heading, ...children]);
}
