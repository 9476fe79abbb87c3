// What the Responses API costs the gateway beside chat: the same short prompt sent as
// /v1/chat/completions (passed through), as /v1/responses translated to chat, as /v1/responses
// passed through natively (`responses: native`), and as /v1/responses continuing a stored
// response (previous_response_id: one read of the store and the conversation rebuilt), to one
// mockllm, side by side in one run. Rounds rotate the order; each round sends `--requests /
// --rounds` sequential requests per path on one keep-alive connection (Node's fetch). Reports per
// path: p50 / p90 latency (ms) and the gateway's CPU per request (its threads' schedstat run time
// over that path's batches). Every answer's text is checked.
//
//   GATEHOUSE_BUILD_DIR=build/release node bench/responses_overhead.mjs [--requests 2000] [--rounds 10]
// Run from the repository root; needs tests/e2e's npm packages (harness) and a built mockllm.
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';

const root = resolve(new URL('..', import.meta.url).pathname);
const { startGateway, startMock, sha256 } = await import(join(root, 'tests', 'e2e', 'harness.mjs'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const requests = Number(args.requests ?? 2000), rounds = Number(args.rounds ?? 10);

function cpuNs(pid) {
  let total = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  return total;
}
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

const mock = await startMock(['--no-record', '--quiet']);
const dir = mkdtempSync(join(tmpdir(), 'gh-bench-'));
const gw = await startGateway({ yaml: `server:
  listen: "127.0.0.1:0"
  workers: 1
log: {access_log: false}
providers:
  local: {kind: openai-compatible, base_url: "${mock.base}/v1"}
  native: {kind: openai-compatible, base_url: "${mock.base}/v1", responses: native}
models:
  chat: {provider: local, upstream_model: gpt-x}
  native: {provider: native, upstream_model: gpt-x}
keys:
  - {name: bench, sha256: "${sha256('k-bench')}"}
store: {sqlite: "${dir}/g.db"}
` });
const headers = { authorization: 'Bearer k-bench', 'content-type': 'application/json' };
const TEXT = 'alpha bravo charlie delta echo foxtrot golf hotel';
const post = async (path, body) => {
  const r = await fetch(`${gw.base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const j = await r.json();
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
};
const first = await post('/v1/responses', { model: 'chat', input: 'Hello there, how are you?' });
const paths = {
  chat: async () => (await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'Hello there, how are you?' }] })).choices[0].message.content,
  responses: async () => (await post('/v1/responses', { model: 'chat', input: 'Hello there, how are you?', store: false })).output[0].content[0].text,
  native: async () => (await post('/v1/responses', { model: 'native', input: 'Hello there, how are you?', store: false })).output[0].content[0].text,
  chained: async () => (await post('/v1/responses', { model: 'chat', previous_response_id: first.id, input: 'And now?', store: false })).output[0].content[0].text,
};
const names = Object.keys(paths);
const lat = Object.fromEntries(names.map((n) => [n, []]));
const cpu = Object.fromEntries(names.map((n) => [n, 0]));
const per = Math.max(1, Math.floor(requests / rounds));
for (const n of names) for (let i = 0; i < 50; i++) await paths[n]();  // warm-up
for (let round = 0; round < rounds; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const n of order) {
    const before = cpuNs(gw.child.pid);
    for (let i = 0; i < per; i++) {
      const t0 = performance.now();
      const text = await paths[n]();
      lat[n].push(performance.now() - t0);
      if (text !== TEXT) throw new Error(`${n}: unexpected answer ${text}`);
    }
    cpu[n] += cpuNs(gw.child.pid) - before;
  }
}
console.log(`| path | requests | p50 ms | p90 ms | gateway CPU µs/request | CPU ÷ chat |`);
console.log(`|---|---:|---:|---:|---:|---:|`);
const base = cpu.chat / lat.chat.length;
for (const n of names) {
  const c = cpu[n] / lat[n].length;
  console.log(`| ${n} | ${lat[n].length} | ${pct(lat[n], 0.5).toFixed(3)} | ${pct(lat[n], 0.9).toFixed(3)} | ${(c / 1000).toFixed(1)} | ${(c / base).toFixed(2)}× |`);
}
await gw.stop();
await mock.stop();
