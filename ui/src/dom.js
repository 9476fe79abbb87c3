// Small DOM helpers. Everything the console renders goes through h() / text nodes (textContent):
// data is never parsed as HTML, so a model, key or project name cannot inject markup.

// h('button', {class: 'x', onclick: fn, disabled: true}, 'Label', child, [more]) -> element.
// `on*` props become event listeners; `value`, `checked`, `disabled`... are set as properties;
// the rest as attributes. (No `style` prop: the CSP forbids inline style attributes; classes
// from app.css are used instead, and element.style is set from JS where a size is computed.)
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'open') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// --- formatting ---------------------------------------------------------------------------------

const intFmt = new Intl.NumberFormat('en-US');
export const fmtInt = (n) => (n === null || n === undefined ? '–' : intFmt.format(Math.round(n)));

export const fmtNum = (n, digits = 2) =>
  n === null || n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits });

export function fmtUsd(n) {
  if (n === null || n === undefined) return '–';
  const a = Math.abs(n);
  const sign = n < 0 ? '-$' : '$';
  // Fractions of a cent keep two significant digits ($0.000042), not a misleading $0.0000.
  if (a > 0 && a < 0.01) return sign + a.toLocaleString('en-US', { maximumSignificantDigits: 2, maximumFractionDigits: 8 });
  const digits = a < 100 ? 2 : 0;
  return sign + a.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtMs(n) {
  if (n === null || n === undefined) return '–';
  if (n >= 10_000) return `${(n / 1000).toFixed(1)} s`;
  if (n >= 100) return `${Math.round(n)} ms`;
  if (n >= 10) return `${n.toFixed(1)} ms`;
  return `${n.toFixed(2)} ms`;
}

export function fmtCompact(n) {
  if (n === null || n === undefined) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return intFmt.format(Math.round(n * 100) / 100);
}

// A time from the API (unix seconds, or an RFC 3339 string) as a Date; null when absent.
export function toDate(t) {
  if (t === null || t === undefined || t === '') return null;
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n) => String(n).padStart(2, '0');
// "2026-12-05 17:31:54" in the browser's time zone; the element's title has the UTC ISO form.
export function fmtTime(t) {
  const d = toDate(t);
  if (!d) return '–';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function timeCell(t) {
  const d = toDate(t);
  if (!d) return '–';
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, fmtTime(t));
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

// A value as pretty JSON text: objects indented; a string that holds JSON parsed first; other
// strings as they are.
export function pretty(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
}

// --- building blocks ----------------------------------------------------------------------------

// A table: columns [{label, value: (row) => text|Node, num: bool, class}]; `empty` is shown in a
// single cell when there are no rows.
export function table(columns, rows, { empty = 'Nothing here yet.', caption, rowClass, rowProps } = {}) {
  const thead = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : c.class }, c.label))));
  const tbody = h('tbody');
  if (!rows.length) {
    tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, empty)));
  }
  for (const row of rows) {
    const tr = h('tr', { class: rowClass?.(row), ...(rowProps?.(row) ?? {}) });
    for (const c of columns) {
      const v = c.value(row);
      tr.append(h('td', { class: [c.num ? 'num' : '', c.class ?? ''].join(' ').trim() || undefined, 'data-label': c.label }, v ?? '–'));
    }
    tbody.append(tr);
  }
  return h('div', { class: 'table-wrap' }, h('table', null, caption ? h('caption', null, caption) : null, thead, tbody));
}

// Appends rows to a table built by table() (for "Older" pages).
export function appendRows(wrap, columns, rows, opts = {}) {
  const tbody = wrap.querySelector('tbody');
  tbody.querySelector('tr.empty')?.remove();
  const fresh = table(columns, rows, opts).querySelector('tbody');
  if (rows.length) tbody.append(...fresh.children);
}

export function errorBox(err, prefix) {
  const message = err?.message ?? String(err);
  return h('div', { class: 'notice error', role: 'alert' }, prefix ? `${prefix}: ${message}` : message);
}

export const loading = (what = 'Loading…') => h('p', { class: 'muted loading' }, what);

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('small', { class: 'muted' }, hint) : null);
}

export function select(options, value, props = {}) {
  return h('select', props, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind ?? ''}`.trim() }, text);
}

// A button that disables itself while `action` runs (so a double click does one thing).
export function actionButton(label, action, props = {}) {
  const b = h('button', { type: 'button', ...props });
  b.textContent = label;
  b.addEventListener('click', async (ev) => {
    ev.preventDefault();
    if (b.disabled) return;
    b.disabled = true;
    try {
      await action(b);
    } finally {
      if (b.isConnected) b.disabled = false;
    }
  });
  return b;
}
