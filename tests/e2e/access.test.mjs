// End-to-end: identity and access — roles and groups, data classes, JWT bearer tokens (JWKS from a
// file and from a URL that rotates keys), on-behalf-of pass-through, the kill switch and the admin
// API, stored keys (admin API and `gatehouse keys` CLI against a running gateway), and that no
// secret ever shows up in a log, an error body or the key store's file.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, sign as cryptoSign, createHmac } from 'node:crypto';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startGateway, sha256, waitFor, gatehouseBin, PROVIDER_TOKEN } from './harness.mjs';

const run = promisify(execFile);

const ISSUER = 'https://idp.test/';
const AUDIENCE = 'gatehouse';
const ANALYST_KEY = 'gh-analyst1-secret-Q7xw2mZk';
const OPS_KEY = 'gh-ops1-secret-Vb9tL4pR';
const NOROLE_KEY = 'gh-norole-secret-Hc3nY8dS';
const messages = [{ role: 'user', content: 'hi' }];

// Every secret the run handles: none may show up in a log, an error body or the store's file.
const secrets = { provider: [PROVIDER_TOKEN], keys: [ANALYST_KEY, OPS_KEY, NOROLE_KEY], created: [], jwts: [] };
// Every error body a client saw.
const errorBodies = [];

// --- JWT minting (node:crypto) ---------------------------------------------------------------

const rsa1 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = (pair, kid, alg) => ({ ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' });

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

// A compact JWS. `claims` override the defaults (a valid token for `alice` in data-science);
// a claim set to undefined is left out.
function mint({ alg = 'RS256', key = rsa1.privateKey, kid = 'rsa-1', header = {}, ...claims } = {}) {
  const body = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', groups: ['data-science'], iat: nowS(), exp: nowS() + 300, ...claims };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  const h = { alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header };
  const input = `${b64u(h)}.${b64u(body)}`;
  let sig;
  if (alg === 'RS256') sig = cryptoSign('sha256', Buffer.from(input), key);
  else if (alg === 'ES256') sig = cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'HS256') sig = createHmac('sha256', key).update(input).digest();
  else sig = Buffer.alloc(0);
  const token = `${input}.${sig.toString('base64url')}`;
  secrets.jwts.push(token);
  return token;
}

// --- HTTP helpers ------------------------------------------------------------------------------

// One request on a connection of its own (so successive calls spread over the gateway's workers).
// Error bodies are collected for the final leak check.
function call(base, method, path, { auth, headers = {}, body } = {}) {
  const u = new URL(path, base);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method, agent: false,
      headers: {
        connection: 'close',
        ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        ...headers,
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        if (res.statusCode >= 400) errorBodies.push(text);
        let json;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const chat = (base, auth, extra = {}, headers = {}) =>
  call(base, 'POST', '/v1/chat/completions', { auth, headers, body: { model: 'chat-small', messages, ...extra } });

// Runs `fn` and returns the error it rejects with (failing if it does not reject).
async function caught(fn) {
  try {
    await fn();
  } catch (e) {
    errorBodies.push(`${JSON.stringify(e.error ?? null)} ${e.message}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

// --- the gateways -------------------------------------------------------------------------------

function accessConfig(mock, { jwt, store = '' }) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  local:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
  obo:
    kind: databricks
    host: "${mock.base}"
    auth: {passthrough: true}
models:
  chat-small: {provider: local, upstream_model: "gpt-x", max_data_class: internal}
  chat-big: {provider: local}
  chat-obo: {provider: obo, upstream_model: "obo-endpoint"}
  secret-model: {provider: local}
keys:
  - {name: analyst1, sha256: "${sha256(ANALYST_KEY)}", role: analyst, project: p1}
  - {name: ops1, sha256: "${sha256(OPS_KEY)}", role: ops}
  - {name: norole, sha256: "${sha256(NOROLE_KEY)}"}
${store}
auth:
  jwt: {issuer: "${ISSUER}", audience: "${AUDIENCE}", ${jwt}}
roles:
  analyst: {models: ["chat-*"], max_tokens_per_request: 100, data_classes: [public, internal]}
  ops:     {models: ["*"], admin: true}
groups: {data-science: analyst, platform: ops}
`;
}

let mock, gw, gwUrl, jwksServer, dir, dbPath;
let jwksDoc = { keys: [jwk(rsa1, 'rsa-1', 'RS256')] };
let jwksFetches = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-access-'));
  dbPath = join(dir, 'gatehouse.db');
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk(rsa1, 'rsa-1', 'RS256'), jwk(ec1, 'ec-1', 'ES256')] }));

  jwksServer = http.createServer((req, res) => {
    if (req.url !== '/jwks.json') { res.writeHead(404).end(); return; }
    jwksFetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwksDoc));
  });
  await new Promise((r) => jwksServer.listen(0, '127.0.0.1', r));

  mock = await startMock();
  gw = await startGateway({
    yaml: accessConfig(mock, { jwt: `jwks_file: "${jwksFile}"`, store: `store: {sqlite: "${dbPath}"}` }),
  });
  gwUrl = await startGateway({
    yaml: accessConfig(mock, { jwt: `jwks_url: "http://127.0.0.1:${jwksServer.address().port}/jwks.json"` }),
  });
});

