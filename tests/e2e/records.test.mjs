// End-to-end: the records — inference log (`gatehouse logs`), the tamper-evident audit chain
// (`gatehouse audit verify`, with rows edited, deleted and reordered by sqlite3), what survives
// kill -9, Prometheus metrics (promtool, and a real Prometheus server scraping them), OpenTelemetry
// traces (a receiver this test runs), JSON access lines — and that no secret is ever stored.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startGateway, configFor, sha256, waitFor, gatehouseBin, PROVIDER_TOKEN, QUICK_KEY } from './harness.mjs';

const run = promisify(execFile);
const KEY = 'gh-records-app-secret-Zx81';
const OPS_KEY = 'gh-records-ops-secret-Qw52';
const messages = [{ role: 'user', content: 'hi there' }];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let mock, gw, dir, configPath, dbPath, otlp;
const spans = [];  // every span the receiver got
const otlpBodies = [];

function config() {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  local:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
  tight:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
    timeouts: {idle_ms: 300}
  claude:
    kind: anthropic
    base_url: "${mock.base}"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x", price: {input_per_million: 1000, output_per_million: 2000}}
  claude-small: {provider: claude, upstream_model: "claude-x"}
  quiet-model: {provider: local, upstream_model: "gpt-q"}
  secret-model: {provider: local}
  chat-tight: {provider: tight, upstream_model: "gpt-t"}
  assistant:
    route: {targets: [{model: quiet-model}, {model: chat-small}], cooldown: {after_failures: 100, seconds: 1}}
keys:
  - {name: app, sha256: "${sha256(KEY)}", role: app, project: p1}
  - {name: ops, sha256: "${sha256(OPS_KEY)}", role: ops}
roles:
  app: {models: ["chat-*", "claude-*", "quiet-model", "assistant"]}
  ops: {models: ["*"], admin: true}
store: {sqlite: "${dbPath}"}
records:
  inference_log: {models: ["chat-*", "claude-*", "assistant"], payloads: true, sample: 1.0, retention_days: 30}
  flush_ms: 200
metrics: {enabled: true}
tracing: {otlp_endpoint: "http://127.0.0.1:${otlp.address().port}/v1/traces", service_name: gatehouse-e2e, export_ms: 100}
`;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-records-'));
  dbPath = join(dir, 'gatehouse.db');
  otlp = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      otlpBodies.push({ path: req.url, type: req.headers['content-type'], body });
      try {
        for (const rs of JSON.parse(body).resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
        }
      } catch { /* counted as a bad body below */ }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => otlp.listen(0, '127.0.0.1', r));
  mock = await startMock();
  configPath = join(dir, 'gatehouse.yaml');
  writeFileSync(configPath, config());
  gw = await startGateway({ file: configPath });
});

after(async () => {
  await gw?.stop();
  await mock?.stop();
  await new Promise((r) => otlp.close(r));
});

const client = (key = KEY) => new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0 });
const logs = async (...args) => JSON.parse((await run(gatehouseBin, ['logs', '--config', configPath, '--format', 'json', ...args])).stdout);
const sql = async (statement) => (await run('sqlite3', [dbPath, statement])).stdout.trim();
const verify = () => run(gatehouseBin, ['audit', 'verify', '--config', configPath]).then((r) => ({ code: 0, ...r }), (e) => e);
const attr = (span, key) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v && (v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue);
};

describe('inference log', { timeout: 60_000 }, () => {
  test('plain, streamed and translated requests are logged with bodies, usage, cost and timing', async () => {
    const plain = await client().chat.completions.create({ model: 'chat-small', messages, max_tokens: 50 }).withResponse();
    const plainId = plain.response.headers.get('x-request-id');
    const stream = await client().chat.completions.create({ model: 'chat-small', messages, stream: true }).withResponse();
    let text = '';
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta?.content ?? '';
    const streamId = stream.response.headers.get('x-request-id');
    const anthropic = new Anthropic({ apiKey: KEY, baseURL: gw.base, maxRetries: 0 });
    const astream = anthropic.messages.stream({ model: 'claude-small', max_tokens: 30, messages });
    const amsg = await astream.finalMessage();
    await client().chat.completions.create({ model: 'quiet-model', messages });  // not a logged model
    // The rows are written by the record writer (every 200 ms): wait until the last one is in.
    const rows = await waitFor(async () => {
      const r = await logs('--limit', '10');
      return [plainId, streamId].every((id) => r.some((x) => x.request_id === id)) && r.some((x) => x.model === 'claude-small') ? r : null;
    }, { what: 'the inference log rows' });
    const byId = Object.fromEntries(rows.map((r) => [r.request_id, r]));
    const p = byId[plainId];
    assert.ok(p, 'the plain request is in the log');
    assert.equal(p.model, 'chat-small');
    assert.equal(p.served_model, 'chat-small');
    assert.equal(p.provider, 'local');
    assert.equal(p.requester, 'app');
    assert.equal(p.project, 'p1');
    assert.equal(p.status_code, 200);
    assert.deepEqual(p.request, { model: 'chat-small', messages, max_tokens: 50 });
    assert.equal(p.response.choices[0].message.content, plain.data.choices[0].message.content);
    assert.equal(p.input_tokens, plain.data.usage.prompt_tokens);
    assert.equal(p.output_tokens, plain.data.usage.completion_tokens);
    assert.ok(Math.abs(p.cost_usd - (p.input_tokens * 1000 + p.output_tokens * 2000) / 1e6) < 1e-9);
    assert.ok(p.execution_duration_ms > 0 && p.upstream_duration_ms > 0 && p.upstream_duration_ms <= p.execution_duration_ms);
    assert.equal(p.decisions.attempts.length, 1);
    assert.equal(p.decisions.attempts[0].status, 200);

    const s = byId[streamId];
    assert.equal(s.streaming, true);
    assert.equal(s.response.object, 'chat.completion', 'the stream is reassembled into one answer');
    assert.equal(s.response.choices[0].message.content, text);
    assert.equal(s.response.choices[0].finish_reason, 'stop');
    assert.ok(s.time_to_first_token_ms > 0 && s.time_to_first_token_ms <= s.execution_duration_ms);
    assert.ok(s.output_tokens > 0, 'usage is known for the stream');

    const a = rows.find((r) => r.model === 'claude-small');
    assert.equal(a.response.type, 'message', 'an Anthropic stream is reassembled as a message');
    assert.equal(a.response.content[0].text, amsg.content[0].text);
    assert.equal(a.response.stop_reason, amsg.stop_reason);

    assert.ok(!rows.some((r) => r.model === 'quiet-model'), 'models the log does not name are not logged');
    assert.deepEqual((await logs('--model', 'claude-small')).map((r) => r.model), ['claude-small']);
    assert.equal((await logs('--limit', '1')).length, 1);
    assert.equal((await logs('--since', '1h')).length >= 3, true);

    const table = (await run(gatehouseBin, ['logs', '--config', configPath])).stdout;
    assert.match(table, /^TIME\s+REQUEST_ID\s+REQUESTER\s+MODEL\s+SERVED_BY\s+STATUS/);
    assert.match(table, new RegExp(`${plainId}\\s+app\\s+chat-small\\s+chat-small/local\\s+200`));
  });

  test('refusals and fallbacks are logged with the decisions and every attempt', async () => {
    await fetch(`${mock.base}/__mock/defaults`, { method: 'POST', body: JSON.stringify({ status: 500 }) });
    let routed;
    try {
      // quiet-model fails (500): the route falls back... to chat-small on the same mock, which
      // fails too: a 503 naming both.
      routed = await client().chat.completions.create({ model: 'assistant', messages }).withResponse().catch((e) => e);
    } finally {
      await fetch(`${mock.base}/__mock/defaults`, { method: 'POST', body: '{}' });
    }
    assert.equal(routed.status, 503);
    const row = await waitFor(async () => (await logs('--model', 'assistant'))[0], { what: 'the fallback row' });
    assert.equal(row.status_code, 503);
    assert.equal(row.error_code, 'all_targets_failed');
    assert.deepEqual(row.decisions.attempts.map((x) => [x.model, x.status]), [['quiet-model', 500], ['chat-small', 500]]);
    assert.equal(row.response.error.code, 'all_targets_failed');
  });
});

describe('streams that end early, in the records', { timeout: 60_000 }, () => {
  // The usage row of request `id`: [status_code, output_tokens, usage_estimated, error_code].
  const usageRow = (id) => waitFor(async () => {
    const row = await sql(`SELECT status_code, output_token_count, usage_estimated, error_code FROM usage WHERE request_id = '${id}'`);
    return row ? row.split('|') : null;
  }, { what: `the usage row of ${id}` });

  test('a stream the client abandons is recorded as 499 and charged the output it relayed, not the estimate', async () => {
    const ac = new AbortController();
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat-small', messages: [{ role: 'user', content: 'hi' }], stream: true,
        mock: { tokens: 60, inter_token_ms: 100 } }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const id = res.headers.get('x-request-id');
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/"content":"[^"]+"/g) || []).length < 3) text += decoder.decode((await reader.read()).value);
    ac.abort();
    const [status, output, estimated] = await usageRow(id);
    assert.equal(status, '499', 'the client went away before the answer was complete');
    assert.equal(estimated, '1', 'the provider never reported usage: the gateway estimated it');
    // What was relayed (a few words), not the 512-token estimate of an answer without max_tokens.
    assert.ok(Number(output) >= 1 && Number(output) < 60, `output_tokens ${output}`);
  });

  test('a stream cut by an upstream timeout is a failed attempt in the metrics, as in its usage row', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat-tight', messages: [{ role: 'user', content: 'hi' }], stream: true,
        mock: { tokens: 3, inter_token_ms: 2000 } }),
    });
    const id = res.headers.get('x-request-id');
    assert.match(await res.text(), /upstream_timeout/);
    const [status, , , error] = await usageRow(id);
    assert.equal(status, '200');
    assert.equal(error, 'upstream_timeout');
    const page = await (await fetch(`${gw.base}/metrics`)).text();
    assert.match(page, /gatehouse_upstream_attempts_total\{model="chat-tight",provider="tight",outcome="timeout"\} 1\b/);
    assert.doesNotMatch(page, /gatehouse_upstream_attempts_total\{model="chat-tight",provider="tight",outcome="ok"\}/);
  });
});

describe('audit chain', { timeout: 60_000 }, () => {
  test('admin actions, key changes (API and CLI), reloads and denied requests are chained; verify passes', async () => {
    const admin = (method, path, body) => fetch(`${gw.base}${path}`, {
      method, headers: { authorization: `Bearer ${OPS_KEY}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, json: await r.json() }));
    const kill = await admin('POST', '/admin/v1/kill', { model: 'chat-small', reason: 'incident 7' });
    assert.equal(kill.status, 201, JSON.stringify(kill.json));
    assert.equal((await admin('DELETE', `/admin/v1/kill/${kill.json.id}`)).status, 200);
    const made = await admin('POST', '/admin/v1/keys', { name: 'made-by-api', role: 'app' });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    assert.equal((await admin('DELETE', '/admin/v1/keys/made-by-api')).status, 200);
    // $USER is the shell's to set (anyone can claim to be someone else): the audit names the
    // process's real user.
    await run(gatehouseBin, ['keys', 'create', '--config', configPath, '--name', 'made-by-cli', '--role', 'app'],
      { env: { ...process.env, USER: 'mallory' } });
    // Denied: a bad key (401), a model the role may not use (403).
    assert.equal((await fetch(`${gw.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: '{}' })).status, 401);
    const denied = await client().chat.completions.create({ model: 'secret-model', messages }).catch((e) => e);
    assert.equal(denied.status, 403);
    const forbidden = await fetch(`${gw.base}/admin/v1/kill`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(forbidden.status, 403);
    // A reload, and a refused one.
    gw.child.kill('SIGHUP');
    await waitFor(() => /configuration reloaded/.test(gw.log()), { what: 'the reload' });
    writeFileSync(configPath, readFileSync(configPath, 'utf8') + 'bogus: 1\n');
    gw.child.kill('SIGHUP');
    await waitFor(() => /reload of .* refused/.test(gw.log()), { what: 'the refused reload' });
    writeFileSync(configPath, config());

    const want = ['kill.add', 'kill.lift', 'key.create', 'key.revoke', 'request.denied', 'config.reload', 'config.reload_refused'];
    // The writer commits every 200 ms: wait for the last row (nothing is written after it).
    const kinds = await waitFor(async () => {
      const k = (await sql('SELECT kind FROM audit ORDER BY id')).split('\n');
      return want.every((w) => k.includes(w)) ? k : null;
    }, { what: 'the audit rows' });
    for (const k of want) {
      assert.ok(kinds.includes(k), `an audit row of kind ${k}: ${kinds.join(',')}`);
    }
    assert.equal(await sql("SELECT count(*) FROM audit WHERE kind = 'key.create' AND actor LIKE 'cli%' AND subject = 'key made-by-cli'"), '1');
    assert.equal(await sql("SELECT actor FROM audit WHERE kind = 'key.create' AND subject = 'key made-by-cli'"),
      `cli (${userInfo().username})`);
    assert.equal(await sql("SELECT actor FROM audit WHERE kind = 'kill.add'"), "key 'ops'");
    const ok = await verify();
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`audit chain intact: ${kinds.length} rows`));
  });

  test('verify names the first row that was edited, deleted or reordered', async () => {
    const backup = join(dir, 'backup.db');
    await sql(`VACUUM INTO '${backup}'`);
    const restore = async () => { await run('cp', [backup, dbPath]); await run('rm', ['-f', `${dbPath}-wal`, `${dbPath}-shm`]); };
    await gw.stop();  // the file is edited while no gateway writes to it
    gw = null;
    try {
      await sql("UPDATE audit SET actor = 'someone else' WHERE id = 3");
      let v = await verify();
      assert.equal(v.code, 1);
      assert.match(v.stderr, /audit chain BROKEN at row 3: row 3 was edited/);

      await restore();
      await sql('DELETE FROM audit WHERE id = 2');
      v = await verify();
      assert.equal(v.code, 1);
      assert.match(v.stderr, /BROKEN at row 2: row 2 missing \(deleted\)/);

      await restore();
      const last = Number(await sql('SELECT max(id) FROM audit'));
      await sql(`DELETE FROM audit WHERE id = ${last}`);
      v = await verify();
      assert.equal(v.code, 1);
      assert.match(v.stderr, new RegExp(`row ${last} missing \\(deleted from the end of the chain\\)`));

      await restore();
      // Rows 2 and 3 trade places (ids kept): the chain no longer links.
      await sql(`BEGIN; UPDATE audit SET id = -2 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = -2; COMMIT;`);
      v = await verify();
      assert.equal(v.code, 1);
      assert.match(v.stderr, /BROKEN at row 2/);

      await restore();
      assert.equal((await verify()).code, 0);
    } finally {
      await restore();
      gw = await startGateway({ file: configPath });
    }
  });

  test('after kill -9 the store opens, the chain verifies, and only the last flush window can be missing', async () => {
    for (let i = 0; i < 10; i++) await client().chat.completions.create({ model: 'chat-small', messages });
    for (let i = 0; i < 3; i++) await fetch(`${gw.baseURL}/models`, { headers: { authorization: 'Bearer wrong' } });
    // Everything written (flush_ms is 200): the count holds still over a few flush windows.
    let before = -1;
    await waitFor(async () => {
      const now = Number(await sql('SELECT count(*) FROM usage'));
      const still = now === before;
      before = now;
      return still;
    }, { intervalMs: 450, what: 'the usage rows to be written' });
    gw.child.kill('SIGKILL');
    await gw.exited;
    gw = null;
    assert.equal(Number(await sql('SELECT count(*) FROM usage')), before);
    assert.ok(Number(await sql("SELECT count(*) FROM usage WHERE key_name = 'app'")) >= 10);
    assert.equal(await sql('PRAGMA integrity_check'), 'ok');
    const v = await verify();
    assert.equal(v.code, 0, v.stderr);
    gw = await startGateway({ file: configPath });
    assert.equal((await client().chat.completions.create({ model: 'chat-small', messages })).object, 'chat.completion');
  });
});

describe('metrics', { timeout: 60_000 }, () => {
  test('GET /metrics passes promtool and counts requests, latencies, tokens, cost and target health', async () => {
    await client().chat.completions.create({ model: 'chat-small', messages });
    const stream = await client().chat.completions.create({ model: 'chat-small', messages, stream: true });
    for await (const _ of stream) { /* drain */ }
    // The counters move as each request ends, the records as the writer commits (every 200 ms).
    let r;
    const text = await waitFor(async () => {
      r = await fetch(`${gw.base}/metrics`);
      const t = await r.text();
      const served = Number(t.match(/gatehouse_requests_total\{model="chat-small",provider="local",shape="openai",status="200"\} (\d+)/)?.[1]);
      return served >= 2 && /gatehouse_records_written_total\{kind="usage"\} [1-9]/.test(t) ? t : null;
    }, { what: 'the two requests in /metrics' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const lint = await new Promise((resolve) => {
      const p = spawn('promtool', ['check', 'metrics']);
      let out = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { out += d; });
      p.on('exit', (code) => resolve({ code, out }));
      p.stdin.end(text);
    });
    assert.equal(lint.code, 0, lint.out);
    const value = (re) => Number(text.match(re)?.[1]);
    assert.ok(value(/gatehouse_requests_total\{model="chat-small",provider="local",shape="openai",status="200"\} (\d+)/) >= 2);
    assert.ok(value(/gatehouse_time_to_first_token_seconds_count\{model="chat-small",provider="local"\} (\d+)/) >= 1);
    assert.ok(value(/gatehouse_overhead_seconds_count\{model="chat-small",provider="local"\} (\d+)/) >= 2);
    assert.ok(value(/gatehouse_output_tokens_total\{model="chat-small",provider="local"\} (\d+)/) >= 16);
    assert.ok(value(/gatehouse_cost_usd_total\{model="chat-small",provider="local"\} ([\d.e-]+)/) > 0);
    assert.match(text, /gatehouse_target_healthy\{model="quiet-model"\} [01]/);
    assert.match(text, /gatehouse_records_queue_rows \d+/);
    assert.match(text, /gatehouse_records_written_total\{kind="usage"\} [1-9]/);
    assert.match(text, /gatehouse_build_info\{version="0\.1\.0"\} 1/);
    assert.ok(!text.includes(KEY) && !text.includes(PROVIDER_TOKEN));
  });

  test('a real Prometheus server scrapes it', async () => {
    const port = await new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
    const promDir = mkdtempSync(join(tmpdir(), 'gatehouse-prom-'));
    writeFileSync(join(promDir, 'prometheus.yml'), `global: {scrape_interval: 1s}
scrape_configs:
  - job_name: gatehouse
    static_configs: [{targets: ["127.0.0.1:${gw.port}"]}]
`);
    const prom = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    try {
      const result = await waitFor(async () => {
        try {
          const q = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent('sum(gatehouse_requests_total{model="chat-small"})')}`);
          const j = await q.json();
          return j.status === 'success' && j.data.result.length ? Number(j.data.result[0].value[1]) : null;
        } catch { return null; }
      }, { timeoutMs: 30_000, intervalMs: 250, what: 'Prometheus to scrape gatehouse' });
      assert.ok(result >= 2);
      const up = await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=up`)).json();
      assert.equal(up.data.result[0].value[1], '1');
    } finally {
      prom.kill('SIGTERM');
      await new Promise((r) => prom.on('exit', r));
    }
  });
});

describe('traces', { timeout: 60_000 }, () => {
  test('one span per request and a child per upstream attempt, in the client\'s trace, traceparent sent upstream', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const r = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${parent}-01` },
      body: JSON.stringify({ model: 'chat-small', messages, max_tokens: 40 }),
    });
    assert.equal(r.status, 200);
    const id = r.headers.get('x-request-id');
    const upstream = await mock.lastRequest();
    const sent = upstream.headers.traceparent;
    assert.match(sent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const server = await waitFor(() => spans.find((s) => s.traceId === traceId && s.kind === 2), { what: 'the request span' });
    assert.equal(server.parentSpanId, parent, 'the request span is a child of the client\'s');
    assert.equal(server.service, 'gatehouse-e2e');
    assert.equal(server.name, 'chat chat-small');
    assert.equal(attr(server, 'gen_ai.request.model'), 'chat-small');
    assert.equal(attr(server, 'gen_ai.system'), 'openai');
    assert.equal(attr(server, 'gen_ai.response.model'), 'gpt-x');
    assert.equal(attr(server, 'gen_ai.request.max_tokens'), '40');
    assert.equal(attr(server, 'gen_ai.usage.output_tokens'), '8');
    assert.equal(attr(server, 'gatehouse.request_id'), id);
    assert.equal(attr(server, 'http.response.status_code'), '200');
    const child = await waitFor(() => spans.find((s) => s.traceId === traceId && s.kind === 3), { what: 'the attempt span' });
    assert.equal(child.parentSpanId, server.spanId);
    assert.equal(sent.split('-')[2], child.spanId, 'the provider got the attempt span as its parent');
    assert.equal(attr(child, 'gen_ai.request.model'), 'gpt-x');
    assert.ok(BigInt(child.startTimeUnixNano) >= BigInt(server.startTimeUnixNano));
    assert.ok(BigInt(child.endTimeUnixNano) <= BigInt(server.endTimeUnixNano));
    assert.ok(otlpBodies.every((b) => b.path === '/v1/traces' && b.type === 'application/json'));
  });

  test('without a traceparent a new trace starts; a route\'s two attempts are two child spans with an error on the first', async () => {
    let failed;
    await fetch(`${mock.base}/__mock/defaults`, { method: 'POST', body: JSON.stringify({ status: 500 }) });
    try {
      // Both targets fail: two attempts.
      failed = await client().chat.completions.create({ model: 'assistant', messages }).catch((e) => e);
    } finally {
      await fetch(`${mock.base}/__mock/defaults`, { method: 'POST', body: '{}' });
    }
    assert.equal(failed.status, 503);
    // This request's span (an earlier test made another 'chat assistant' one).
    const server = await waitFor(() => spans.find((s) => s.kind === 2 && attr(s, 'gatehouse.request_id') === failed.requestID), { what: 'the route span' });
    assert.equal(server.name, 'chat assistant');
    assert.ok(!server.parentSpanId, 'a root span');
    assert.equal(server.status.code, 2);
    const children = await waitFor(() => {
      const c = spans.filter((s) => s.parentSpanId === server.spanId);
      return c.length === 2 ? c : null;
    }, { what: 'two attempt spans' });
    assert.deepEqual(children.map((c) => attr(c, 'gatehouse.target')).sort(), ['chat-small', 'quiet-model']);
    assert.ok(children.every((c) => c.status?.code === 2 && attr(c, 'http.response.status_code') === '500'));
  });
});

