// End-to-end: rate limits (queries and tokens per minute, requests in flight) at every scope and
// their precedence, the 429s in each client's shape with Retry-After and x-ratelimit-* headers,
// token settlement with the provider's real usage (plain and streamed), budgets (exhausted, kept
// across a restart), and `gatehouse usage` — with the official SDKs against real processes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startGateway, sha256, readSSE, gatehouseBin, waitFor } from './harness.mjs';

const run = promisify(execFile);
const ISSUER = 'https://idp.test/';
const AUDIENCE = 'gatehouse';
const messages = [{ role: 'user', content: 'hi' }];

// Gateway keys: one per test, so that the one-minute windows of one test do not touch another's.
const KEYS = ['qpm', 'vip', 'plain', 'burst', 'conc', 'tpm', 'tpmstream', 'shapes', 'modelA', 'modelB',
  'projA', 'projB', 'reload', 'budget', 'budget2', 'other'];
const secretOf = (name) => `gh-limits-${name}-secret`;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
function jwtFor(sub, groups = []) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64u({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${b64u({ iss: ISSUER, aud: AUDIENCE, sub, groups, iat: now, exp: now + 600 })}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), rsa.privateKey).toString('base64url')}`;
}

function limitsConfig(mock, dir) {
  const jwks = join(dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }));
  const project = (name) => (name === 'projA' || name === 'projB' ? ', project: shared' : name.startsWith('budget') ? ', project: money' : '');
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  local:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
  claude:
    kind: anthropic
    base_url: "${mock.base}"
    auth: {token: "sk-ant-test"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x", price: {input_per_million: 1000, output_per_million: 2000}}
  chat-capped: {provider: local, upstream_model: "gpt-capped"}
  claude-small: {provider: claude, upstream_model: "claude-x"}
store: {sqlite: "${join(dir, 'gatehouse.db')}"}
keys:
${KEYS.map((k) => `  - {name: ${k}, sha256: "${sha256(secretOf(k))}"${project(k)}}`).join('\n')}
auth:
  jwt: {issuer: "${ISSUER}", audience: "${AUDIENCE}", jwks_file: "${jwks}"}
limits:
  - {scope: key, qpm: 1000}
  - {scope: key, match: qpm, qpm: 3}
  - {scope: key, match: vip, qpm: 6}
  - {scope: key, match: plain, qpm: 2}
  - {scope: key, match: burst, qpm: 20}
  - {scope: key, match: conc, concurrency: 2}
  - {scope: key, match: tpm, tpm: 3000}
  - {scope: key, match: tpmstream, tpm: 3000}
  - {scope: key, match: shapes, qpm: 1}
  - {scope: key, match: reload, qpm: 2}
  - {scope: model, match: chat-capped, qpm: 3}
  - {scope: project, match: shared, qpm: 3}
  - {scope: user, qpm: 1}
  - {scope: user, match: alice, qpm: 4}
  - {scope: group, match: data-science, qpm: 2}
  - {scope: group, match: analysts, qpm: 1}
budgets:
  - {scope: key, match: budget, usd: 0.05, period: daily, warn_at: 0.5}
  - {scope: project, match: money, usd: 1000, period: monthly}
`;
}

let mock, gw, dir, configPath;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-limits-'));
  mock = await startMock();
  configPath = join(dir, 'gatehouse.yaml');
  writeFileSync(configPath, limitsConfig(mock, dir));
  gw = await startGateway({ file: configPath });
});

after(async () => {
  await gw?.stop();
  await mock?.stop();
});

const openai = (name, opts = {}) => new OpenAI({ apiKey: secretOf(name), baseURL: gw.baseURL, maxRetries: 0, ...opts });
const bearer = (token) => new OpenAI({ apiKey: token, baseURL: gw.baseURL, maxRetries: 0 });

// A raw POST (exact body bytes, every header visible).
async function post(path, body, auth, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const r = await fetch(`${gw.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}`, ...headers },
    body: text,
  });
  return { status: r.status, headers: r.headers, text: await r.text(), bytes: Buffer.byteLength(text) };
}

