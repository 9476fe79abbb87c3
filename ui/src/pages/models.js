// Models and routes: every route target's live health (refreshed every 5 s, one request), the
// kill switch: kill a model (or any scope) with a reason, lift a kill.
import { get, post, del, seg } from '../api.js';
import { h, replace, errorBox, loading, table, section, field, timeCell, badge, actionButton, select, fmtMs, fmtInt, fmtDuration } from '../dom.js';

const SCOPES = [
  ['model', 'Model'],
  ['provider', 'Provider'],
  ['project', 'Project'],
  ['key', 'Key'],
  ['mcp_server', 'MCP server'],
  ['mcp_tool', 'MCP tool (server/tool)'],
];
const REFRESH_MS = 5000;

export default function models(root, ctx) {
  const healthBox = h('div', null, loading());
  const killsBox = h('div', null, loading());
  const updated = h('span', { class: 'muted small', 'aria-live': 'off' });
  const killStatus = h('div', { 'aria-live': 'polite' });
  let health = null;
  let kills = [];
  let openKill = null; // the model whose kill form is open (kept across refreshes)

  const scope = select(SCOPES, 'model', { name: 'scope' });
  const value = h('input', { name: 'value', required: true, autocomplete: 'off', placeholder: 'chat-small', list: 'kill-names' });
  const names = h('datalist', { id: 'kill-names' });
  const reason = h('input', { name: 'reason', autocomplete: 'off', placeholder: 'incident 42: prompt leak' });
  const killForm = h(
    'form',
    { class: 'form-grid', 'aria-label': 'Switch something off' },
    field('Scope', scope),
    field('Name', value),
    names,
    field('Reason', reason),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'danger' }, 'Kill')),
  );
  killForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!value.value.trim()) {
      replace(killStatus, errorBox('Name what to switch off.'));
      return;
    }
    if (await addKill(scope.value, value.value.trim(), reason.value.trim(), killStatus)) killForm.reset();
  });

  root.append(
    section('Targets and routes', h('p', { class: 'muted' }, 'Every model — those routes send to and those called directly — with its live health. ', updated), healthBox),
    section('Kill switch', h('p', { class: 'muted' }, 'A kill refuses matching requests at once (503 kill_switch, with the reason) on every worker (and every replica sharing Redis), until lifted.'), killsBox, h('h3', null, 'Switch something off'), killForm, killStatus),
  );

  async function addKill(scopeName, name, why, statusEl) {
    replace(statusEl);
    try {
      await post('/admin/v1/kill', { [scopeName]: name, reason: why });
      await loadKills();
      drawHealth({ force: true });
      return true;
    } catch (e) {
      replace(statusEl, errorBox(e, 'Not killed'));
      return false;
    }
  }

  async function lift(k) {
    try {
      await del(`/admin/v1/kill/${seg(k.id)}`);
    } catch (e) {
      killsBox.prepend(errorBox(e, `Could not lift ${k.id}`));
    }
    await loadKills();
    drawHealth({ force: true });
  }

  const killOf = (model) => kills.find((k) => k.scope === 'model' && k.value === model);

  const stateBadge = (s) => badge(s, s === 'healthy' ? 'good' : s === 'cooling' || s === 'killed' ? 'bad' : 'warn');

  function actionsFor(t) {
    const k = killOf(t.model);
    if (k) return h('div', { class: 'row-actions' }, badge('killed', 'bad'), ' ', actionButton('Lift', () => lift(k), { class: 'small', 'aria-label': `Lift the kill on ${t.model}` }));
    if (openKill === t.model) {
      const why = h('input', { 'aria-label': `Reason to kill ${t.model}`, placeholder: 'reason', autocomplete: 'off', class: 'small' });
      const status = h('div');
      const f = h(
        'form',
        { class: 'inline-form' },
        why,
        h('button', { type: 'submit', class: 'danger small' }, 'Switch off'),
        h('button', { type: 'button', class: 'ghost small', onclick: () => { openKill = null; drawHealth({ force: true }); } }, 'Cancel'),
        status,
      );
      f.addEventListener('keydown', (ev) => {
        if (ev.key === 'Escape') {
          openKill = null;
          drawHealth({ force: true });
        }
      });
      f.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        f.querySelector('button[type=submit]').disabled = true;
        if (await addKill('model', t.model, why.value.trim(), status)) {
          openKill = null;
          drawHealth({ force: true });
        } else {
          f.querySelector('button[type=submit]').disabled = false;
        }
      });
      setTimeout(() => why.isConnected && why.focus(), 0);
      return f;
    }
    return h('button', { type: 'button', class: 'danger small', 'aria-label': `Kill ${t.model}`, onclick: () => { openKill = t.model; drawHealth({ force: true }); } }, 'Kill');
  }

  // force: after an action (the poll leaves the table alone while a reason is being typed).
  function drawHealth({ force = false } = {}) {
    if (!health) return;
    if (!force && openKill && healthBox.querySelector('.inline-form input') === document.activeElement && healthBox.querySelector('.inline-form input').value) {
      // Someone is typing a reason: leave the table as it is until they are done.
      return;
    }
    const targets = health.targets ?? [];
    replace(
      healthBox,
      table(
        [
          { label: 'Model', value: (t) => h('strong', null, t.model) },
          { label: 'Provider', value: (t) => t.provider || '–' },
          { label: 'State', value: (t) => stateBadge(t.state) },
          { label: 'Cooldown', num: true, value: (t) => (t.cooldown_remaining_s > 0 ? fmtDuration(t.cooldown_remaining_s) : '–') },
          { label: 'Latency', num: true, value: (t) => fmtMs(t.latency_ms) },
          { label: 'OK / failed', num: true, value: (t) => `${fmtInt(t.successes)} / ${fmtInt(t.failures)}` },
          { label: 'Failures in a row', num: true, value: (t) => fmtInt(t.consecutive_failures) },
          {
            label: 'Last error',
            value: (t) => h('div', null, t.last_error ? h('span', { class: 'error-text' }, t.last_error) : '–', (t.route_only ?? []).map((r) => h('div', { class: 'small muted' }, `route ${r.route}: `, stateBadge(r.state), r.cooldown_remaining_s > 0 ? ` ${fmtDuration(r.cooldown_remaining_s)} left` : '', r.last_error ? ` ${r.last_error}` : ''))),
          },
          { label: 'Routes', value: (t) => (t.routes?.length ? t.routes.join(', ') : '–') },
          { label: '', class: 'actions', value: actionsFor },
        ],
        targets,
        { empty: 'No routes are configured: models without a route are not tracked here. Use the kill switch below for them.', rowProps: (t) => ({ 'data-model': t.model, class: killOf(t.model) ? 'killed' : undefined }) },
      ),
      routesTable(targets),
    );
  }

  // The routes, from the same answer: each with its targets' states; a route's own name can be
  // killed like a model.
  function routesTable(targets) {
    const routes = new Map();
    for (const t of targets) for (const r of t.routes ?? []) routes.set(r, [...(routes.get(r) ?? []), t]);
    if (!routes.size) return null;
    const rows = [...routes.entries()].map(([name, ts]) => ({ model: name, targets: ts }));
    return h(
      'div',
      null,
      h('h3', null, 'Routes'),
      table(
        [
          { label: 'Route', value: (r) => h('strong', null, r.model) },
          { label: 'Targets', value: (r) => r.targets.map((t, i) => h('span', { class: 'target' }, i ? ', ' : '', t.model, ' ', stateBadge(killOf(t.model) ? 'killed' : t.state))) },
          { label: '', class: 'actions', value: actionsFor },
        ],
        rows,
        { rowProps: (r) => ({ 'data-route': r.model, class: killOf(r.model) ? 'killed' : undefined }) },
      ),
    );
  }

  async function loadHealth() {
    try {
      health = await get('/admin/v1/health');
      if (!ctx.alive()) return;
      const list = (health.targets ?? []).map((t) => t.model);
      if (names.dataset.list !== list.join('\n')) {
        names.dataset.list = list.join('\n');
        replace(names, list.map((m) => h('option', { value: m })));
      }
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshed every ${REFRESH_MS / 1000} s.`;
      drawHealth();
    } catch (e) {
      if (ctx.alive()) replace(healthBox, errorBox(e, 'Could not load target health'));
    }
  }

  async function loadKills() {
    try {
      const k = await get('/admin/v1/kill');
      if (!ctx.alive()) return;
      kills = k.data ?? [];
      replace(
        killsBox,
        table(
          [
            { label: 'Scope', value: (k2) => k2.scope },
            { label: 'Name', value: (k2) => h('strong', null, k2.value) },
            { label: 'Reason', value: (k2) => k2.reason || '–' },
            { label: 'By', value: (k2) => k2.by },
            { label: 'Since', value: (k2) => timeCell(k2.at) },
            { label: '', class: 'actions', value: (k2) => actionButton('Lift', () => lift(k2), { class: 'small', 'aria-label': `Lift the kill on ${k2.scope} ${k2.value}` }) },
          ],
          kills,
          { empty: 'Nothing is switched off.', rowProps: (k2) => ({ 'data-kill': `${k2.scope}:${k2.value}` }) },
        ),
      );
    } catch (e) {
      if (ctx.alive()) replace(killsBox, errorBox(e, 'Could not list the kills'));
    }
  }

  // Kills first (the health table shows which models are killed), then health every 5 s while
  // the tab is visible.
  loadKills().then(loadHealth);
  const timer = setInterval(() => {
    if (!document.hidden) loadHealth();
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
