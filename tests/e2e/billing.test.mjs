// End-to-end: Databricks spend beside model spend (docs/billing.md). mockllm plays the Databricks
// workspace (its SQL Statement Execution API over a fake warehouse whose rows each test sets) and
// the model provider; `gatehouse billing import` and POST /admin/v1/billing/import import the DBU
// cost per project and day into the SQLite store; GET /admin/v1/billing shows it beside the model
// spend of real requests, with null ("not measured") where nothing was imported.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startPostgres } from './postgres.mjs';
import { gatehouseBin, startMock, startGateway, sha256, waitFor, PROVIDER_TOKEN } from './harness.mjs';

const run = promisify(execFile);
const SEARCH_KEY = 'gh-billing-search';
const ADS_KEY = 'gh-billing-ads';
const OPS_KEY = 'gh-billing-ops';
const WAREHOUSE = 'wh-e2e-0001';

const dayOf = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const TODAY = dayOf(0);
const YESTERDAY = dayOf(-1);
const LONG_AGO = dayOf(-40);  // outside the 30 days an import covers

// What the fake warehouse's query returns: day, project, dbus, cost, currency, currencies.
const ROWS = [
  [TODAY, 'search', '12.5', '6.25', 'USD', '1'],
  [TODAY, '', '1', '0.5', 'USD', '1'],
  [YESTERDAY, 'search', '3', null, null, '0'],  // usage without a list price: cost not measured
  [YESTERDAY, 'etl', '4', '2', 'USD', '1'],
  [LONG_AGO, 'search', '99', '99', 'USD', '1'],  // left out by the query's day range
];

// A daily time far from now, so that no scheduled import runs during the tests.
const farFromNow = () => {
  const d = new Date(Date.now() + 12 * 3_600_000);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
};

function configYaml(mock, db, { billing = true, token = '${TEST_PROVIDER_TOKEN}', warehouse = WAREHOUSE } = {}) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  local:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
  dbx:
    kind: databricks
    host: "${mock.base}"
    auth: {token: "${token}"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x", price: {input_per_million: 1000, output_per_million: 2000}}
keys:
  - {name: search-key, sha256: "${sha256(SEARCH_KEY)}", role: user, project: search}
  - {name: ads-key, sha256: "${sha256(ADS_KEY)}", role: user, project: ads}
  - {name: ops, sha256: "${sha256(OPS_KEY)}", role: ops}
roles:
  user: {models: ["*"]}
  ops: {models: ["*"], admin: true}
store:
  ${db.startsWith('postgresql://') ? 'postgres' : 'sqlite'}: "${db}"
records:
  flush_ms: 100
${billing ? `billing:\n  databricks: {warehouse_id: "${warehouse}", tag: project, days: 30, at: "${farFromNow()}"}\n` : ''}`;
}

function setup(mock, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-billing-'));
  const db = options.db ?? join(dir, 'gatehouse.db');
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, configYaml(mock, db, options));
  return { dir, db, file };
}

async function warehouse(mock, settings) {
  const r = await fetch(`${mock.base}/__mock/sql`, { method: 'POST', body: JSON.stringify(settings) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
}
const statements = async (mock) => (await (await fetch(`${mock.base}/__mock/sql`)).json()).statements;

const importCli = (file) =>
  run(gatehouseBin, ['billing', 'import', '--config', file], { env: { ...process.env, TEST_PROVIDER_TOKEN: PROVIDER_TOKEN } })
    .then((r) => ({ code: 0, ...r }), (e) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));

async function admin(gw, method, path, key = OPS_KEY) {
  const r = await fetch(`${gw.base}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, json };
}

async function chat(gw, key) {
  const r = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat-small', messages: [{ role: 'user', content: 'hello there' }] }),
  });
  assert.equal(r.status, 200, await r.text());
}

const entry = (billing, day, project) => billing.data.find((d) => d.day === day && d.project === project);

let mock;
before(async () => { mock = await startMock(['--require-token', PROVIDER_TOKEN]); });
after(async () => { await mock?.stop(); });

