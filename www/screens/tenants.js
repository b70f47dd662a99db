// @ts-check
/**
 * The operator's screen: the tenants (customer organisations) with their domains, and the forms
 * that create a tenant, its first administrators and its API keys. The operator sees no
 * directory data.
 */

import { ApiError, get, post } from '../api.js';
import { keyReveal } from '../render/api-key.js';
import { field, h, replace, section } from '../render/dom.js';
import { formatCount, timeElement } from '../render/locale.js';
import { describeError, messageArea, notice } from '../render/notice.js';
import { table } from '../render/table.js';

/** @typedef {import('../types.js').Tenant} Tenant */

/**
 * Splits what was typed into a domains field: commas, semicolons, spaces or new lines.
 * @param {string} text
 * @returns {string[]}
 */
function splitDomains(text) {
  return text.split(/[\s,;]+/).map((d) => d.trim()).filter(Boolean);
}

/** @param {HTMLElement} main */
export function tenantsScreen(main) {
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading tenants…'));
  const forms = h('div', { class: 'grid' });
  replace(main, [
    h('h1', {}, 'Tenants'),
    h('p', { class: 'lead' }, 'Each tenant is one customer organisation with its own managed domains and directory. Create the tenant, then give it an administrator who manages its directory, or an API key for its sync agent.'),
    section('All tenants', [list]),
    forms,
  ]);

  /** @type {Tenant[]} */
  let tenants = [];
  /** The tenant choosers of the forms, refilled whenever the list changes. */
  /** @type {HTMLSelectElement[]} */
  const selects = [];
  const adminSlot = h('div');
  const keySlot = h('div');

  /**
   * Reloads the list; `chosen` is the tenant the forms should offer first.
   * @param {number} [chosen]
   */
  async function load(chosen) {
    try {
      /** @type {import('../types.js').TenantList} */
      const answer = await get('/tenants');
      tenants = answer.tenants;
      replace(list, tenantTable(tenants));
    } catch (error) {
      replace(list, notice('error', `The tenants could not be loaded. ${describeError(error)}`));
      return;
    }
    if (tenants.length === 0) {
      const first = h('p', { class: 'empty' }, 'Create a tenant first.');
      replace(adminSlot, section('Add a tenant administrator', [first]));
      replace(keySlot, section('Create an API key', [first.cloneNode(true)]));
      return;
    }
    if (selects.length === 0) {
      replace(adminSlot, addAdminForm());
      replace(keySlot, createKeyForm());
    }
    for (const select of selects) {
      const keep = chosen === undefined ? select.value : String(chosen);
      replace(select, tenants.map((tenant) => h('option', { value: tenant.id }, `${tenant.name} (ID ${tenant.id})`)));
      if (tenants.some((t) => String(t.id) === keep)) select.value = keep;
    }
  }

  function createTenantForm() {
    const messages = messageArea();
    const name = h('input', { type: 'text', required: true, maxlength: 200, class: 'input', autocomplete: 'organization' });
    const domains = h('textarea', { rows: 2, class: 'input', spellcheck: 'false', autocapitalize: 'none' });
    const submit = h('button', { type: 'submit', class: 'button button--primary' }, 'Create tenant');
    const form = h('form', { novalidate: true }, [
      field('Organisation name', name),
      field('Managed domains', domains, 'Separate domains with commas or spaces, for example: example.com, example.net. A domain can belong to only one tenant; more can be added later.'),
      h('div', { class: 'actions' }, submit),
      messages.element,
    ]);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!name.value.trim()) {
        messages.show('error', 'Give the tenant a name.');
        name.focus();
        return;
      }
      submit.disabled = true;
      try {
        /** @type {Tenant} */
        const tenant = await post('/tenants', { name: name.value.trim(), domains: splitDomains(domains.value) });
        messages.show('success', `Tenant “${tenant.name}” created (ID ${tenant.id}). Now add its first administrator.`);
        name.value = '';
        domains.value = '';
        await load(tenant.id);
      } catch (error) {
        messages.show('error', `The tenant was not created. ${describeError(error)}`);
      } finally {
        submit.disabled = false;
      }
    });
    return section('Create a tenant', [form]);
  }

  /**
   * A chooser of the tenants, filled by `load`.
   * @returns {HTMLSelectElement}
   */
  function tenantSelect() {
    const select = h('select', { class: 'input', required: true });
    selects.push(select);
    return select;
  }

  function addAdminForm() {
    const messages = messageArea();
    const tenant = tenantSelect();
    const username = h('input', { type: 'text', required: true, maxlength: 100, class: 'input', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
    const password = h('input', { type: 'password', required: true, minlength: 12, class: 'input', autocomplete: 'new-password' });
    const submit = h('button', { type: 'submit', class: 'button button--primary' }, 'Add administrator');
    const form = h('form', { novalidate: true }, [
      field('Tenant', tenant),
      field('User name', username),
      field('Password', password, 'At least 12 characters. Give it to the administrator over a separate channel.'),
      h('div', { class: 'actions' }, submit),
      messages.element,
    ]);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!username.value.trim()) {
        messages.show('error', 'Enter a user name for the administrator.');
        username.focus();
        return;
      }
      if (password.value.length < 12) {
        messages.show('error', 'The password needs at least 12 characters.');
        password.focus();
        return;
      }
      submit.disabled = true;
      const chosen = tenants.find((t) => String(t.id) === tenant.value);
      try {
        /** @type {import('../types.js').CreatedUser} */
        const user = await post(`/tenants/${tenant.value}/users`, { username: username.value.trim(), password: password.value });
        messages.show('success', `${user.username} can now sign in as an administrator of ${chosen?.name ?? `tenant ${user.tenant}`}.`);
        username.value = '';
        password.value = '';
      } catch (error) {
        const text = error instanceof ApiError && error.code === 'username-taken' ? 'That user name is already taken; choose another.' : describeError(error);
        messages.show('error', `The administrator was not added. ${text}`);
      } finally {
        submit.disabled = false;
      }
    });
    return section('Add a tenant administrator', [form]);
  }

  function createKeyForm() {
    const messages = messageArea();
    const tenant = tenantSelect();
    const name = h('input', { type: 'text', class: 'input', maxlength: 200, autocomplete: 'off', placeholder: 'for example: sync agent on dc01' });
    const submit = h('button', { type: 'submit', class: 'button button--primary' }, 'Create API key');
    const reveal = h('div');
    const form = h('form', { novalidate: true }, [
      field('Tenant', tenant),
      field('Key name (optional)', name, 'A note that says where the key is used.'),
      h('div', { class: 'actions' }, submit),
      messages.element,
    ]);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      submit.disabled = true;
      const chosen = tenants.find((t) => String(t.id) === tenant.value);
      try {
        /** @type {import('../types.js').CreatedKey} */
        const key = await post(`/tenants/${tenant.value}/keys`, { name: name.value.trim() });
        replace(reveal, keyReveal(key, chosen?.name ?? `tenant ${key.tenant}`));
        messages.clear();
        name.value = '';
      } catch (error) {
        messages.show('error', `The key was not created. ${describeError(error)}`);
      } finally {
        submit.disabled = false;
      }
    });
    return section('Create an API key', [h('p', {}, 'The sync agent and scripts authenticate with a key of their tenant. Tenant administrators can also create and revoke keys themselves.'), form, reveal]);
  }

  replace(forms, [createTenantForm(), adminSlot, keySlot]);
  load();
}

/**
 * @param {Tenant[]} tenants
 * @returns {HTMLElement}
 */
function tenantTable(tenants) {
  return table({
    caption: `${formatCount(tenants.length)} tenant${tenants.length === 1 ? '' : 's'}`,
    columns: [
      { title: 'ID', cell: (t) => String(t.id), numeric: true },
      { title: 'Name', cell: (t) => t.name, rowHeader: true },
      {
        title: 'Managed domains',
        cell: (t) =>
          t.domains.length
            ? h('ul', { class: 'inline-list' }, t.domains.map((d) => h('li', { class: 'mono' }, d)))
            : h('span', { class: 'muted' }, 'none yet'),
        className: 'wide',
      },
      {
        title: 'Import rules',
        cell: (t) => `deletion threshold ${t.settings.deletion_threshold_percent} %, ${formatCount(t.settings.daily_import_limit)} imports a day`,
      },
      { title: 'Created', cell: (t) => timeElement(t.created_at) },
    ],
    rows: tenants,
    empty: 'No tenant yet. Create the first one below.',
  });
}
