// End-to-end: several replicas as one gateway. Two gateway processes share a real redis-server
// (state.redis): rate limits (requests, tokens, concurrency) are exact across both, budgets are
// spent once, a kill or a lift on one reaches the other, a target cooling down on one cools down
// on both, a concurrency slot held by a replica that dies comes back when its lease runs out.
// Redis trouble: paused (no request waits past timeout_ms), stopped and started again
// (on_error: local counts per replica, logged once, counted in /metrics, and recovers by
// itself), and on_error: deny (503 in the client's shape).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startMock, startGateway, sha256, waitFor } from './harness.mjs';
import { startRedis } from './redis.mjs';
import { startMcpServer, mcpClient } from './mcp/harness_mcp.mjs';

const messages = [{ role: 'user', content: 'hi' }];
const KEYS = ['qpm', 'tpm', 'conc', 'lease', 'renew', 'budget', 'admin', 'paused', 'down'];
const secretOf = (name) => `gh-scale-${name}-secret`;

// timeout_ms: a generous 1000 for the exactness tests (a loaded test machine, a sanitizer build:
// an admission that fell back to this replica's counters would not be exact); the "paused Redis"
// test uses a replica of its own with 50.
function config(mock, redis, dir, { onError = 'local', timeoutMs = 1000, redisUrl = redis.url, store = 'gatehouse.db' } = {}) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  local:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
  down:
    kind: openai-compatible
    base_url: "http://127.0.0.1:1/v1"
    auth: {token: "unused"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x", price: {input_per_million: 1000, output_per_million: 2000}}
  primary: {provider: down, upstream_model: "gpt-primary"}
  backup: {provider: local, upstream_model: "gpt-backup"}
  routed:
    route:
      strategy: priority
      cooldown: {after_failures: 1, seconds: 60}
      targets: [{model: primary}, {model: backup}]
store: {sqlite: "${join(dir, store)}"}
state:
  redis: {url: "${redisUrl}", password: "\${REDIS_PASSWORD}", timeout_ms: ${timeoutMs}, on_error: ${onError}, lease_ms: 2000}
roles:
  admin: {models: ["*"], admin: true}
  user: {models: ["*"], tools: ["rl/*"]}
keys:
${KEYS.map((k) => `  - {name: ${k}, sha256: "${sha256(secretOf(k))}", role: ${k === 'admin' ? 'admin' : 'user'}}`).join('\n')}
metrics: {enabled: true}
limits:
  - {scope: key, match: qpm, qpm: 20}
  - {scope: key, match: tpm, tpm: 100}
  - {scope: key, match: conc, concurrency: 2}
  - {scope: key, match: lease, concurrency: 1}
  - {scope: key, match: renew, concurrency: 1}
  - {scope: key, match: paused, qpm: 1000}
  - {scope: key, match: down, qpm: 3}
  - {scope: tool, match: "rl/echo", qpm: 2}
budgets:
  - {scope: key, match: budget, usd: 0.05, period: daily}
mcp:
  servers:
    rl: {url: "${mcpServer.url}"}
`;
}

let mock, redis, dir, a, b, mcpServer;

async function gateway(opts = {}) {
  const file = join(dir, `gatehouse-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, config(mock, redis, dir, opts));
  return startGateway({ file, env: { REDIS_PASSWORD: redis.password } });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-scale-'));
  mock = await startMock();
  redis = await startRedis();
  mcpServer = await startMcpServer(['--name', 'rl']);
  a = await gateway();
  b = await gateway();
});

after(async () => {
  await a?.stop();
  await b?.stop();
  await redis?.stop();
  await mcpServer?.stop();
  await mock?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const client = (gw, name, opts = {}) => new OpenAI({ apiKey: secretOf(name), baseURL: gw.baseURL, maxRetries: 0, ...opts });

async function chat(gw, name, body = {}) {
  const r = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secretOf(name)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat-small', messages, ...body }),
  });
  return { status: r.status, headers: r.headers, json: await r.json().catch(() => null) };
}