describe('imported beside model spend', { timeout: 60_000 }, () => {
  let env, gw;
  before(async () => {
    await mock.reset();
    env = setup(mock);
  });
  after(async () => { await gw?.stop(); });

  test('gatehouse billing import stores the DBU cost per project and day, with the values as parameters', async () => {
    await warehouse(mock, { warehouse_id: WAREHOUSE, rows: ROWS });
    const r = await importCli(env.file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`imported 4 rows \\(2 days with Databricks usage\\) for ${dayOf(-29)}\\.\\.${TODAY}`));
    const [s] = await statements(mock);
    assert.equal(s.state, 'SUCCEEDED');
    assert.equal(s.request.warehouse_id, WAREHOUSE);
    assert.equal(s.request.format, 'JSON_ARRAY');
    assert.equal(s.request.disposition, 'INLINE');
    assert.deepEqual(s.request.parameters, [
      { name: 'tag', value: 'project', type: 'STRING' },
      { name: 'from_day', value: dayOf(-29), type: 'DATE' },
      { name: 'to_day', value: TODAY, type: 'DATE' },
    ]);
    assert.match(s.request.statement, /system\.billing\.usage/);
    assert.match(s.request.statement, /system\.billing\.list_prices/);
    assert.ok(!s.request.statement.includes(TODAY), 'no value spliced into the SQL');
    const rows = (await run('sqlite3', [env.db, 'SELECT day, project, dbus, cost_usd FROM billing_dbu ORDER BY day, project'])).stdout.trim();
    assert.equal(rows, [`${YESTERDAY}|etl|4.0|2.0`, `${YESTERDAY}|search|3.0|`, `${TODAY}||1.0|0.5`, `${TODAY}|search|12.5|6.25`].join('\n'));
  });

  test('the gateway does not import again at start after an import in the last 24 hours', async () => {
    gw = await startGateway({ file: env.file });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await statements(mock)).length, 1);
  });

  test('GET /admin/v1/billing: DBU cost beside model spend per project and day', async () => {
    await chat(gw, SEARCH_KEY);
    await chat(gw, ADS_KEY);
    const billing = await waitFor(async () => {
      const b = (await admin(gw, 'GET', `/admin/v1/billing?from=${YESTERDAY}&to=${TODAY}`)).json;
      return entry(b, TODAY, 'search')?.model_cost_usd > 0 && entry(b, TODAY, 'ads')?.model_cost_usd > 0 ? b : null;
    }, { what: 'the model spend in the billing answer' });
    assert.equal(billing.object, 'billing');
    assert.equal(billing.configured, true);
    assert.equal(billing.from, YESTERDAY);
    assert.equal(billing.to, TODAY);
    assert.equal(billing.last_import.ok, true);
    assert.equal(billing.last_import.rows, 4);
    assert.equal(billing.last_import.error, null);
    const search = entry(billing, TODAY, 'search');
    assert.equal(search.dbu_cost_usd, 6.25);
    assert.equal(search.dbus, 12.5);
    // The same requests' cost as the usage records say.
    const spent = Number((await run('sqlite3', [env.db, "SELECT sum(cost_usd) FROM usage WHERE project = 'search'"])).stdout);
    assert.ok(Math.abs(search.model_cost_usd - spent) < 1e-9, `${search.model_cost_usd} vs ${spent}`);
    // ads made model requests; the imported day had no Databricks usage for it: measured, zero.
    assert.equal(entry(billing, TODAY, 'ads').dbu_cost_usd, 0);
    assert.equal(entry(billing, TODAY, 'ads').dbus, 0);
    assert.deepEqual(entry(billing, TODAY, ''), { project: '', day: TODAY, model_cost_usd: 0, dbu_cost_usd: 0.5, dbus: 1 });
    assert.deepEqual(entry(billing, YESTERDAY, 'search'), { project: 'search', day: YESTERDAY, model_cost_usd: 0, dbu_cost_usd: null, dbus: 3 });
    assert.equal(entry(billing, YESTERDAY, 'etl').dbu_cost_usd, 2);
    assert.equal(billing.data.length, 5);

    const old = (await admin(gw, 'GET', `/admin/v1/billing?from=${LONG_AGO}&to=${LONG_AGO}`)).json;
    assert.deepEqual(old.data, [], 'a day the query left out was not imported');
    const tooLong = await admin(gw, 'GET', `/admin/v1/billing?from=${dayOf(-100)}&to=${TODAY}`);
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.json.error.message, /at most 92 days/);
  });

  test('POST /admin/v1/billing/import polls a PENDING statement and reads every chunk', async () => {
    const rows = [[TODAY, 'search', '20', '10', 'USD', '1'], [TODAY, 'ads', '2', '1', 'USD', '1'], [TODAY, 'etl', '1', '0.5', 'USD', '1']];
    await warehouse(mock, { rows, pending_polls: 2, chunk_rows: 1 });
    const r = await admin(gw, 'POST', '/admin/v1/billing/import');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json, { object: 'billing.import', ok: true, rows: 3, days: 1, from: dayOf(-29), to: TODAY });
    const s = (await statements(mock)).at(-1);
    assert.equal(s.state, 'SUCCEEDED');
    assert.equal(s.polls, 2);
    assert.equal(s.chunks, 3);
    const billing = (await admin(gw, 'GET', `/admin/v1/billing?from=${YESTERDAY}&to=${TODAY}`)).json;
    assert.equal(entry(billing, TODAY, 'search').dbu_cost_usd, 10);
    assert.equal(entry(billing, TODAY, 'ads').dbu_cost_usd, 1);
    assert.equal(entry(billing, TODAY, 'etl').dbus, 1);
    // The covered days were replaced: yesterday's rows are gone, and today's unlabelled usage too.
    assert.deepEqual(entry(billing, TODAY, ''), undefined);
    assert.equal(entry(billing, YESTERDAY, 'etl'), undefined);
    const audited = await waitFor(async () =>
      (await run('sqlite3', [env.db, "SELECT actor, subject, detail FROM audit WHERE kind = 'billing.import'"])).stdout.trim(),
    { what: 'the audit row' });
    assert.match(audited, /^key 'ops'\|databricks\|\{"ok":true,"rows":3/);
  });

  test('a FAILED statement is a clear error and replaces nothing', async () => {
    await warehouse(mock, { rows: [[TODAY, 'search', '1', '1', 'USD', '1']], pending_polls: 1, chunk_rows: 1000,
      fail: '[INSUFFICIENT_PERMISSIONS] User does not have SELECT on Table system.billing.usage' });
    const r = await admin(gw, 'POST', '/admin/v1/billing/import');
    assert.equal(r.status, 502, JSON.stringify(r.json));
    assert.match(r.json.error.message, /the billing query FAILED: BAD_REQUEST: \[INSUFFICIENT_PERMISSIONS\]/);
    assert.match(r.json.error.message, /imported costs are as they were/);
    assert.equal((await statements(mock)).at(-1).state, 'FAILED');
    const billing = (await admin(gw, 'GET', `/admin/v1/billing?from=${YESTERDAY}&to=${TODAY}`)).json;
    assert.equal(entry(billing, TODAY, 'search').dbu_cost_usd, 10, 'the last good import stays');
    assert.equal(billing.last_import.ok, false);
    assert.match(billing.last_import.error, /INSUFFICIENT_PERMISSIONS/);

    const cli = await importCli(env.file);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /billing import of .* failed \(the imported costs are as they were\): the billing query FAILED/);
    await warehouse(mock, { fail: null });
  });

  test('the billing endpoints are for admins', async () => {
    assert.equal((await admin(gw, 'GET', '/admin/v1/billing', SEARCH_KEY)).status, 403);
    assert.equal((await admin(gw, 'POST', '/admin/v1/billing/import', SEARCH_KEY)).status, 403);
    const before = (await statements(mock)).length;
    assert.equal((await admin(gw, 'POST', '/admin/v1/billing', OPS_KEY)).status, 405);
    assert.equal((await admin(gw, 'GET', '/admin/v1/billing/import', OPS_KEY)).status, 405);
    assert.equal((await statements(mock)).length, before, 'nothing imported');
  });
});

