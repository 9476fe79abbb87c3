// Overview: one GET /admin/v1/usage/series call gives the tiles and the four charts.
import { get } from '../api.js';
import { h, replace, errorBox, loading, fmtInt, fmtUsd, fmtMs, fmtCompact, select } from '../dom.js';
import { chart, palette, errorColor } from '../chart.js';

const RANGES = [
  ['hour', 'Last hour'],
  ['day', 'Last day'],
  ['week', 'Last week'],
  ['month', 'Last month'],
];
const BY = [
  ['model', 'Model'],
  ['project', 'Project'],
  ['key', 'Key'],
];

// The time grid of the answer: every bucket from `from` to `to` (the API omits empty ones) plus
// any point's own time, sorted.
function grid(series) {
  const b = series.bucket_s || 60;
  const ts = new Set();
  if (series.from && series.to && (series.to - series.from) / b <= 1000) {
    for (let t = Math.floor(series.from / b) * b; t < series.to; t += b) ts.add(t);
  }
  for (const p of series.totals ?? []) ts.add(p.t);
  for (const g of series.groups ?? []) for (const p of g.points ?? []) ts.add(p.t);
  return [...ts].sort((a, b2) => a - b2);
}

// [value per grid time] of `field` in `points`; missing buckets are `empty` (0 for counts, null
// for latencies: no request, no figure).
function column(x, points, pick, empty) {
  const at = new Map((points ?? []).map((p) => [p.t, p]));
  return x.map((t) => {
    const p = at.get(t);
    if (!p) return empty;
    const v = pick(p);
    return v === undefined ? empty : v;
  });
}

function tiles(totals) {
  let requests = 0, errors = 0, tin = 0, tout = 0, cost = 0;
  let p50w = 0, p50n = 0, p99 = null, ow = 0, on = 0;
  for (const p of totals) {
    requests += p.requests ?? 0;
    errors += p.errors ?? 0;
    tin += p.input_tokens ?? 0;
    tout += p.output_tokens ?? 0;
    cost += p.cost_usd ?? 0;
    const n = p.requests ?? 0;
    if (p.p50_ms !== null && p.p50_ms !== undefined && n) { p50w += p.p50_ms * n; p50n += n; }
    if (p.p99_ms !== null && p.p99_ms !== undefined) p99 = Math.max(p99 ?? 0, p.p99_ms);
    if (p.overhead_p50_ms !== null && p.overhead_p50_ms !== undefined && n) { ow += p.overhead_p50_ms * n; on += n; }
  }
  const tile = (label, value, sub, hint) => h('div', { class: 'tile', title: hint }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), sub ? h('div', { class: 'tile-sub muted' }, sub) : null);
  return h(
    'div',
    { class: 'tiles', 'data-testid': 'tiles' },
    tile('Requests', fmtInt(requests), `${fmtInt(errors)} errors`),
    tile('Error rate', requests ? `${((errors / requests) * 100).toFixed(errors && errors / requests < 0.01 ? 2 : 1)}%` : '–', 'status ≥ 400'),
    tile('Latency p50', fmtMs(p50n ? p50w / p50n : null), 'weighted over buckets', "the buckets' p50, weighted by their requests"),
    tile('Latency p99', fmtMs(p99), 'worst bucket', "the highest bucket's p99"),
    tile('Gateway overhead', fmtMs(on ? ow / on : null), 'p50: its own time', "the gateway's own time per request (total minus the wait on providers), p50 weighted over buckets"),
    tile('Tokens', fmtCompact(tin + tout), `${fmtCompact(tin)} in · ${fmtCompact(tout)} out`),
    tile('Cost', fmtUsd(cost), 'at the configured prices'),
  );
}

