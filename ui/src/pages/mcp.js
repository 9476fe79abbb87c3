// MCP: calls held for approval (approve / deny), tools whose definition changed (accept), and
// the latest tool calls.
import { get, post, seg } from '../api.js';
import { h, replace, errorBox, loading, table, appendRows, section, field, timeCell, badge, actionButton, select, fmtMs, pretty } from '../dom.js';

const OUTCOMES = ['', 'ok', 'tool_error', 'denied', 'killed', 'rate_limited', 'guardrail_blocked', 'approval_denied', 'approval_expired', 'changed_definition', 'upstream_error', 'client_gone'];
const REFRESH_MS = 5000;

// The new definition with the lines the pinned one does not have marked (a plain line diff:
// enough to spot an instruction slipped into a description).
function changedLines(before, after) {
  const old = new Set(before.split('\n'));
  return h('pre', { class: 'json diff' }, after.split('\n').map((line) => h('span', { class: old.has(line) ? 'same' : 'added' }, `${line}\n`)));
}

export default function mcp(root, ctx) {
  let pendingShown = null; // what the table shows (null: redraw)
  const decided = new Set(); // ids decided from this page
  const decisions = h('div', { 'aria-live': 'polite' });
  const approvalsBox = h('div', null, loading());
  const toolsBox = h('div', null, loading());
  const callsBox = h('div', null, loading());
  const outcome = select(OUTCOMES.map((o) => [o, o || 'Any']), '', { name: 'outcome' });
  const server = h('input', { name: 'server', autocomplete: 'off', placeholder: 'any' });
  const tool = h('input', { name: 'tool', autocomplete: 'off', placeholder: 'any' });
  const callForm = h('form', { class: 'toolbar filters' }, field('Server', server), field('Tool', tool), field('Outcome', outcome), h('button', { type: 'submit', class: 'primary' }, 'Apply'));
  callForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadCalls();
  });
  root.append(
    section('Pending approvals', h('p', { class: 'muted' }, 'Tool calls held until someone decides (mcp.approvals). Refreshed every 5 s.'), decisions, approvalsBox),
    section('Changed tool definitions', h('p', { class: 'muted' }, 'A tool whose definition changed is withheld until its new definition is accepted (mcp.pinning).'), toolsBox),
    section('Tool calls', callForm, callsBox),
  );

  async function loadApprovals() {
    let a;
    try {
      a = await get('/admin/v1/approvals');
    } catch (e) {
      if (ctx.alive()) replace(approvalsBox, errorBox(e, 'Could not list the approvals'));
      return;
    }
    if (!ctx.alive()) return;
    // Only what still waits (a call just decided may be listed until it has finished).
    const rows = (a.data ?? []).filter((r) => (r.status ?? 'pending') === 'pending' && !decided.has(r.id));
    // Redraw only when the list changed (someone may be typing a reason).
    const sig = rows.map((r) => `${r.id}:${r.status}`).join(',');
    if (sig === pendingShown && approvalsBox.querySelector('table')) return;
    pendingShown = sig;
    replace(
      approvalsBox,
      table(
        [
          { label: 'Held since', value: (r) => timeCell(r.created) },
          { label: 'Expires', value: (r) => (r.expires ? timeCell(r.expires) : '–') },
          { label: 'Requester', value: (r) => r.requester || r.key_name || '–' },
          { label: 'Tool', value: (r) => h('strong', null, `${r.server}/${r.tool}`) },
          { label: 'Arguments', value: (r) => h('details', null, h('summary', null, 'show'), h('pre', { class: 'json' }, pretty(r.arguments))) },
          {
            label: 'Decision',
            class: 'actions',
            value: (r) => {
              const reason = h('input', { placeholder: 'reason (optional)', autocomplete: 'off', 'aria-label': `Reason for ${r.id}`, class: 'small' });
              const status = h('div');
              const decide = (decision) => async () => {
                replace(status);
                try {
                  const d = await post(`/admin/v1/approvals/${seg(r.id)}`, { decision, reason: reason.value.trim() });
                  decided.add(r.id);
                  decisions.prepend(h('div', { class: `notice ${decision === 'approve' ? 'success' : 'info'}` }, `${decision === 'approve' ? 'Approved' : 'Denied'}: ${r.server}/${r.tool} (${r.requester || r.key_name || 'unknown caller'})${d?.reason ? `: ${d.reason}` : ''}.`));
                  while (decisions.children.length > 3) decisions.lastChild.remove();
                  pendingShown = null;
                  await loadApprovals();
                } catch (e) {
                  replace(status, errorBox(e));
                }
              };
              return h('div', { class: 'inline-form' }, reason, actionButton('Approve', decide('approve'), { class: 'primary small' }), actionButton('Deny', decide('deny'), { class: 'danger small' }), status);
            },
          },
        ],
        rows,
        { empty: 'No call is waiting for a decision.', rowProps: (r) => ({ 'data-approval': r.id }) },
      ),
    );
  }

  async function loadTools() {
    let t;
    try {
      t = await get('/admin/v1/mcp/tools');
    } catch (e) {
      if (ctx.alive()) replace(toolsBox, errorBox(e, 'Could not list the pinned tools'));
      return;
    }
    if (!ctx.alive()) return;
    const all = t.data ?? [];
    const changed = all.filter((p) => p.pending);
    replace(
      toolsBox,
      table(
        [
          { label: 'Tool', value: (p) => h('strong', null, `${p.server}/${p.tool}`) },
          { label: 'Pinned', value: (p) => h('span', null, h('code', { title: p.sha256 }, (p.sha256 ?? '').slice(0, 12)), ' since ', timeCell(p.pinned_at)) },
          { label: 'Changed to', value: (p) => h('span', null, h('code', { title: p.pending.sha256 }, (p.pending.sha256 ?? '').slice(0, 12)), ' since ', timeCell(p.pending.since)) },
          {
            label: 'Definitions',
            value: (p) => h('details', null, h('summary', null, 'compare'), h('div', { class: 'bodies' }, h('div', null, h('h4', null, 'Pinned'), h('pre', { class: 'json' }, pretty(p.definition))), h('div', null, h('h4', null, 'New (changed lines marked)'), changedLines(pretty(p.definition), pretty(p.pending.definition))))),
          },
          {
            label: '',
            class: 'actions',
            value: (p) =>
              actionButton('Accept', async (b) => {
                try {
                  await post(`/admin/v1/mcp/tools/${seg(p.server)}/${seg(p.tool)}/accept`);
                  await loadTools();
                } catch (e) {
                  b.parentElement?.append(errorBox(e));
                }
              }, { class: 'primary small', 'aria-label': `Accept the new definition of ${p.server}/${p.tool}` }),
          },
        ],
        changed,
        { empty: all.length ? `No definition changed (${all.length} ${all.length === 1 ? 'tool' : 'tools'} pinned).` : 'No tools are pinned (no MCP server, or pinning is off).' },
      ),
    );
  }

  let seq = 0;
  async function loadCalls() {
    const my = ++seq;
    const f = { server: server.value.trim(), tool: tool.value.trim(), outcome: outcome.value };
    replace(callsBox, loading());
    const columns = [
      { label: 'Time', value: (c) => timeCell(c.time ?? (c.time_ms ? c.time_ms / 1000 : c.request_time ? c.request_time / 1000 : null)) },
      { label: 'Requester', value: (c) => c.requester || c.key_name || c.user || '–' },
      { label: 'Tool', value: (c) => `${c.server}/${c.tool}` },
      { label: 'Outcome', value: (c) => h('span', null, badge(c.outcome, c.outcome === 'ok' ? 'good' : c.outcome === 'tool_error' ? 'warn' : 'bad'), c.error ? h('small', { class: 'muted' }, ` ${c.error}`) : null) },
      { label: 'Duration', num: true, value: (c) => fmtMs(c.duration_ms) },
      { label: 'Guardrails', value: (c) => c.guardrails || '–' },
      { label: 'Request', value: (c) => (c.request_id ? h('a', { href: `/ui/logs/${encodeURIComponent(c.request_id)}`, 'data-nav': '', class: 'mono' }, c.request_id) : '–') },
    ];
    let page;
    try {
      page = await get('/admin/v1/mcp/calls', { ...f, limit: 50 });
    } catch (e) {
      if (ctx.alive() && my === seq) replace(callsBox, errorBox(e, 'Could not load the tool calls'));
      return;
    }
    if (!ctx.alive() || my !== seq) return;
    const wrap = table(columns, page.data ?? [], { empty: 'No tool calls.' });
    const pager = h('div', { class: 'pager' });
    const drawPager = (pg) => {
      replace(pager);
      if (!pg.has_more || !pg.next_cursor) return;
      const older = actionButton('Older', async () => {
        try {
          const next = await get('/admin/v1/mcp/calls', { ...f, limit: 50, cursor: pg.next_cursor });
          if (!ctx.alive() || my !== seq) return;
          appendRows(wrap, columns, next.data ?? []);
          drawPager(next);
        } catch (e) {
          pager.append(errorBox(e));
        }
      });
      pager.append(older);
    };
    drawPager(page);
    replace(callsBox, wrap, pager);
  }

  loadApprovals();
  loadTools();
  loadCalls();
  const timer = setInterval(() => {
    if (!document.hidden) loadApprovals();
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