const metric = async (gw, line) => {
  const text = await (await fetch(`${gw.base}/metrics`)).text();
  const m = text.split('\n').find((l) => l.startsWith(line));
  return m === undefined ? undefined : Number(m.slice(line.length).trim());
};

describe('limits shared by two replicas', { timeout: 60_000 }, () => {
  test('qpm: 20 — 100 simultaneous requests over both replicas, exactly 20 succeed', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => chat(i % 2 ? a : b, 'qpm')));
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    assert.equal(ok.length, 20, `statuses: ${results.map((r) => r.status).join(',')}`);
    assert.equal(limited.length, 80);
    for (const r of limited) {
      assert.equal(r.json.error.code, 'rate_limit_exceeded');
      assert.match(r.json.error.message, /key 'qpm': 20 requests per minute/);
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      assert.ok(r.headers.get('x-request-id'));
    }
    // Each replica got 50 of them: counting alone, each would have admitted 20 (40 in all). How
    // the 20 split between them is a race (often all to whichever reached Redis first).
    const refusedBy = (gw) => results.filter((r, i) => (i % 2 ? a : b) === gw && r.status === 429).length;
    assert.ok(refusedBy(a) >= 30 && refusedBy(b) >= 30, `a refused ${refusedBy(a)}, b ${refusedBy(b)}`);
    const last = ok.map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort((x, y) => x - y);
    assert.equal(last[0], 0, 'the 20th admission saw nothing left');
    assert.equal(new Set(last).size, 20, 'every admission saw a different remaining count: one counter');
  });

  test('tpm: a reservation, then settlement with the usage the provider reported, seen by the other replica', async () => {
    // The reservation is the request's estimate (its prompt and max_tokens 40); once the answer
    // is settled it is replaced by the real usage (the mock answers 8 tokens).
    const first = await chat(a, 'tpm', { max_tokens: 40 });
    assert.equal(first.status, 200);
    const used = first.json.usage.total_tokens;
    const estimate = 100 - Number(first.headers.get('x-ratelimit-remaining-tokens'));
    assert.ok(estimate >= 41 && used < estimate, `estimate ${estimate}, used ${used}`);
    // On the other replica: the first request counts with its real usage, this one with its estimate.
    const second = await chat(b, 'tpm', { max_tokens: 40 });
    assert.equal(second.status, 200);
    assert.equal(Number(second.headers.get('x-ratelimit-remaining-tokens')), 100 - used - estimate);
    // A third that needs more than is left is refused, on either replica.
    // Both settled (about 2 × 9 used): a request that needs 99 does not fit, on either replica.
    const third = await chat(a, 'tpm', { max_tokens: 99 - (estimate - 40) });
    assert.equal(third.status, 429);
    assert.match(third.json.error.message, /key 'tpm': 100 tokens per minute/);
  });

  test('concurrency: 2 — slots held on either replica count on both', async () => {
    const slow = (gw) => chat(gw, 'conc', { mock: { latency_ms: 1500 } });
    const held = [slow(a), slow(b)];
    await new Promise((r) => setTimeout(r, 400));  // both admitted, waiting on the provider
    const third = await chat(a, 'conc');
    const fourth = await chat(b, 'conc');
    assert.equal(third.status, 429);
    assert.equal(third.json.error.code, 'concurrency_limit_exceeded');
    assert.equal(fourth.status, 429);
    const done = await Promise.all(held);
    assert.deepEqual(done.map((r) => r.status), [200, 200]);
    // Settled: the slots are free again.
    await waitFor(async () => (await chat(b, 'conc')).status === 200, { what: 'a slot after both ended' });
  });

  test('a request that runs longer than lease_ms keeps its slot (the replica renews it)', async () => {
    // lease_ms: 2000; the request holds its slot for 5 s.
    const long = chat(a, 'renew', { mock: { latency_ms: 5000 } });
    await new Promise((r) => setTimeout(r, 3500));
    const meanwhile = await chat(b, 'renew');
    assert.equal(meanwhile.status, 429, 'still held at 3.5 s: the lease was renewed');
    assert.equal(meanwhile.json.error.code, 'concurrency_limit_exceeded');
    assert.equal((await long).status, 200);
    await waitFor(async () => (await chat(b, 'renew')).status === 200, { what: 'the slot once the request ended' });
  });

  test('a replica that dies gives its concurrency slot back when its lease runs out', async () => {
    const c = await gateway();
    const pending = chat(c, 'lease', { mock: { latency_ms: 20_000 } }).catch(() => null);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await chat(a, 'lease')).status, 429, 'the slot is held by the third replica');
    c.child.kill('SIGKILL');
    await c.exited;
    await pending;
    // lease_ms: 2000 — nobody renews the dead replica's lease.
    const t0 = Date.now();
    await waitFor(async () => (await chat(a, 'lease')).status === 200, { timeoutMs: 8000, intervalMs: 200, what: 'the lease to expire' });
    assert.ok(Date.now() - t0 < 6000, `the slot came back after ${Date.now() - t0} ms`);
  });
});

