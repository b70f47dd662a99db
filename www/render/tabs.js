// @ts-check
/**
 * ARIA tabs: a tablist of buttons and one panel per tab. Arrow keys move between tabs (and
 * select them), Home and End jump to the first and last; only the selected tab is in the Tab
 * order, and its panel follows it.
 */

import { h, uid } from './dom.js';

/**
 * @typedef {object} TabSpec
 * @property {string} id stable name, used in the page address (`#import`)
 * @property {string} label
 * @property {(panel: HTMLElement) => (() => void) | void} render fills the panel the first time
 *   the tab is shown, and may return a function that refreshes it when it is shown again (so that
 *   a chosen file or a typed description survives a visit to another tab)
 */

/**
 * @param {string} label the tablist's name
 * @param {TabSpec[]} specs
 * @param {string} initial the id of the tab to show first
 * @param {(id: string) => void} [onChange]
 * @returns {{ element: HTMLElement, select: (id: string) => void }}
 */
export function tabs(label, specs, initial, onChange) {
  const list = h('div', { role: 'tablist', 'aria-label': label, class: 'tabs__list' });
  const panels = h('div', { class: 'tabs__panels' });
  /** @type {{ spec: TabSpec, tab: HTMLButtonElement, panel: HTMLElement, rendered: boolean, refresh: (() => void) | void }[]} */
  const items = specs.map((spec) => {
    const tabId = uid('tab');
    const panelId = uid('panel');
    const tab = h('button', { type: 'button', role: 'tab', id: tabId, 'aria-controls': panelId, class: 'tabs__tab' }, spec.label);
    const panel = h('section', { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, tabindex: 0, class: 'tabs__panel' });
    list.append(tab);
    panels.append(panel);
    return { spec, tab, panel, rendered: false, refresh: undefined };
  });

  /**
   * @param {string} id
   * @param {boolean} focus
   */
  function select(id, focus = false) {
    const chosen = items.find((item) => item.spec.id === id) ?? items[0];
    for (const item of items) {
      const selected = item === chosen;
      item.tab.setAttribute('aria-selected', String(selected));
      item.tab.tabIndex = selected ? 0 : -1;
      item.panel.hidden = !selected;
    }
    if (!chosen.rendered) {
      chosen.rendered = true;
      chosen.refresh = chosen.spec.render(chosen.panel);
    } else if (chosen.refresh) {
      chosen.refresh();
    }
    if (focus) chosen.tab.focus();
    onChange?.(chosen.spec.id);
  }

  items.forEach(({ spec, tab }, index) => {
    tab.addEventListener('click', () => select(spec.id));
    tab.addEventListener('keydown', (event) => {
      const last = items.length - 1;
      /** @type {number | null} */
      let next = null;
      if (event.key === 'ArrowRight') next = index === last ? 0 : index + 1;
      else if (event.key === 'ArrowLeft') next = index === 0 ? last : index - 1;
      else if (event.key === 'Home') next = 0;
      else if (event.key === 'End') next = last;
      if (next === null) return;
      event.preventDefault();
      select(items[next].spec.id, true);
    });
  });

  select(initial);
  return { element: h('div', { class: 'tabs' }, [list, panels]), select: (id) => select(id) };
}
