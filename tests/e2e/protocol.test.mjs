// End-to-end: Gatehouse's protocol-level behaviour, below any SDK. The CLI (exit codes and
// FILE:LINE:COL diagnostics), raw HTTP/1.1 framing and limits over plain sockets, endpoints and
// request ids, secret hygiene, SIGHUP reload, SIGTERM drain, upstream TLS verification, upstream
// failure modes, and resource leaks. Every test runs real processes: gatehouse in front of the
// bundled fake provider (mockllm).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import https from 'node:https';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startMock, startGateway, configFor, writeConfig, waitFor, gatehouseBin, repoRoot,
  QUICK_KEY, PROVIDER_TOKEN, sha256,
} from './harness.mjs';

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett'];
const words = (n) => WORDS.slice(0, n).join(' ');
const AUTH = { authorization: `Bearer ${QUICK_KEY}` };
const REQUEST_ID = /^req_[0-9a-f]{24}$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const chatBody = (extra = {}) => JSON.stringify({ model: 'chat-small', messages: [{ role: 'user', content: 'hi' }], ...extra });

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: a socket plus an incremental response parser, so tests control the
// exact bytes sent and observe exactly what the server does with the connection.

// Parses one response at the start of `buf`; null when it is not complete yet.
function parseResponse(buf, ended, { head = false } = {}) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine, ...lines] = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = statusLine.match(/^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/);
  if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const status = Number(m[2]);
  const headers = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  let pos = headEnd + 4;
  let body;
  if (head) {
    body = Buffer.alloc(0);  // the answer to HEAD has no body, whatever its headers say
  } else if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
    const parts = [];
    for (;;) {
      const le = buf.indexOf('\r\n', pos);
      if (le < 0) return null;
      const size = parseInt(buf.subarray(pos, le).toString('latin1').split(';')[0], 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size from the server');
      pos = le + 2;
      if (size === 0) {
        // Trailers (none expected), then the empty line.
        for (;;) {
          const te = buf.indexOf('\r\n', pos);
          if (te < 0) return null;
          const empty = te === pos;
          pos = te + 2;
          if (empty) break;
        }
        break;
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (buf.length < pos + n) return null;
    body = buf.subarray(pos, pos + n);
    pos += n;
  } else if (status === 204 || status === 304 || status < 200) {
    body = Buffer.alloc(0);
  } else {
    if (!ended) return null;  // delimited by the connection's close
    body = buf.subarray(pos);
    pos = buf.length;
  }
  const text = body.toString('utf8');
  return {
    status, version: m[1], headers, text, consumed: pos,
    json() { return JSON.parse(text); },
  };
}

class RawConn {
  static open(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      s.once('connect', () => { s.removeListener('error', reject); resolve(new RawConn(s)); });
      s.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.ended = false;    // the server closed (or reset) the connection
    this.error = null;
    this.waiters = [];
    socket.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    socket.on('end', () => { this.ended = true; this.wake(); });
    socket.on('close', () => { this.ended = true; this.wake(); });
    socket.on('error', (e) => { this.error = e; this.ended = true; this.wake(); });
  }

  wake() { const w = this.waiters; this.waiters = []; for (const f of w) f(); }
  next(deadline, what) {
    return new Promise((resolve, reject) => {
      const left = deadline - Date.now();
      if (left <= 0) { reject(new Error(`timed out waiting for ${what}`)); return; }
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), left);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  write(data) { if (!this.socket.destroyed) this.socket.write(data); }

  // The next complete response (removed from the buffer).
  async response(timeoutMs = 5000, { head = false } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = parseResponse(this.buf, this.ended, { head });
      if (r) { this.buf = this.buf.subarray(r.consumed); return r; }
      if (this.ended) {
        throw new Error(`connection closed without a complete response (${this.error?.code ?? 'eof'}): ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      }
      await this.next(deadline, 'a response');
    }
  }

  // Resolves once the received bytes contain `needle`.
  async waitForText(needle, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.buf.toString('latin1').includes(needle)) {
      if (this.ended) throw new Error(`connection closed before ${JSON.stringify(needle)} arrived`);
      await this.next(deadline, JSON.stringify(needle));
    }
  }

  // Resolves once the server has closed the connection; fails after `timeoutMs`.
  async closed(timeoutMs = 3000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) await this.next(deadline, 'the server to close the connection');
    return true;
  }

  destroy() { this.socket.destroy(); }
}

function rawRequest({ method = 'GET', path = '/', headers = {}, body, close = false, version = '1.1' }) {
  const h = { host: 'gatehouse.test', ...headers };
  if (body !== undefined) {
    h['content-type'] ??= 'application/json';
    h['content-length'] ??= String(Buffer.byteLength(body));
  }
  if (close) h.connection = 'close';
  const head = `${method} ${path} HTTP/${version}\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return body === undefined ? head : head + body;
}

// One request on its own connection (Connection: close), so no connection outlives it.
async function httpOnce(port, opts, timeoutMs = 10_000) {
  const c = await RawConn.open(port);
  try {
    c.write(rawRequest({ ...opts, close: true }));
    return await c.response(timeoutMs);
  } finally {
    c.destroy();
  }
}

// The `data:` payloads of an SSE body, in order.
const sseData = (text) => text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
const sseContent = (text) => sseData(text).filter((d) => d !== '[DONE]')
  .map((d) => JSON.parse(d)).map((e) => e.choices?.[0]?.delta?.content ?? '').join('');

function assertOpenAIError(body, { code, status, messageRe } = {}) {
  const parsed = typeof body === 'string' ? JSON.parse(body) : body;
  assert.ok(parsed && typeof parsed.error === 'object', `an OpenAI-shaped error: ${JSON.stringify(parsed)}`);
  const e = parsed.error;
  for (const k of ['message', 'type', 'param', 'code']) assert.ok(k in e, `error.${k} is present: ${JSON.stringify(e)}`);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0);
  assert.equal(typeof e.type, 'string');
  if (code !== undefined) assert.equal(e.code, code, `error code (${status ?? ''}): ${e.message}`);
  if (messageRe) assert.match(e.message, messageRe);
  return e;
}

// A port nothing listens on (bound, then released).
async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// Runs the gatehouse CLI to completion. `unset` names environment variables to remove.
function run(args, { unset = [], timeoutMs = 10_000 } = {}) {
  const env = { ...process.env };
  for (const name of unset) delete env[name];
  return new Promise((resolve) => {
    execFile(gatehouseBin, args, { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Every process a test starts is registered, so that a failing test can never leave one running
// (which would keep the test runner alive). Normal stops go through the harness's stop().
const started = new Set();
async function mockProc(args) { const m = await startMock(args); started.add(m.child); return m; }
async function gatewayProc(opts) { const g = await startGateway(opts); started.add(g.child); return g; }
after(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

// Runs every stop function even when one fails; rethrows the first failure.
async function cleanup(...stops) {
  let first;
  for (const stop of stops) {
    try { await stop?.(); } catch (e) { first ??= e; }
  }
  if (first) throw first;
}

const keysYaml = `keys:\n  - {name: test, sha256: "${sha256(QUICK_KEY)}"}\n`;
const countOf = (text, re) => (text.match(re) ?? []).length;

// ---------------------------------------------------------------------------------------------

describe('CLI', { timeout: 60_000 }, () => {
  test('--version prints "gatehouse 0.1.0" and exits 0', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), 'gatehouse 0.1.0');
  });

  test('--help exits 0 and lists the serve and check-config subcommands', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\s+serve\s/m);
    assert.match(r.stdout, /^\s+check-config\s/m);
  });

  test('check-config accepts examples/quickstart.yaml', async () => {
    const file = join(repoRoot, 'examples', 'quickstart.yaml');
    const r = await run(['check-config', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), `${file}: OK (2 providers, 5 models, 2 keys)`);
  });

  // Four independent problems: each one is reported, at its own line and column.
  const badLines = [
    'server:',
    '  listen: "nohost"',                                                  // 2: not HOST:PORT
    '  bogus: 1',                                                          // 3: unknown key
    'providers:',
    '  local:',
    '    kind: openai-compatible',
    '    base_url: "http://127.0.0.1:9/v1"',
    '    auth: {token: "${GATEHOUSE_E2E_UNSET_VAR}"}',                    // 8: missing env var
    'models:',
    '  chat-small: {provider: nowhere, upstream_model: "gpt-x"}',          // 10: undefined provider
    'keys:',
    `  - {name: test, sha256: "${sha256(QUICK_KEY)}"}`,
  ];
  const col = (lineNo, needle) => badLines[lineNo - 1].indexOf(needle) + 1;
  const expected = [
    { line: 2, col: col(2, '"nohost"'), re: /server\.listen must be HOST:PORT/ },
    { line: 3, col: col(3, 'bogus'), re: /unknown key 'bogus' in server/ },
    { line: 8, col: col(8, '"${'), re: /GATEHOUSE_E2E_UNSET_VAR is not set/ },
    { line: 10, col: col(10, 'nowhere'), re: /provider 'nowhere' is not defined/ },
  ];
  const runClean = (args) => run(args, { unset: ['GATEHOUSE_E2E_UNSET_VAR'] });
  const checkDiagnostics = (file, output) => {
    const lines = output.split('\n').filter((l) => l.length > 0);
    assert.equal(lines.length, expected.length, `one line per problem:\n${output}`);
    for (const l of lines) assert.match(l, new RegExp(`^${escapeRe(file)}:\\d+:\\d+: \\S`), 'FILE:LINE:COL: message');
    for (const e of expected) {
      const hit = lines.find((l) => e.re.test(l));
      assert.ok(hit, `a diagnostic matching ${e.re}:\n${output}`);
      assert.ok(hit.startsWith(`${file}:${e.line}:${e.col}: `), `${e.re} is reported at ${e.line}:${e.col}: ${hit}`);
    }
  };

  test('check-config reports every problem as FILE:LINE:COL: message and exits 1', async () => {
    const file = writeConfig(badLines.join('\n') + '\n');
    const r = await runClean(['check-config', file]);
    assert.equal(r.code, 1);
    checkDiagnostics(file, r.stdout);
  });

  test('check-config on a missing file exits 1 naming the file', async () => {
    const file = join(tmpdir(), `gatehouse-e2e-missing-${process.pid}.yaml`);
    const r = await run(['check-config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, new RegExp(`^${escapeRe(file)}:\\d+:\\d+: .*cannot read`, 'm'));
  });

  test('serve with an invalid config exits 1 printing the same diagnostics', async () => {
    const file = writeConfig(badLines.join('\n') + '\n');
    const r = await runClean(['serve', '--config', file]);
    assert.equal(r.code, 1);
    checkDiagnostics(file, r.stderr + r.stdout);
    assert.doesNotMatch(r.stderr + r.stdout, /listening on/);
  });

  test('no subcommand, an unknown one, or serve without --config: non-zero exit', async () => {
    assert.notEqual((await run([])).code, 0);
    assert.notEqual((await run(['frobnicate'])).code, 0);
    const r = await run(['serve']);
    assert.notEqual(r.code, 0, 'serve requires --config');
    assert.match(r.stdout + r.stderr, /--config/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('raw HTTP/1.1 framing, limits and endpoints', { timeout: 60_000 }, () => {
  let mock, gw;
  before(async () => {
    mock = await mockProc();
    gw = await gatewayProc({ yaml: configFor(mock, { server: '  max_body_bytes: 2048\n  max_header_bytes: 2048' }) });
  });
  after(() => cleanup(() => gw?.stop(), () => mock?.stop()));

  const healthy = async () => {
    const r = await httpOnce(gw.port, { path: '/healthz' });
    assert.equal(r.status, 200, 'the gateway still answers /healthz');
  };

  // A request the server must reject and then close the connection on.
  async function rejected(bytes, { status, code, messageRe }) {
    const c = await RawConn.open(gw.port);
    try {
      for (const piece of [].concat(bytes)) c.write(piece);
      const r = await c.response();
      assert.equal(r.status, status, r.text);
      assert.match(r.headers['x-request-id'] ?? '', REQUEST_ID, 'x-request-id on a rejected request');
      assert.match(r.headers['content-type'] ?? '', /application\/json/);
      assertOpenAIError(r.text, { code, status, messageRe });
      assert.equal((r.headers.connection ?? '').toLowerCase(), 'close', 'announces the close');
      await c.closed();
      return r;
    } finally {
      c.destroy();
    }
  }

  test('malformed JSON body: 400 invalid_request_error mentioning JSON; the connection stays usable', async () => {
    const c = await RawConn.open(gw.port);
    try {
      c.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: '{"model": "chat-small", "messages": [' }));
      const r = await c.response();
      assert.equal(r.status, 400);
      assert.match(r.headers['x-request-id'], REQUEST_ID);
      const e = assertOpenAIError(r.text, { messageRe: /JSON/ });
      assert.equal(e.type, 'invalid_request_error');
      // Not a framing error: the same connection serves the next request.
      c.write(rawRequest({ path: '/healthz' }));
      assert.equal((await c.response()).status, 200);
    } finally {
      c.destroy();
    }
    await healthy();
  });

  test('body over server.max_body_bytes: 413 request_too_large, then the server closes', async () => {
    const body = chatBody({ pad: 'x'.repeat(5000) });
    await rejected(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: AUTH, body }),
      { status: 413, code: 'request_too_large', messageRe: /max_body_bytes/ });
    await healthy();
  });

  test('max_body_bytes is inclusive: a body of exactly 2048 bytes is served, 2049 is 413', async () => {
    const sized = (n) => {
      const base = chatBody({ mock: { tokens: 1 }, pad: '' });
      const b = chatBody({ mock: { tokens: 1 }, pad: 'x'.repeat(n - Buffer.byteLength(base)) });
      assert.equal(Buffer.byteLength(b), n);
      return b;
    };
    const ok = await httpOnce(gw.port, { method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: sized(2048) });
    assert.equal(ok.status, 200, ok.text);
    const over = await httpOnce(gw.port, { method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: sized(2049) });
    assert.equal(over.status, 413, over.text);
  });

  test('chunked body over server.max_body_bytes: 413, then close', async () => {
    const piece = 'x'.repeat(1000);
    const chunks = Array.from({ length: 4 }, () => `${piece.length.toString(16)}\r\n${piece}\r\n`).join('') + '0\r\n\r\n';
    await rejected(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: { ...AUTH, 'transfer-encoding': 'chunked', 'content-type': 'application/json' } }) + chunks,
      { status: 413, code: 'request_too_large' });
    await healthy();
  });

  test('header block over server.max_header_bytes: 400, then close', async () => {
    await rejected(rawRequest({ path: '/healthz', headers: { 'x-big': 'a'.repeat(4096) } }),
      { status: 400, messageRe: /header/i });
    await healthy();
  });

  test('both Content-Length and Transfer-Encoding: 400, then close', async () => {
    const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${QUICK_KEY}\r\n` +
      'content-type: application/json\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n';
    await rejected(head + '5\r\nhello\r\n0\r\n\r\n', { status: 400 });
    await healthy();
  });

  test('invalid chunk size: 400, then close', async () => {
    const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${QUICK_KEY}\r\n` +
      'content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n';
    await rejected(head + 'zz\r\nhello\r\n0\r\n\r\n', { status: 400 });
    await healthy();
  });

  test('invalid request line: 400, then close', async () => {
    await rejected('GET /healthz HTTP/1.1 extra\r\nhost: x\r\n\r\n', { status: 400 });
    await rejected('\x01\x02garbage\r\n\r\n', { status: 400 });
    await healthy();
  });

  // A framing error on an Anthropic or Databricks endpoint: that API's error shape, and the
  // request id its SDK reads (Anthropic's `request-id` beside x-request-id).
  async function rejectedIn(bytes, { status }) {
    const c = await RawConn.open(gw.port);
    try {
      for (const piece of [].concat(bytes)) c.write(piece);
      const r = await c.response();
      assert.equal(r.status, status, r.text);
      assert.match(r.headers['content-type'] ?? '', /application\/json/);
      assert.equal((r.headers.connection ?? '').toLowerCase(), 'close', 'announces the close');
      await c.closed();
      return { ...r, body: JSON.parse(r.text) };
    } finally {
      c.destroy();
    }
  }
  const big = () => JSON.stringify({ model: 'chat-small', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(5000) }] });

  test('413 and header-too-large on /v1/messages: Anthropic\'s error shape with request-id and x-request-id', async () => {
    for (const path of ['/v1/messages', '/v1/messages?beta=true', '/messages/count_tokens']) {
      const r = await rejectedIn(rawRequest({ method: 'POST', path, headers: { 'x-api-key': QUICK_KEY }, body: big() }), { status: 413 });
      assert.match(r.headers['x-request-id'] ?? '', REQUEST_ID, `${path}: x-request-id`);
      assert.equal(r.headers['request-id'], r.headers['x-request-id'], `${path}: request-id is the same id`);
      assert.equal(r.body.type, 'error', r.text);
      assert.equal(r.body.error.type, 'request_too_large', r.text);
      assert.match(r.body.error.message, /max_body_bytes/);
    }
    const h = await rejectedIn(rawRequest({ path: '/v1/messages', headers: { 'x-big': 'a'.repeat(4096) } }), { status: 400 });
    assert.match(h.headers['x-request-id'] ?? '', REQUEST_ID);
    assert.equal(h.headers['request-id'], h.headers['x-request-id']);
    assert.equal(h.body.type, 'error', h.text);
    assert.equal(h.body.error.type, 'invalid_request_error', h.text);
    assert.match(h.body.error.message, /header/i);
    await healthy();
  });

  test('413 and header-too-large on /serving-endpoints/{model}/invocations: Databricks\' error shape with x-request-id', async () => {
    const path = '/serving-endpoints/chat-small/invocations';
    const r = await rejectedIn(rawRequest({ method: 'POST', path, headers: AUTH, body: big() }), { status: 413 });
    assert.match(r.headers['x-request-id'] ?? '', REQUEST_ID);
    assert.equal(r.headers['request-id'], undefined, 'request-id is Anthropic\'s header');
    assert.equal(r.body.error_code, 'REQUEST_TOO_LARGE', r.text);
    assert.match(r.body.message, /max_body_bytes/);
    const h = await rejectedIn(rawRequest({ method: 'POST', path, headers: { ...AUTH, 'x-big': 'a'.repeat(4096) }, body: '{}' }), { status: 400 });
    assert.match(h.headers['x-request-id'] ?? '', REQUEST_ID);
    assert.equal(h.body.error_code, 'BAD_REQUEST', h.text);
    // The OpenAI SDK pointed at a workspace speaks OpenAI's shape there.
    const o = await rejectedIn(rawRequest({ method: 'POST', path: '/serving-endpoints/chat/completions', headers: AUTH, body: big() }), { status: 413 });
    assertOpenAIError(o.body, { code: 'request_too_large' });
    await healthy();
  });

  test('a 413 whose headers were read whole keeps the client\'s x-request-id', async () => {
    const r = await rejectedIn(rawRequest({ method: 'POST', path: '/v1/messages', headers: { 'x-request-id': 'client-413' }, body: big() }), { status: 413 });
    assert.equal(r.headers['x-request-id'], 'client-413');
    assert.equal(r.headers['request-id'], 'client-413');
    // A header block cut off by the limit is not trusted for it.
    const h = await rejectedIn(rawRequest({ path: '/v1/messages', headers: { 'x-request-id': 'client-400', 'x-big': 'a'.repeat(4096) } }), { status: 400 });
    assert.match(h.headers['x-request-id'] ?? '', REQUEST_ID);
  });

  test('chunked request body is accepted (valid framing)', async () => {
    const body = chatBody();
    const half = Math.floor(body.length / 2);
    const chunks = [body.slice(0, half), body.slice(half)].map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
    const c = await RawConn.open(gw.port);
    try {
      c.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: { ...AUTH, 'transfer-encoding': 'chunked', 'content-type': 'application/json' } }) + chunks);
      const r = await c.response();
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json().choices[0].message.content, words(8));
    } finally {
      c.destroy();
    }
  });

  test('keep-alive: two requests on one connection are both answered', async () => {
    const c = await RawConn.open(gw.port);
    try {
      c.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: { ...AUTH, 'x-request-id': 'ka-1' }, body: chatBody() }));
      const r1 = await c.response();
      assert.equal(r1.status, 200, r1.text);
      assert.equal(r1.headers['x-request-id'], 'ka-1');
      assert.notEqual((r1.headers.connection ?? '').toLowerCase(), 'close');
      c.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: { ...AUTH, 'x-request-id': 'ka-2' }, body: chatBody({ mock: { tokens: 2 } }) }));
      const r2 = await c.response();
      assert.equal(r2.status, 200, r2.text);
      assert.equal(r2.headers['x-request-id'], 'ka-2');
      assert.equal(r2.json().choices[0].message.content, words(2));
      assert.equal(c.ended, false, 'the connection is still open');
      // Connection: close from the client is honoured: announced, then the server closes.
      c.write(rawRequest({ path: '/healthz', close: true }));
      const r3 = await c.response();
      assert.equal(r3.status, 200);
      assert.equal((r3.headers.connection ?? '').toLowerCase(), 'close');
      await c.closed();
    } finally {
      c.destroy();
    }
  });

  test('Expect: 100-continue gets "100 Continue", then the answer; an oversized body gets 413 instead', async () => {
    const body = chatBody({ mock: { tokens: 2 } });
    const c = await RawConn.open(gw.port);
    try {
      c.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${QUICK_KEY}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nexpect: 100-continue\r\n\r\n`);
      const cont = await c.response();
      assert.equal(cont.status, 100);
      c.write(body);
      const r = await c.response();
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json().choices[0].message.content, words(2));
    } finally {
      c.destroy();
    }
    const big = await RawConn.open(gw.port);
    try {
      big.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${QUICK_KEY}\r\n` +
        'content-type: application/json\r\ncontent-length: 100000\r\nexpect: 100-continue\r\n\r\n');
      const r = await big.response();
      assert.equal(r.status, 413, 'no 100 Continue for a body that is too large');
      assertOpenAIError(r.text, { code: 'request_too_large' });
      await big.closed();
    } finally {
      big.destroy();
    }
  });

  test('HEAD gets an answer without a body, so the connection stays in step', async () => {
    const c = await RawConn.open(gw.port);
    try {
      c.write(rawRequest({ method: 'HEAD', path: '/healthz', headers: { 'x-request-id': 'head-1' } }));
      const h = await c.response(5000, { head: true });
      assert.equal(h.status, 200, 'HEAD is answered as GET, without the body');
      assert.equal(h.headers['x-request-id'], 'head-1');
      // Body bytes wrongly sent after the HEAD answer would now sit in front of the next answer.
      c.write(rawRequest({ path: '/healthz', headers: { 'x-request-id': 'after-head' } }));
      const g = await c.response();
      assert.equal(g.status, 200);
      assert.equal(g.headers['x-request-id'], 'after-head');
      assert.deepEqual(g.json(), { status: 'ok' });
    } finally {
      c.destroy();
    }
  });

  test('pipelining: two requests written at once are answered in order', async () => {
    const c = await RawConn.open(gw.port);
    try {
      // The first is slow upstream, the second instant: answers must still come in request order.
      c.write(
        rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: { ...AUTH, 'x-request-id': 'pipe-1' }, body: chatBody({ mock: { latency_ms: 150, tokens: 3 } }) }) +
        rawRequest({ path: '/healthz', headers: { 'x-request-id': 'pipe-2' } }) +
        rawRequest({ path: '/readyz', headers: { 'x-request-id': 'pipe-3' } }),
      );
      const r1 = await c.response();
      const r2 = await c.response();
      const r3 = await c.response();
      assert.equal(r1.headers['x-request-id'], 'pipe-1');
      assert.equal(r1.status, 200, r1.text);
      assert.equal(r1.json().choices[0].message.content, words(3));
      assert.equal(r2.headers['x-request-id'], 'pipe-2');
      assert.deepEqual(r2.json(), { status: 'ok' });
      assert.equal(r3.headers['x-request-id'], 'pipe-3');
      assert.equal(r3.status, 200);
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.0 stream: the body is delimited by the connection close', async () => {
    const c = await RawConn.open(gw.port);
    try {
      c.write(rawRequest({ version: '1.0', method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ stream: true, mock: { tokens: 3 } }) }));
      await c.closed(5000);
      const r = await c.response();
      assert.equal(r.status, 200);
      assert.equal(r.headers['transfer-encoding'], undefined, 'no chunked encoding for HTTP/1.0');
      assert.equal(sseContent(r.text), words(3));
      assert.equal(sseData(r.text).at(-1), '[DONE]');
    } finally {
      c.destroy();
    }
  });

  test('GET /healthz is 200 {"status":"ok"}; GET /readyz is 200', async () => {
    const h = await fetch(`${gw.base}/healthz`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });
    assert.match(h.headers.get('x-request-id'), REQUEST_ID);
    const r = await fetch(`${gw.base}/readyz`);
    assert.equal(r.status, 200);
    await r.text();
  });

  test('wrong method: 405 with Allow', async () => {
    const r = await fetch(`${gw.baseURL}/chat/completions`, { headers: AUTH });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    assertOpenAIError(await r.text(), { code: 'method_not_allowed' });
    const r2 = await fetch(`${gw.base}/healthz`, { method: 'POST', body: '{}' });
    assert.equal(r2.status, 405);
    assert.equal(r2.headers.get('allow'), 'GET, HEAD');
    await r2.text();
    const r3 = await fetch(`${gw.baseURL}/models`, { method: 'DELETE', headers: AUTH });
    assert.equal(r3.status, 405);
    assert.equal(r3.headers.get('allow'), 'GET, HEAD');
    await r3.text();
  });

  test('unknown path: 404 unknown_url, OpenAI-shaped, with x-request-id', async () => {
    const r = await fetch(`${gw.base}/v1/nothing-here`, { headers: AUTH });
    assert.equal(r.status, 404);
    assert.match(r.headers.get('x-request-id'), REQUEST_ID);
    assertOpenAIError(await r.text(), { code: 'unknown_url' });
  });

  test('/v1/models without a key: 401 invalid_api_key; with the key: the configured models', async () => {
    const r = await fetch(`${gw.baseURL}/models`);
    assert.equal(r.status, 401);
    const e = assertOpenAIError(await r.text(), { code: 'invalid_api_key' });
    assert.equal(e.type, 'authentication_error');
    const ok = await fetch(`${gw.baseURL}/models`, { headers: AUTH });
    assert.equal(ok.status, 200);
    const ids = (await ok.json()).data.map((m) => m.id).sort();
    assert.deepEqual(ids, ['chat-small', 'embed-small']);
  });

  test('x-request-id: a valid client id is echoed (and sent upstream); invalid ones are replaced', async () => {
    const r = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', 'x-request-id': 'abc-123' }, body: chatBody(),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-request-id'), 'abc-123');
    await r.json();
    assert.equal((await mock.lastRequest()).headers['x-request-id'], 'abc-123');

    for (const bad of ['abc 123', 'a'.repeat(300), 'semi;colon', 'quote"d']) {
      const b = await fetch(`${gw.base}/healthz`, { headers: { 'x-request-id': bad } });
      assert.equal(b.status, 200);
      assert.match(b.headers.get('x-request-id'), REQUEST_ID, `replaces ${JSON.stringify(bad.slice(0, 20))}`);
      await b.text();
    }
    // An id on a rejected (401) request is echoed too.
    const u = await fetch(`${gw.baseURL}/models`, { headers: { 'x-request-id': 'abc-124' } });
    assert.equal(u.status, 401);
    assert.equal(u.headers.get('x-request-id'), 'abc-124');
    await u.text();
  });
});