export default function overview(root, ctx) {
  let range = ctx.params.get('range') ?? 'hour';
  let by = ctx.params.get('by') ?? 'model';
  if (!RANGES.some(([r]) => r === range)) range = 'hour';
  if (!BY.some(([b]) => b === by)) by = 'model';
  let charts = [];
  const destroyCharts = () => {
    for (const c of charts) c.destroy();
    charts = [];
  };

  const rangeButtons = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Time range' });
  const bySelect = select(BY, by, { id: 'overview-by', name: 'by' });
  const refresh = h('button', { type: 'button', class: 'ghost', title: 'Load again' }, 'Refresh');
  const body = h('div', { class: 'overview-body' });
  root.append(
    h('div', { class: 'toolbar' }, rangeButtons, h('label', { class: 'inline', for: 'overview-by' }, 'Group by'), bySelect, h('span', { class: 'spacer' }), refresh),
    body,
  );

  function drawButtons() {
    replace(rangeButtons, RANGES.map(([r, label]) => h('button', { type: 'button', 'aria-pressed': r === range ? 'true' : 'false', 'data-range': r, onclick: () => { range = r; load(); } }, label)));
  }
  bySelect.addEventListener('change', () => { by = bySelect.value; load(); });
  refresh.addEventListener('click', () => load());

  let seq = 0;
  // quiet: a periodic refresh, which keeps what is shown until the new answer is in.
  async function load({ quiet = false } = {}) {
    const my = ++seq;
    drawButtons();
    ctx.setParams({ range: range === 'hour' ? null : range, by: by === 'model' ? null : by });
    if (!quiet) {
      destroyCharts();
      replace(body, loading());
    }
    let s;
    try {
      s = await get('/admin/v1/usage/series', { range, by });
    } catch (e) {
      if (ctx.alive() && my === seq && !quiet) replace(body, errorBox(e, 'Could not load the usage series'));
      return;
    }
    if (!ctx.alive() || my !== seq) return;
    destroyCharts();
    const totals = s.totals ?? [];
    const label = RANGES.find(([r]) => r === range)[1].toLowerCase();
    if (!totals.length) {
      replace(body, tiles([]), h('div', { class: 'notice info empty-state' }, `No requests in the ${label}. Charts appear once the gateway answers requests.`));
      return;
    }
    const x = grid(s);
    const groups = s.groups ?? [];
    const colorOf = (g, i) => (g.group === '(other)' ? '#94a3b8' : palette[i % palette.length]);
    const perGroup = (pick) =>
      groups.length
        ? groups.map((g, i) => ({ label: g.group || '(none)', color: colorOf(g, i), values: column(x, g.points, pick, 0) }))
        : [{ label: 'all', color: palette[0], values: column(x, totals, pick, 0) }];

    const byLabel = BY.find(([b]) => b === by)[1].toLowerCase();
    const panels = [
      {
        id: 'requests', title: `Requests by ${byLabel}, and errors`,
        spec: { x, series: [...perGroup((p) => p.requests), { label: 'errors (all)', color: errorColor, dash: [4, 3], values: column(x, totals, (p) => p.errors, 0) }], y: { format: fmtCompact } },
      },
      {
        id: 'latency', title: 'Latency p50 / p99, and the gateway’s overhead',
        spec: {
          x,
          series: [
            { label: 'p50', spanGaps: true, color: palette[0], values: column(x, totals, (p) => p.p50_ms, null) },
            { label: 'p99', spanGaps: true, color: palette[3], values: column(x, totals, (p) => p.p99_ms, null) },
            { label: 'overhead p50', spanGaps: true, color: palette[1], scale: 'y2', dash: [4, 3], values: column(x, totals, (p) => p.overhead_p50_ms, null) },
            { label: 'overhead p99', spanGaps: true, color: palette[2], scale: 'y2', dash: [4, 3], values: column(x, totals, (p) => p.overhead_p99_ms, null) },
          ],
          y: { format: fmtMs, tick: (v) => `${v} ms`, label: 'latency' },
          y2: { format: fmtMs, tick: (v) => `${v} ms`, label: 'overhead' },
        },
      },
      { id: 'tokens', title: `Tokens (in + out) by ${byLabel}`, spec: { x, series: perGroup((p) => (p.input_tokens ?? 0) + (p.output_tokens ?? 0)), y: { format: fmtCompact } } },
      { id: 'cost', title: `Cost by ${byLabel}`, spec: { x, series: perGroup((p) => p.cost_usd ?? 0), y: { format: fmtUsd, tick: (v) => `$${v}` } } },
    ];
    const grid2 = h('div', { class: 'charts' });
    const holders = panels.map((p) => {
      const holder = h('div', { class: 'chart', 'data-chart': p.id });
      grid2.append(h('figure', { class: 'card chart-card' }, h('figcaption', null, p.title), holder));
      return holder;
    });
    replace(body, tiles(totals), grid2, h('p', { class: 'muted small' }, `${x.length} buckets of ${Math.round((s.bucket_s ?? 60) / 60)} min; times in your browser’s time zone.`));
    // The holders are in the page already: uPlot reads their width now (no blank frame).
    charts = panels.map((p, i) => chart(holders[i], p.spec));
  }

  load();
  // The last hour moves: refreshed every minute while the tab is visible (one request).
  const timer = setInterval(() => {
    if (range === 'hour' && !document.hidden) load({ quiet: true });
  }, 60_000);
  return () => {
    clearInterval(timer);
    destroyCharts();
  };
}