describe('not measured', { timeout: 60_000 }, () => {
  test('before any import succeeded: null beside the model spend; the gateway tried once at start', async () => {
    await mock.reset();
    await warehouse(mock, { warehouse_id: WAREHOUSE, rows: ROWS, fail: 'warehouse stopped' });
    const env = setup(mock);
    const gw = await startGateway({ file: env.file });
    try {
      // Nothing imported in the last 24 hours: the gateway imports at start (here, and fails).
      await waitFor(async () => (await statements(mock)).length === 1, { what: 'the import at start' });
      await chat(gw, SEARCH_KEY);
      const billing = await waitFor(async () => {
        const b = (await admin(gw, 'GET', '/admin/v1/billing')).json;
        return entry(b, TODAY, 'search') && b.last_import ? b : null;
      }, { what: 'the billing answer' });
      assert.equal(billing.configured, true);
      assert.equal(billing.last_import.ok, false);
      assert.match(billing.last_import.error, /warehouse stopped/);
      assert.equal(billing.to, TODAY);
      assert.equal(billing.from, dayOf(-29));
      const search = entry(billing, TODAY, 'search');
      assert.ok(search.model_cost_usd > 0);
      assert.equal(search.dbu_cost_usd, null);
      assert.equal(search.dbus, null);
    } finally {
      await gw.stop();
    }
  });

  test('without billing configured: configured false, DBU cost null, import refused', async () => {
    await mock.reset();
    const env = setup(mock, { billing: false });
    const gw = await startGateway({ file: env.file });
    try {
      await chat(gw, ADS_KEY);
      const billing = await waitFor(async () => {
        const b = (await admin(gw, 'GET', '/admin/v1/billing')).json;
        return entry(b, TODAY, 'ads') ? b : null;
      }, { what: 'the model spend' });
      assert.equal(billing.configured, false);
      assert.equal(billing.last_import, null);
      assert.equal(entry(billing, TODAY, 'ads').dbu_cost_usd, null);
      assert.equal(entry(billing, TODAY, 'ads').dbus, null);
      const r = await admin(gw, 'POST', '/admin/v1/billing/import');
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, /billing.databricks is not configured/);
      assert.deepEqual(await statements(mock), []);
    } finally {
      await gw.stop();
    }
    const cli = await importCli(env.file);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /billing.databricks is not configured/);
  });
});