after(async () => {
  await gw?.stop();
  await gwUrl?.stop();
  await mock?.stop();
  await new Promise((r) => (jwksServer ? jwksServer.close(r) : r()));
});

const openai = (apiKey, g = gw) => new OpenAI({ apiKey, baseURL: g.baseURL, maxRetries: 0 });

// --- roles ----------------------------------------------------------------------------------------

describe('roles', () => {
  test('a role may use the models its globs match', async () => {
    const r = await openai(ANALYST_KEY).chat.completions.create({ model: 'chat-small', messages });
    assert.equal(r.choices[0].message.role, 'assistant');
    const big = await openai(ANALYST_KEY).chat.completions.create({ model: 'chat-big', messages });
    assert.equal(big.object, 'chat.completion');
  });

  test('a model no glob of the role matches is a 403 naming the model and the role', async () => {
    const before = (await mock.stats()).requests;
    const err = await caught(() => openai(ANALYST_KEY).chat.completions.create({ model: 'secret-model', messages }));
    assert.ok(err instanceof OpenAI.PermissionDeniedError, err.constructor.name);
    assert.equal(err.status, 403);
    assert.equal(err.code, 'permission_denied');
    assert.match(err.message, /secret-model/);
    assert.match(err.message, /analyst/);
    assert.equal((await mock.stats()).requests, before, 'nothing went upstream');
  });

  test('a key without a role may use nothing: 403 saying it has no role', async () => {
    const err = await caught(() => openai(NOROLE_KEY).chat.completions.create({ model: 'chat-small', messages }));
    assert.ok(err instanceof OpenAI.PermissionDeniedError, err.constructor.name);
    assert.equal(err.code, 'permission_denied');
    assert.match(err.message, /no role/);
    assert.match(err.message, /chat-small/);
  });

  test('ops ("*") may use every model', async () => {
    const r = await openai(OPS_KEY).chat.completions.create({ model: 'secret-model', messages });
    assert.equal(r.object, 'chat.completion');
    assert.equal(JSON.parse((await mock.lastRequest()).body).model, 'secret-model');
  });

  test('GET /v1/models lists only the allowed models; a disallowed one is 404', async () => {
    const ids = async (key) => (await openai(key).models.list()).data.map((m) => m.id).sort();
    assert.deepEqual(await ids(ANALYST_KEY), ['chat-big', 'chat-obo', 'chat-small']);
    assert.deepEqual(await ids(OPS_KEY), ['chat-big', 'chat-obo', 'chat-small', 'secret-model']);
    assert.deepEqual(await ids(NOROLE_KEY), []);

    assert.equal((await openai(ANALYST_KEY).models.retrieve('chat-small')).id, 'chat-small');
    const err = await caught(() => openai(ANALYST_KEY).models.retrieve('secret-model'));
    assert.ok(err instanceof OpenAI.NotFoundError, err.constructor.name);
    assert.equal(err.status, 404);
    assert.equal((await openai(OPS_KEY).models.retrieve('secret-model')).id, 'secret-model');
  });

  test('max_tokens above the role limit is a 400 naming the limit; equal is fine', async () => {
    const c = openai(ANALYST_KEY);
    const ok = await c.chat.completions.create({ model: 'chat-small', messages, max_tokens: 100 });
    assert.equal(ok.object, 'chat.completion');
    const ok2 = await c.chat.completions.create({ model: 'chat-small', messages, max_completion_tokens: 100 });
    assert.equal(ok2.object, 'chat.completion');

    const before = (await mock.stats()).requests;
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      const err = await caught(() => c.chat.completions.create({ model: 'chat-small', messages, [field]: 101 }));
      assert.ok(err instanceof OpenAI.BadRequestError, `${field}: ${err.constructor.name}`);
      assert.equal(err.param, 'max_tokens');
      assert.match(err.message, /\b100\b/, `${field}: the message names the limit`);
    }
    assert.equal((await mock.stats()).requests, before, 'nothing went upstream');
    // ops has no limit.
    const big = await openai(OPS_KEY).chat.completions.create({ model: 'chat-small', messages, max_tokens: 5000 });
    assert.equal(big.object, 'chat.completion');
  });

  test('an unknown gateway key is a 401', async () => {
    const err = await caught(() => openai('gh-not-a-key').chat.completions.create({ model: 'chat-small', messages }));
    assert.ok(err instanceof OpenAI.AuthenticationError, err.constructor.name);
  });
});