describe('MCP tool-call limits shared by two replicas', { timeout: 60_000 }, () => {
  test('{scope: tool, match: "rl/echo", qpm: 2}: one call through each replica, the third (on either) is -32005', async () => {
    const ca = await mcpClient(`${a.base}/mcp/rl`, { token: secretOf('paused') });
    const cb = await mcpClient(`${b.base}/mcp/rl`, { token: secretOf('paused') });
    try {
      const text = (r) => (r?.content ?? []).filter((x) => x.type === 'text').map((x) => x.text).join('');
      assert.equal(text(await ca.client.callTool({ name: 'echo', arguments: { text: 'one' } })), 'rl: one');
      assert.equal(text(await cb.client.callTool({ name: 'echo', arguments: { text: 'two' } })), 'rl: two');
      // Counting alone, a would still have room for a second call.
      const e = await ca.client.callTool({ name: 'echo', arguments: { text: 'three' } }).then(
        (r) => assert.fail(`a result: ${JSON.stringify(r)}`), (err) => err);
      assert.equal(e.code, -32005, e.message);
      assert.match(e.message, /tool 'rl\/echo': 2 calls per minute/);
      assert.ok(!(await mcpServer.calls('echo')).some((m) => m.params.arguments.text === 'three'), 'nothing sent upstream');
    } finally {
      await ca.client.close();
      await cb.client.close();
    }
  });
});

describe('budgets shared by two replicas', { timeout: 60_000 }, () => {
  test('a $0.05 daily budget is spent once across both (3 requests at $0.017), then refused on both', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await chat(i % 2 ? b : a, 'budget')).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
    const refused = await chat(b, 'budget');
    assert.equal(refused.json.error.code, 'budget_exceeded');
    assert.match(refused.json.error.message, /key 'budget' has spent its daily budget \(\$0\.05\d* of \$0\.05\)/);
    assert.equal(refused.headers.get('x-should-retry'), 'false');
  });

  test('a replica started later counts what the others spent (Redis, not its own records)', async () => {
    const c = await gateway({ store: 'replica-c.db' });  // its own store: no records of that spend
    try {
      const r = await chat(c, 'budget');
      assert.equal(r.status, 429);
      assert.equal(r.json.error.code, 'budget_exceeded');
    } finally {
      await c.stop();
    }
  });
});

