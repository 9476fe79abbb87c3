// The Gatehouse admin console: sign-in, the shell (left nav, header) and a small router over
// /ui/<page> (history.pushState; the gateway serves index.html for every /ui/ path).
import { api, ApiError, onUnauthorized, setCsrfToken } from './api.js';
import { h, replace, errorBox, fmtTime } from './dom.js';
import overview from './pages/overview.js';
import usage from './pages/usage.js';
import keys from './pages/keys.js';
import models from './pages/models.js';
import logs from './pages/logs.js';
import mcp from './pages/mcp.js';
import audit from './pages/audit.js';

const PAGES = [
  { path: 'overview', title: 'Overview', render: overview },
  { path: 'usage', title: 'Usage', render: usage },
  { path: 'keys', title: 'Keys', render: keys },
  { path: 'models', title: 'Models', render: models },
  { path: 'logs', title: 'Logs', render: logs },
  { path: 'mcp', title: 'MCP', render: mcp },
  { path: 'audit', title: 'Audit', render: audit },
];
const BASE = '/ui/';

const root = document.getElementById('app');
let session = null;
let cleanup = null; // the current page's cleanup (timers, charts)
let generation = 0; // bumped at every navigation: a page's late answers check it

// --- routing ------------------------------------------------------------------------------------

function route() {
  const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  const [first, ...more] = rest.split('/').filter(Boolean);
  const page = PAGES.find((p) => p.path === (first ?? 'overview'));
  return { page, sub: more.map(decodeURIComponent) };
}

export function navigate(url, { replace: rep = false } = {}) {
  if (rep) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

// Updates the query string of the current page without a new history entry (filters).
export function setParams(params) {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') u.searchParams.delete(k);
    else u.searchParams.set(k, String(v));
  }
  history.replaceState(null, '', u.pathname + u.search);
}

// In-console links: plain <a href> (so open-in-new-tab works) handled without a reload.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest?.('a[data-nav]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', () => render());

// --- sign-in ------------------------------------------------------------------------------------

function signIn(message) {
  session = null;
  setCsrfToken(null);
  runCleanup();
  document.title = 'Sign in · Gatehouse console';
  const status = h('div', { class: 'signin-status', 'aria-live': 'polite' }, message ? h('div', { class: 'notice info' }, message) : null);
  const input = h('input', {
    type: 'password',
    name: 'key',
    id: 'signin-key',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    placeholder: 'gh_… or an admin JWT',
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin card', novalidate: true },
    h('h1', null, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'Gatehouse console'),
    h('p', { class: 'muted' }, 'Sign in with an admin key or an admin JWT (a role with admin: true).'),
    h('div', { class: 'field' }, h('label', { for: 'signin-key' }, 'Admin key or JWT'), input),
    status,
    button,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) {
      replace(status, errorBox('Enter an admin key or JWT.'));
      input.focus();
      return;
    }
    button.disabled = true;
    replace(status, h('p', { class: 'muted' }, 'Signing in…'));
    try {
      const s = await api('POST', '/admin/v1/session', { key }, { quiet401: true });
      input.value = '';
      start(s);
    } catch (e) {
      const why = e instanceof ApiError && e.status === 403 ? `Not an admin: ${e.message}` : e instanceof ApiError && e.status === 401 ? `Sign-in refused: ${e.message}` : e.message;
      replace(status, errorBox(why));
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  replace(root, h('main', { class: 'signin-page' }, form));
  input.focus();
}

async function signOut() {
  try {
    await api('DELETE', '/admin/v1/session', undefined, { quiet401: true });
  } catch {
    // Signed out already (401) or the gateway is away: the page forgets the session either way.
  }
  history.replaceState(null, '', BASE);
  signIn('You are signed out.');
}

// --- the shell ----------------------------------------------------------------------------------

let shell = null;

function buildShell() {
  const nav = h(
    'nav',
    { class: 'nav', 'aria-label': 'Console' },
    h('a', { class: 'brand', href: BASE, 'data-nav': '' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'Gatehouse'),
    h('ul', null, PAGES.map((p) => h('li', null, h('a', { href: BASE + (p.path === 'overview' ? '' : p.path), 'data-nav': '', 'data-page': p.path }, p.title)))),
  );
  const who = h('div', { class: 'who' });
  const header = h('header', { class: 'top' }, h('h1', { class: 'page-title' }), who);
  const main = h('main', { class: 'content', id: 'content', tabindex: '-1' });
  replace(root, h('div', { class: 'layout' }, nav, h('div', { class: 'main' }, header, main)));
  shell = { nav, who, header, main, title: header.querySelector('.page-title') };
}

function renderWho() {
  const expires = session.expires_at ? `session until ${fmtTime(session.expires_at)}` : '';
  replace(
    shell.who,
    h('span', { class: 'caller', title: expires }, 'Signed in as ', h('strong', null, session.caller ?? '?'), session.role ? h('span', { class: 'muted' }, ` (${session.role})`) : null),
    h('button', { type: 'button', class: 'signout', onclick: signOut }, 'Sign out'),
  );
}

function runCleanup() {
  generation += 1;
  const c = cleanup;
  cleanup = null;
  try {
    c?.();
  } catch (e) {
    console.warn('page cleanup', e);
  }
}

function render() {
  if (!session) return;
  runCleanup();
  if (!shell || !shell.main.isConnected) buildShell();
  renderWho();
  const { page, sub } = route();
  for (const a of shell.nav.querySelectorAll('a[data-page]')) {
    if (page && a.dataset.page === page.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!page) {
    shell.title.textContent = 'Not found';
    replace(shell.main, h('div', { class: 'notice info' }, 'No such page. ', h('a', { href: BASE, 'data-nav': '' }, 'Go to the overview')));
    return;
  }
  shell.title.textContent = page.title;
  document.title = `${page.title} · Gatehouse console`;
  const container = h('div', { class: `page page-${page.path}` });
  replace(shell.main, container);
  const gen = generation;
  const ctx = {
    sub,
    params: new URLSearchParams(location.search),
    alive: () => gen === generation && container.isConnected,
    navigate,
    setParams,
  };
  try {
    const c = page.render(container, ctx);
    if (c && typeof c.then === 'function') {
      c.then((fn) => {
        if (typeof fn !== 'function') return;
        if (ctx.alive()) cleanup = fn;
        else fn();
      }).catch((e) => {
        console.error('page', page.path, e);
        if (ctx.alive()) container.append(errorBox(e));
      });
    } else if (typeof c === 'function') {
      cleanup = c;
    }
  } catch (e) {
    // Logged too: a page that fails to render is a bug (the e2e test fails on console errors).
    console.error('page', page.path, e);
    container.append(errorBox(e));
  }
}

function start(s) {
  session = s;
  setCsrfToken(s.csrf_token);
  shell = null;
  if (!route().page && !location.pathname.startsWith(BASE)) history.replaceState(null, '', BASE);
  render();
}

onUnauthorized(() => {
  if (session) signIn('Your session ended: sign in again.');
});

async function boot() {
  try {
    const s = await api('GET', '/admin/v1/session', undefined, { quiet401: true });
    start(s);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) signIn();
    else {
      signIn();
      root.querySelector('.signin-status')?.append(errorBox(e, 'Could not reach the gateway'));
    }
  }
}

boot();