// ---------------------------------------------------------------------------------------------

describe('connection timeouts', { timeout: 60_000 }, () => {
  let mock, gw;
  before(async () => {
    mock = await mockProc();
    gw = await gatewayProc({ yaml: configFor(mock, { server: '  header_timeout_ms: 300\n  keepalive_timeout_ms: 300' }) });
  });
  after(() => cleanup(() => gw?.stop(), () => mock?.stop()));

  test('a connection that sends nothing is closed after keepalive_timeout_ms', async () => {
    const c = await RawConn.open(gw.port);
    try {
      const t0 = Date.now();
      await c.closed(3000);
      assert.ok(Date.now() - t0 >= 200, 'not before the timeout');
    } finally {
      c.destroy();
    }
  });

  test('an idle keep-alive connection is closed after keepalive_timeout_ms', async () => {
    const c = await RawConn.open(gw.port);
    try {
      c.write(rawRequest({ path: '/healthz' }));
      assert.equal((await c.response()).status, 200);
      await c.closed(3000);
    } finally {
      c.destroy();
    }
  });

  test('headers that never finish (slowloris) are cut after header_timeout_ms', async () => {
    const c = await RawConn.open(gw.port);
    try {
      c.write('GET /healthz HTTP/1.1\r\nhost: x\r\n');
      await c.closed(3000);
      // A 408 or nothing: never a 200 for a request whose headers did not end.
      if (c.buf.length > 0) assert.doesNotMatch(c.buf.toString('latin1'), /^HTTP\/1\.1 200/);
    } finally {
      c.destroy();
    }
  });

  test('a body that never finishes is cut after header_timeout_ms', async () => {
    const c = await RawConn.open(gw.port);
    try {
      c.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${QUICK_KEY}\r\ncontent-length: 100\r\n\r\n{"model":`);
      await c.closed(3000);
      if (c.buf.length > 0) assert.doesNotMatch(c.buf.toString('latin1'), /^HTTP\/1\.1 200/);
      assert.equal((await mock.stats()).requests, 0, 'nothing was sent upstream');
    } finally {
      c.destroy();
    }
  });

  test('a slow but steady client within the timeout is served', async () => {
    const c = await RawConn.open(gw.port);
    try {
      const req = rawRequest({ path: '/healthz' });
      c.write(req.slice(0, 10));
      await sleep(100);
      c.write(req.slice(10));
      const r = await c.response();
      assert.equal(r.status, 200);
    } finally {
      c.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('secrets never leak', { timeout: 60_000 }, () => {
  test('provider token and client key appear in no log line and no error body', async () => {
    const mock = await mockProc();
    const gw = await gatewayProc({ yaml: configFor(mock, { extra: 'log: {level: debug}' }) });
    const bodies = [];
    try {
      const call = async (headers, body, path = '/v1/chat/completions') => {
        const r = await fetch(`${gw.base}${path}`, { method: body ? 'POST' : 'GET', headers: { 'content-type': 'application/json', ...headers }, body });
        const text = await r.text();
        bodies.push(text);
        return { status: r.status, text };
      };
      assert.equal((await call(AUTH, chatBody())).status, 200);
      assert.equal((await call(AUTH, chatBody({ stream: true }))).status, 200);
      assert.equal((await call(AUTH, undefined, '/v1/models')).status, 200);
      // Wrong keys that contain the real one: nothing of them may be echoed.
      assert.equal((await call({ authorization: `Bearer ${QUICK_KEY}x` }, chatBody())).status, 401);
      assert.equal((await call({ authorization: `Basic ${QUICK_KEY}` }, chatBody())).status, 401);
      assert.equal((await call({ authorization: `Bearer x${QUICK_KEY}` }, undefined, '/v1/models')).status, 401);
      assert.equal((await call({}, chatBody())).status, 401);
      // The provider refuses the gateway's credential: an operator problem, 502.
      const up = await call(AUTH, chatBody({ mock: { status: 401 } }));
      assert.equal(up.status, 502);
      assertOpenAIError(up.text, { code: 'upstream_auth_failed' });
      const up403 = await call(AUTH, chatBody({ mock: { status: 403 } }));
      assert.equal(up403.status, 502);
      assertOpenAIError(up403.text, { code: 'upstream_auth_failed' });
      // Other failures: bad JSON, unknown model, upstream 500.
      assert.equal((await call(AUTH, '{nope')).status, 400);
      assert.equal((await call(AUTH, chatBody({ model: 'no-such-model' }))).status, 404);
      assert.equal((await call(AUTH, chatBody({ mock: { status: 500 } }))).status, 500);
      // The upstream answer was really sent with the token (so the token was in play).
      assert.equal((await mock.lastRequest()).headers.authorization, `Bearer ${PROVIDER_TOKEN}`);

      // Every request has been access-logged (the log is asynchronous).
      await waitFor(() => countOf(gw.log(), /"type":"access"/g) >= 12, { what: "access log lines", timeoutMs: 3000 });
      const log = gw.log();
      assert.ok(!log.includes(PROVIDER_TOKEN), 'the provider token is not logged');
      assert.ok(!log.includes(QUICK_KEY), 'the client key is not logged');
      for (const b of bodies) {
        assert.ok(!b.includes(PROVIDER_TOKEN), `no provider token in ${b.slice(0, 200)}`);
        assert.ok(!b.includes(QUICK_KEY), `no client key in ${b.slice(0, 200)}`);
      }
    } finally {
      await cleanup(() => gw.stop(), () => mock.stop());
    }
  });

  test('an upstream 401 whose body echoes the provider token is not relayed', async () => {
    const mock = await mockProc();
    const gw = await gatewayProc({ yaml: configFor(mock) });
    try {
      const echo = JSON.stringify({ error: { message: `Incorrect API key provided: ${PROVIDER_TOKEN}`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
      const r = await fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: chatBody({ mock: { status: 401, error_body: echo } }),
      });
      const text = await r.text();
      assert.equal(r.status, 502);
      assertOpenAIError(text, { code: 'upstream_auth_failed' });
      assert.ok(!text.includes(PROVIDER_TOKEN), text);
    } finally {
      await cleanup(() => gw.stop(), () => mock.stop());
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('SIGHUP reload', { timeout: 60_000 }, () => {
  test('a valid file takes effect, an invalid one is refused with diagnostics, a new token is used', { timeout: 20_000 }, async () => {
    const mock = await mockProc();
    const file = writeConfig(configFor(mock));
    const gw = await gatewayProc({ file });
    const reloads = () => countOf(gw.log(), /configuration reloaded/g);
    const refusals = () => countOf(gw.log(), /refused/g);
    const chat = async (model, extra = {}) => {
      const r = await fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: chatBody({ model, ...extra }),
      });
      return { status: r.status, body: await r.json() };
    };
    const models = async () => (await (await fetch(`${gw.baseURL}/models`, { headers: AUTH })).json()).data.map((m) => m.id);
    try {
      assert.equal((await chat('chat-new')).status, 404, 'chat-new is not configured yet');
      assert.ok(!(await models()).includes('chat-new'));

      // 1. A valid change.
      writeFileSync(file, configFor(mock, { models: '  chat-new: {provider: local, upstream_model: "gpt-new"}' }));
      gw.child.kill('SIGHUP');
      await waitFor(() => reloads() === 1, { what: '"configuration reloaded"' });
      await waitFor(async () => (await models()).includes('chat-new'), { what: 'chat-new in /v1/models', timeoutMs: 2000 });
      const ok = await chat('chat-new');
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.choices[0].message.content, words(8));
      assert.equal(JSON.parse((await mock.lastRequest()).body).model, 'gpt-new');

      // 2. An invalid change is refused; the previous configuration keeps serving.
      const invalid = configFor(mock, { server: '  bogus_key: 1', models: '  chat-new: {provider: local, upstream_model: "gpt-new"}' });
      const badLine = invalid.split('\n').findIndex((l) => l.includes('bogus_key')) + 1;
      writeFileSync(file, invalid);
      gw.child.kill('SIGHUP');
      await waitFor(() => refusals() === 1, { what: '"refused" in the log' });
      await waitFor(() => new RegExp(`${escapeRe(file)}:${badLine}:3: unknown key 'bogus_key'`).test(gw.log()),
        { what: 'the FILE:LINE:COL diagnostic in the log', timeoutMs: 2000 });
      assert.equal(reloads(), 1);
      assert.equal(gw.child.exitCode, null, 'still running');
      const still = await chat('chat-new');
      assert.equal(still.status, 200, JSON.stringify(still.body));
      assert.ok((await models()).includes('chat-new'));

      // 3. A new provider token (and a new body limit) apply to the next request.
      const rotated = configFor(mock, { server: '  max_body_bytes: 4096', models: '  chat-new: {provider: local, upstream_model: "gpt-new"}' })
        .replace('auth: {token: "${TEST_PROVIDER_TOKEN}"}', 'auth: {token: "sk-rotated-token"}');
      assert.ok(rotated.includes('sk-rotated-token'));
      writeFileSync(file, rotated);
      gw.child.kill('SIGHUP');
      await waitFor(() => reloads() === 2, { what: 'the second "configuration reloaded"' });
      let auth;
      await waitFor(async () => {
        const r = await chat('chat-small');
        assert.equal(r.status, 200);
        auth = (await mock.lastRequest()).headers.authorization;
        return auth === 'Bearer sk-rotated-token';
      }, { what: 'the rotated token upstream', timeoutMs: 2000 });
      const big = await httpOnce(gw.port, { method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ pad: 'x'.repeat(5000) }) });
      assert.equal(big.status, 413, 'the reloaded max_body_bytes applies');
      assert.ok(!gw.log().includes('sk-rotated-token'), 'the new token is not logged either');
    } finally {
      await cleanup(() => gw.stop(), () => mock.stop());
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('SIGTERM drain', { timeout: 60_000 }, () => {
  test('in-flight requests finish, readiness turns 503, keep-alive gets Connection: close, exit 0', { timeout: 20_000 }, async () => {
    const mock = await mockProc();
    const gw = await gatewayProc({ yaml: configFor(mock, { server: '  drain_timeout_ms: 10000' }) });
    const conns = [];
    try {
      // An idle keep-alive connection, established before the signal.
      const ka = await RawConn.open(gw.port);
      conns.push(ka);
      ka.write(rawRequest({ path: '/readyz' }));
      const first = await ka.response();
      assert.equal(first.status, 200);

      // A slow non-stream request and a paced stream, in flight.
      const slow = await RawConn.open(gw.port);
      const stream = await RawConn.open(gw.port);
      conns.push(slow, stream);
      slow.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ mock: { latency_ms: 2000 } }) }));
      // (Both last long enough that a slow machine still has them in flight when the drain begins.)
      stream.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ stream: true, mock: { inter_token_ms: 300, tokens: 6 } }) }));
      await waitFor(async () => (await mock.stats()).requests >= 2, { what: 'both requests upstream' });
      await stream.waitForText('data: ');  // the stream has started

      const t0 = Date.now();
      gw.child.kill('SIGTERM');

      // The idle keep-alive connection: readiness reports draining and the connection is closed.
      let ready;
      for (;;) {
        ka.write(rawRequest({ path: '/readyz' }));
        ready = await ka.response();
        // The drain can begin between the readiness check and the answer's head: then a 200
        // already carries Connection: close, and the connection ends (still a correct drain).
        if (ready.status !== 200 || (ready.headers.connection ?? '').toLowerCase() === 'close') break;
        assert.ok(Date.now() - t0 < 2000, 'readyz turned 503 within 2 s of SIGTERM');
        await sleep(10);
      }
      if (ready.status !== 200) {
        assert.equal(ready.status, 503);
        assert.deepEqual(ready.json(), { status: 'draining' });
      }
      assert.equal((ready.headers.connection ?? '').toLowerCase(), 'close');
      await ka.closed();

      // A new connection is refused, reset, or told 503: never served as ready.
      try {
        const fresh = await RawConn.open(gw.port);
        conns.push(fresh);
        fresh.write(rawRequest({ path: '/readyz' }));
        const r = await fresh.response(2000).catch((e) => ({ error: e }));
        if (!r.error) assert.equal(r.status, 503, 'a new connection during the drain is not ready');
      } catch (e) {
        assert.match(e.code ?? '', /ECONNREFUSED|ECONNRESET/);
      }

      // Both in-flight answers complete in full.
      const a = await slow.response(5000);
      assert.equal(a.status, 200, a.text);
      assert.equal(a.json().choices[0].message.content, words(8));
      assert.equal((a.headers.connection ?? '').toLowerCase(), 'close', 'answered during the drain: Connection: close');
      const s = await stream.response(5000);
      assert.equal(s.status, 200);
      assert.equal(sseContent(s.text), words(6));
      assert.equal(sseData(s.text).at(-1), '[DONE]');

      const exit = await gw.exited;
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(Date.now() - t0 < 6000, `exited promptly after the drain (${Date.now() - t0} ms)`);
      assert.match(gw.log(), /draining/);
    } finally {
      for (const c of conns) c.destroy();
      await cleanup(() => gw.stop(), () => mock.stop());
    }
  });

  test('SIGINT on an idle gateway: exit 0 promptly', async () => {
    const mock = await mockProc();
    const gw = await gatewayProc({ yaml: configFor(mock) });
    try {
      const t0 = Date.now();
      gw.child.kill('SIGINT');
      const exit = await Promise.race([gw.exited, sleep(3000).then(() => 'still running')]);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    } finally {
      await cleanup(() => gw.stop(), () => mock.stop());
    }
  });

  test('drain_timeout_ms bounds the drain: a 5 s request does not hold the exit', { timeout: 15_000 }, async () => {
    const mock = await mockProc();
    const gw = await gatewayProc({ yaml: configFor(mock, { server: '  drain_timeout_ms: 300' }) });
    const c = await RawConn.open(gw.port);
    try {
      c.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ mock: { latency_ms: 5000 } }) }));
      await waitFor(async () => (await mock.stats()).requests >= 1, { what: 'the request upstream' });
      const t0 = Date.now();
      gw.child.kill('SIGTERM');
      const exit = await Promise.race([gw.exited, sleep(4000).then(() => 'still running')]);
      const took = Date.now() - t0;
      assert.deepEqual(exit, { code: 0, signal: null }, `exit after SIGTERM (${took} ms)`);
      assert.ok(took < 2000, `exited within 2 s (took ${took} ms)`);
      await c.closed(2000);  // the cut request's connection is closed, not left hanging
      assert.match(gw.log(), /drain timed out with 1 requests still in flight/);
    } finally {
      c.destroy();
      await cleanup(() => gw.stop(), () => mock.stop());
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('upstream TLS', { timeout: 60_000 }, () => {
  let dir, cert, key, wrongCert, wrongKey, mock, wrongMock;
  const startTlsMock = async (c, k) => {
    const m = await mockProc(['--tls-cert', c, '--tls-key', k]);
    return m;
  };
  // The mock's inspection endpoints over HTTPS.
  const httpsJson = (url, ca) => new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => { try { resolve(JSON.parse(data)); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
  const makeCert = (name, subj, san) => {
    const c = join(dir, `${name}.pem`);
    const k = join(dir, `${name}.key`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', k, '-out', c, '-days', '2', '-subj', subj, '-addext', `subjectAltName=${san}`], { stdio: 'pipe' });
    return [c, k];
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-tls-'));
    [cert, key] = makeCert('localhost', '/CN=localhost', 'IP:127.0.0.1,DNS:localhost');
    [wrongCert, wrongKey] = makeCert('wrong', '/CN=wrong.example', 'DNS:wrong.example');
    mock = await startTlsMock(cert, key);
    wrongMock = await startTlsMock(wrongCert, wrongKey);
  });
  after(() => cleanup(() => mock?.stop(), () => wrongMock?.stop()));

  const tlsConfig = () => `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  trusted-ip:
    kind: openai-compatible
    base_url: "https://127.0.0.1:${mock.port}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
    tls: {ca_file: "${cert}"}
  trusted-name:
    kind: openai-compatible
    base_url: "https://localhost:${mock.port}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
    tls: {ca_file: "${cert}"}
  untrusted:
    kind: openai-compatible
    base_url: "https://127.0.0.1:${mock.port}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
  wrong-name:
    kind: openai-compatible
    base_url: "https://127.0.0.1:${wrongMock.port}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
    tls: {ca_file: "${wrongCert}"}
models:
  via-ip: {provider: trusted-ip, upstream_model: "gpt-x"}
  via-name: {provider: trusted-name, upstream_model: "gpt-x"}
  untrusted: {provider: untrusted, upstream_model: "gpt-x"}
  wrong-name: {provider: wrong-name, upstream_model: "gpt-x"}
${keysYaml}`;

  let gw;
  before(async () => { gw = await gatewayProc({ yaml: tlsConfig() }); });
  after(() => cleanup(() => gw?.stop()));

  const chat = async (model, extra = {}) => {
    const r = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: chatBody({ model, ...extra }),
    });
    return { status: r.status, body: await r.json() };
  };

  test('https to an IP with tls.ca_file: works (no SNI for an IP literal)', async () => {
    const r = await chat('via-ip');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.choices[0].message.content, words(8));
    const [last] = await httpsJson(`https://127.0.0.1:${mock.port}/__mock/requests?limit=1`, [readFileSync(cert)]);
    assert.equal(last.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);
    assert.equal(last.sni, undefined, 'no SNI for an IP address');
  });

  test('https streaming through TLS', async () => {
    const r = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: chatBody({ model: 'via-ip', stream: true, mock: { tokens: 5 } }),
    });
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.equal(sseContent(text), words(5));
    assert.equal(sseData(text).at(-1), '[DONE]');
  });

  test('https to a host name with tls.ca_file: works and sends SNI', async () => {
    const r = await chat('via-name');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.choices[0].message.content, words(8));
    const [last] = await httpsJson(`https://127.0.0.1:${mock.port}/__mock/requests?limit=1`, [readFileSync(cert)]);
    assert.equal(last.sni, 'localhost');
  });

  test('without the CA: 502 upstream_unreachable naming the certificate problem', async () => {
    const t0 = Date.now();
    const r = await chat('untrusted');
    assert.equal(r.status, 502, JSON.stringify(r.body));
    assertOpenAIError(r.body, { code: 'upstream_unreachable', messageRe: /self[- ]signed certificate/i });
    assert.ok(Date.now() - t0 < 3000);
  });

  test('a trusted certificate for another host name: 502 (host name is verified)', async () => {
    const r = await chat('wrong-name');
    assert.equal(r.status, 502, JSON.stringify(r.body));
    assertOpenAIError(r.body, { code: 'upstream_unreachable', messageRe: /certificate|host ?name|verify/i });
  });
});