describe('switches and health shared by two replicas', { timeout: 60_000 }, () => {
  const admin = (gw, method, path, body) => fetch(`${gw.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${secretOf('admin')}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });

  test('a kill on one replica stops the model on the other within a second; a lift on the other restores it on both', async () => {
    const r = await admin(a, 'POST', '/admin/v1/kill', { model: 'chat-small', reason: 'incident 7' });
    assert.equal(r.status, 201);
    const { id } = await r.json();
    const t0 = Date.now();
    const killed = await waitFor(async () => {
      const x = await chat(b, 'qpm');
      return x.status === 503 ? x : null;
    }, { timeoutMs: 1000, what: 'the kill to reach the other replica' });
    assert.ok(Date.now() - t0 <= 1000);
    assert.equal(killed.json.error.code, 'kill_switch');
    assert.match(killed.json.error.message, /incident 7/);
    const listed = await (await admin(b, 'GET', '/admin/v1/kill')).json();
    assert.ok(JSON.stringify(listed).includes(id), 'the other replica lists the kill');
    // Lifted where it was not made.
    assert.equal((await admin(b, 'DELETE', `/admin/v1/kill/${id}`)).status, 200);
    await waitFor(async () => (await chat(a, 'paused')).status === 200, { timeoutMs: 1000, what: 'the lift to reach the first replica' });
    assert.equal((await chat(b, 'paused')).status, 200);
  });

  test('a key created on one replica works on the other within a second; revoked there, it stops on the first', async () => {
    const made = await admin(a, 'POST', '/admin/v1/keys', { name: 'made-on-a', role: 'user' });
    assert.equal(made.status, 201);
    const { key } = await made.json();
    const use = (gw) => fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat-small', messages }),
    }).then((r) => r.status);
    let t0 = Date.now();
    await waitFor(async () => (await use(b)) === 200, { timeoutMs: 1000, intervalMs: 50, what: 'the new key on the other replica' });
    assert.ok(Date.now() - t0 <= 1000);
    assert.equal((await admin(b, 'DELETE', '/admin/v1/keys/made-on-a')).status, 200);
    t0 = Date.now();
    await waitFor(async () => (await use(a)) === 401, { timeoutMs: 1000, intervalMs: 50, what: 'the revoked key refused on the first replica' });
    assert.ok(Date.now() - t0 <= 1000);
  });

  test('a target that fails on one replica cools down on both', async () => {
    // The primary (nothing listens there) fails once through a (threshold 1), which answers
    // from the backup; b, which never tried the primary, holds it cooling too.
    const first = await chat(a, 'paused', { model: 'routed' });
    assert.equal(first.status, 200);
    assert.equal(first.json.model, 'gpt-backup');
    const health = await waitFor(async () => {
      const h = await (await admin(b, 'GET', '/admin/v1/health')).json();
      const primary = (h.targets ?? h).find?.((t) => t.model === 'primary');
      return primary && primary.state === 'cooling' ? primary : null;
    }, { timeoutMs: 1000, what: 'the primary cooling on the other replica' });
    assert.ok(health.consecutive_failures >= 1);
    const r = await chat(b, 'paused', { model: 'routed' });
    assert.equal(r.status, 200);
    assert.equal(r.json.model, 'gpt-backup', 'the other replica skips the cooling primary');
  });
});

describe('Redis trouble', { timeout: 90_000 }, () => {
  test('a paused Redis holds no request past timeout_ms: answered from this replica\'s counters', async () => {
    const p = await gateway({ timeoutMs: 50 });
    try {
      assert.equal((await chat(p, 'paused')).status, 200);  // connected, scripts loaded
      redis.pause();
      try {
        const times = [];
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          const r = await chat(p, 'paused');
          times.push(performance.now() - t0);
          assert.equal(r.status, 200);
        }
        // timeout_ms: 50, plus the request itself; after the first, Redis is left alone for a second.
        assert.ok(times[0] < 50 + 250, `first request took ${times[0]} ms`);
        assert.ok(times.slice(1).every((t) => t < 250), `later requests took ${times}`);
        assert.equal((p.log().match(/shared state: Redis at .* cannot admit requests/g) ?? []).length, 1, 'logged once');
      } finally {
        redis.resume();
      }
      // Back: the next admission is shared again, and says so.
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await chat(p, 'paused')).status, 200);
      await waitFor(() => /Redis at .* admits requests again/.test(p.log()), { what: 'the recovery logged' });
    } finally {
      await p.stop();
    }
  });

  test('Redis stopped mid-run: per-replica counting (logged once, counted), then shared again when it is back', async () => {
    const logged = (gw) => (gw.log().match(/shared state: Redis at .* cannot admit requests/g) ?? []).length;
    const before = [logged(a), logged(b)];
    // A kill made before the outage survives Redis losing its data (no persistence here).
    const kill = await fetch(`${a.base}/admin/v1/kill`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secretOf('admin')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'qpm', reason: 'outage drill' }),
    });
    assert.equal(kill.status, 201);
    const { id } = await kill.json();
    await waitFor(async () => (await chat(b, 'qpm')).status === 503, { timeoutMs: 1000, what: 'the kill on b' });
    await redis.stop();
    try {
      // on_error: local — each replica counts 'down' (qpm 3) on its own while Redis is away.
      const ra = []; const rb = [];
      for (let i = 0; i < 4; i++) ra.push((await chat(a, 'down')).status);
      for (let i = 0; i < 4; i++) rb.push((await chat(b, 'down')).status);
      assert.deepEqual(ra, [200, 200, 200, 429]);
      assert.deepEqual(rb, [200, 200, 200, 429]);
      assert.deepEqual([logged(a) - before[0], logged(b) - before[1]], [1, 1], 'logged once per outage on each replica');
      assert.ok(await metric(a, 'gatehouse_shared_state_fallbacks_total{outcome="local"}') >= 4);
      assert.equal(await metric(a, 'gatehouse_shared_state_up'), 0);
    } finally {
      await redis.start();
    }
    // Back by itself: the connection comes back and admissions are shared again.
    await waitFor(async () => (await metric(a, 'gatehouse_shared_state_up')) === 1 && (await metric(b, 'gatehouse_shared_state_up')) === 1,
      { timeoutMs: 8000, intervalMs: 200, what: 'both replicas to reconnect' });
    await new Promise((r) => setTimeout(r, 1100));  // past the second a failure leaves Redis alone
    // A fresh Redis: the window is empty; 3 across both, then refused on both.
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await chat(i % 2 ? b : a, 'down')).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    await waitFor(() => /Redis at .* admits requests again/.test(a.log()), { what: 'the recovery logged' });
    // Redis came back empty: the kill was written again by the replicas that hold it.
    for (const gw of [a, b]) {
      await waitFor(async () => (await chat(gw, 'qpm')).status === 503, { timeoutMs: 3000, what: 'the kill after Redis lost it' });
    }
    assert.equal((await fetch(`${b.base}/admin/v1/kill/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${secretOf('admin')}` } })).status, 200);
    await waitFor(async () => (await chat(a, 'qpm')).status !== 503, { timeoutMs: 1000, what: 'the lift on a' });
  });

  test('on_error: deny — a 503 shared_state_unavailable in the client\'s shape, nothing sent upstream', async () => {
    const d = await gateway({ onError: 'deny', redisUrl: 'redis://127.0.0.1:1/0' });
    try {
      const before = (await (await fetch(`${mock.base}/__mock/stats`)).json()).requests;
      const err = await client(d, 'qpm').chat.completions.create({ model: 'chat-small', messages }).catch((e) => e);
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, 503);
      assert.equal(err.code, 'shared_state_unavailable');
      assert.match(err.message, /state\.redis\.on_error: deny/);
      assert.ok(err.headers['x-request-id'] || err.headers.get?.('x-request-id'));
      const after = (await (await fetch(`${mock.base}/__mock/stats`)).json()).requests;
      assert.equal(after, before, 'nothing went upstream');
      assert.equal(await metric(d, 'gatehouse_shared_state_fallbacks_total{outcome="denied"}'), 1);
      assert.ok(!d.log().includes(redis.password), 'no password in the log');
    } finally {
      await d.stop();
    }
  });
});