async function refused(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to be refused');
}

async function upstreamCount() {
  return (await mock.stats()).requests;
}

describe('rate limits', { timeout: 60_000 }, () => {
  test('qpm: the fourth request in a minute is a RateLimitError naming the key, and never goes upstream', async () => {
    const c = openai('qpm');
    for (let i = 0; i < 3; i++) {
      const { data, response } = await c.chat.completions.create({ model: 'chat-small', messages }).withResponse();
      assert.equal(data.object, 'chat.completion');
      assert.equal(response.headers.get('x-ratelimit-limit-requests'), '3');
      assert.equal(response.headers.get('x-ratelimit-remaining-requests'), String(2 - i));
      assert.match(response.headers.get('x-ratelimit-reset-requests'), /^(\d+s|\dm\d+s)$/);
    }
    const before = await upstreamCount();
    const e = await refused(() => c.chat.completions.create({ model: 'chat-small', messages }));
    assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.equal(e.type, 'requests');
    assert.match(e.message, /key 'qpm'.*3 requests per minute/);
    const retryAfter = Number(e.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
    assert.equal(e.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.match(e.headers.get('x-request-id'), /^req_/);
    assert.equal(await upstreamCount(), before, 'a refused request costs the upstream nothing');
  });

  test('a key\'s own limit beats the key default; the default applies to every other key', async () => {
    const vip = openai('vip');
    for (let i = 0; i < 6; i++) await vip.chat.completions.create({ model: 'chat-small', messages });
    assert.ok((await refused(() => vip.chat.completions.create({ model: 'chat-small', messages }))) instanceof OpenAI.RateLimitError);
    const { response } = await openai('other').chat.completions.create({ model: 'chat-small', messages }).withResponse();
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '1000', 'the default rule (no match) for every key');
  });

  test('JWT users: a user\'s own limit beats its groups\', which beat the default per-user limit', async () => {
    // alice: her own limit (4), though she is in data-science (2).
    const alice = bearer(jwtFor('alice', ['data-science']));
    for (let i = 0; i < 4; i++) await alice.chat.completions.create({ model: 'chat-small', messages });
    let e = await refused(() => alice.chat.completions.create({ model: 'chat-small', messages }));
    assert.match(e.message, /user 'alice'/);

    // bob and carol share data-science's 2 per minute.
    const bob = bearer(jwtFor('bob', ['data-science']));
    const carol = bearer(jwtFor('carol', ['data-science']));
    await bob.chat.completions.create({ model: 'chat-small', messages });
    await carol.chat.completions.create({ model: 'chat-small', messages });
    e = await refused(() => bob.chat.completions.create({ model: 'chat-small', messages }));
    assert.match(e.message, /group 'data-science'/);

    // erin is in two limited groups: refused only when both are spent (data-science is, analysts not yet).
    const erin = bearer(jwtFor('erin', ['data-science', 'analysts']));
    await erin.chat.completions.create({ model: 'chat-small', messages });
    e = await refused(() => erin.chat.completions.create({ model: 'chat-small', messages }));
    assert.ok(e instanceof OpenAI.RateLimitError);

    // dave has no limited group: the default per-user limit (1).
    const dave = bearer(jwtFor('dave', ['elsewhere']));
    await dave.chat.completions.create({ model: 'chat-small', messages });
    e = await refused(() => dave.chat.completions.create({ model: 'chat-small', messages }));
    assert.match(e.message, /user 'dave'.*1 requests per minute/);
  });

  test('a model limit is shared by every caller of the model', async () => {
    const a = openai('modelA');
    const b = openai('modelB');
    await a.chat.completions.create({ model: 'chat-capped', messages });
    await b.chat.completions.create({ model: 'chat-capped', messages });
    await a.chat.completions.create({ model: 'chat-capped', messages });
    const e = await refused(() => b.chat.completions.create({ model: 'chat-capped', messages }));
    assert.match(e.message, /model 'chat-capped'/);
    // The key limits are far from spent: the other model still answers.
    assert.equal((await b.chat.completions.create({ model: 'chat-small', messages })).object, 'chat.completion');
  });

  test('a project limit is shared by the project\'s keys', async () => {
    await openai('projA').chat.completions.create({ model: 'chat-small', messages });
    await openai('projB').chat.completions.create({ model: 'chat-small', messages });
    await openai('projA').chat.completions.create({ model: 'chat-small', messages });
    const e = await refused(() => openai('projB').chat.completions.create({ model: 'chat-small', messages }));
    assert.match(e.message, /project 'shared'/);
  });

  test('exact under concurrency: with qpm 20, 100 simultaneous requests let exactly 20 through', async () => {
    const before = await upstreamCount();
    const results = await Promise.all(Array.from({ length: 100 }, () =>
      post('/v1/chat/completions', { model: 'chat-small', messages }, secretOf('burst')).then((r) => r.status)));
    assert.equal(results.filter((s) => s === 200).length, 20);
    assert.equal(results.filter((s) => s === 429).length, 80);
    assert.equal(await upstreamCount(), before + 20, 'exactly 20 reached the provider');
  });

  test('concurrency: at most 2 in flight; the third gets a 429 at once, and a slot frees when one ends', async () => {
    const slow = { model: 'chat-small', messages, mock: { latency_ms: 400 } };
    const started = Date.now();
    const results = await Promise.all([0, 1, 2, 3].map(() => post('/v1/chat/completions', slow, secretOf('conc'))));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const refusedOne = results.find((r) => r.status === 429);
    assert.equal(JSON.parse(refusedOne.text).error.code, 'concurrency_limit_exceeded');
    assert.ok(Date.now() - started < 5000);
    // Both finished: two new ones fit again.
    const again = await Promise.all([0, 1].map(() => post('/v1/chat/completions', { model: 'chat-small', messages }, secretOf('conc'))));
    assert.deepEqual(again.map((r) => r.status), [200, 200]);
    // A request that fails upstream frees its slot before its client hears of the failure, too.
    for (let i = 0; i < 5; i++) {
      const failed = await Promise.all([0, 1].map(() => post('/v1/chat/completions', { model: 'chat-small', messages, mock: { status: 500 } }, secretOf('conc'))));
      assert.deepEqual(failed.map((r) => r.status), [500, 500]);
      const next = await Promise.all([0, 1].map(() => post('/v1/chat/completions', { model: 'chat-small', messages }, secretOf('conc'))));
      assert.deepEqual(next.map((r) => r.status), [200, 200], 'the failed requests\' slots are free');
    }
  });

  test('SIGHUP keeps the windows: a reload does not reset a limit', async () => {
    const c = openai('reload');
    await c.chat.completions.create({ model: 'chat-small', messages });
    await c.chat.completions.create({ model: 'chat-small', messages });
    gw.child.kill('SIGHUP');
    await waitFor(() => /configuration reloaded/.test(gw.log()), { what: 'the reload' });
    const e = await refused(() => c.chat.completions.create({ model: 'chat-small', messages }));
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.match(gw.log(), /configuration reloaded/);
  });

  test('each client gets its own shape: Anthropic rate_limit_error, Databricks REQUEST_LIMIT_EXCEEDED', async () => {
    const anthropic = new Anthropic({ apiKey: secretOf('shapes'), baseURL: gw.base, maxRetries: 0 });
    const ok = await anthropic.messages.create({ model: 'claude-small', max_tokens: 20, messages });
    assert.equal(ok.type, 'message');
    const e = await refused(() => anthropic.messages.create({ model: 'claude-small', max_tokens: 20, messages }));
    assert.ok(e instanceof Anthropic.RateLimitError, e.constructor.name);
    assert.equal(e.error.error.type, 'rate_limit_error');
    assert.ok(Number(e.headers.get('retry-after')) >= 1);

    const dbx = await post('/serving-endpoints/chat-small/invocations', { messages }, secretOf('shapes'));
    assert.equal(dbx.status, 429);
    assert.equal(JSON.parse(dbx.text).error_code, 'REQUEST_LIMIT_EXCEEDED');
    assert.ok(dbx.headers.get('x-ratelimit-limit-requests'));
  });
});

describe('token limits settle with the provider\'s usage', { timeout: 60_000 }, () => {
  test('plain: the estimate (bytes/4 + max_tokens) is reserved, then replaced by the real usage', async () => {
    const body = { model: 'chat-small', messages, max_tokens: 1000, mock: { tokens: 30 } };
    const first = await post('/v1/chat/completions', body, secretOf('tpm'));
    assert.equal(first.status, 200);
    const estimate1 = Math.ceil(first.bytes / 4) + 1000;
    assert.equal(first.headers.get('x-ratelimit-limit-tokens'), '3000');
    assert.equal(Number(first.headers.get('x-ratelimit-remaining-tokens')), 3000 - estimate1);
    const usage = JSON.parse(first.text).usage;
    assert.equal(usage.completion_tokens, 30);

    const second = await post('/v1/chat/completions', body, secretOf('tpm'));
    const estimate2 = Math.ceil(second.bytes / 4) + 1000;
    assert.equal(Number(second.headers.get('x-ratelimit-remaining-tokens')), 3000 - usage.total_tokens - estimate2,
      'the first request now counts with its real usage, not its estimate');

    // A request that alone needs more than the limit can never pass: 429 that says so, no retry.
    const huge = await post('/v1/chat/completions', { model: 'chat-small', messages, max_tokens: 5000 }, secretOf('tpm'));
    assert.equal(huge.status, 429);
    assert.equal(JSON.parse(huge.text).error.type, 'tokens');
    assert.match(JSON.parse(huge.text).error.message, /needs about \d+ tokens/);
    assert.equal(huge.headers.get('x-should-retry'), 'false');
  });

  test('stream: usage is asked for upstream, not shown to a client that did not ask, and settles the window', async () => {
    const body = { model: 'chat-small', messages, max_tokens: 1000, stream: true, mock: { tokens: 40 } };
    const r = await fetch(`${gw.base}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${secretOf('tpmstream')}` }, body: JSON.stringify(body),
    });
    const events = await readSSE(r);
    assert.equal(events.at(-1).data, '[DONE]');
    const chunks = events.slice(0, -1).map((e) => e.data);
    assert.ok(chunks.length > 3);
    assert.ok(chunks.every((c) => c.choices.length > 0), 'no usage-only chunk reaches a client that did not ask');
    assert.ok(chunks.every((c) => !c.usage), 'no usage reaches it');
    const upstream = JSON.parse((await mock.lastRequest()).body);
    assert.deepEqual(upstream.stream_options, { include_usage: true }, 'the gateway asked the provider for usage');

    // The same prompt, not streamed, tells what the provider counted.
    const plain = await post('/v1/chat/completions', { model: 'chat-small', messages, max_tokens: 1000, mock: { tokens: 40 } }, secretOf('tpmstream'));
    const usage = JSON.parse(plain.text).usage;
    assert.equal(usage.completion_tokens, 40);
    const estimate = Math.ceil(plain.bytes / 4) + 1000;
    assert.equal(Number(plain.headers.get('x-ratelimit-remaining-tokens')), 3000 - usage.total_tokens - estimate,
      'the stream counted with its real usage');

    // A client that asks for usage still gets it (with the SDK).
    const stream = await openai('other').chat.completions.create({ model: 'chat-small', messages, stream: true, stream_options: { include_usage: true } });
    let last;
    for await (const chunk of stream) last = chunk;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 8);
  });
});

