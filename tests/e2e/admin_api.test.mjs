// End-to-end: the admin API's reads of the records (docs/admin-api.md, "Usage" and "Logs") on a
// gateway with a SQLite store and, for series, groups and log pages, a PostgreSQL store
// (postgres.mjs): real requests through the openai SDK, then the numbers the endpoints give back,
// keyset pages walked to the end, filters, the CSV export, budgets, the audit chain and its check,
// and the errors (400 naming the parameter, 403 for a non-admin, 404 without a store).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startMock, startGateway, sha256, waitFor, PROVIDER_TOKEN, QUICK_KEY, configFor } from './harness.mjs';
import { startPostgres } from './postgres.mjs';

const APP = 'gh-admin-api-app-secret-A1';
const APP2 = 'gh-admin-api-app2-secret-B2';
const OPS = 'gh-admin-api-ops-secret-C3';
const messages = [{ role: 'user', content: 'hello admin api' }];

function config(mock, store) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  local:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x", price: {input_per_million: 1000, output_per_million: 2000}}
  chat-big: {provider: local, upstream_model: "gpt-y", price: {input_per_million: 3000, output_per_million: 5000}}
keys:
  - {name: app, sha256: "${sha256(APP)}", role: app, project: p1}
  - {name: app2, sha256: "${sha256(APP2)}", role: app, project: p2}
  - {name: ops, sha256: "${sha256(OPS)}", role: ops}
roles:
  app: {models: ["chat-*"]}
  ops: {models: ["*"], admin: true}
budgets:
  - {scope: key, match: app, usd: 10, period: daily}
  - {scope: project, usd: 100, period: monthly}
store: ${store}
records:
  inference_log: {models: ["chat-*"], payloads: true, sample: 1.0, retention_days: 30}
  flush_ms: 100