// --- data classes ---------------------------------------------------------------------------------

describe('data classes', () => {
  test('an allowed data_class body field is removed before forwarding; the rest is intact', async () => {
    // In the middle of the body, and as its last member.
    const bodies = [
      { model: 'chat-small', data_class: 'internal', messages, temperature: 0.5, metadata: { a: 'b' } },
      { model: 'chat-small', messages, seed: 7, data_class: 'public' },
      { data_class: 'public', model: 'chat-small', messages },
    ];
    for (const body of bodies) {
      const r = await call(gw.base, 'POST', '/v1/chat/completions', { auth: ANALYST_KEY, body });
      assert.equal(r.status, 200, r.text);
      const up = await mock.lastRequest();
      assert.ok(!up.body.includes('data_class'), `data_class reached the provider: ${up.body}`);
      const { data_class: _, ...rest } = body;
      assert.deepEqual(JSON.parse(up.body), { ...rest, model: 'gpt-x' });
    }
  });

  test('the x-gatehouse-data-class header works too', async () => {
    const ok = await chat(gw.base, ANALYST_KEY, {}, { 'x-gatehouse-data-class': 'internal' });
    assert.equal(ok.status, 200, ok.text);
    const denied = await call(gw.base, 'POST', '/v1/chat/completions', {
      auth: ANALYST_KEY, headers: { 'x-gatehouse-data-class': 'confidential' }, body: { model: 'chat-big', messages },
    });
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.json.error.code, 'permission_denied');
    assert.match(denied.json.error.message, /confidential/);
  });

  test('a class the role lacks is a 403', async () => {
    const before = (await mock.stats()).requests;
    const err = await caught(() => openai(ANALYST_KEY).chat.completions.create({ model: 'chat-big', messages, data_class: 'restricted' }));
    assert.ok(err instanceof OpenAI.PermissionDeniedError, err.constructor.name);
    assert.equal(err.code, 'permission_denied');
    assert.match(err.message, /analyst/);
    assert.match(err.message, /restricted/);
    assert.equal((await mock.stats()).requests, before, 'nothing went upstream');
  });

  test("a class above the model's max_data_class is a 403, even for ops", async () => {
    const err = await caught(() => openai(OPS_KEY).chat.completions.create({ model: 'chat-small', messages, data_class: 'confidential' }));
    assert.ok(err instanceof OpenAI.PermissionDeniedError, err.constructor.name);
    assert.match(err.message, /chat-small/);
    assert.match(err.message, /internal/);
    const hdr = await chat(gw.base, OPS_KEY, {}, { 'x-gatehouse-data-class': 'restricted' });
    assert.equal(hdr.status, 403, hdr.text);
    // ops (no data_classes list) may send confidential data to a model without a ceiling.
    const ok = await openai(OPS_KEY).chat.completions.create({ model: 'chat-big', messages, data_class: 'confidential' });
    assert.equal(ok.object, 'chat.completion');
    assert.ok(!(await mock.lastRequest()).body.includes('data_class'));
  });

  test('an invalid class is a 400 naming the valid ones', async () => {
    for (const [extra, headers] of [[{ data_class: 'top-secret' }, {}], [{}, { 'x-gatehouse-data-class': 'top-secret' }]]) {
      const r = await chat(gw.base, ANALYST_KEY, extra, headers);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.param, 'data_class');
      for (const c of ['public', 'internal', 'confidential', 'restricted']) assert.match(r.json.error.message, new RegExp(c));
    }
  });
});

// --- JWT ------------------------------------------------------------------------------------------

