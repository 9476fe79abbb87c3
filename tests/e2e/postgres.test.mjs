// End-to-end: the PostgreSQL store (store: {postgres: URL}) against a real PostgreSQL this test
// starts on a loopback port (postgres.mjs). The CLI (keys, usage, logs, audit verify) and the
// gateway on one database; two gateways on one database (one audit chain, a revoke seen by both,
// stored responses shared); `gatehouse store migrate` from a SQLite store a gateway filled; and the
// URL's password never shown.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startMock, startGateway, configFor, waitFor, gatehouseBin, PROVIDER_TOKEN } from './harness.mjs';
import { startPostgres } from './postgres.mjs';

let pg, mock;
let dbCount = 0;

before(async () => {
  pg = await startPostgres();
  mock = await startMock(['--require-token', PROVIDER_TOKEN]);
});

after(async () => {
  await mock?.stop();
  await pg?.stop();
});

// A fresh, empty database on the server: its URL as the config writes it (the password from
// ${GH_PG_PASSWORD}, expanded by gatehouse) and as libpq takes it.
function newDatabase() {
  const name = `gh_test_${++dbCount}`;
  const url = pg.createDatabase(name);
  return { name, url, configUrl: url.replace(`:${pg.password}@`, ':${GH_PG_PASSWORD}@') };
}

function writeYaml(store) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-e2e-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, configFor(mock, { extra: `store: ${store}
records:
  inference_log: {models: ["chat-*"], payloads: true, sample: 1.0, retention_days: 30}
  flush_ms: 100` }));
  return { dir, file };
}

const pgConfig = (db) => writeYaml(`{postgres: "${db.configUrl}"}`).file;
const env = () => ({ GH_PG_PASSWORD: pg.password });
const everything = [];  // every CLI output and gateway log, checked for the password at the end

function cli(...args) {
  const r = spawnSync(gatehouseBin, args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env() } });
  assert.equal(r.error, undefined, String(r.error));
  everything.push(r.stdout, r.stderr);
  return r;
}
function ok(r) {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
function createKey(config, name) {
  const r = ok(cli('keys', 'create', '--config', config, '--name', name, '--project', 'pg-proj'));
  return r.stdout.trimEnd().split('\n').at(-1);
}
async function gateway(config) {
  const gw = await startGateway({ file: config, env: env() });
  return gw;
}
async function stopAll(...gws) {
  for (const gw of gws) {
    if (!gw) continue;
    everything.push(gw.log());
    await gw.stop();
  }
}
const chat = (gw, key) => new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0 })
  .chat.completions.create({ model: 'chat-small', messages: [{ role: 'user', content: 'hello' }] });
const status = async (gw, key) => (await fetch(`${gw.baseURL}/chat/completions`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'chat-small', messages: [{ role: 'user', content: 'hi' }] }),
})).status;
const count = (db, table) => Number(pg.psql(`SELECT count(*) FROM ${table}`, db.name).trim());
const auditRows = (config) => {
  const r = ok(cli('audit', 'verify', '--config', config));
  const m = r.stdout.match(/audit chain intact: (\d+) rows/);
  assert.ok(m, r.stdout);
  return Number(m[1]);
};

test('a gateway on postgres answers with a CLI-made key; usage, inference log and audit chain land there', async () => {
  const db = newDatabase();
  const config = pgConfig(db);
  const key = createKey(config, 'pg-app');
  const gw = await gateway(config);
  try {
    const answer = await chat(gw, key);
    assert.equal(answer.object, 'chat.completion');
    assert.equal(await status(gw, 'gh_not_a_key'), 401);

    // Read back by the CLI, from the database (the rows are in PostgreSQL's tables).
    const usage = await waitFor(() => {
      const rows = JSON.parse(ok(cli('usage', '--config', config, '--by', 'key', '--format', 'json')).stdout);
      return rows.find((r) => r.key === 'pg-app') && rows;
    }, { timeoutMs: 10_000, what: 'the usage row' });
    const mine = usage.find((r) => r.key === 'pg-app');
    assert.equal(mine.requests, 1);
    assert.equal(mine.errors, 0);
    assert.ok(mine.input_tokens > 0 && mine.output_tokens > 0, JSON.stringify(mine));
    assert.ok(count(db, 'usage') >= 1);

    const logs = await waitFor(() => {
      const rows = JSON.parse(ok(cli('logs', '--config', config, '--format', 'json')).stdout);
      return rows.length > 0 && rows;
    }, { timeoutMs: 10_000, what: 'the inference log row' });
    assert.equal(logs[0].model, 'chat-small');
    assert.equal(logs[0].key_name ?? logs[0].requester, 'pg-app');
    assert.equal(count(db, 'inference_log'), logs.length);

    // key.create by the CLI and request.denied by the gateway: one chain.
    await waitFor(() => count(db, 'audit') >= 2, { timeoutMs: 10_000, what: 'the denied request in the audit chain' });
    assert.equal(auditRows(config), count(db, 'audit'));
  } finally {
    await stopAll(gw);
  }
});

