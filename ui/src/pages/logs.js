// Logs: the inference log (filters, keyset pages, one request's detail with its bodies as
// stored) and the latest guardrail hits.
import { get, seg } from '../api.js';
import { h, replace, errorBox, loading, table, appendRows, section, field, timeCell, badge, select, fmtMs, fmtInt, fmtUsd, pretty } from '../dom.js';

const STATUS = [
  ['', 'Any'],
  ['2xx', '2xx'],
  ['4xx', '4xx'],
  ['429', '429'],
  ['5xx', '5xx'],
];

// <input type="datetime-local"> value (local time) -> RFC 3339 UTC for the API.
const localToIso = (v) => (v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, 'Z') : '');

export function statusBadge(code) {
  const c = Number(code);
  return badge(String(code ?? '–'), c >= 200 && c < 300 ? 'good' : c === 429 || (c >= 400 && c < 500) ? 'warn' : 'bad');
}

export function jsonBlock(label, v, testid) {
  const text = pretty(v);
  return h('div', { class: 'json-block' }, h('h4', null, label), text ? h('pre', { class: 'json', tabindex: '0', 'data-testid': testid }, text) : h('p', { class: 'muted' }, 'not stored (records.inference_log.payloads is off, or the row was shed)'));
}

export default function logs(root, ctx) {
  const p = ctx.params;
  const model = h('input', { name: 'model', value: p.get('model') ?? '', autocomplete: 'off', placeholder: 'any' });
  const key = h('input', { name: 'key', value: p.get('key') ?? '', autocomplete: 'off', placeholder: 'any' });
  const status = select(STATUS, p.get('status') ?? '', { name: 'status' });
  const from = h('input', { type: 'datetime-local', name: 'from', value: p.get('from') ?? '' });
  const to = h('input', { type: 'datetime-local', name: 'to', value: p.get('to') ?? '' });
  const form = h(
    'form',
    { class: 'toolbar filters' },
    field('Model', model),
    field('Key', key),
    field('Status', status),
    field('From', from),
    field('To', to),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
    h('button', { type: 'button', class: 'ghost', onclick: () => { form.reset(); model.value = key.value = from.value = to.value = ''; status.value = ''; load(); } }, 'Clear'),
  );
  const detailBox = h('div', { class: 'detail', 'aria-live': 'polite' });
  const listBox = h('div', null, loading());
  const hitsBox = h('div', null, loading());
  root.append(form, detailBox, section('Inference log', listBox), section('Guardrail hits', h('p', { class: 'muted' }, 'The latest requests a guardrail blocked (from the audit chain; never the matched text).'), hitsBox));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load();
  });

  const columns = [
    { label: 'Time', value: (r) => timeCell(r.time) },
    {
      label: 'Request',
      value: (r) => h('button', { type: 'button', class: 'link mono', 'data-request': r.request_id, onclick: () => openDetail(r.request_id), title: 'Show this request' }, r.request_id),
    },
    { label: 'Requester', value: (r) => r.requester || r.key_name || r.user || '–' },
    { label: 'Project', value: (r) => r.project || '–' },
    { label: 'Model', value: (r) => (r.served_model && r.served_model !== r.model ? `${r.model} → ${r.served_model}` : r.model) },
    { label: 'Status', value: (r) => h('span', null, statusBadge(r.status_code), r.error_code ? h('small', { class: 'muted' }, ` ${r.error_code}`) : null) },
    { label: 'Duration', num: true, value: (r) => fmtMs(r.duration_ms) },
    { label: 'Overhead', num: true, value: (r) => fmtMs(r.overhead_ms) },
    { label: 'Tokens in / out', num: true, value: (r) => `${fmtInt(r.input_tokens)} / ${fmtInt(r.output_tokens)}` },
    { label: 'Cost', num: true, value: (r) => fmtUsd(r.cost_usd) },
  ];

  const filters = () => ({ model: model.value.trim(), key: key.value.trim(), status: status.value, from: localToIso(from.value), to: localToIso(to.value) });

  let seq = 0;
  async function load() {
    const my = ++seq;
    ctx.setParams({ model: model.value.trim(), key: key.value.trim(), status: status.value, from: from.value, to: to.value });
    replace(listBox, loading());
    let page;
    try {
      page = await get('/admin/v1/logs', { ...filters(), limit: 50 });
    } catch (e) {
      if (ctx.alive() && my === seq) replace(listBox, errorBox(e, 'Could not load the inference log'));
      return;
    }
    if (!ctx.alive() || my !== seq) return;
    const f = filters();
    const any = Object.values(f).some(Boolean);
    const wrap = table(columns, page.data ?? [], { empty: any ? 'No request matches these filters.' : 'No requests logged yet (records.inference_log names the models whose requests are kept).', rowProps: (r) => ({ 'data-row': r.request_id }) });
    const pager = h('div', { class: 'pager' });
    const drawPager = (pg) => {
      replace(pager);
      if (!pg.has_more || !pg.next_cursor) {
        if ((page.data ?? []).length) pager.append(h('span', { class: 'muted small' }, 'End of the log.'));
        return;
      }
      const older = h('button', { type: 'button' }, 'Older');
      older.addEventListener('click', async () => {
        older.disabled = true;
        try {
          const next = await get('/admin/v1/logs', { ...f, limit: 50, cursor: pg.next_cursor });
          if (!ctx.alive() || my !== seq) return;
          appendRows(wrap, columns, next.data ?? [], { rowProps: (r) => ({ 'data-row': r.request_id }) });
          drawPager(next);
        } catch (e) {
          pager.append(errorBox(e));
          older.disabled = false;
        }
      });
      pager.append(older);
    };
    drawPager(page);
    replace(listBox, wrap, pager);
  }

  async function openDetail(id) {
    history.replaceState(null, '', `/ui/logs/${encodeURIComponent(id)}${location.search}`);
    for (const tr of listBox.querySelectorAll('tr[data-row]')) tr.classList.toggle('selected', tr.dataset.row === id);
    replace(detailBox, section(`Request ${id}`, loading()));
    let r;
    try {
      r = await get(`/admin/v1/logs/${seg(id)}`);
    } catch (e) {
      if (ctx.alive()) replace(detailBox, section(`Request ${id}`, errorBox(e)));
      return;
    }
    if (!ctx.alive()) return;
    const close = h('button', { type: 'button', class: 'ghost small close', 'aria-label': 'Close the request detail', onclick: () => { replace(detailBox); history.replaceState(null, '', `/ui/logs${location.search}`); for (const tr of listBox.querySelectorAll('tr.selected')) tr.classList.remove('selected'); } }, 'Close');
    const facts = [
      ['Time', timeCell(r.time)],
      ['Requester', r.requester || '–'],
      ['Key', r.key_name || '–'],
      ['User', r.user || '–'],
      ['Project', r.project || '–'],
      ['Model', r.model],
      ['Served by', r.served_model ? `${r.served_model}${r.provider ? ` (${r.provider})` : ''}` : '–'],
      ['Status', h('span', null, statusBadge(r.status_code), r.error_code ? ` ${r.error_code}` : '')],
      ['Streaming', r.streaming ? 'yes' : 'no'],
      ['Duration', fmtMs(r.duration_ms)],
      ['Upstream', fmtMs(r.upstream_ms)],
      ['Gateway overhead', fmtMs(r.overhead_ms)],
      ['First token', fmtMs(r.ttft_ms)],
      ['Tokens in / out', `${fmtInt(r.input_tokens)} / ${fmtInt(r.output_tokens)}`],
      ['Cost', fmtUsd(r.cost_usd)],
    ];
    const calls = r.mcp_calls ?? r.tool_calls ?? [];
    const card = h(
      'section',
      { class: 'card request-detail', 'data-testid': 'log-detail' },
      h('div', { class: 'card-head' }, h('h2', null, 'Request ', h('code', null, id)), close),
      h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '–')])),
      r.payload_truncated ? h('p', { class: 'notice info' }, 'The bodies were cut at records.inference_log.max_payload_bytes.') : null,
      h('div', { class: 'bodies' }, jsonBlock('Request body', r.request ?? r.request_body, 'request-body'), jsonBlock('Response body', r.response ?? r.response_body, 'response-body')),
      r.decisions ? h('details', { open: true }, h('summary', null, 'Decisions (routing, attempts, guardrails)'), h('pre', { class: 'json' }, pretty(r.decisions))) : null,
      calls.length
        ? h('div', null, h('h4', null, 'MCP tool calls'), table([
            { label: 'Time', value: (c) => timeCell(c.time ?? (c.request_time ? c.request_time / 1000 : null)) },
            { label: 'Tool', value: (c) => `${c.server}/${c.tool}` },
            { label: 'Outcome', value: (c) => badge(c.outcome, c.outcome === 'ok' ? 'good' : 'bad') },
            { label: 'Duration', num: true, value: (c) => fmtMs(c.duration_ms) },
          ], calls))
        : null,
    );
    card.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') close.click();
    });
    replace(detailBox, card);
    card.scrollIntoView({ block: 'nearest' });
  }

  async function loadHits() {
    try {
      const a = await get('/admin/v1/audit', { kind: 'guardrail.blocked', limit: 10 });
      if (!ctx.alive()) return;
      replace(
        hitsBox,
        table(
          [
            { label: 'Time', value: (r) => timeCell(r.time) },
            { label: 'Who', value: (r) => r.actor },
            { label: 'What', value: (r) => r.subject },
            { label: 'Blocked', value: (r) => { const d = typeof r.detail === 'string' ? safeParse(r.detail) : r.detail; return d?.blocked ? `${d.blocked}${d.direction ? ` (${d.direction})` : ''}` : pretty(r.detail); } },
            { label: 'Request', value: (r) => (r.request_id ? h('button', { type: 'button', class: 'link mono', onclick: () => openDetail(r.request_id) }, r.request_id) : '–') },
          ],
          a.data ?? [],
          { empty: 'No guardrail has blocked anything.' },
        ),
      );
    } catch (e) {
      if (ctx.alive()) replace(hitsBox, errorBox(e, 'Could not load the guardrail hits'));
    }
  }

  load();
  loadHits();
  if (ctx.sub[0]) openDetail(ctx.sub[0]);
}

function safeParse(s) {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