// ---------------------------------------------------------------------------------------------

describe('upstream failures', { timeout: 60_000 }, () => {
  let mock, gw;
  before(async () => {
    mock = await mockProc();
    const dead = await closedPort();
    gw = await gatewayProc({ yaml: `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  dead:
    kind: openai-compatible
    base_url: "http://127.0.0.1:${dead}/v1"
    timeouts: {connect_ms: 2000}
  slow:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    timeouts: {first_byte_ms: 200}
  idle:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    timeouts: {idle_ms: 200}
  total:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    timeouts: {total_ms: 300}
models:
  m-dead: {provider: dead, upstream_model: "gpt-x"}
  m-slow: {provider: slow, upstream_model: "gpt-x"}
  m-idle: {provider: idle, upstream_model: "gpt-x"}
  m-total: {provider: total, upstream_model: "gpt-x"}
${keysYaml}` });
  });
  after(() => cleanup(() => gw?.stop(), () => mock?.stop()));

  const post = (body) => fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body,
  });

  test('a closed port: 502 upstream_unreachable, quickly', async () => {
    const t0 = Date.now();
    const r = await post(chatBody({ model: 'm-dead' }));
    const took = Date.now() - t0;
    assert.equal(r.status, 502);
    assert.match(r.headers.get('x-request-id'), REQUEST_ID);
    assertOpenAIError(await r.text(), { code: 'upstream_unreachable', messageRe: /connect/i });
    assert.ok(took < 1500, `took ${took} ms`);
  });

  test('first_byte_ms: 504 upstream_timeout naming the timeout', async () => {
    const t0 = Date.now();
    const r = await post(chatBody({ model: 'm-slow', mock: { latency_ms: 2000 } }));
    const took = Date.now() - t0;
    assert.equal(r.status, 504);
    assertOpenAIError(await r.text(), { code: 'upstream_timeout', messageRe: /first_byte_ms/ });
    assert.ok(took >= 150 && took < 1500, `took ${took} ms`);
  });

  test('first_byte_ms on a stream: 504 before any event', async () => {
    const r = await post(chatBody({ model: 'm-slow', stream: true, mock: { latency_ms: 2000 } }));
    assert.equal(r.status, 504);
    assertOpenAIError(await r.text(), { code: 'upstream_timeout' });
  });

  test('idle_ms mid-stream: the stream ends with one SSE error event (upstream_timeout), no [DONE]', async () => {
    const t0 = Date.now();
    const r = await post(chatBody({ model: 'm-idle', stream: true, mock: { inter_token_ms: 1000, tokens: 3 } }));
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/event-stream/);
    const text = await r.text();
    const took = Date.now() - t0;
    const events = sseData(text);
    assert.ok(events.length >= 2, text);
    assert.ok(!events.includes('[DONE]'), 'no [DONE] after an error');
    assert.equal(JSON.parse(events[0]).choices[0].delta.role, 'assistant', 'the stream had started');
    const last = JSON.parse(events.at(-1));
    assertOpenAIError(last, { code: 'upstream_timeout', messageRe: /idle_ms/ });
    assert.ok(took < 2000, `the idle timeout cut the stream, not the mock's 1 s pacing (${took} ms)`);
  });

  test('total_ms bounds a slow stream', async () => {
    const r = await post(chatBody({ model: 'm-total', stream: true, mock: { inter_token_ms: 100, tokens: 20 } }));
    assert.equal(r.status, 200);
    const events = sseData(await r.text());
    const last = JSON.parse(events.at(-1));
    assertOpenAIError(last, { code: 'upstream_timeout', messageRe: /total_ms/ });
  });

  test('an upstream reset before answering: 502 upstream_disconnected', async () => {
    const r = await post(chatBody({ model: 'm-slow', mock: { reset: 'before' } }));
    assert.equal(r.status, 502);
    assertOpenAIError(await r.text(), { code: 'upstream_disconnected' });
  });

  test('an upstream reset mid-stream: the stream ends with an SSE error event', async () => {
    const r = await post(chatBody({ model: 'm-slow', stream: true, mock: { reset: 'mid', tokens: 6 } }));
    assert.equal(r.status, 200);
    const events = sseData(await r.text());
    assert.ok(!events.includes('[DONE]'));
    assertOpenAIError(JSON.parse(events.at(-1)), { code: 'upstream_disconnected' });
  });

  test('the gateway still serves after all of that', async () => {
    const r = await post(chatBody({ model: 'm-slow' }));
    assert.equal(r.status, 200);
    assert.equal((await r.json()).choices[0].message.content, words(8));
  });
});