describe('two gateways on one database', () => {
  let db, config, a, b, key;
  before(async () => {
    db = newDatabase();
    config = pgConfig(db);
    key = createKey(config, 'shared');
    // Started together: both migrate the same empty database at once (the advisory lock).
    [a, b] = await Promise.all([gateway(config), gateway(config)]);
  });
  after(async () => { await stopAll(a, b); });

  test('both serve, and their audit rows, written at once, form one chain that verifies', async () => {
    assert.equal(await status(a, key), 200);
    assert.equal(await status(b, key), 200);
    const before = count(db, 'audit');
    // Denied requests are audited: 40 through each gateway, concurrently.
    const denied = [];
    for (let i = 0; i < 40; ++i) denied.push(status(a, `gh_wrong_a_${i}`), status(b, `gh_wrong_b_${i}`));
    assert.deepEqual(new Set(await Promise.all(denied)), new Set([401]));
    await waitFor(() => count(db, 'audit') >= before + 80, { timeoutMs: 15_000, what: '80 audit rows' });
    assert.equal(count(db, 'audit'), before + 80, 'every row kept once');
    assert.equal(auditRows(config), before + 80);
    const ids = pg.psql('SELECT min(id), max(id), count(DISTINCT id) FROM audit', db.name).trim().split('|').map(Number);
    assert.deepEqual(ids, [1, before + 80, before + 80], 'ids 1..N without a gap');
    // Each batch went in at its first try: no writer chained onto a head another was replacing
    // (without the chain's lock, two batches take the same id and one fails and is retried).
    for (const gw of [a, b]) assert.doesNotMatch(gw.log(), /records: .*retrying/);
  });

  test('an audit append waits for the chain\'s advisory lock (held here by another session)', async () => {
    const before = count(db, 'audit');
    // pg::kAuditLock ("GHAUDIT"), held for 1.5 s by a session of our own.
    const held = pg.psqlAsync(`SELECT pg_advisory_lock(${0x4748415544495400n}); SELECT pg_sleep(1.5)`, db.name);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await status(a, 'gh_wrong_locked_a'), 401);
    assert.equal(await status(b, 'gh_wrong_locked_b'), 401);
    await new Promise((r) => setTimeout(r, 600));  // several flushes
    assert.equal(count(db, 'audit'), before, 'no audit row went in while another writer held the chain');
    await held;
    await waitFor(() => count(db, 'audit') === before + 2, { timeoutMs: 10_000, what: 'the held audit rows' });
    assert.equal(auditRows(config), before + 2);
  });

  test('a stored Responses answer made through one is read and continued through the other', async () => {
    const viaA = new OpenAI({ apiKey: key, baseURL: a.baseURL, maxRetries: 0 });
    const viaB = new OpenAI({ apiKey: key, baseURL: b.baseURL, maxRetries: 0 });
    const first = await viaA.responses.create({ model: 'chat-small', input: 'My name is Ada.' });
    assert.ok(first.id);
    const read = await viaB.responses.retrieve(first.id);
    assert.equal(read.id, first.id);
    assert.equal(read.output_text, first.output_text);
    const next = await viaB.responses.create({ model: 'chat-small', input: 'What is my name?', previous_response_id: first.id });
    assert.equal(next.previous_response_id, first.id);
    // The upstream got the whole conversation, rebuilt from what gateway A stored.
    const up = await mock.lastRequest();
    const said = JSON.stringify(up.json ?? up.body ?? up);
    assert.ok(said.includes('My name is Ada.') && said.includes('What is my name?'), said.slice(0, 500));
    assert.equal(count(db, 'responses'), 2);
  });

  test('a key revoked with the CLI stops working on both within a couple of seconds', async () => {
    const other = createKey(config, 'short-lived');
    await waitFor(async () => (await status(a, other)) === 200 && (await status(b, other)) === 200,
      { timeoutMs: 5000, what: 'the new key on both gateways' });
    ok(cli('keys', 'revoke', '--config', config, 'short-lived'));
    const t0 = Date.now();
    await waitFor(async () => (await status(a, other)) === 401 && (await status(b, other)) === 401,
      { timeoutMs: 3000, intervalMs: 100, what: 'the revoked key refused by both gateways' });
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(await status(a, key), 200, 'the other key still works');
  });
});

