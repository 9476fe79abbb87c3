// Keys: the stored keys, create one (its secret shown once), revoke one.
import { get, post, del, seg } from '../api.js';
import { h, replace, errorBox, loading, table, section, field, timeCell, badge, actionButton, select } from '../dom.js';

const EXPIRES = [
  ['', 'Never'],
  ['1d', '1 day'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['90d', '90 days'],
  ['365d', '1 year'],
];

// "team=data, env=prod" -> {team: "data", env: "prod"}; throws on a malformed pair.
function parseTags(text) {
  const tags = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`tags: '${part}' is not name=value`);
    tags[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return tags;
}

async function copy(text, input) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the selection
  }
  input.focus();
  input.select();
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}

export default function keys(root) {
  const listBox = h('div', null, loading());
  const created = h('div', { 'aria-live': 'polite' });
  const formStatus = h('div', { 'aria-live': 'polite' });

  const name = h('input', { name: 'name', required: true, autocomplete: 'off', placeholder: 'ci-bot' });
  const role = h('input', { name: 'role', autocomplete: 'off', placeholder: 'analyst', list: 'known-roles' });
  const roles = h('datalist', { id: 'known-roles' });
  const project = h('input', { name: 'project', autocomplete: 'off', placeholder: 'p1' });
  const expires = select(EXPIRES, '30d', { name: 'expires_in' });
  const tags = h('input', { name: 'tags', autocomplete: 'off', placeholder: 'team=data, env=prod' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create key');
  const form = h(
    'form',
    { class: 'form-grid', 'aria-label': 'Create a key' },
    field('Name', name),
    field('Role', role, 'one of the config’s roles'),
    roles,
    field('Project', project),
    field('Expires', expires),
    field('Tags', tags, 'name=value, comma-separated'),
    h('div', { class: 'field actions' }, submit),
  );

  root.append(
    created,
    section('Stored keys', listBox),
    section('Create a key', h('p', { class: 'muted' }, 'The secret is shown once, right after it is created: copy it then. Gatehouse keeps only its digest.'), form, formStatus),
  );

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    replace(formStatus);
    const body = { name: name.value.trim() };
    if (role.value.trim()) body.role = role.value.trim();
    if (project.value.trim()) body.project = project.value.trim();
    if (expires.value) body.expires_in = expires.value;
    try {
      const t = parseTags(tags.value);
      if (Object.keys(t).length) body.tags = t;
    } catch (e) {
      replace(formStatus, errorBox(e));
      return;
    }
    if (!body.name) {
      replace(formStatus, errorBox('Give the key a name.'));
      name.focus();
      return;
    }
    submit.disabled = true;
    try {
      const k = await post('/admin/v1/keys', body);
      form.reset();
      expires.value = '30d';
      showSecret(k);
      load();
    } catch (e) {
      replace(formStatus, errorBox(e, 'Not created'));
    } finally {
      submit.disabled = false;
    }
  });

  // The new key's secret, once: it lives only in this panel until "Done" (or leaving the page).
  function showSecret(k) {
    const secret = h('input', { type: 'text', readonly: true, value: k.key, class: 'secret mono', 'aria-label': `Secret of key ${k.name}`, 'data-testid': 'new-secret', spellcheck: 'false' });
    const copied = h('span', { class: 'muted small', 'aria-live': 'polite' });
    const panel = h(
      'div',
      { class: 'notice success secret-panel', role: 'status' },
      h('p', null, h('strong', null, `Key ${k.name} created.`), ' Copy its secret now: it will not be shown again.'),
      h(
        'div',
        { class: 'secret-row' },
        secret,
        actionButton('Copy', async () => {
          copied.textContent = (await copy(k.key, secret)) ? 'Copied.' : 'Select it and copy it by hand.';
        }),
        h('button', { type: 'button', class: 'ghost', onclick: () => replace(created) }, 'Done'),
      ),
      copied,
    );
    replace(created, panel);
    secret.addEventListener('focus', () => secret.select());
    secret.focus();
  }

  async function revoke(k) {
    if (!confirm(`Revoke key ${k.name}? Requests with it are refused within a second. This cannot be undone.`)) return;
    try {
      await del(`/admin/v1/keys/${seg(k.name)}`);
      load();
    } catch (e) {
      listBox.prepend(errorBox(e, `Could not revoke ${k.name}`));
    }
  }

  const statusBadge = (s) => badge(s, s === 'active' ? 'good' : s === 'revoked' ? 'bad' : 'warn');

  async function load() {
    let list;
    try {
      list = await get('/admin/v1/keys');
    } catch (e) {
      if (listBox.isConnected) replace(listBox, errorBox(e, 'Could not list the keys'));
      return;
    }
    const rows = list.data ?? [];
    // The configured roles (GET /admin/v1/roles); the roles stored keys carry if that fails.
    let known = rows.map((r) => r.role);
    try {
      known = ((await get('/admin/v1/roles')).data ?? []).map((r) => r.name);
    } catch {
      // keep the stored keys' roles
    }
    replace(roles, [...new Set(known.filter(Boolean))].sort().map((r) => h('option', { value: r })));
    rows.sort((a, b) => (b.status === 'active') - (a.status === 'active'));
    replace(
      listBox,
      table(
        [
          { label: 'Name', value: (r) => h('strong', null, r.name) },
          { label: 'Prefix', value: (r) => h('code', null, r.prefix) },
          { label: 'Role', value: (r) => r.role || '–' },
          { label: 'Project', value: (r) => r.project || '–' },
          { label: 'Tags', value: (r) => (Object.keys(r.tags ?? {}).length ? Object.entries(r.tags).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)) : '–') },
          { label: 'Created', value: (r) => timeCell(r.created_at) },
          { label: 'Expires', value: (r) => (r.expires_at ? timeCell(r.expires_at) : h('span', { class: 'muted' }, 'never')) },
          { label: 'Status', value: (r) => statusBadge(r.status) },
          { label: '', class: 'actions', value: (r) => (r.status === 'active' ? actionButton('Revoke', () => revoke(r), { class: 'danger small', 'aria-label': `Revoke key ${r.name}` }) : '') },
        ],
        rows,
        { empty: 'No stored keys yet. Create one below (keys in the config file are not listed here).', rowProps: (r) => ({ 'data-key': r.name }) },
      ),
    );
  }

  load();
}