// ---------------------------------------------------------------------------------------------

describe('resource leaks', { timeout: 60_000 }, () => {
  test('after 200+ requests (50 aborted streams, 10 abandoned requests, 50 bad requests) fds return to baseline and no stream is left upstream', { timeout: 30_000 }, async (t) => {
    const mock = await mockProc();
    const gw = await gatewayProc({ yaml: configFor(mock, { providerExtra: '    pool: {max_idle: 2}' }) });
    const fdDir = `/proc/${gw.child.pid}/fd`;
    assert.ok(existsSync(fdDir), 'needs /proc');
    const fds = () => readdirSync(fdDir).length;
    const inBatches = async (n, size, fn) => {
      for (let i = 0; i < n; i += size) {
        await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => fn(i + j)));
      }
    };
    const chatOk = async (i) => {
      const stream = i % 2 === 1;
      const r = await httpOnce(gw.port, { method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ stream, mock: { tokens: 3 } }) });
      assert.equal(r.status, 200, r.text);
      if (stream) assert.equal(sseContent(r.text), words(3));
      else assert.equal(r.json().choices[0].message.content, words(3));
    };
    try {
      // Warm up (upstream pools, worker threads), then take the baseline.
      await inBatches(20, 10, chatOk);
      await waitFor(async () => (await mock.stats()).active_streams === 0, { what: 'warm-up streams done' });
      const baseline = fds();

      // 100 good requests (half streams).
      await inBatches(100, 10, chatOk);
      // 50 streams the client abandons mid-way.
      await inBatches(50, 10, async () => {
        const c = await RawConn.open(gw.port);
        c.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ stream: true, mock: { tokens: 20, inter_token_ms: 30 } }) }));
        await c.waitForText('data: ');
        c.destroy();
      });
      // 10 non-stream requests the client gives up on while the provider is still thinking: the
      // gateway must cut the upstream exchange too (the mock sees its connections close long
      // before its 3 s latency is over).
      await Promise.all(Array.from({ length: 10 }, async () => {
        const c = await RawConn.open(gw.port);
        c.write(rawRequest({ method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ mock: { latency_ms: 3000 } }) }));
        await sleep(50);
        c.destroy();
      }));
      await waitFor(async () => (await mock.stats()).active_connections <= 4, { what: 'upstream connections of abandoned requests closed', timeoutMs: 2000 });
      // 50 bad requests: malformed JSON, bad key, unknown model, framing errors, oversized headers.
      await inBatches(50, 10, async (i) => {
        switch (i % 5) {
          case 0: {
            const r = await httpOnce(gw.port, { method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: '{"model":' });
            assert.equal(r.status, 400);
            break;
          }
          case 1: {
            const r = await httpOnce(gw.port, { method: 'POST', path: '/v1/chat/completions', headers: { authorization: 'Bearer nope' }, body: chatBody() });
            assert.equal(r.status, 401);
            break;
          }
          case 2: {
            const r = await httpOnce(gw.port, { method: 'POST', path: '/v1/chat/completions', headers: AUTH, body: chatBody({ model: 'nope' }) });
            assert.equal(r.status, 404);
            break;
          }
          case 3: {
            const c = await RawConn.open(gw.port);
            c.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n');
            const r = await c.response();
            assert.equal(r.status, 400);
            await c.closed();
            c.destroy();
            break;
          }
          default: {
            // A client that sends half a request and goes away.
            const c = await RawConn.open(gw.port);
            c.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"model"`);
            await sleep(5);
            c.destroy();
          }
        }
      });

      await waitFor(async () => (await mock.stats()).active_streams === 0, { what: 'mock active_streams back to 0', timeoutMs: 3000 });
      let now;
      await waitFor(() => (now = fds()) <= baseline + 10, { what: `gateway fds back near the baseline (${baseline})`, timeoutMs: 3000, intervalMs: 50 })
        .catch((e) => { throw new Error(`${e.message}: ${now} open fds now`); });
      t.diagnostic(`gateway fds: baseline ${baseline}, after the run ${now}`);
      const stats = await mock.stats();
      assert.ok(stats.streams_cancelled >= 45, `upstream streams were cancelled when clients left (${JSON.stringify(stats)})`);
      // Still serving.
      await chatOk(0);
    } finally {
      await cleanup(() => gw.stop(), () => mock.stop());
    }
  });
});
