// Starts the real processes an end-to-end test needs — the bundled fake provider (mockllm) and
// gatehouse — on free loopback ports, and stops them. Binaries come from GATEHOUSE_BUILD_DIR
// (default: build/dev at the repository root).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const buildDir = resolve(repoRoot, process.env.GATEHOUSE_BUILD_DIR ?? 'build/dev');
export const gatehouseBin = join(buildDir, 'gatehouse');
export const mockllmBin = join(buildDir, 'tools', 'mockllm', 'mockllm');

export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

// Under the asan preset a memory error aborts the process and a leak changes its exit code; both
// print a report on stderr. Stopping a process checks for either, so no finding goes unseen.
const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/;
export function checkExit(name, { code, signal }, output) {
  const text = output.join('');
  const at = text.search(SANITIZER_REPORT);
  if (at >= 0) throw new Error(`${name}: sanitizer report:\n${text.slice(Math.max(0, at - 200), at + 8000)}`);
  if (code !== 0) throw new Error(`${name} exited with ${code ?? signal} on SIGTERM:\n${text.slice(-4000)}`);
}

// Spawns `bin args` and resolves once a line of its output matches `ready` (a RegExp whose
// first group is the port). Rejects if the process exits or stays silent for `timeoutMs`.
function startProcess(bin, args, { env = {}, ready, timeoutMs = 10_000 }) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const port = new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${bin} not ready in ${timeoutMs} ms:\n${output.join('')}`)), timeoutMs);
    const onData = (buf) => {
      const text = buf.toString();
      output.push(text);
      const m = output.join('').match(ready);
      if (m) { clearTimeout(timer); res(Number(m[1])); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(({ code, signal }) => { clearTimeout(timer); rej(new Error(`${bin} exited (${code ?? signal}) before ready:\n${output.join('')}`)); });
  });
  return { child, output, exited, port };
}

// The fake provider. `args` are extra mockllm flags (e.g. ['--require-token', 'sk-up']).
export async function startMock(args = []) {
  const p = startProcess(mockllmBin, ['--listen', '127.0.0.1:0', ...args], { ready: /mockllm listening on [^:\s]+:(\d+)/ });
  const port = await p.port;
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    base,
    child: p.child,
    output: p.output,
    // What the gateway actually sent upstream, oldest first.
    async requests(limit = 20) { return (await fetch(`${base}/__mock/requests?limit=${limit}`)).json(); },
    async lastRequest() { const r = await this.requests(1); return r[r.length - 1]; },
    async stats() { return (await fetch(`${base}/__mock/stats`)).json(); },
    async reset() { await fetch(`${base}/__mock/reset`, { method: 'POST' }); },
    async stop() { p.child.kill('SIGTERM'); checkExit('mockllm', await p.exited, p.output); },
  };
}

export const QUICK_KEY = 'gh-test-key';
export const PROVIDER_TOKEN = 'sk-upstream-secret';

// A config for gatehouse in front of `mock`. `extra` is appended YAML (top-level keys other than
// server/providers/models/keys); `providerExtra` is YAML lines added under the provider.
export function configFor(mock, { providerExtra = '', models = '', server = '', extra = '' } = {}) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
${server}
providers:
  local:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
${providerExtra}
models:
  chat-small: {provider: local, upstream_model: "gpt-x"}
  embed-small: {provider: local, upstream_model: "emb-x"}
${models}
keys:
  - {name: test, sha256: "${sha256(QUICK_KEY)}"}
${extra}
`;
}

export function writeConfig(yaml) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, yaml);
  return file;
}

// gatehouse serve with `yaml` (a string) or an existing config file path (`file`).
export async function startGateway({ yaml, file, env = {} } = {}) {
  const path = file ?? writeConfig(yaml);
  const p = startProcess(gatehouseBin, ['serve', '--config', path],
    { env: { TEST_PROVIDER_TOKEN: PROVIDER_TOKEN, ...env }, ready: /listening on [^\s]+:(\d+) \(/ });
  const port = await p.port;
  return {
    port,
    configPath: path,
    base: `http://127.0.0.1:${port}`,
    baseURL: `http://127.0.0.1:${port}/v1`,
    child: p.child,
    output: p.output,            // everything it logged so far (array of chunks)
    log() { return p.output.join(''); },
    exited: p.exited,            // resolves to {code, signal}
    // SIGTERM, then fails if the process did not exit 0 or a sanitizer reported anything.
    async stop() {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      const result = await p.exited;
      checkExit('gatehouse', result, p.output);
      return result;
    },
  };
}

// Waits until `predicate()` is truthy (polling), or fails after `timeoutMs`.
export async function waitFor(predicate, { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// Sticky mock options (mockllm's POST /__mock/defaults): every following API request starts
// from `options` until they are cleared. For requests the gateway translates (which drop the
// client's `mock` body field and do not carry its headers upstream). Global to the mock: tests
// run with --test-concurrency=1.
export async function setMockDefaults(mock, options) {
  const r = await fetch(`${mock.base}/__mock/defaults`, { method: 'POST', body: JSON.stringify(options) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`POST /__mock/defaults ${JSON.stringify(options)}: ${r.status} ${text}`);
  return JSON.parse(text).defaults;
}

// Runs `fn` with the mock's sticky `options` set, and always clears them afterwards.
export async function withMockDefaults(mock, options, fn) {
  await setMockDefaults(mock, options);
  try {
    return await fn();
  } finally {
    await setMockDefaults(mock, {});
  }
}

// The server-sent events of a fetch Response, read to its end: [{event, data}], `data` parsed
// as JSON when it is JSON (else the raw text, e.g. "[DONE]"); `event` is null when unnamed.
export async function readSSE(response) {
  const text = await response.text();
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = null;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (!data.length) continue;
    const raw = data.join('\n');
    let parsed = raw;
    try { parsed = JSON.parse(raw); } catch { /* not JSON: keep the text */ }
    events.push({ event, data: parsed });
  }
  return events;
}