test('after the server drops every connection, the gateway reconnects: keys, records and responses still work', async () => {
  const db = newDatabase();
  const config = pgConfig(db);
  const key = createKey(config, 'before-drop');
  const gw = await gateway(config);
  try {
    assert.equal(await status(gw, key), 200);
    await waitFor(() => count(db, 'usage') === 1, { timeoutMs: 10_000, what: 'the first usage row' });
    // What a database restart or a failover does to the gateway's connections.
    const dropped = pg.psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${db.name}' AND usename = 'gatehouse'`, db.name);
    assert.ok(Number(dropped.trim()) >= 3, `terminated ${dropped}`);
    // The key watcher's next poll reconnects and sees a key made since.
    const after = createKey(config, 'after-drop');
    await waitFor(async () => (await status(gw, after)) === 200, { timeoutMs: 5000, what: 'the new key after reconnecting' });
    // The record writer reconnects: the rows land.
    await waitFor(() => count(db, 'usage') === 2, { timeoutMs: 10_000, what: 'the usage row after reconnecting' });
    // So does the response table.
    const client = new OpenAI({ apiKey: after, baseURL: gw.baseURL, maxRetries: 0 });
    const made = await client.responses.create({ model: 'chat-small', input: 'still here?' });
    assert.equal((await client.responses.retrieve(made.id)).id, made.id);
    assert.doesNotMatch(gw.log(), /records: .*retrying/, 'the writer reconnected within its call');
  } finally {
    await stopAll(gw);
  }
});

test('approvals and mcp tools CLIs decide and accept in the postgres store', () => {
  const db = newDatabase();
  const config = pgConfig(db);
  // Opening creates the MCP tables; rows as a gateway would have written them.
  assert.match(ok(cli('approvals', 'list', '--config', config)).stdout, /no calls wait for approval in postgresql:\/\/gatehouse:\*\*\*@/);
  assert.match(ok(cli('mcp', 'tools', 'list', '--config', config)).stdout, /no tool definitions are pinned/);
  const now = Date.now();
  pg.psql(`INSERT INTO mcp_approvals (id, server, tool, arguments, status, created_ms, expires_ms) VALUES
    ('apr_00000000000000aa', 'crm', 'delete_contact', '{"id": 7}', 'pending', ${now}, ${now + 600_000}),
    ('apr_00000000000000bb', 'crm', 'delete_contact', '{"id": 8}', 'pending', ${now - 900_000}, ${now - 300_000})`, db.name);
  const old = 'a'.repeat(64), changed = 'b'.repeat(64);
  pg.psql(`INSERT INTO mcp_tool_pins (server, tool, sha256, definition, pinned_at_ms, pending_sha256, pending_definition, pending_since_ms)
    VALUES ('crm', 'lookup', '${old}', '{"name": "lookup"}', 1, '${changed}', '{"name": "lookup", "v": 2}', 2)`, db.name);

  const pending = JSON.parse(ok(cli('approvals', 'list', '--config', config, '--format', 'json')).stdout);
  assert.deepEqual(pending.map((p) => p.id), ['apr_00000000000000aa'], 'only the call whose deadline is ahead');
  ok(cli('approvals', 'deny', '--config', config, 'apr_00000000000000aa', '--reason', 'not today'));
  const again = cli('approvals', 'approve', '--config', config, 'apr_00000000000000aa');
  assert.equal(again.status, 1, 'the first decision wins');
  assert.match(again.stderr, /already denied/);
  assert.equal(pg.psql("SELECT status || '|' || reason FROM mcp_approvals WHERE id = 'apr_00000000000000aa'", db.name).trim(), 'denied|not today');

  const pins = JSON.parse(ok(cli('mcp', 'tools', 'list', '--config', config, '--format', 'json')).stdout);
  assert.equal(pins.length, 1, JSON.stringify(pins));
  ok(cli('mcp', 'tools', 'accept', '--config', config, 'crm/lookup', '--sha256', changed.slice(0, 12)));
  assert.equal(pg.psql("SELECT sha256 || '|' || pending_sha256 FROM mcp_tool_pins", db.name).trim(), `${changed}|`);
  assert.equal(pg.psql('SELECT version FROM mcp_tool_pin_events', db.name).trim(), '1', 'the gateways\' change counter moved');
  assert.equal(cli('mcp', 'tools', 'accept', '--config', config, 'crm/lookup').status, 1, 'nothing left to accept');
  assert.equal(auditRows(config), 2, 'the deny and the accept, in the chain');
});

