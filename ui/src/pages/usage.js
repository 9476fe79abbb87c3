// Usage and cost: totals per group over a date range (CSV export), budgets with what is left,
// and Databricks DBU cost beside model spend per project.
import { get } from '../api.js';
import { h, replace, errorBox, loading, fmtInt, fmtNum, fmtUsd, table, appendRows, section, field, select, timeCell, badge } from '../dom.js';

const BY = [
  ['project', 'Project'],
  ['key', 'Key'],
  ['user', 'User'],
  ['model', 'Model'],
  ['end_user', 'End user (usage_context.end_user)'],
];

const day = (d) => d.toISOString().slice(0, 10);
const addDays = (s, n) => {
  const d = new Date(`${s}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return day(d);
};

export default function usage(root, ctx) {
  const today = day(new Date());
  let by = ctx.params.get('by') ?? 'project';
  if (!BY.some(([b]) => b === by)) by = 'project';
  let from = ctx.params.get('from') ?? addDays(today, -29);
  let to = ctx.params.get('to') ?? today;

  const bySel = select(BY, by, { name: 'by' });
  const fromIn = h('input', { type: 'date', name: 'from', value: from, required: true });
  const toIn = h('input', { type: 'date', name: 'to', value: to, required: true });
  const csv = h('a', { class: 'button ghost', 'data-testid': 'csv' }, 'Export CSV');
  const form = h(
    'form',
    { class: 'toolbar filters' },
    field('Group by', bySel),
    field('From (UTC)', fromIn),
    field('To (UTC, inclusive)', toIn),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
    h('span', { class: 'spacer' }),
    csv,
  );
  const groupsBox = h('div');
  const budgetsBox = h('div', null, loading());
  const billingBox = h('div');
  root.append(
    form,
    section('Usage and cost by group', groupsBox),
    section('Budgets', budgetsBox),
    section('Databricks: DBU cost beside model spend, per project', billingBox),
  );

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    by = bySel.value;
    from = fromIn.value || from;
    to = toIn.value || to;
    if (from > to) [from, to] = [to, from];
    fromIn.value = from;
    toIn.value = to;
    loadGroups();
    loadBilling();
  });

  // usage/groups reads instants (to: the start of the day after the last one shown); billing
  // reads days, both ends included.
  const range = () => ({ from, to: addDays(to, 1) });

  let gseq = 0;
  async function loadGroups() {
    const my = ++gseq;
    ctx.setParams({ by: by === 'project' ? null : by, from: from === addDays(today, -29) ? null : from, to: to === today ? null : to });
    csv.setAttribute('href', `/admin/v1/usage/groups?${new URLSearchParams({ by, ...range(), format: 'csv' })}`);
    csv.setAttribute('download', `gatehouse-usage-by-${by}-${from}-to-${to}.csv`);
    replace(groupsBox, loading());
    const label = { end_user: 'End user' }[by] ?? BY.find(([b]) => b === by)[1];
    const columns = [
      { label, value: (r) => (r.group === null || r.group === '' ? h('span', { class: 'muted' }, '(none)') : r.group) },
      { label: 'Requests', num: true, value: (r) => fmtInt(r.requests) },
      { label: 'Errors', num: true, value: (r) => fmtInt(r.errors) },
      { label: 'Input tokens', num: true, value: (r) => fmtInt(r.input_tokens) },
      { label: 'Output tokens', num: true, value: (r) => fmtInt(r.output_tokens) },
      { label: 'Cost', num: true, value: (r) => fmtUsd(r.cost_usd) },
    ];
    let page;
    try {
      page = await get('/admin/v1/usage/groups', { by, ...range(), limit: 100 });
    } catch (e) {
      if (ctx.alive() && my === gseq) replace(groupsBox, errorBox(e, 'Could not load usage'));
      return;
    }
    if (!ctx.alive() || my !== gseq) return;
    const wrap = table(columns, page.data ?? [], { empty: `No usage from ${from} to ${to}.` });
    const more = h('div', { class: 'pager' });
    const count = h('span', { class: 'muted small' });
    let shown = (page.data ?? []).length;
    const drawMore = (p) => {
      count.textContent = `${shown} ${shown === 1 ? 'group' : 'groups'}, most expensive first`;
      replace(more, count);
      if (!p.has_more || !p.next_cursor) return;
      const btn = h('button', { type: 'button' }, 'More');
      btn.addEventListener('click', async () => {
        btn.disabled = true;
        try {
          const next = await get('/admin/v1/usage/groups', { by, ...range(), limit: 100, cursor: p.next_cursor });
          if (!ctx.alive() || my !== gseq) return;
          appendRows(wrap, columns, next.data ?? []);
          shown += (next.data ?? []).length;
          drawMore(next);
        } catch (e) {
          more.append(errorBox(e));
          btn.disabled = false;
        }
      });
      more.append(btn);
    };
    drawMore(page);
    replace(groupsBox, wrap, more);
  }

  async function loadBudgets() {
    try {
      const b = await get('/admin/v1/budgets');
      if (!ctx.alive()) return;
      const rows = b.data ?? [];
      replace(
        budgetsBox,
        table(
          [
            { label: 'Budget', value: (r) => r.name },
            { label: 'Scope', value: (r) => (r.subject ? `${r.scope} ${r.subject}` : r.scope) },
            { label: 'Period', value: (r) => r.period },
            { label: 'Limit', num: true, value: (r) => fmtUsd(r.limit_usd) },
            { label: 'Spent', num: true, value: (r) => fmtUsd(r.spent_usd) },
            {
              label: 'Left',
              num: true,
              value: (r) => {
                const used = r.limit_usd > 0 ? Math.min(r.spent_usd / r.limit_usd, 1) : 0;
                return h('span', { class: 'left' }, h('meter', { min: 0, max: 1, low: 0.75, high: 0.9, optimum: 0, value: used, title: `${Math.round(used * 100)}% used` }), ' ', h('strong', { class: r.left_usd <= 0 ? 'bad' : undefined }, fmtUsd(r.left_usd)));
              },
            },
            { label: 'Resets', value: (r) => (r.resets_at ? timeCell(r.resets_at) : '–') },
          ],
          rows,
          { empty: 'No budgets are configured (limits with max_spend_usd).' },
        ),
      );
    } catch (e) {
      if (ctx.alive()) replace(budgetsBox, errorBox(e, 'Could not load budgets'));
    }
  }

  let bseq = 0;
  async function loadBilling() {
    const my = ++bseq;
    replace(billingBox, loading());
    let b;
    try {
      b = await get('/admin/v1/billing', { from, to });
    } catch (e) {
      if (ctx.alive() && my === bseq) replace(billingBox, errorBox(e, 'Could not load Databricks billing'));
      return;
    }
    if (!ctx.alive() || my !== bseq) return;
    const rows = b.data ?? [];
    const status = !b.configured
      ? h('p', { class: 'muted' }, 'The Databricks billing import is not configured: DBU cost is not measured. Model spend is shown alone.')
      : b.last_import
        ? h('p', { class: 'muted' }, 'Last import: ', timeCell(b.last_import.at), ' ', b.last_import.ok ? badge('ok', 'good') : badge('failed', 'bad'), b.last_import.ok ? ` (${fmtInt(b.last_import.rows)} rows)` : ` ${b.last_import.error ?? ''}`)
        : h('p', { class: 'muted' }, 'No import has run yet.');
    const notMeasured = () => h('span', { class: 'muted not-measured' }, 'not measured');
    // Per project over the range.
    const per = new Map();
    for (const r of rows) {
      const p = per.get(r.project) ?? { project: r.project, model: 0, dbu: 0, dbus: 0, measured: 0, days: 0 };
      p.model += r.model_cost_usd ?? 0;
      p.days += 1;
      if (r.dbu_cost_usd !== null && r.dbu_cost_usd !== undefined) {
        p.dbu += r.dbu_cost_usd;
        p.dbus += r.dbus ?? 0;
        p.measured += 1;
      }
      per.set(r.project, p);
    }
    const summary = [...per.values()].sort((a, c) => c.model + c.dbu - (a.model + a.dbu));
    const projectCell = (p) => (p === null || p === '' ? h('span', { class: 'muted' }, '(none)') : p);
    replace(
      billingBox,
      status,
      table(
        [
          { label: 'Project', value: (r) => projectCell(r.project) },
          { label: 'Model spend', num: true, value: (r) => fmtUsd(r.model) },
          { label: 'DBU cost', num: true, value: (r) => (r.measured ? h('span', null, fmtUsd(r.dbu), r.measured < r.days ? h('small', { class: 'muted' }, ` (${r.days - r.measured} of ${r.days} days not measured)`) : null) : notMeasured()) },
          { label: 'DBUs', num: true, value: (r) => (r.measured ? fmtNum(r.dbus) : notMeasured()) },
          { label: 'Total', num: true, value: (r) => fmtUsd(r.model + r.dbu) },
        ],
        summary,
        { empty: `No spend from ${from} to ${to}.`, caption: `${from} to ${to}, per project` },
      ),
      rows.length
        ? h(
            'details',
            { class: 'per-day' },
            h('summary', null, `Per project and day (${rows.length} ${rows.length === 1 ? "row" : "rows"})`),
            table(
              [
                { label: 'Day', value: (r) => r.day },
                { label: 'Project', value: (r) => projectCell(r.project) },
                { label: 'Model spend', num: true, value: (r) => fmtUsd(r.model_cost_usd) },
                { label: 'DBU cost', num: true, value: (r) => (r.dbu_cost_usd === null || r.dbu_cost_usd === undefined ? notMeasured() : fmtUsd(r.dbu_cost_usd)) },
                { label: 'DBUs', num: true, value: (r) => (r.dbus === null || r.dbus === undefined ? notMeasured() : fmtNum(r.dbus)) },
              ],
              rows,
            ),
          )
        : null,
    );
  }

  loadGroups();
  loadBudgets();
  loadBilling();
}