`;
}

async function admin(gw, path, { method = 'GET', key = OPS, body } = {}) {
  const r = await fetch(gw.base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json };
}

async function ok(gw, path, opts) {
  const r = await admin(gw, path, opts);
  assert.equal(r.status, 200, `${path}: ${r.status} ${r.text}`);
  return r.json ?? r.text;
}

// Six requests: app 3 × chat-small (one for end user alice) and one 429; app2 2 × chat-big, one a
// 500. What the SDK saw, for the sums.
async function traffic(gw) {
  const seen = { ids: [], tokens: { app: [0, 0], app2: [0, 0] }, bodies: [] };
  const app = new OpenAI({ apiKey: APP, baseURL: gw.baseURL, maxRetries: 0 });
  const app2 = new OpenAI({ apiKey: APP2, baseURL: gw.baseURL, maxRetries: 0 });
  for (let i = 0; i < 3; ++i) {
    const extra = i === 0 ? { usage_context: { end_user: 'alice' } } : {};
    const { data, response } = await app.chat.completions
      .create({ model: 'chat-small', messages, ...extra, mock: { latency_ms: 20 } }).withResponse();
    seen.ids.push(response.headers.get('x-request-id'));
    seen.tokens.app[0] += data.usage.prompt_tokens;
    seen.tokens.app[1] += data.usage.completion_tokens;
  }
  await assert.rejects(app.chat.completions.create({ model: 'chat-small', messages, mock: { status: 429 } }),
    (e) => e.status === 429);
  const { data, response } = await app2.chat.completions.create({ model: 'chat-big', messages }).withResponse();
  seen.ids.push(response.headers.get('x-request-id'));
  seen.tokens.app2[0] += data.usage.prompt_tokens;
  seen.tokens.app2[1] += data.usage.completion_tokens;
  await assert.rejects(app2.chat.completions.create({ model: 'chat-big', messages, mock: { status: 500 } }),
    (e) => e.status === 500);
  return seen;
}

const costOf = (model, [input, output]) =>
  model === 'chat-small' ? (input * 1000 + output * 2000) / 1e6 : (input * 3000 + output * 5000) / 1e6;

// Waits until the writer has committed all six usage rows.
async function flushed(gw, n = 6) {
  await waitFor(async () => {
    const g = await admin(gw, '/admin/v1/usage/groups?by=key');
    return g.status === 200 && g.json.data.reduce((s, x) => s + x.requests, 0) >= n;
  }, { what: 'the usage rows', timeoutMs: 10000 });
}

// Every page of a list endpoint, following next_cursor.
async function walk(gw, path) {
  const rows = [];
  let cursor = null;
  for (let page = 0; page < 100; ++page) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await ok(gw, path + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''));
    assert.equal(r.object, 'list');
    rows.push(...r.data);
    if (!r.has_more) {
      assert.equal(r.next_cursor, null);
      return rows;
    }
    assert.equal(typeof r.next_cursor, 'string');
    cursor = r.next_cursor;
  }
  throw new Error('more than 100 pages');
}

// The checks both engines must pass.
async function checkSeriesGroupsLogs(gw, seen) {
  const series = await ok(gw, '/admin/v1/usage/series?range=hour&by=model');
  assert.equal(series.object, 'usage.series');
  assert.equal(series.bucket_s, 60);
  assert.equal(series.to - series.from, 3600);
  assert.equal(series.by, 'model');
  const sum = (pts, f) => pts.reduce((s, p) => s + p[f], 0);
  assert.equal(sum(series.totals, 'requests'), 6);
  assert.equal(sum(series.totals, 'errors'), 2);
  assert.equal(sum(series.totals, 'input_tokens'), seen.tokens.app[0] + seen.tokens.app2[0]);
  assert.equal(sum(series.totals, 'output_tokens'), seen.tokens.app[1] + seen.tokens.app2[1]);
  const cost = costOf('chat-small', seen.tokens.app) + costOf('chat-big', seen.tokens.app2);
  assert.ok(Math.abs(sum(series.totals, 'cost_usd') - cost) < 1e-9, `${sum(series.totals, 'cost_usd')} vs ${cost}`);
  for (const p of series.totals) {
    assert.ok(p.t >= series.from && p.t < series.to && p.t % 60 === 0);
    assert.equal(typeof p.p50_ms, 'number');
    assert.ok(p.p99_ms >= p.p50_ms);
    assert.equal(typeof p.overhead_p50_ms, 'number');
    assert.ok(p.overhead_p50_ms >= 0 && p.overhead_p50_ms < p.p99_ms);
  }
  const byGroup = Object.fromEntries(series.groups.map((g) => [g.group, sum(g.points, 'requests')]));
  assert.deepEqual(byGroup, { 'chat-small': 4, 'chat-big': 2 });
  assert.equal(series.groups[0].group, 'chat-small');  // the busiest first

  // Groups by key, one per page: every key once, most expensive first, the right totals.
  const keys = await walk(gw, '/admin/v1/usage/groups?by=key&limit=1');
  assert.deepEqual(keys.map((k) => k.group).sort(), ['app', 'app2']);
  assert.ok(keys[0].cost_usd >= keys[1].cost_usd);
  const app = keys.find((k) => k.group === 'app');
  assert.equal(app.requests, 4);
  assert.equal(app.errors, 1);
  assert.equal(app.input_tokens, seen.tokens.app[0]);
  assert.ok(Math.abs(app.cost_usd - costOf('chat-small', seen.tokens.app)) < 1e-9);
  const app2 = keys.find((k) => k.group === 'app2');
  assert.equal(app2.requests, 2);
  assert.equal(app2.errors, 1);
  const endUsers = await ok(gw, '/admin/v1/usage/groups?by=end_user');
  assert.equal(endUsers.data.find((g) => g.group === 'alice')?.requests, 1);
  // A cursor carries its page's range: the next page sums the same days, and a cursor given with
  // another from/to is refused.
  const first = await ok(gw, '/admin/v1/usage/groups?by=key&limit=1');
  const rangeOf = (c) => Buffer.from(c, 'base64url').toString().split('\n').slice(1, 3).map(Number);
  assert.deepEqual(rangeOf(first.next_cursor), [first.from * 1000, first.to * 1000]);
  const second = await ok(gw, `/admin/v1/usage/groups?by=key&limit=1&cursor=${first.next_cursor}`);
  assert.deepEqual([second.from, second.to], [first.from, first.to]);
  const other = await admin(gw, `/admin/v1/usage/groups?by=key&limit=1&from=2020-01-01&to=2020-01-02&cursor=${first.next_cursor}`);
  assert.equal(other.status, 400);
  assert.equal(other.json.error.param, 'cursor');
  assert.equal(endUsers.by, 'end_user');
  // A range with nothing in it.
  const empty = await ok(gw, '/admin/v1/usage/groups?by=key&from=2020-01-01&to=2020-01-02');
  assert.deepEqual(empty.data, []);
  assert.equal(empty.from, 1577836800);

  // Logs: every row once over pages of two, newest first; filters.
  const all = await walk(gw, '/admin/v1/logs?limit=2');
  assert.equal(all.length, 6);
  assert.equal(new Set(all.map((r) => r.id)).size, 6);
  for (let i = 1; i < all.length; ++i) {
    assert.ok(all[i].time_ms < all[i - 1].time_ms || (all[i].time_ms === all[i - 1].time_ms && all[i].id < all[i - 1].id));
  }
  for (const r of all) {
    assert.equal(r.request, undefined);
    assert.ok(r.overhead_ms >= 0);
    assert.ok(Math.abs(r.duration_ms - r.upstream_ms - r.overhead_ms) < 1e-6);
  }
  for (const id of seen.ids) assert.ok(all.some((r) => r.request_id === id), id);
  const count = async (q) => (await walk(gw, `/admin/v1/logs?${q}`)).length;
  assert.equal(await count('model=chat-big'), 2);
  assert.equal(await count('status=5xx'), 1);
  assert.equal(await count('status=429'), 1);
  assert.equal(await count('status=4xx'), 1);
  assert.equal(await count('status=2xx&limit=1'), 4);
  assert.equal(await count('key=app2&status=2xx'), 1);
  assert.equal(await count('from=2020-01-01&to=2020-01-02'), 0);
}

describe('admin API on a SQLite store', () => {
  let mock, gw, seen;
  before(async () => {
    mock = await startMock(['--require-token', PROVIDER_TOKEN]);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admin-api-'));
    gw = await startGateway({ yaml: config(mock, `{sqlite: "${join(dir, 'gh.db')}"}`) });
    seen = await traffic(gw);
    await flushed(gw);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
  });

  test('series, groups and log pages have the requests\' numbers', async () => {
    await checkSeriesGroupsLogs(gw, seen);
  });

  test('a log row by request id has its bodies', async () => {
    const one = await ok(gw, `/admin/v1/logs/${seen.ids[0]}`);
    assert.equal(one.request_id, seen.ids[0]);
    assert.equal(one.model, 'chat-small');
    assert.equal(one.key_name, 'app');
    assert.deepEqual(one.request.messages, messages);
    assert.equal(one.response.object, 'chat.completion');
    assert.equal(typeof one.decisions, 'object');
    assert.deepEqual(one.mcp_calls, []);
    const missing = await admin(gw, '/admin/v1/logs/no-such-request');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'not_found');
  });

  test('the CSV export holds every group', async () => {
    const r = await admin(gw, '/admin/v1/usage/groups?by=model&format=csv');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/csv/);
    assert.match(r.headers.get('content-disposition'), /^attachment; filename="usage-by-model-.*\.csv"$/);
    assert.equal(r.headers.get('x-gatehouse-truncated'), null);
    const lines = r.text.trim().split('\n');
    assert.equal(lines[0], 'group,requests,errors,input_tokens,output_tokens,cost_usd');
    const rows = Object.fromEntries(lines.slice(1).map((l) => { const f = l.split(','); return [f[0], Number(f[1])]; }));
    assert.deepEqual(rows, { 'chat-small': 4, 'chat-big': 2 });
  });

  test('budgets show the ledger\'s spend', async () => {
    const b = await ok(gw, '/admin/v1/budgets');
    assert.equal(b.object, 'list');
    const app = b.data.find((x) => x.scope === 'key' && x.subject === 'app');
    const cost = costOf('chat-small', seen.tokens.app);
    assert.equal(app.period, 'daily');
    assert.equal(app.limit_usd, 10);
    assert.ok(Math.abs(app.spent_usd - cost) < 1e-9, `${app.spent_usd} vs ${cost}`);
    assert.ok(Math.abs(app.left_usd - (10 - cost)) < 1e-9);
    const midnight = Math.floor(Date.now() / 86400000 + 1) * 86400;
    assert.equal(app.resets_at, midnight);
    // The project default applies to both known projects.
    const projects = b.data.filter((x) => x.scope === 'project').map((x) => x.subject).sort();
    assert.deepEqual(projects, ['p1', 'p2']);
    const p2 = b.data.find((x) => x.subject === 'p2');
    assert.ok(Math.abs(p2.spent_usd - costOf('chat-big', seen.tokens.app2)) < 1e-9);
    assert.equal(p2.default, true);
  });

  test('the audit chain pages newest first by kind, and verify checks it and is recorded', async () => {
    for (const name of ['ci-a', 'ci-b', 'ci-c']) {
      const r = await admin(gw, '/admin/v1/keys', { method: 'POST', body: { name, role: 'app' } });
      assert.equal(r.status, 201, r.text);
    }
    await admin(gw, '/admin/v1/kill', { method: 'POST', body: { model: 'chat-big', reason: 'test' } });
    const created = await waitFor(async () => {
      const rows = await walk(gw, '/admin/v1/audit?kind=key.create&limit=2');
      return rows.length === 3 && rows;
    }, { what: 'three key.create rows' });
    await waitFor(async () => (await ok(gw, '/admin/v1/audit?kind=kill.add')).data.length === 1, { what: 'the kill.add row' });
    assert.deepEqual(created.map((r) => r.subject), ['key ci-c', 'key ci-b', 'key ci-a']);
    assert.ok(created[0].id > created[1].id);
    assert.equal(created[0].detail.role, 'app');
    assert.match(created[0].hash, /^[0-9a-f]{64}$/);
    const v = await ok(gw, '/admin/v1/audit/verify', { method: 'POST' });
    assert.equal(v.intact, true);
    assert.ok(v.rows >= 4, JSON.stringify(v));
    assert.equal(v.first_bad_id, null);
    const verified = await waitFor(async () => (await ok(gw, '/admin/v1/audit?kind=audit.verify')).data[0],
      { what: 'the audit.verify row' });
    assert.equal(verified.detail.intact, true);
    assert.match(verified.actor, /ops/);
    const again = await ok(gw, '/admin/v1/audit/verify', { method: 'POST' });
    assert.ok(again.rows > v.rows);  // the check before it is in the chain
    const wrongMethod = await admin(gw, '/admin/v1/audit/verify');
    assert.equal(wrongMethod.status, 405);
  });

  test('bad parameters are 400s naming them, in OpenAI\'s shape', async () => {
    const cases = [
      ['/admin/v1/logs?modle=chat-small', 'modle', 'unknown_parameter', /accepts: model, key, status, from, to, limit, cursor/],
      ['/admin/v1/logs?cursor=bm90LWEtY3Vyc29y', 'cursor', 'invalid_cursor', /cursor/],
      ['/admin/v1/logs?status=3xx', 'status', 'invalid_value', /2xx, 4xx, 5xx/],
      ['/admin/v1/logs?limit=201', 'limit', 'invalid_value', /1 to 200/],
      ['/admin/v1/usage/groups?limit=501', 'limit', 'invalid_value', /1 to 500/],
      ['/admin/v1/usage/groups?by=team', 'by', 'invalid_value', /project, key, user, model, end_user/],
      ['/admin/v1/usage/groups?from=yesterday', 'from', 'invalid_value', /RFC 3339/],
      ['/admin/v1/usage/groups?from=2026-12-02&to=2026-12-01', 'from', 'invalid_value', /before/],
      ['/admin/v1/usage/series?range=year', 'range', 'invalid_value', /hour, day, week, month/],
      ['/admin/v1/usage/series?by=end_user', 'by', 'invalid_value', /model, project, key/],
      ['/admin/v1/usage/series?range=day&from=1', 'range', 'invalid_value', /not both/],
      ['/admin/v1/audit?cursor=%%%', null, null, /escaped/],
    ];
    for (const [path, param, code, message] of cases) {
      const r = await admin(gw, path);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.equal(r.json.error.type, 'invalid_request_error', path);
      if (param) assert.equal(r.json.error.param, param, path);
      if (code) assert.equal(r.json.error.code, code, path);
      assert.match(r.json.error.message, message, path);
      assert.match(r.headers.get('x-request-id') ?? '', /.+/, path);
    }
    // RFC 3339 times and unix seconds are the same instant.
    const a = await ok(gw, '/admin/v1/usage/series?from=2026-12-01T00:00:00Z&to=2026-12-02');
    const b = await ok(gw, '/admin/v1/usage/series?from=1796083200&to=1796169600');
    assert.deepEqual([a.from, a.to, a.bucket_s], [b.from, b.to, b.bucket_s]);
    assert.equal(a.from, 1796083200);
    assert.ok((a.to - a.from) / a.bucket_s <= 360);
  });

  test('a non-admin key gets 403', async () => {
    for (const path of ['/admin/v1/usage/series', '/admin/v1/logs', '/admin/v1/budgets', '/admin/v1/audit']) {
      const r = await admin(gw, path, { key: APP });
      assert.equal(r.status, 403, path);
      assert.equal(r.json.error.code, 'permission_denied');
    }
  });
});

test('without a store the record endpoints are a 404 saying what to configure', async () => {
  const mock = await startMock();
  const gw = await startGateway({ yaml: configFor(mock, { extra: `roles:\n  ops: {models: ["*"], admin: true}` }).replace(
    `{name: test, sha256: "${sha256(QUICK_KEY)}"}`, `{name: test, sha256: "${sha256(QUICK_KEY)}", role: ops}`) });
  try {
    const r = await admin(gw, '/admin/v1/logs', { key: QUICK_KEY });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, 'no_store');
    assert.match(r.json.error.message, /store: \{sqlite/);
  } finally {
    await gw.stop();
    await mock.stop();
  }
});

describe('admin API on a PostgreSQL store', () => {
  let pg, mock, gw, seen;
  before(async () => {
    pg = await startPostgres();
    mock = await startMock(['--require-token', PROVIDER_TOKEN]);
    const url = pg.createDatabase('gh_admin_api');
    gw = await startGateway({ yaml: config(mock, `{postgres: "${url}"}`) });
    seen = await traffic(gw);
    await flushed(gw);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    await pg?.stop();
  });

  test('series, groups and log pages have the requests\' numbers', async () => {
    await checkSeriesGroupsLogs(gw, seen);
  });

  test('an upgraded store gets its rollups from the usage rows already there', async () => {
    const to = Math.floor(Date.now() / 1000) + 60;
    const path = `/admin/v1/usage/series?from=${to - 7200}&to=${to}&by=key`;
    const before = await ok(gw, path);
    const groups = await ok(gw, '/admin/v1/usage/groups?by=end_user');
    await gw.stop();
    // Back to records schema version 5: no rollups; the next open runs step 6 over the rows.
    pg.psql(`DROP TABLE usage_rollup; DROP TABLE usage_latency; DROP TABLE latency_bins;
      DROP INDEX inference_by_request, inference_by_model, inference_by_key, inference_by_status, inference_by_class,
        mcp_calls_by_server, mcp_calls_by_tool, mcp_calls_by_outcome, audit_by_kind;
      UPDATE meta SET value = '5' WHERE name = 'records.schema_version'`, 'gh_admin_api');
    gw = await startGateway({ file: gw.configPath });
    assert.equal(pg.psql(`SELECT value FROM meta WHERE name = 'records.schema_version'`, 'gh_admin_api').trim(), '6');
    const after = await ok(gw, path);
    assert.equal(after.totals.reduce((s, p) => s + p.requests, 0), 6);
    for (const x of [before, after]) {
      for (const p of [...x.totals, ...x.groups.flatMap((g) => g.points)]) p.cost_usd = Math.round(p.cost_usd * 1e9);
    }
    assert.deepEqual(after, before);
    assert.deepEqual((await ok(gw, '/admin/v1/usage/groups?by=end_user')).data.map((g) => [g.group, g.requests]),
      groups.data.map((g) => [g.group, g.requests]));
  });
});
