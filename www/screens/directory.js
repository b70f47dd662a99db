// @ts-check
/**
 * A tenant administrator's screen, "Directory Management", with the anchor product's three tabs:
 * Directory Synchronize, Directory Import and Export. The chosen tab is kept in the page address
 * (`#synchronize`, `#import`, `#export`), so that reloading or sharing a link keeps it.
 */

import { h, replace } from '../render/dom.js';
import { tabs } from '../render/tabs.js';
import { synchronizeTab } from './synchronize.js';
import { importTab } from './directory-import.js';
import { exportTab } from './export.js';

/**
 * @param {HTMLElement} main
 * @param {import('../types.js').Tenant} tenant
 */
export function directoryScreen(main, tenant) {
  const specs = [
    { id: 'synchronize', label: 'Directory Synchronize', render: synchronizeTab },
    { id: 'import', label: 'Directory Import', render: (/** @type {HTMLElement} */ panel) => importTab(panel, tenant) },
    { id: 'export', label: 'Export', render: exportTab },
  ];
  const initial = location.hash.slice(1);
  const view = tabs('Directory Management', specs, specs.some((s) => s.id === initial) ? initial : 'synchronize', (id) => {
    history.replaceState(null, '', `#${id}`);
  });
  replace(main, [
    h('h1', {}, ['Directory Management', h('span', { class: 'h1__sub' }, tenant.name)]),
    view.element,
  ]);
}