describe('budgets and usage records', { timeout: 60_000 }, () => {
  test('a spent daily budget is a 429 budget_exceeded the SDK does not retry, and it survives a restart', async () => {
    // Each request: 1 prompt token at $1000/M + 8 output tokens at $2000/M = $0.017.
    const c = openai('budget', { maxRetries: 2 });
    for (let i = 0; i < 3; i++) await c.chat.completions.create({ model: 'chat-small', messages });
    const before = await upstreamCount();
    const e = await refused(() => c.chat.completions.create({ model: 'chat-small', messages }));
    assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
    assert.equal(e.code, 'budget_exceeded');
    assert.equal(e.type, 'insufficient_quota');
    assert.match(e.message, /key 'budget' has spent its daily budget \(\$0\.05\d* of \$0\.05\); it resets in/);
    assert.equal(e.headers.get('x-should-retry'), 'false');
    assert.equal(await upstreamCount(), before, 'no upstream call, and no SDK retries either');
    await new Promise((r) => setTimeout(r, 50));
    assert.match(gw.log(), /budget: key 'budget' has spent \$0\.034 of its daily \$0\.05 budget/, 'warn_at 0.5 logged once');
    assert.equal((gw.log().match(/budget: key 'budget' has spent/g) ?? []).length, 1);

    // Another key of the same project still has money; the project budget is far away.
    assert.equal((await openai('budget2').chat.completions.create({ model: 'chat-small', messages })).object, 'chat.completion');

    // A restart reads what was spent from the usage records.
    await gw.stop();
    gw = await startGateway({ file: configPath });
    const again = await refused(() => openai('budget').chat.completions.create({ model: 'chat-small', messages }));
    assert.equal(again.code, 'budget_exceeded');
  });

  test('gatehouse usage totals requests, tokens and cost by key, project, model and user', async () => {
    // SIGTERM flushes the records; the CLI reads the same store.
    await gw.stop();
    const byKeyText = (await run(gatehouseBin, ['usage', '--config', configPath, '--by', 'key', '--since', '1h', '--format', 'json'])).stdout;
    const byKey = JSON.parse(byKeyText);
    // Costs are plain decimals (0.051, 0), never 5.1E-2 or 0E0.
    assert.doesNotMatch(byKeyText, /\d[eE][-+]?\d/, byKeyText);
    assert.match(byKeyText, /"cost_usd":0\.051[,}]/);
    const budget = byKey.find((r) => r.key === 'budget');
    assert.equal(budget.requests, 5, '3 answered + 1 refused before the restart, 1 refused after: none lost');
    assert.equal(budget.errors, 2);
    assert.equal(budget.input_tokens, 3);
    assert.equal(budget.output_tokens, 24);
    assert.ok(Math.abs(budget.cost_usd - 0.051) < 1e-9, `cost ${budget.cost_usd}`);
    assert.equal(byKey.find((r) => r.key === 'burst').requests, 100);
    assert.equal(byKey.find((r) => r.key === 'burst').errors, 80);

    const byProject = JSON.parse((await run(gatehouseBin, ['usage', '--config', configPath, '--by', 'project', '--format', 'json'])).stdout);
    const money = byProject.find((r) => r.project === 'money');
    assert.ok(Math.abs(money.cost_usd - 0.068) < 1e-9, `project cost ${money.cost_usd}`);
    assert.ok(byProject.every((r, i) => i === 0 || byProject[i - 1].cost_usd >= r.cost_usd), 'most expensive first');

    const byUser = JSON.parse((await run(gatehouseBin, ['usage', '--config', configPath, '--by', 'user', '--format', 'json'])).stdout);
    assert.equal(byUser.find((r) => r.user === 'alice').requests, 5);

    const table = (await run(gatehouseBin, ['usage', '--config', configPath, '--by', 'model'])).stdout;
    assert.match(table, /^MODEL\s+REQUESTS\s+ERRORS\s+INPUT_TOKENS\s+OUTPUT_TOKENS\s+COST_USD\n/);
    assert.match(table, /\nchat-capped\s+4\s+1\s/);
    const csv = (await run(gatehouseBin, ['usage', '--config', configPath, '--by', 'model', '--format', 'csv'])).stdout;
    assert.match(csv, /^model,requests,errors,input_tokens,output_tokens,cost_usd\n/);
    assert.match(csv, /\nclaude-small,2,1,/);

    const bad = await run(gatehouseBin, ['usage', '--config', configPath, '--since', 'soon']).catch((x) => x);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--since 'soon' is not a duration/);
    gw = await startGateway({ file: configPath });
  });
});