describe('refusals', { timeout: 30_000 }, () => {
  test('a credential the workspace refuses: HTTP 401, the token never in the message', async () => {
    await mock.reset();
    await warehouse(mock, { warehouse_id: WAREHOUSE, rows: ROWS });
    const env = setup(mock, { token: 'dapi-wrong-secret-token' });
    const r = await importCli(env.file);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /POST http:\/\/127\.0\.0\.1:\d+\/api\/2\.0\/sql\/statements: HTTP 401: UNAUTHENTICATED/);
    assert.ok(!r.stderr.includes('dapi-wrong-secret-token') && !r.stdout.includes('dapi-wrong-secret-token'));
  });

  test('another warehouse: the workspace says it does not exist', async () => {
    await mock.reset();
    await warehouse(mock, { warehouse_id: WAREHOUSE, rows: ROWS });
    const env = setup(mock, { warehouse: 'wh-other' });
    const r = await importCli(env.file);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP 404: RESOURCE_DOES_NOT_EXIST: SQL warehouse wh-other does not exist/);
  });

  test('check-config names a billing mistake with its place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-billing-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, configYaml(mock, join(dir, 'gh.db')).replace('tag: project', 'tags: project'));
    const r = await run(gatehouseBin, ['check-config', file]).then((x) => ({ code: 0, ...x }), (e) => e);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /bad\.yaml:\d+:\d+: unknown key 'tags' in billing\.databricks/);
  });
});

describe('PostgreSQL store shared by two replicas', { timeout: 120_000 }, () => {
  let pg;
  before(async () => { pg = await startPostgres(); });
  after(async () => { await pg?.stop(); });

  test('one replica imports at start, both show it; an import again stores the same rows; a failed one replaces nothing', async () => {
    await mock.reset();
    await warehouse(mock, { warehouse_id: WAREHOUSE, rows: ROWS });
    const env = setup(mock, { db: pg.url });
    const [a, b] = await Promise.all([startGateway({ file: env.file }), startGateway({ file: env.file })]);
    try {
      await waitFor(async () => (await admin(a, 'GET', '/admin/v1/billing')).json.last_import?.ok, { what: 'the import at start', timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await statements(mock)).length, 1, 'one replica imported');
      const stored = () => pg.psql('SELECT day, project, dbus, cost_usd FROM billing_dbu ORDER BY day, project').trim();
      const want = [`${YESTERDAY}|etl|4|2`, `${YESTERDAY}|search|3|`, `${TODAY}||1|0.5`, `${TODAY}|search|12.5|6.25`].join('\n');
      assert.equal(stored(), want);
      for (const gw of [a, b]) {
        const billing = (await admin(gw, 'GET', `/admin/v1/billing?from=${YESTERDAY}&to=${TODAY}`)).json;
        assert.equal(entry(billing, TODAY, 'search').dbu_cost_usd, 6.25);
        assert.equal(entry(billing, YESTERDAY, 'search').dbu_cost_usd, null);
        assert.equal(entry(billing, YESTERDAY, 'search').dbus, 3);
      }
      const again = await admin(b, 'POST', '/admin/v1/billing/import');
      assert.equal(again.status, 200, JSON.stringify(again.json));
      assert.equal(stored(), want);

      await warehouse(mock, { fail: 'the warehouse was deleted' });
      const cli = await importCli(env.file);
      assert.equal(cli.code, 1);
      assert.match(cli.stderr, /the warehouse was deleted/);
      assert.ok(!cli.stderr.includes(pg.password), 'no store password in the message');
      assert.equal(stored(), want);
      const last = (await admin(a, 'GET', '/admin/v1/billing')).json.last_import;
      assert.equal(last.ok, false);
      assert.match(last.error, /the warehouse was deleted/);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
