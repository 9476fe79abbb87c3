// Time-series charts with uPlot (canvas). A chart sizes itself to its container and follows it
// when the window is resized.
import uPlot from 'uplot';

export const palette = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#0f766e', '#64748b'];
export const errorColor = '#dc2626';

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function nonZero(values) {
  const idx = [];
  for (let i = 0; i < values.length; i++) if (values[i] !== null && values[i] !== undefined && values[i] !== 0) idx.push(i);
  return idx.length > 150 ? [] : idx; // dense: the line alone
}

// chart(container, {x: [unix s], series: [{label, values, color, scale: 'y'|'y2', fill, dash}],
//                   y: {format, label}, y2: {format, label}, height})
// -> {destroy()}. container gets data-points (how many non-null values were drawn) for tests
// and a screen-reader summary. `format` formats legend values, `tick` (default: format) axis ticks.
export function chart(container, { x, series, y = {}, y2 = null, height = 220 }) {
  const hasY2 = y2 && series.some((s) => s.scale === 'y2');
  const fmt = (f) => (u, vals) => vals.map((v) => (v === null || v === undefined ? '' : f ? f(v) : String(v)));
  const opts = {
    width: Math.max(container.clientWidth, 280),
    height,
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] }, ...(hasY2 ? { y2: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } } : {}) },
    axes: [
      { stroke: '#64748b', grid: { stroke: '#e2e8f0', width: 1 }, ticks: { stroke: '#e2e8f0' } },
      { stroke: '#64748b', grid: { stroke: '#e2e8f0', width: 1 }, ticks: { stroke: '#e2e8f0' }, values: fmt(y.tick ?? y.format), size: 64, label: y.label, labelSize: y.label ? 18 : 0 },
      ...(hasY2 ? [{ side: 1, scale: 'y2', stroke: '#64748b', grid: { show: false }, values: fmt(y2.tick ?? y2.format), size: 64, label: y2.label, labelSize: y2.label ? 18 : 0 }] : []),
    ],
    series: [
      { value: (u, v) => (v === null ? '–' : new Date(v * 1000).toLocaleString()) },
      ...series.map((s, i) => {
        const color = s.color ?? palette[i % palette.length];
        const f = (s.scale === 'y2' ? y2?.format : y.format) ?? String;
        return {
          label: s.label,
          scale: s.scale ?? 'y',
          stroke: color,
          width: 2,
          dash: s.dash,
          fill: s.fill ? alpha(color, 0.12) : undefined,
          spanGaps: s.spanGaps ?? false,
          // Dots only where there is a figure (not along the zero line of quiet buckets), so a
          // lone bucket with traffic is visible.
          points: { show: true, size: 5, filter: (u, si) => nonZero(u.data[si]) },
          value: (u, v) => (v === null || v === undefined ? '–' : f(v)),
        };
      }),
    ],
  };
  const data = [x, ...series.map((s) => s.values)];
  const plot = new uPlot(opts, data, container);
  let drawn = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v !== undefined) drawn += 1;
  container.dataset.points = String(drawn);
  container.setAttribute('role', 'img');
  container.setAttribute('aria-label', `${series.map((s) => s.label).join(', ')}: ${x.length} time buckets`);

  let lastWidth = container.clientWidth;
  const ro = new ResizeObserver(() => {
    const w = container.clientWidth;
    if (w > 0 && Math.abs(w - lastWidth) > 2) {
      lastWidth = w;
      plot.setSize({ width: Math.max(w, 280), height });
    }
  });
  ro.observe(container);
  return {
    plot,
    destroy() {
      ro.disconnect();
      plot.destroy();
    },
  };
}