describe('store migrate', () => {
  let sqliteConfig, dbFile, responseId, key, sqliteAudit;
  before(async () => {
    // A SQLite store filled by a gateway: a CLI-made key, usage, inference log, audit rows, a
    // stored response.
    const made = writeYaml('{sqlite: "./gatehouse.db"}');
    sqliteConfig = made.file;
    dbFile = join(made.dir, 'gatehouse.db');
    key = createKey(sqliteConfig, 'migrated');
    const gw = await gateway(sqliteConfig);
    try {
      await chat(gw, key);
      await chat(gw, key);
      assert.equal(await status(gw, 'gh_wrong'), 401);
      responseId = (await new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0 })
        .responses.create({ model: 'chat-small', input: 'keep me' })).id;
      await waitFor(() => {
        const logs = JSON.parse(ok(cli('logs', '--config', sqliteConfig, '--format', 'json')).stdout);
        return logs.length >= 3;
      }, { timeoutMs: 10_000, what: 'the records in SQLite' });
    } finally {
      await stopAll(gw);
    }
    // MCP rows too (the tables made by opening them; rows as an MCP gateway writes them).
    ok(cli('approvals', 'list', '--config', sqliteConfig));
    const now = Date.now();
    execFileSync('sqlite3', [dbFile, `
      INSERT INTO mcp_approvals (id, server, tool, arguments, status, created_ms, expires_ms)
        VALUES ('apr_000000000000migr', 'crm', 'delete_contact', '{}', 'pending', ${now}, ${now + 3_600_000});
      INSERT INTO mcp_tool_pins (server, tool, sha256, definition, pinned_at_ms) VALUES ('crm', 'lookup', '${'c'.repeat(64)}', '{}', ${now});
      UPDATE mcp_tool_pin_events SET version = 5;
      INSERT INTO mcp_calls (request_id, request_time, server, tool, outcome, duration_ms) VALUES ('req-mcp-1', ${now}, 'crm', 'lookup', 'ok', 1.5);`]);
    sqliteAudit = auditRows(sqliteConfig);
    assert.ok(sqliteAudit >= 2);
  });

  test('copies every table; a gateway on postgres serves the migrated key and response; audit verify passes', async () => {
    const db = newDatabase();
    const r = ok(cli('store', 'migrate', '--from', `sqlite:${dbFile}`, '--to', db.url));
    assert.match(r.stdout, /copied 1 rows of keys/);
    assert.match(r.stdout, /copied \d+ rows of audit/);
    assert.match(r.stdout, /postgresql:\/\/gatehouse:\*\*\*@127\.0\.0\.1/);
    const config = pgConfig(db);

    assert.equal(auditRows(config), sqliteAudit, 'the same chain, row for row');
    const listed = JSON.parse(ok(cli('keys', 'list', '--config', config, '--format', 'json')).stdout);
    assert.deepEqual(listed.map((k) => [k.name, k.project, k.status]), [['migrated', 'pg-proj', 'active']]);
    const usage = JSON.parse(ok(cli('usage', '--config', config, '--by', 'key', '--format', 'json')).stdout);
    assert.equal(usage.find((u) => u.key === 'migrated')?.requests, 3);
    assert.equal(JSON.parse(ok(cli('logs', '--config', config, '--format', 'json')).stdout).length, 3);
    assert.deepEqual(JSON.parse(ok(cli('approvals', 'list', '--config', config, '--format', 'json')).stdout).map((a) => a.id),
      ['apr_000000000000migr']);
    assert.equal(JSON.parse(ok(cli('mcp', 'tools', 'list', '--config', config, '--format', 'json')).stdout).length, 1);
    assert.equal(pg.psql('SELECT version FROM mcp_tool_pin_events', db.name).trim(), '5', 'the change counter as it was');
    const calls = JSON.parse(ok(cli('logs', '--mcp', '--config', config, '--format', 'json')).stdout);
    assert.deepEqual(calls.map((c) => c.request_id), ['req-mcp-1']);

    const gw = await gateway(config);
    try {
      assert.equal(await status(gw, key), 200, 'the migrated key authenticates');
      const back = await new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0 }).responses.retrieve(responseId);
      assert.equal(back.id, responseId);
      // New rows go after the copied ones: ids continue, the chain continues.
      assert.equal(await status(gw, 'gh_wrong_again'), 401);
      await waitFor(() => count(db, 'audit') === sqliteAudit + 1, { timeoutMs: 10_000, what: 'a new audit row' });
      assert.equal(auditRows(config), sqliteAudit + 1);
      const another = createKey(config, 'after-migration');
      await waitFor(async () => (await status(gw, another)) === 200, { timeoutMs: 5000, what: 'a key made after the migration' });
    } finally {
      await stopAll(gw);
    }

    // A second migration into the same (now populated) database is refused and changes nothing.
    const keysBefore = count(db, 'keys');
    const again = cli('store', 'migrate', '--from', `sqlite:${dbFile}`, '--to', db.url);
    assert.equal(again.status, 1, again.stdout + again.stderr);
    assert.match(again.stderr, /already holds rows \(table keys\).*nothing was copied/);
    assert.equal(count(db, 'keys'), keysBefore);
  });

  test('a missing source file or a malformed --from/--to is refused', () => {
    const db = newDatabase();
    const missing = cli('store', 'migrate', '--from', 'sqlite:/nonexistent/gatehouse.db', '--to', db.url);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no such file/);
    assert.equal(cli('store', 'migrate', '--from', dbFile, '--to', db.url).status, 2);
    assert.equal(cli('store', 'migrate', '--from', `sqlite:${dbFile}`, '--to', 'mysql://x').status, 2);
    const tables = pg.psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", db.name);
    assert.equal(Number(tables.trim()), 0, 'the target was not touched');
  });
});

