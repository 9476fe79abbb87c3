// End-to-end: the console's files and sessions without a browser (tests/e2e/console.test.mjs
// drives the console itself in Chromium) — the Content-Security-Policy and the other security
// headers, sign-in with an admin key (HttpOnly, SameSite=Strict cookie), CSRF on every change,
// sign-out, a revoked key ending its sessions, sessions shared by replicas with one
// console.session_secret, and server.admin_listen keeping the admin API off the main address.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMock, startGateway, sha256, waitFor, QUICK_KEY } from './harness.mjs';

const ADMIN = 'gh-console-admin-secret-Pq71';
const APP = 'gh-console-app-secret-Lm33';
const SECRET = 'console-test-session-secret-0123456789abcdef';

let mock, gw, dir, dbPath, configPath, jwksFile;

// An RS256 JWT from the identity provider the config trusts (jwks_file).
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64u = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
function mint(claims) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64u({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${b64u({ iss: 'https://idp.test', aud: 'gatehouse', iat: now, exp: now + 300, ...claims })}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), rsa.privateKey).toString('base64url')}`;
}

function config({ adminListen = false } = {}) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
${adminListen ? '  admin_listen: "127.0.0.1:0"\n' : ''}console:
  session_secret: "${SECRET}"
  session_ttl_s: 3600
store: {sqlite: "${dbPath}"}
providers:
  local:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x"}
keys:
  - {name: ops, sha256: "${sha256(ADMIN)}", role: ops}
  - {name: app, sha256: "${sha256(APP)}", role: app}
  - {name: test, sha256: "${sha256(QUICK_KEY)}", role: app}
auth:
  jwt: {issuer: "https://idp.test", audience: "gatehouse", jwks_file: "${jwksFile}"}
groups: {platform: ops, analysts: app}
roles:
  app: {models: ["*"]}
  ops: {models: ["*"], admin: true}
`;
}

const url = (path, g = gw) => `${g.base}${path}`;

async function signIn(key, g = gw) {
  const r = await fetch(url('/admin/v1/session', g), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }),
  });
  const body = await r.json();
  return { r, body, cookie: (r.headers.get('set-cookie') ?? '').split(';')[0] };
}

before(async () => {
  mock = await startMock();
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-console-'));
  dbPath = join(dir, 'gatehouse.db');
  configPath = join(dir, 'gatehouse.yaml');
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }));
  writeFileSync(configPath, config());
  gw = await startGateway({ file: configPath });
});

after(async () => {
  await gw?.stop();
  await mock?.stop();
});

describe('console files', () => {
  test('/ui/ is the bundle from the binary, under a strict Content-Security-Policy', async () => {
    const r = await fetch(url('/ui/'));
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const html = await r.text();
    assert.match(html, /<script[^>]+src="\/ui\/app\.js"/);
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]+<\/script>|\son[a-z]+="|style="/, 'no inline script, handler or style');

    const js = await fetch(url('/ui/app.js'));
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    assert.ok((await js.text()).length > 10000, 'the bundle includes uPlot');
    const css = await fetch(url('/ui/app.css'));
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type'), /^text\/css/);
    assert.match(await css.text(), /\.uplot/);
  });

  test('console routes are index.html; a missing file is a 404; ETags revalidate; /ui redirects', async () => {
    const page = await fetch(url('/ui/keys'));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /app\.js/);
    const missing = await fetch(url('/ui/nothing-here.js'));
    assert.equal(missing.status, 404);
    assert.ok(missing.headers.get('x-request-id'));
    assert.match((await missing.json()).error.message, /no such console file/);
    const first = await fetch(url('/ui/app.js'));
    const etag = first.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    const again = await fetch(url('/ui/app.js'), { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const redirect = await fetch(url('/ui'), { redirect: 'manual' });
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.get('location'), '/ui/');
    const post = await fetch(url('/ui/'), { method: 'POST' });
    assert.equal(post.status, 405);
  });
});