describe('JWT bearer tokens (JWKS file)', () => {
  test('RS256 and ES256 tokens are accepted; groups map to roles', async () => {
    for (const token of [mint(), mint({ alg: 'ES256', key: ec1.privateKey, kid: 'ec-1' })]) {
      const r = await openai(token).chat.completions.create({ model: 'chat-small', messages });
      assert.equal(r.object, 'chat.completion');
      // data-science -> analyst: analyst's limits apply.
      const err = await caught(() => openai(token).chat.completions.create({ model: 'secret-model', messages }));
      assert.ok(err instanceof OpenAI.PermissionDeniedError, err.constructor.name);
      assert.match(err.message, /analyst/);
      const tooMany = await caught(() => openai(token).chat.completions.create({ model: 'chat-small', messages, max_tokens: 101 }));
      assert.ok(tooMany instanceof OpenAI.BadRequestError, tooMany.constructor.name);
    }
    const ids = (await openai(mint()).models.list()).data.map((m) => m.id).sort();
    assert.deepEqual(ids, ['chat-big', 'chat-obo', 'chat-small']);
    // platform -> ops.
    const ops = mint({ sub: 'olivia', groups: ['platform'] });
    assert.equal((await openai(ops).chat.completions.create({ model: 'secret-model', messages })).object, 'chat.completion');
    // A single string groups claim.
    const single = mint({ groups: 'data-science' });
    assert.equal((await openai(single).chat.completions.create({ model: 'chat-small', messages })).object, 'chat.completion');
    // The provider gets the provider token, not the JWT.
    const up = await mock.lastRequest();
    assert.equal(up.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);
  });

  test('a JWT user with no mapped group gets 403 on any model', async () => {
    const token = mint({ sub: 'bob', groups: ['marketing'] });
    for (const model of ['chat-small', 'secret-model']) {
      const err = await caught(() => openai(token).chat.completions.create({ model, messages }));
      assert.ok(err instanceof OpenAI.PermissionDeniedError, `${model}: ${err.constructor.name}`);
      assert.equal(err.code, 'permission_denied');
      assert.match(err.message, /no role/);
    }
    const none = mint({ sub: 'carol', groups: undefined });
    const err = await caught(() => openai(none).chat.completions.create({ model: 'chat-small', messages }));
    assert.ok(err instanceof OpenAI.PermissionDeniedError, err.constructor.name);
  });

  const rejected = [
    ['expired', () => mint({ exp: nowS() - 3600, iat: nowS() - 7200 }), /expired/],
    ['wrong audience', () => mint({ aud: 'someone-else' }), /aud/],
    ['wrong issuer', () => mint({ iss: 'https://evil.test/' }), /issuer/],
    ['alg none', () => mint({ alg: 'none', kid: undefined }), /none|algorithm/],
    ['HS256 keyed with the RSA public key PEM', () => mint({ alg: 'HS256', key: rsa1.publicKey.export({ type: 'spki', format: 'pem' }) }), /HS256|algorithm/],
    ['unknown kid', () => mint({ key: rsa2.privateKey, kid: 'rsa-9' }), /rsa-9|key id/],
    ['tampered payload (bad signature)', () => {
      const [h, , s] = mint().split('.');
      return `${h}.${b64u({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', groups: ['platform'], exp: nowS() + 300 })}.${s}`;
    }, /signature/],
    ['signed by another RSA key under a known kid', () => mint({ key: rsa2.privateKey, kid: 'rsa-1' }), /signature/],
    ['no exp', () => mint({ exp: undefined }), /exp/],
  ];
  for (const [what, make, message] of rejected) {
    test(`rejected with 401: ${what}`, async () => {
      const before = (await mock.stats()).requests;
      const token = make();
      secrets.jwts.push(token);
      const err = await caught(() => openai(token).chat.completions.create({ model: 'chat-small', messages }));
      assert.ok(err instanceof OpenAI.AuthenticationError, `${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'invalid_token');
      assert.match(err.message, message);
      assert.ok(!err.message.includes(token.split('.')[2] || token), 'the error echoes the token');
      assert.equal((await mock.stats()).requests, before, 'nothing went upstream');
    });
  }

  test('the Anthropic SDK with authToken: <jwt> works (translated to the OpenAI provider)', async () => {
    const client = new Anthropic({ baseURL: gw.base, authToken: mint(), maxRetries: 0 });
    const msg = await client.messages.create({ model: 'chat-small', max_tokens: 50, messages, data_class: 'internal' });
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.ok(msg.content[0].text.length > 0);
    const up = await mock.lastRequest();
    assert.match(up.path, /\/chat\/completions$/);
    assert.equal(up.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);
    assert.ok(!up.body.includes('data_class'));

    const err = await caught(() => client.messages.create({ model: 'secret-model', max_tokens: 50, messages }));
    assert.ok(err instanceof Anthropic.PermissionDeniedError, err.constructor.name);
    const expired = new Anthropic({ baseURL: gw.base, authToken: mint({ exp: nowS() - 3600 }), maxRetries: 0 });
    const e401 = await caught(() => expired.messages.create({ model: 'chat-small', max_tokens: 50, messages }));
    assert.ok(e401 instanceof Anthropic.AuthenticationError, e401.constructor.name);
  });
});

describe('JWT bearer tokens (JWKS URL)', () => {
  test('keys come from the URL; a key rotated in is picked up on its first unknown kid', async () => {
    // Wait for the first fetch to be loaded (a token before it gets 503 and would use up the
    // early-fetch allowance this test needs).
    await waitFor(() => /signing key\(s\) from http:/.test(gwUrl.log()), { timeoutMs: 5000, what: 'the first JWKS fetch' });
    await new Promise((r) => setTimeout(r, 100));
    const first = await chat(gwUrl.base, mint());
    assert.equal(first.status, 200, first.text);
    assert.equal(jwksFetches, 1);

    jwksDoc = { keys: [jwk(rsa1, 'rsa-1', 'RS256'), jwk(rsa2, 'rsa-2', 'RS256')] };
    const rotated = mint({ key: rsa2.privateKey, kid: 'rsa-2' });
    const attempts = [];
    const ok = await waitFor(async () => {
      const r = await chat(gwUrl.base, rotated);
      attempts.push(r.status);
      return r.status === 200 ? r : null;
    }, { timeoutMs: 2000, intervalMs: 50, what: 'the rotated key to be accepted' });
    assert.equal(ok.status, 200);
    assert.ok(attempts.slice(0, -1).every((s) => s === 401), `attempts: ${attempts}`);
    assert.equal(jwksFetches, 2, 'one early fetch, however many retries');
    // The old key still works.
    assert.equal((await chat(gwUrl.base, mint())).status, 200);
  });
});

// --- on-behalf-of ---------------------------------------------------------------------------------

describe('OBO pass-through', () => {
  test("the caller's JWT is forwarded as the bearer token to the serving endpoint", async () => {
    const token = mint();
    const r = await openai(token).chat.completions.create({ model: 'chat-obo', messages });
    assert.equal(r.object, 'chat.completion');
    const up = await mock.lastRequest();
    assert.equal(up.path, '/serving-endpoints/obo-endpoint/invocations');
    assert.equal(up.headers.authorization, `Bearer ${token}`);
    assert.ok(!JSON.stringify(up).includes(PROVIDER_TOKEN));

    // data_class and model both come out of the forwarded body; the rest is intact.
    const raw = await call(gw.base, 'POST', '/v1/chat/completions', {
      auth: token, body: { model: 'chat-obo', data_class: 'internal', messages, temperature: 0.2 },
    });
    assert.equal(raw.status, 200, raw.text);
    assert.deepEqual(JSON.parse((await mock.lastRequest()).body), { messages, temperature: 0.2 });
  });

  test('with a gateway key it is a 403 saying to use the identity provider token', async () => {
    const before = (await mock.stats()).requests;
    for (const key of [ANALYST_KEY, OPS_KEY]) {
      const err = await caught(() => openai(key).chat.completions.create({ model: 'chat-obo', messages }));
      assert.ok(err instanceof OpenAI.PermissionDeniedError, err.constructor.name);
      assert.match(err.message, /identity provider/);
    }
    assert.equal((await mock.stats()).requests, before, 'nothing went upstream');
  });
});

// --- kill switch and admin API --------------------------------------------------------------------

describe('kill switch', () => {
  const kill = (body, auth = OPS_KEY) => call(gw.base, 'POST', '/admin/v1/kill', { auth, body });
  const lift = (id, auth = OPS_KEY) => call(gw.base, 'DELETE', `/admin/v1/kill/${id}`, { auth });
  const statuses = async (n, fn) => Promise.all(Array.from({ length: n }, fn)).then((rs) => rs.map((r) => r.status));

  test('a model kill: 503 with the reason on every worker, listed, then lifted', async () => {
    const k = await kill({ model: 'chat-small', reason: 'incident 42' });
    assert.equal(k.status, 201, k.text);
    assert.equal(typeof k.json.id, 'string');
    assert.ok(k.json.id.length > 0);
    assert.equal(k.json.scope, 'model');
    assert.equal(k.json.value, 'chat-small');
    assert.equal(k.json.reason, 'incident 42');

    // Each on its own connection: the kernel spreads them over both workers.
    const answers = [];
    for (let i = 0; i < 10; ++i) answers.push(await chat(gw.base, i % 2 ? ANALYST_KEY : OPS_KEY));
    for (const r of answers) {
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error.code, 'kill_switch');
      assert.match(r.json.error.message, /incident 42/);
    }
    // The SDK sees it as a 503 too; other models still work.
    const err = await caught(() => openai(ANALYST_KEY).chat.completions.create({ model: 'chat-small', messages }));
    assert.equal(err.status, 503);
    assert.equal((await chat(gw.base, ANALYST_KEY, { model: 'chat-big' })).status, 200);

    const list = await call(gw.base, 'GET', '/admin/v1/kill', { auth: OPS_KEY });
    assert.equal(list.status, 200, list.text);
    assert.ok(list.json.data.some((x) => x.id === k.json.id && x.value === 'chat-small' && x.reason === 'incident 42'));

    const lifted = await lift(k.json.id);
    assert.equal(lifted.status, 200, lifted.text);
    assert.deepEqual(await statuses(10, (_, i) => chat(gw.base, i % 2 ? ANALYST_KEY : OPS_KEY)), Array(10).fill(200));
    const after = await call(gw.base, 'GET', '/admin/v1/kill', { auth: OPS_KEY });
    assert.ok(!after.json.data.some((x) => x.id === k.json.id));
    assert.equal((await lift(k.json.id)).status, 404, 'a lifted kill is gone');
  });

  test('provider, project and key scopes', async () => {
    // provider: every model it serves.
    let k = await kill({ provider: 'local', reason: 'provider down' });
    assert.equal(k.status, 201, k.text);
    for (const model of ['chat-small', 'chat-big', 'secret-model']) {
      const r = await chat(gw.base, OPS_KEY, { model });
      assert.equal(r.status, 503, `${model}: ${r.text}`);
      assert.match(r.json.error.message, /provider down/);
    }
    assert.equal((await lift(k.json.id)).status, 200);
    assert.equal((await chat(gw.base, OPS_KEY)).status, 200);

    // project: analyst1's project p1; ops1 has none.
    k = await kill({ project: 'p1', reason: 'budget' });
    assert.equal(k.status, 201, k.text);
    const p = await chat(gw.base, ANALYST_KEY);
    assert.equal(p.status, 503, p.text);
    assert.equal(p.json.error.code, 'kill_switch');
    assert.match(p.json.error.message, /budget/);
    assert.equal((await chat(gw.base, OPS_KEY)).status, 200);
    assert.equal((await lift(k.json.id)).status, 200);
    assert.equal((await chat(gw.base, ANALYST_KEY)).status, 200);

    // key: by name.
    k = await kill({ key: 'analyst1', reason: 'leaked' });
    assert.equal(k.status, 201, k.text);
    const kk = await chat(gw.base, ANALYST_KEY);
    assert.equal(kk.status, 503, kk.text);
    assert.match(kk.json.error.message, /leaked/);
    assert.equal((await chat(gw.base, OPS_KEY)).status, 200);
    assert.equal((await lift(k.json.id)).status, 200);
    assert.equal((await chat(gw.base, ANALYST_KEY)).status, 200);
  });

  test('the admin API needs a role with admin: true', async () => {
    for (const auth of [ANALYST_KEY, NOROLE_KEY, mint()]) {
      for (const [method, path, body] of [
        ['POST', '/admin/v1/kill', { model: 'chat-big', reason: 'nope' }],
        ['GET', '/admin/v1/kill'],
        ['DELETE', '/admin/v1/kill/1'],
        ['POST', '/admin/v1/keys', { name: 'sneaky', role: 'ops' }],
        ['GET', '/admin/v1/keys'],
        ['DELETE', '/admin/v1/keys/ops1'],
      ]) {
        const r = await call(gw.base, method, path, { auth, body });
        assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
        assert.equal(r.json.error.code, 'permission_denied');
      }
    }
    assert.equal((await chat(gw.base, OPS_KEY, { model: 'chat-big' })).status, 200, 'nothing was switched off');
    // No credential at all: 401.
    assert.equal((await call(gw.base, 'GET', '/admin/v1/kill')).status, 401);
    // A JWT in an admin group may.
    const admin = mint({ sub: 'olivia', groups: ['platform'] });
    assert.equal((await call(gw.base, 'GET', '/admin/v1/kill', { auth: admin })).status, 200);
  });
});

// --- stored keys ----------------------------------------------------------------------------------

describe('stored keys', () => {
  test('admin API: create (usable within 2 s), list without secrets, revoke (401 within 2 s)', async () => {
    const created = await call(gw.base, 'POST', '/admin/v1/keys', {
      auth: OPS_KEY,
      body: { name: 'api-bot', role: 'analyst', project: 'p7', expires_in: '30d', tags: { team: 'data', env: 'e2e' } },
    });
    assert.equal(created.status, 201, created.text);
    const secret = created.json.key;
    secrets.created.push(secret);
    assert.match(secret, /^gh_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.json.name, 'api-bot');
    assert.equal(created.json.role, 'analyst');
    assert.equal(created.json.project, 'p7');
    assert.deepEqual(created.json.tags, { team: 'data', env: 'e2e' });
    assert.equal(created.json.status, 'active');
    const ttl = Date.parse(created.json.expires_at) - Date.now();
    assert.ok(Math.abs(ttl - 30 * 86400_000) < 120_000, `expires_at ${created.json.expires_at}`);

    await waitFor(async () => (await chat(gw.base, secret)).status === 200, { timeoutMs: 2000, what: 'the new key to work' });
    // Its role applies.
    const denied = await chat(gw.base, secret, { model: 'secret-model' });
    assert.equal(denied.status, 403, denied.text);
    assert.match(denied.json.error.message, /analyst/);
    // Its project is its own: a kill on p7 hits it, not analyst1.
    const k = await call(gw.base, 'POST', '/admin/v1/kill', { auth: OPS_KEY, body: { project: 'p7', reason: 'p7 off' } });
    assert.equal((await chat(gw.base, secret)).status, 503);
    assert.equal((await chat(gw.base, ANALYST_KEY)).status, 200);
    assert.equal((await call(gw.base, 'DELETE', `/admin/v1/kill/${k.json.id}`, { auth: OPS_KEY })).status, 200);

    const list = await call(gw.base, 'GET', '/admin/v1/keys', { auth: OPS_KEY });
    assert.equal(list.status, 200, list.text);
    assert.ok(!list.text.includes(secret), 'the list shows the secret');
    assert.ok(!list.text.includes(sha256(secret)), 'the list shows the digest');
    const entry = list.json.data.find((x) => x.name === 'api-bot');
    assert.ok(entry, list.text);
    for (const field of ['key', 'secret', 'digest', 'sha256', 'hash']) assert.equal(entry[field], undefined, field);
    assert.equal(entry.status, 'active');
    assert.equal(entry.role, 'analyst');
    assert.ok(entry.prefix.startsWith(secret.slice(0, 11)), entry.prefix);

    // A duplicate name, or a name a config key has, is refused.
    const dup = await call(gw.base, 'POST', '/admin/v1/keys', { auth: OPS_KEY, body: { name: 'api-bot', role: 'analyst' } });
    assert.equal(dup.status, 400, dup.text);
    const cfg = await call(gw.base, 'POST', '/admin/v1/keys', { auth: OPS_KEY, body: { name: 'ops1', role: 'ops' } });
    assert.equal(cfg.status, 400, cfg.text);

    const revoked = await call(gw.base, 'DELETE', '/admin/v1/keys/api-bot', { auth: OPS_KEY });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.json.revoked, true);
    await waitFor(async () => (await chat(gw.base, secret)).status === 401, { timeoutMs: 2000, what: 'the revoked key to be refused' });
    const again = await call(gw.base, 'GET', '/admin/v1/keys', { auth: OPS_KEY });
    assert.equal(again.json.data.find((x) => x.name === 'api-bot').status, 'revoked');
    assert.equal((await call(gw.base, 'DELETE', '/admin/v1/keys/api-bot', { auth: OPS_KEY })).status, 404);
  });

  test('CLI: keys create / revoke against the running gateway take effect within 2 s', async () => {
    const env = { ...process.env, TEST_PROVIDER_TOKEN: PROVIDER_TOKEN };
    const made = await run(gatehouseBin, ['keys', 'create', '--config', gw.configPath, '--name', 'cli-bot',
      '--role', 'analyst', '--project', 'p2'], { env });
    const secret = made.stdout.trim().split('\n').at(-1).trim();
    secrets.created.push(secret);
    assert.match(secret, /^gh_/);
    await waitFor(async () => (await chat(gw.base, secret)).status === 200, { timeoutMs: 2000, what: 'the CLI key to work' });
    assert.equal((await chat(gw.base, secret, { model: 'secret-model' })).status, 403, 'its role applies');
    // The admin API sees it.
    const list = await call(gw.base, 'GET', '/admin/v1/keys', { auth: OPS_KEY });
    assert.equal(list.json.data.find((x) => x.name === 'cli-bot')?.project, 'p2');

    await run(gatehouseBin, ['keys', 'revoke', '--config', gw.configPath, 'cli-bot'], { env });
    await waitFor(async () => (await chat(gw.base, secret)).status === 401, { timeoutMs: 2000, what: 'the CLI-revoked key to be refused' });
  });
});

// --- nothing accepted silently (admin bodies and kill names) --------------------------------------

describe('admin API: nothing accepted silently', () => {
  const post = (path, body) => call(gw.base, 'POST', path, { auth: OPS_KEY, body });
  const kills = async () => (await call(gw.base, 'GET', '/admin/v1/kill', { auth: OPS_KEY })).json.data;
  const keyNames = async () => (await call(gw.base, 'GET', '/admin/v1/keys', { auth: OPS_KEY })).json.data.map((k) => k.name);

  test('an unknown field in a body is a 400 naming it and listing the accepted ones; nothing is done', async () => {
    // `expires` meant `expires_in`: it must not create a key that never expires.
    const k = await post('/admin/v1/keys', { name: 'typo-bot', role: 'analyst', expires: '1d' });
    assert.equal(k.status, 400, k.text);
    assert.equal(k.json.error.param, 'expires');
    assert.equal(k.json.error.code, 'unknown_parameter');
    assert.match(k.json.error.message, /'expires'/);
    assert.match(k.json.error.message, /accepts: name, role, project, expires_in, tags$/);
    assert.ok(!(await keyNames()).includes('typo-bot'), 'no key was created');

    const before = (await kills()).length;
    const x = await post('/admin/v1/kill', { model: 'chat-big', reasn: 'incident 7', by: 'me' });
    assert.equal(x.status, 400, x.text);
    assert.equal(x.json.error.code, 'unknown_parameter');
    assert.match(x.json.error.message, /'by'/);
    assert.match(x.json.error.message, /'reasn'/);
    assert.match(x.json.error.message, /accepts: model, provider, project, key, mcp_server, mcp_tool, reason$/);
    assert.equal((await kills()).length, before, 'no kill was added');
    assert.equal((await chat(gw.base, OPS_KEY, { model: 'chat-big' })).status, 200);
  });

  test('a field of the wrong type is a 400 naming it; nothing is done', async () => {
    for (const [body, param] of [
      [{ name: 'type-bot', role: 5 }, 'role'],
      [{ name: 'type-bot', role: 'analyst', project: ['p1'] }, 'project'],
      [{ name: 'type-bot', role: 'analyst', expires_in: 86400 }, 'expires_in'],
      [{ name: 'type-bot', role: 'analyst', expires_in: '' }, 'expires_in'],
      [{ name: 7, role: 'analyst' }, 'name'],
      [{ name: 'type-bot', role: 'analyst', tags: ['a'] }, 'tags'],
    ]) {
      const r = await post('/admin/v1/keys', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.param, param, r.text);
    }
    assert.ok(!(await keyNames()).includes('type-bot'), 'no key was created');

    const before = (await kills()).length;
    for (const [body, param] of [
      [{ model: 'chat-big', reason: 42 }, 'reason'],
      [{ model: 5, reason: 'x' }, 'model'],
      [{ model: 'chat-big', reason: null }, 'reason'],
    ]) {
      const r = await post('/admin/v1/kill', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.param, param, r.text);
    }
    assert.equal((await kills()).length, before, 'no kill was added');
  });

  test('a kill naming a model, provider, key or project that does not exist is a 404 naming it', async () => {
    const before = (await kills()).length;
    for (const [scope, code] of [['model', 'model_not_found'], ['provider', 'provider_not_found'],
      ['key', 'key_not_found'], ['project', 'project_not_found']]) {
      const r = await post('/admin/v1/kill', { [scope]: 'nope', reason: 'typo' });
      assert.equal(r.status, 404, `${scope}: ${r.text}`);
      assert.equal(r.json.error.code, code);
      assert.equal(r.json.error.param, scope);
      assert.match(r.json.error.message, /'nope'/);
    }
    assert.equal((await kills()).length, before, 'no kill was added');
  });

  test('a kill on a key or project known only from the store is accepted; a revoked key is not known', async () => {
    const made = await post('/admin/v1/keys', { name: 'kill-bot', role: 'analyst', project: 'p9' });
    assert.equal(made.status, 201, made.text);
    secrets.created.push(made.json.key);
    await waitFor(async () => (await chat(gw.base, made.json.key)).status === 200, { timeoutMs: 2000, what: 'the new key to work' });
    // A config key without a project, a stored key, and a project only a stored key has.
    for (const body of [{ key: 'norole' }, { key: 'kill-bot' }, { project: 'p9' }]) {
      const k = await post('/admin/v1/kill', { ...body, reason: 'drill' });
      assert.equal(k.status, 201, `${JSON.stringify(body)}: ${k.text}`);
      assert.equal((await call(gw.base, 'DELETE', `/admin/v1/kill/${k.json.id}`, { auth: OPS_KEY })).status, 200);
    }
    assert.equal((await call(gw.base, 'DELETE', '/admin/v1/keys/kill-bot', { auth: OPS_KEY })).status, 200);
    await waitFor(async () => (await chat(gw.base, made.json.key)).status === 401, { timeoutMs: 2000, what: 'the revoked key to be refused' });
    const gone = await post('/admin/v1/kill', { key: 'kill-bot', reason: 'too late' });
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.json.error.code, 'key_not_found');
  });
});

// --- secrets --------------------------------------------------------------------------------------

describe('secrets', () => {
  test('no credential, key, created secret or JWT in the logs, error bodies or the store file', async () => {
    // Stop the gateways so every log line is out.
    await gw.stop();
    await gwUrl.stop();
    const all = [...secrets.provider, ...secrets.keys, ...secrets.created, ...secrets.jwts];
    assert.ok(secrets.created.length >= 2 && secrets.jwts.length > 10, 'the run handled secrets');
    // A JWT's signature is the part that must never be shown; check it on its own too.
    const needles = [...all, ...secrets.jwts.map((t) => t.split('.')[2]).filter((s) => s.length > 20)];
    const store = [dbPath, `${dbPath}-wal`, `${dbPath}-shm`].filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('\n');
    assert.ok(store.includes('api-bot'), 'the store holds the created keys');
    const places = { 'gateway log': gw.log(), 'JWKS-URL gateway log': gwUrl.log(), 'error bodies': errorBodies.join('\n'), 'SQLite file': store };
    assert.ok(errorBodies.length > 30, 'error bodies were collected');
    for (const [where, text] of Object.entries(places)) {
      for (const s of needles) {
        assert.ok(!text.includes(s), `a secret (${s.slice(0, 12)}…) appears in the ${where}`);
      }
    }
  });
});