describe('traces over https', { timeout: 60_000 }, () => {
  // A collector behind TLS with a certificate of its own CA, wanting an API key: the gateway
  // verifies it (tracing.ca_file) and sends the key (tracing.headers, from the environment).
  const OTLP_TOKEN = 'otlp-api-key-Kd73';
  let tlsDir;
  const makeCert = (name, subj, san) => {
    const c = join(tlsDir, `${name}.pem`);
    const k = join(tlsDir, `${name}.key`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', k, '-out', c, '-days', '2', '-subj', subj, '-addext', `subjectAltName=${san}`], { stdio: 'pipe' });
    return { cert: readFileSync(c), key: readFileSync(k), file: c };
  };
  const startCollector = async (tls) => {
    const got = [];
    const srv = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        got.push({ path: req.url, headers: req.headers, body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    return { got, port: srv.address().port, close: () => new Promise((r) => srv.close(r)) };
  };
  const gatewayFor = (port, caFile) => startGateway({
    yaml: configFor(mock, { extra: `tracing:
  otlp_endpoint: "https://localhost:${port}/v1/traces"
  ca_file: "${caFile}"
  headers: {authorization: "Bearer \${OTLP_TOKEN}", x-scope: tenant-7}
  export_ms: 100` }),
    env: { OTLP_TOKEN },
  });
  const ask = (g) => new OpenAI({ apiKey: QUICK_KEY, baseURL: g.baseURL, maxRetries: 0 }).chat.completions.create({ model: 'chat-small', messages }).withResponse();

  before(() => { tlsDir = mkdtempSync(join(tmpdir(), 'gatehouse-otlp-tls-')); });

  test('spans reach an https collector that the CA file vouches for, with the configured headers', async () => {
    const tls = makeCert('collector', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1');
    const collector = await startCollector(tls);
    const g = await gatewayFor(collector.port, tls.file);
    try {
      const { response } = await ask(g);
      const id = response.headers.get('x-request-id');
      const post = await waitFor(() => collector.got.find((p) => p.body.resourceSpans.some((rs) => rs.scopeSpans.some((ss) =>
        ss.spans.some((sp) => sp.attributes.some((a) => a.key === 'gatehouse.request_id' && a.value.stringValue === id))))), { what: 'the span over https' });
      assert.equal(post.path, '/v1/traces');
      assert.equal(post.headers.authorization, `Bearer ${OTLP_TOKEN}`);
      assert.equal(post.headers['x-scope'], 'tenant-7');
      assert.equal(post.headers['content-type'], 'application/json');
      assert.equal(post.headers.host, `localhost:${collector.port}`);
    } finally {
      await g.stop();
      await collector.close();
    }
    assert.ok(!g.log().includes(OTLP_TOKEN), 'the collector key is never logged');
  });

  test('a collector whose certificate the gateway cannot verify gets nothing; the failure is logged, without the key', async () => {
    const trusted = makeCert('trusted', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1');
    const other = makeCert('other', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1');  // not in the CA file
    const collector = await startCollector(other);
    const g = await gatewayFor(collector.port, trusted.file);
    try {
      assert.equal((await ask(g)).response.status, 200, 'requests are served whatever happens to their spans');
      await waitFor(() => /tracing: sending \d+ spans to https:\/\/localhost:\d+\/v1\/traces failed: .*(certificate|TLS)/.test(g.log()), { what: 'the export failure in the log' });
      assert.equal(collector.got.length, 0, 'no span was sent to an unverified collector');
    } finally {
      await g.stop();
      await collector.close();
    }
    assert.ok(!g.log().includes(OTLP_TOKEN));
  });

  test('config: ca_file for an http:// endpoint, a bad header name and a line break are errors at load', async () => {
    const file = join(tlsDir, 'bad.yaml');
    writeFileSync(file, configFor(mock, { extra: `tracing:
  otlp_endpoint: "http://127.0.0.1:4318/v1/traces"
  ca_file: "${join(tlsDir, 'collector.pem')}"
  headers: {"bad header": x, x-ok: "a\\nb", content-type: text/plain}` }));
    const r = await run(gatehouseBin, ['check-config', file], { env: { ...process.env, TEST_PROVIDER_TOKEN: 't' } })
      .then(() => assert.fail('expected errors'), (e) => e);
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    assert.match(out, /bad\.yaml:\d+:\d+: tracing\.ca_file is for an https:\/\/ otlp_endpoint/);
    assert.match(out, /tracing\.headers: 'bad header' is not an HTTP header name/);
    assert.match(out, /tracing\.headers\.x-ok: a header value cannot hold a line break/);
    assert.match(out, /tracing\.headers: content-type is set by the gateway/);
    assert.equal(out.split('\n').filter((l) => /bad\.yaml:/.test(l)).length, 4, out);
  });
});

describe('access log and secrets', { timeout: 30_000 }, () => {
  test('access lines are JSON objects, one per request; no key or provider token in logs, store or spans', async () => {
    const { response } = await client().chat.completions.create({ model: 'chat-small', messages }).withResponse();
    const id = response.headers.get('x-request-id');
    // Access lines are written in batches, at least every second.
    await waitFor(() => gw.log().includes(`"request_id":"${id}"`), { what: 'the request\'s access line' });
    const lines = gw.log().split('\n').filter((l) => l.includes('"type":"access"'));
    assert.ok(lines.length >= 1);
    for (const l of lines) {
      const j = JSON.parse(l);
      assert.equal(j.type, 'access');
      assert.match(j.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(j.request_id, /^req_|./);
      assert.equal(typeof j.total_ms, 'number');
    }
    const ok = JSON.parse(lines.at(-1));
    assert.equal(ok.status, 200);
    assert.equal(ok.key, 'app');
    assert.equal(ok.target, 'chat-small');
    assert.ok(ok.overhead_ms >= 0 && ok.overhead_ms <= ok.total_ms);
    await gw.stop();  // SIGTERM writes every record
    gw = null;
    const db = Buffer.concat([readFileSync(dbPath), existsSync(`${dbPath}-wal`) ? readFileSync(`${dbPath}-wal`) : Buffer.alloc(0)]).toString('latin1');
    for (const secret of [KEY, OPS_KEY, PROVIDER_TOKEN, 'sk-ant']) {
      assert.ok(!db.includes(secret), `${secret.slice(0, 8)}... is not in the store`);
      assert.ok(!JSON.stringify(spans).includes(secret), 'nor in a span');
    }
    gw = await startGateway({ file: configPath });
  });

  test('SIGTERM writes the last batch of access lines: one per request, none cut or merged', async () => {
    const ids = [];
    await Promise.all(Array.from({ length: 40 }, async () => {
      const { response } = await client().chat.completions.create({ model: 'chat-small', messages }).withResponse();
      ids.push(response.headers.get('x-request-id'));
    }));
    const g = gw;
    gw = null;
    await g.stop();  // at once: the lines are still in the batch
    const lines = g.log().split('\n').filter((l) => l.includes('"type":"access"'));
    const logged = lines.map((l) => JSON.parse(l).request_id);  // each a whole JSON object
    for (const id of ids) assert.equal(logged.filter((x) => x === id).length, 1, `one access line for ${id}`);
    gw = await startGateway({ file: configPath });
  });
});