describe('sessions', () => {
  test('sign-in with an admin key sets an HttpOnly, SameSite=Strict cookie and gives a CSRF token', async () => {
    const { r, body, cookie } = await signIn(ADMIN);
    assert.equal(r.status, 200);
    const setCookie = r.headers.get('set-cookie');
    assert.match(setCookie, /^gh_console=[A-Za-z0-9_-]{40,};/);
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\/admin\/v1\//);
    assert.match(setCookie, /; Max-Age=3[56]\d\d/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain HTTP without a TLS proxy in front');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(body.caller, "key 'ops'");
    assert.match(body.csrf_token, /^[0-9a-f]{32}$/);
    assert.ok(!JSON.stringify(body).includes(ADMIN) && !setCookie.includes(ADMIN), 'the key is never echoed');

    const who = await fetch(url('/admin/v1/session'), { headers: { cookie } });
    assert.equal(who.status, 200);
    assert.equal((await who.json()).csrf_token, body.csrf_token);
    const keys = await fetch(url('/admin/v1/keys'), { headers: { cookie } });
    assert.equal(keys.status, 200);
    assert.equal((await keys.json()).object, 'list');
  });

  test('sign-in with an admin JWT (a group mapped to an admin role); a non-admin JWT is refused', async () => {
    const token = mint({ sub: 'alice', groups: ['platform'] });
    const { r, body, cookie } = await signIn(token);
    assert.equal(r.status, 200);
    assert.equal(body.caller, "user 'alice'");
    assert.equal(body.role, 'ops');
    assert.equal((await fetch(url('/admin/v1/health'), { headers: { cookie } })).status, 200);
    const analyst = await signIn(mint({ sub: 'bob', groups: ['analysts'] }));
    assert.equal(analyst.r.status, 403);
    assert.ok(!gw.log().includes(token.split('.')[2]), 'the JWT is not logged');
  });

  test('the roles and every model (not only route targets) are listed for the console', async () => {
    const auth = { authorization: `Bearer ${ADMIN}` };
    const roles = await (await fetch(url('/admin/v1/roles'), { headers: auth })).json();
    assert.deepEqual(roles.data.map((r) => [r.name, r.admin]), [['app', false], ['ops', true]]);
    assert.deepEqual(roles.data[0].models, ['*']);
    const health = await (await fetch(url('/admin/v1/health'), { headers: auth })).json();
    const plain = health.targets.find((t) => t.model === 'chat-small');
    assert.ok(plain, 'a model no route sends to is listed');
    assert.equal(plain.state, 'healthy');
    assert.deepEqual(plain.routes, []);
    assert.equal((await fetch(url('/admin/v1/roles'), { method: 'POST', headers: auth })).status, 405);
  });

  test('behind a TLS proxy the cookie is Secure', async () => {
    const r = await fetch(url('/admin/v1/session'), {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ key: ADMIN }),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('set-cookie'), /; Secure/);
  });

  test('a non-admin key, an unknown key and a malformed body are refused in OpenAI\'s shape', async () => {
    const app = await signIn(APP);
    assert.equal(app.r.status, 403);
    assert.match(app.body.error.message, /console is for administrators/);
    assert.equal(app.r.headers.get('set-cookie'), null);
    assert.ok(app.r.headers.get('x-request-id'));
    const unknown = await signIn('gh-not-a-key');
    assert.equal(unknown.r.status, 401);
    assert.equal(unknown.r.headers.get('set-cookie'), null);
    const bad = await fetch(url('/admin/v1/session'), { method: 'POST', body: '{"token": "x"}' });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /\{"key"/);
    const none = await fetch(url('/admin/v1/session'));
    assert.equal(none.status, 401);
  });

  test('every change needs the CSRF token; a cross-site Origin is refused; nothing changes', async () => {
    const { body, cookie } = await signIn(ADMIN);
    const kill = (headers) => fetch(url('/admin/v1/kill'), {
      method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'chat-small', reason: 'csrf test' }),
    });
    const noToken = await kill({});
    assert.equal(noToken.status, 403);
    assert.equal((await noToken.json()).error.code, 'csrf_failed');
    const wrong = await kill({ 'x-csrf-token': '0'.repeat(32) });
    assert.equal(wrong.status, 403);
    const crossSite = await kill({ 'x-csrf-token': body.csrf_token, origin: 'https://evil.example' });
    assert.equal(crossSite.status, 403);
    const list = await (await fetch(url('/admin/v1/kill'), { headers: { cookie } })).json();
    assert.equal(list.data.length, 0, 'no refused request switched anything off');

    // Same origin, spelt differently (case, the scheme's default port is not this one's): accepted.
    const ok = await kill({ 'x-csrf-token': body.csrf_token, origin: gw.base.toUpperCase().replace('HTTP://', 'http://') });
    assert.equal(ok.status, 201);
    const { id } = await ok.json();
    const lift = await fetch(url(`/admin/v1/kill/${id}`), { method: 'DELETE', headers: { cookie, 'x-csrf-token': body.csrf_token } });
    assert.equal(lift.status, 200);
    // A bearer key needs no CSRF token (browsers cannot send it cross-site).
    const bearer = await fetch(url('/admin/v1/kill'), { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(bearer.status, 200);
  });

  test('an altered cookie is refused', async () => {
    const { cookie } = await signIn(ADMIN);
    const [name, value] = cookie.split('=');
    const flipped = value.slice(0, 20) + (value[20] === 'A' ? 'B' : 'A') + value.slice(21);
    const r = await fetch(url('/admin/v1/keys'), { headers: { cookie: `${name}=${flipped}` } });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error.code, 'session_expired');
  });

  test('sign-out clears the cookie and ends the session', async () => {
    const { body, cookie } = await signIn(ADMIN);
    const noToken = await fetch(url('/admin/v1/session'), { method: 'DELETE', headers: { cookie } });
    assert.equal(noToken.status, 403);
    const out = await fetch(url('/admin/v1/session'), { method: 'DELETE', headers: { cookie, 'x-csrf-token': body.csrf_token } });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie'), /^gh_console=; .*Max-Age=0/);
    const after = await fetch(url('/admin/v1/keys'), { headers: { cookie } });
    assert.equal(after.status, 401);
  });

  test('a revoked stored key ends its sessions at once; sign-ins and outs are in the audit chain', async () => {
    const made = await fetch(url('/admin/v1/keys'), {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'console-admin', role: 'ops' }),
    });
    assert.equal(made.status, 201);
    const secret = (await made.json()).key;
    await waitFor(async () => (await signIn(secret)).r.status === 200, { what: 'the new key to be usable', timeoutMs: 3000 });
    const { cookie } = await signIn(secret);
    assert.equal((await fetch(url('/admin/v1/keys'), { headers: { cookie } })).status, 200);
    const revoked = await fetch(url('/admin/v1/keys/console-admin'), { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(revoked.status, 200);
    await waitFor(async () => (await fetch(url('/admin/v1/keys'), { headers: { cookie } })).status === 401,
      { what: 'the session to end with its key', timeoutMs: 3000 });

    await waitFor(() => {
      const kinds = execFileSync('sqlite3', [dbPath, "SELECT kind || ' ' || actor FROM audit ORDER BY id"]).toString();
      return kinds.includes("console.sign_in key 'console-admin'") && kinds.includes("console.sign_out key 'ops'");
    }, { what: 'sign-ins and sign-outs in the audit chain', timeoutMs: 5000 });
    const stored = execFileSync('sqlite3', [dbPath, 'SELECT detail FROM audit']).toString();
    assert.ok(!stored.includes(secret) && !stored.includes(ADMIN), 'no credential in the audit chain');
    assert.ok(!gw.log().includes(secret) && !gw.log().includes(ADMIN), 'no credential in the log');
  });

  test('replicas with the same console.session_secret accept each other\'s sessions', async () => {
    const other = await startGateway({ file: configPath });
    try {
      const { cookie } = await signIn(ADMIN);
      const r = await fetch(url('/admin/v1/session', other), { headers: { cookie } });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).caller, "key 'ops'");
    } finally {
      await other.stop();
    }
  });
});

