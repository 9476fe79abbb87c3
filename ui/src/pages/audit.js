// Audit: the chain, newest first (keyset pages), and a Verify button.
import { get, post } from '../api.js';
import { h, replace, errorBox, loading, table, appendRows, section, field, timeCell, actionButton, fmtInt, pretty } from '../dom.js';

const KINDS = ['kill.add', 'kill.lift', 'key.create', 'key.revoke', 'config.reload', 'config.reload_refused', 'request.denied', 'request.denied.coalesced', 'guardrail.blocked', 'mcp.tool.changed', 'mcp.tool.accepted', 'mcp.approval.approved', 'mcp.approval.denied', 'console.sign_in', 'console.sign_out'];

function compact(detail) {
  if (detail === null || detail === undefined || detail === '') return '–';
  let v = detail;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return v;
    }
  }
  const text = JSON.stringify(v);
  if (text === '{}') return '–';
  if (text.length <= 60) return h('code', null, text);
  return h('details', null, h('summary', null, h('code', null, `${text.slice(0, 40)}…`)), h('pre', { class: 'json' }, pretty(v)));
}

export default function audit(root, ctx) {
  const result = h('div', { 'aria-live': 'polite', 'data-testid': 'verify-result' });
  const verify = actionButton('Verify the chain', async () => {
    replace(result, h('p', { class: 'muted' }, 'Verifying every row…'));
    try {
      const v = await post('/admin/v1/audit/verify');
      replace(
        result,
        v.intact
          ? h('div', { class: 'notice success verify-ok', role: 'status' }, h('strong', null, 'Intact'), `: ${fmtInt(v.rows)} ${v.rows === 1 ? 'row' : 'rows'}, each chained to the one before.`)
          : h('div', { class: 'notice error verify-bad', role: 'alert' }, h('strong', null, 'Broken'), v.first_bad_id !== null && v.first_bad_id !== undefined ? ` at row ${v.first_bad_id}` : '', v.problem ? `: ${v.problem}` : '', ` (${fmtInt(v.rows)} rows checked)`),
      );
    } catch (e) {
      replace(result, errorBox(e, 'Could not verify'));
    }
  }, { class: 'primary' });

  const kind = h('input', { name: 'kind', list: 'audit-kinds', autocomplete: 'off', placeholder: 'any', value: ctx.params.get('kind') ?? '' });
  const kinds = h('datalist', { id: 'audit-kinds' }, KINDS.map((k) => h('option', { value: k })));
  const form = h('form', { class: 'toolbar filters' }, field('Kind', kind), kinds, h('button', { type: 'submit', class: 'primary' }, 'Apply'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load();
  });
  const listBox = h('div', null, loading());
  root.append(
    section('Verify', h('p', { class: 'muted' }, 'Each row carries the SHA-256 of its content and of the row before it: verifying recomputes the whole chain and finds an edited, deleted or reordered row.'), h('div', { class: 'toolbar' }, verify), result),
    section('The chain', form, listBox),
  );

  const columns = [
    { label: 'Id', num: true, value: (r) => String(r.id) },
    { label: 'Time', value: (r) => timeCell(r.time) },
    { label: 'Kind', value: (r) => h('code', { class: 'nowrap' }, r.kind) },
    { label: 'Actor', value: (r) => r.actor || '–' },
    { label: 'Subject', value: (r) => r.subject || '–' },
    { label: 'Detail', value: (r) => compact(r.detail) },
    { label: 'Request', value: (r) => (r.request_id ? h('a', { href: `/ui/logs/${encodeURIComponent(r.request_id)}`, 'data-nav': '', class: 'mono' }, r.request_id) : '–') },
    { label: 'Hash', value: (r) => (r.hash ? h('code', { title: r.hash, class: 'nowrap' }, r.hash.slice(0, 12)) : '–') },
  ];

  let seq = 0;
  async function load() {
    const my = ++seq;
    ctx.setParams({ kind: kind.value.trim() });
    replace(listBox, loading());
    let page;
    try {
      page = await get('/admin/v1/audit', { kind: kind.value.trim(), limit: 50 });
    } catch (e) {
      if (ctx.alive() && my === seq) replace(listBox, errorBox(e, 'Could not load the audit chain'));
      return;
    }
    if (!ctx.alive() || my !== seq) return;
    const wrap = table(columns, page.data ?? [], { empty: 'The chain is empty (admin actions and denied requests are recorded here when a store is configured).', rowProps: (r) => ({ 'data-audit': r.id }) });
    const pager = h('div', { class: 'pager' });
    const drawPager = (pg) => {
      replace(pager);
      if (!pg.has_more || !pg.next_cursor) return;
      pager.append(actionButton('Older', async () => {
        try {
          const next = await get('/admin/v1/audit', { kind: kind.value.trim(), limit: 50, cursor: pg.next_cursor });
          if (!ctx.alive() || my !== seq) return;
          appendRows(wrap, columns, next.data ?? [], { rowProps: (r) => ({ 'data-audit': r.id }) });
          drawPager(next);
        } catch (e) {
          pager.append(errorBox(e));
        }
      }));
    };
    drawPager(page);
    replace(listBox, wrap, pager);
  }
  load();
}