test('config: postgres and sqlite together is an error at the store key; a wrong password is refused without being shown', () => {
  const both = writeYaml(`\n  sqlite: "./x.db"\n  postgres: "postgresql://u@127.0.0.1/db"`).file;
  const r = cli('check-config', both);
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, /gatehouse\.yaml:\d+:\d+: .*either sqlite or postgres, not both/);

  const db = newDatabase();
  const wrong = 'not-The-Password-93';
  const bad = writeYaml(`{postgres: "postgresql://gatehouse:${wrong}@127.0.0.1:${pg.port}/${db.name}"}`).file;
  const listed = cli('keys', 'list', '--config', bad);
  assert.equal(listed.status, 1);
  assert.match(listed.stderr, /password authentication failed/);
  assert.match(listed.stderr, /gatehouse:\*\*\*@/);
  assert.ok(!(listed.stdout + listed.stderr).includes(wrong), listed.stderr);
  const served = spawnSync(gatehouseBin, ['serve', '--config', bad], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, TEST_PROVIDER_TOKEN: PROVIDER_TOKEN } });
  assert.notEqual(served.status, 0);
  assert.match(served.stdout + served.stderr, /store\.postgres: /);
  assert.ok(!(served.stdout + served.stderr).includes(wrong), served.stderr);
});

test('the password never appeared in any CLI output or gateway log of these tests', () => {
  assert.ok(everything.length > 20, 'outputs were collected');
  const all = everything.join('\n');
  assert.ok(all.includes('***@127.0.0.1'), 'the redacted URL was shown somewhere');
  assert.ok(!all.includes(pg.password), 'the password leaked');
});
