// End-to-end: the databricks provider's credentials against the fake provider's Databricks
// paths — a personal access token from DATABRICKS_TOKEN, and OAuth M2M for a service principal
// (token from /oidc/v1/token: fetched once for many waiting requests, refreshed when it is about
// to expire, refreshed once when the provider refuses it, never leaked).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, sha256, waitFor, QUICK_KEY } from './harness.mjs';

const CLIENT_ID = 'sp-client-id';
const CLIENT_SECRET = 'sp-very-secret-value';
const PAT = 'dapi-test-personal-token';

function dbxConfig(mock, { auth, env = '' } = {}) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  dbx:
    kind: databricks
    host: "${mock.base}"
${auth ?? ''}
models:
  dbx-llama: {provider: dbx, upstream_model: "databricks-meta-llama-3-3-70b-instruct"}
  dbx-embed: {provider: dbx, upstream_model: "databricks-gte-large-en"}
keys:
  - {name: test, sha256: "${sha256(QUICK_KEY)}"}
${env}`;
}

const oauthAuth = `    auth: {client_id: "${CLIENT_ID}", client_secret: "\${SP_SECRET}"}`;

async function setOAuth(mock, settings) {
  const r = await fetch(`${mock.base}/__mock/oauth`, { method: 'POST', body: JSON.stringify(settings) });
  assert.equal(r.status, 200, await r.text());
}

const ask = (client, extra = {}) =>
  client.chat.completions.create({ model: 'dbx-llama', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('databricks provider with a personal access token', () => {
  let mock, gw, client;
  before(async () => {
    mock = await startMock(['--require-token', PAT]);
    // No auth block: DATABRICKS_TOKEN is the default, as in every Databricks tool.
    gw = await startGateway({ yaml: dbxConfig(mock), env: { DATABRICKS_TOKEN: PAT } });
    client = new OpenAI({ apiKey: QUICK_KEY, baseURL: gw.baseURL, maxRetries: 0 });
  });
  after(async () => { await gw?.stop(); await mock?.stop(); });

  test('chat goes to /serving-endpoints/{endpoint}/invocations with the PAT and no model in the body', async () => {
    const r = await ask(client, { usage_context: { project: 'p1', end_user: 'alice' } });
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.ok(r.choices[0].message.content.length > 0);
    const sent = await mock.lastRequest();
    assert.equal(sent.path, '/serving-endpoints/databricks-meta-llama-3-3-70b-instruct/invocations');
    assert.equal(sent.headers.authorization, `Bearer ${PAT}`);
    const body = JSON.parse(sent.body);
    assert.equal(body.model, undefined, 'the endpoint names the model; the body carries none');
    assert.deepEqual(body.usage_context, { project: 'p1', end_user: 'alice' }, 'usage_context passes through');
    assert.equal(JSON.stringify(sent).includes(QUICK_KEY), false, 'the gateway key never goes upstream');
  });

  test('embeddings reach the embedding endpoint', async () => {
    const r = await client.embeddings.create({ model: 'dbx-embed', input: ['a', 'b'], encoding_format: 'float' });
    assert.equal(r.data.length, 2);
    assert.equal((await mock.lastRequest()).path, '/serving-endpoints/databricks-gte-large-en/invocations');
  });

  test('a Databricks error keeps its status and code, in the OpenAI shape', async () => {
    const err = await ask(client, { mock: { status: 429, retry_after: 3 } }).then(
      () => assert.fail('expected a 429'), (e) => e);
    assert.ok(err instanceof OpenAI.RateLimitError, err.constructor.name);
    assert.equal(err.status, 429);
    assert.equal(err.code, 'REQUEST_LIMIT_EXCEEDED');
    assert.equal(err.headers.get('retry-after'), '3');
  });

  test('a missing credential is a configuration error naming the variables', async () => {
    const { spawnSync } = await import('node:child_process');
    const { gatehouseBin, writeConfig } = await import('./harness.mjs');
    const file = writeConfig(dbxConfig(mock));
    const env = { ...process.env };
    for (const k of ['DATABRICKS_TOKEN', 'DATABRICKS_CLIENT_ID', 'DATABRICKS_CLIENT_SECRET']) delete env[k];
    const r = spawnSync(gatehouseBin, ['check-config', file], { env, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /providers\.dbx\.auth is required.*DATABRICKS_TOKEN/);
  });
});

describe('databricks provider with OAuth M2M', () => {
  let mock, gw, client;
  before(async () => {
    mock = await startMock(['--oauth-client-id', CLIENT_ID, '--oauth-client-secret', CLIENT_SECRET]);
    gw = await startGateway({ yaml: dbxConfig(mock, { auth: oauthAuth }), env: { SP_SECRET: CLIENT_SECRET } });
    client = new OpenAI({ apiKey: QUICK_KEY, baseURL: gw.baseURL, maxRetries: 0 });
  });
  after(async () => { await gw?.stop(); await mock?.stop(); });

  test('48 concurrent first requests wait for one token fetch', async () => {
    await mock.reset();
    await setOAuth(mock, { latency_ms: 400 });
    const answers = await Promise.all(Array.from({ length: 48 }, () => ask(client)));
    assert.equal(answers.length, 48);
    for (const a of answers) assert.equal(a.object, 'chat.completion');
    let stats = await mock.stats();
    assert.equal(stats.oauth_token_requests, 1, 'one fetch for all waiters');
    // The token is cached: more requests fetch nothing.
    await Promise.all(Array.from({ length: 10 }, () => ask(client)));
    stats = await mock.stats();
    assert.equal(stats.oauth_token_requests, 1);
    await setOAuth(mock, { latency_ms: 0 });

    const reqs = await mock.requests(100);
    const tokenReq = reqs.find((r) => r.path === '/oidc/v1/token');
    assert.ok(tokenReq, 'the token request is recorded');
    assert.equal(tokenReq.headers.authorization,
      'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64'));
    assert.match(tokenReq.headers['content-type'], /^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(tokenReq.body);
    assert.equal(form.get('grant_type'), 'client_credentials');
    assert.equal(form.get('scope'), 'all-apis');
    const api = reqs.filter((r) => r.path.endsWith('/invocations'));
    assert.ok(api.length > 0);
    assert.ok(api.every((r) => /^Bearer eyJ/.test(r.headers.authorization)), 'the OAuth token is the bearer');
  });

  test('a token the provider refuses is refreshed once and the requests succeed', async () => {
    await ask(client);  // a cached token exists
    const before = (await mock.stats()).oauth_token_requests;
    await setOAuth(mock, { revoke_all: true, latency_ms: 200 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => ask(client)));
    for (const a of answers) assert.equal(a.object, 'chat.completion');
    const after = (await mock.stats()).oauth_token_requests;
    assert.equal(after - before, 1, 'twenty 401s, one refresh');
    await setOAuth(mock, { latency_ms: 0 });
  });

  test('a token about to expire is replaced before the provider would refuse it', async () => {
    // Short-lived tokens: a 6 s token counts as expired after 3 s (half its life, at most 40 s early).
    await setOAuth(mock, { ttl_s: 6, revoke_all: true });
    await ask(client);  // 401 -> refresh -> a 6 s token
    const first = (await mock.lastRequest()).headers.authorization;
    const count1 = (await mock.stats()).oauth_token_requests;
    await ask(client);
    assert.equal((await mock.stats()).oauth_token_requests, count1, 'still fresh: reused');
    await new Promise((r) => setTimeout(r, 3300));
    await ask(client);
    const count2 = (await mock.stats()).oauth_token_requests;
    assert.equal(count2, count1 + 1, 'expired (for the gateway) before the provider expires it: fetched anew');
    const second = (await mock.lastRequest()).headers.authorization;
    assert.notEqual(second, first);
    // No 401 was needed: the mock still accepted the old token, the gateway refreshed first.
    const reqs = await mock.requests(10);
    const last = reqs.filter((r) => r.path.endsWith('/invocations')).at(-1);
    assert.equal(last.headers.authorization, second);
    await setOAuth(mock, { ttl_s: 3600 });
  });

  test('a configuration reload keeps the cached token', async () => {
    await ask(client);
    const count = (await mock.stats()).oauth_token_requests;
    const reloads = () => (gw.log().match(/configuration reloaded/g) ?? []).length;
    const before = reloads();
    gw.child.kill('SIGHUP');
    await waitFor(() => reloads() === before + 1, { what: 'the reload' });
    await Promise.all(Array.from({ length: 5 }, () => ask(client)));
    assert.equal((await mock.stats()).oauth_token_requests, count, 'no fetch after the reload');
  });

  test('the client secret and the token never reach the client or the log', async () => {
    await ask(client);
    const log = gw.log();
    assert.equal(log.includes(CLIENT_SECRET), false);
    assert.equal(log.includes('eyJ'), false, 'no token in the log');
  });
});

describe('databricks provider with wrong OAuth credentials', () => {
  let mock, gw, client;
  before(async () => {
    mock = await startMock(['--oauth-client-id', CLIENT_ID, '--oauth-client-secret', CLIENT_SECRET]);
    gw = await startGateway({ yaml: dbxConfig(mock, { auth: oauthAuth }), env: { SP_SECRET: 'wrong-secret-value' } });
    client = new OpenAI({ apiKey: QUICK_KEY, baseURL: gw.baseURL, maxRetries: 0 });
  });
  after(async () => { await gw?.stop(); await mock?.stop(); });

  test('the client gets 502 upstream_auth_failed naming the token URL, never the secret', async () => {
    const err = await ask(client).then(() => assert.fail('expected a 502'), (e) => e);
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_auth_failed');
    assert.match(err.message, /\/oidc\/v1\/token: HTTP 401 invalid_client/);
    assert.equal(err.message.includes('wrong-secret-value'), false);
    assert.ok(err.headers.get('x-request-id'));
    // Within the next second the failure is answered without hammering the token endpoint.
    const failedAt = Date.now();
    const count = (await mock.stats()).oauth_token_requests;
    await ask(client).catch(() => {});
    // (Only within that second: a machine slow enough to take longer may rightly try again.)
    if (Date.now() - failedAt < 800) assert.equal((await mock.stats()).oauth_token_requests, count);
    assert.equal(gw.log().includes('wrong-secret-value'), false);
  });
});