describe('console.enabled: false', () => {
  test('turns off the console and its cookie sign-in, not the admin API', async () => {
    const file = join(dir, 'console-off.yaml');
    writeFileSync(file, config().replace('console:\n', 'console:\n  enabled: false\n'));
    const { cookie } = await signIn(ADMIN);  // sealed by the running gateway, same secret
    const g = await startGateway({ file });
    try {
      assert.equal((await fetch(url('/ui/', g))).status, 404);
      assert.equal((await signIn(ADMIN, g)).r.status, 404);
      const withCookie = await fetch(url('/admin/v1/keys', g), { headers: { cookie } });
      assert.equal(withCookie.status, 401, 'the cookie is not a credential there');
      assert.equal((await fetch(url('/admin/v1/keys', g), { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
    } finally {
      await g.stop();
    }
  });
});

describe('server.admin_listen', () => {
  test('the admin API and the console are served on the admin address only', async () => {
    const file = join(dir, 'admin-listen.yaml');
    writeFileSync(file, config({ adminListen: true }));
    const g = await startGateway({ file });
    try {
      await waitFor(() => /admin API and console on 127\.0\.0\.1:\d+/.test(g.log()), { what: 'the admin address' });
      const adminPort = Number(g.log().match(/admin API and console on 127\.0\.0\.1:(\d+)/)[1]);
      const admin = { base: `http://127.0.0.1:${adminPort}` };
      const auth = { authorization: `Bearer ${ADMIN}` };

      const onMain = await fetch(url('/admin/v1/keys', g), { headers: auth });
      assert.equal(onMain.status, 404);
      assert.match((await onMain.json()).error.message, /server\.admin_listen/);
      assert.equal((await fetch(url('/ui/', g))).status, 404);
      assert.equal((await fetch(url('/admin/v1/keys', admin), { headers: auth })).status, 200);
      assert.equal((await fetch(url('/ui/', admin))).status, 200);
      assert.equal((await signIn(ADMIN, admin)).r.status, 200);

      const chat = (g2) => fetch(url('/v1/chat/completions', g2), {
        method: 'POST', headers: { authorization: `Bearer ${QUICK_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat-small', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal((await chat(g)).status, 200);
      assert.equal((await chat(admin)).status, 404, 'no model traffic on the admin address');
      assert.equal((await fetch(url('/healthz', admin))).status, 200, 'probes answer on both');
    } finally {
      await g.stop();
    }
  });
});
