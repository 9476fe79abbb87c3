// What shared limits cost: two gateways, identical but for where their counters live — one in
// process, one in Redis (state.redis) — each with a requests-per-minute limit, a tokens-per-
// minute limit and a concurrency limit on the key (every request admitted: the limits are
// generous), side by side in one run. Rounds alternate which gateway goes first; each is a wrk
// run at 64 connections (bench/post.lua). Reports per gateway: requests/s, p50 / p99 latency,
// the gateway's CPU per request (its threads' schedstat run time), and for the Redis one also
// redis-server's CPU per request. The mock provider answers at once, so latency differences are
// the gateway's.
//
//   GATEHOUSE_BUILD_DIR=build/release node bench/shared_limits.mjs [--seconds 10] [--rounds 3] [--connections 64]
// Run from the repository root; needs wrk, redis-server, tests/e2e's npm packages and a built mockllm.
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';

const run = promisify(execFile);
const root = resolve(new URL('..', import.meta.url).pathname);
const { startGateway, startMock, sha256 } = await import(join(root, 'tests', 'e2e', 'harness.mjs'));
const { startRedis } = await import(join(root, 'tests', 'e2e', 'redis.mjs'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const seconds = Number(args.seconds ?? 10), rounds = Number(args.rounds ?? 3), connections = Number(args.connections ?? 64);

function cpuNs(pid) {
  let total = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  return total;
}

const KEY = 'gh-bench-shared-limits';
const mock = await startMock(['--no-record', '--quiet']);
const redis = await startRedis();
const redisPid = Number((await redis.command('INFO', 'server')).match(/process_id:(\d+)/)[1]);
const dir = mkdtempSync(join(tmpdir(), 'gh-bench-'));
const config = (shared) => `server:
  listen: "127.0.0.1:0"
  workers: 1
log: {access_log: false}
providers:
  local: {kind: openai-compatible, base_url: "${mock.base}/v1"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x"}
keys:
  - {name: bench, sha256: "${sha256(KEY)}"}
limits:
  - {scope: key, match: bench, qpm: 100000000, tpm: 1000000000000, concurrency: 1000}
${shared ? `state:\n  redis: {url: "${redis.url}", password: "${redis.password}", timeout_ms: 50, on_error: deny}\n` : ''}`;
const gateways = { 'in-process': await startGateway({ yaml: config(false) }), redis: await startGateway({ yaml: config(true) }) };

async function wrk(gw) {
  const { stdout } = await run('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '-s', join(root, 'bench', 'post.lua'), `${gw.baseURL}/chat/completions`],
    { env: { ...process.env, BENCH_KEY: KEY }, maxBuffer: 1 << 20 });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH '));
  const kv = Object.fromEntries(line.slice(6).split(' ').map((p) => p.split('=')));
  if (Number(kv.err_status) > 0) throw new Error(`${gw.baseURL}: ${kv.err_status} non-2xx answers`);
  return kv;
}

const totals = Object.fromEntries(Object.keys(gateways).map((k) => [k, { requests: 0, seconds: 0, cpu: 0, redisCpu: 0, p50: [], p99: [] }]));
for (const gw of Object.values(gateways)) await wrk(gw);  // warm-up
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? ['redis', 'in-process'] : ['in-process', 'redis'];
  for (const name of order) {
    const gw = gateways[name];
    const c0 = cpuNs(gw.child.pid), r0 = cpuNs(redisPid);
    const kv = await wrk(gw);
    const t = totals[name];
    t.cpu += cpuNs(gw.child.pid) - c0;
    t.redisCpu += cpuNs(redisPid) - r0;
    t.requests += Number(kv.requests);
    t.seconds += Number(kv.duration_us) / 1e6;
    t.p50.push(Number(kv.p50_us) / 1000);
    t.p99.push(Number(kv.p99_us) / 1000);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${connections} connections, ${rounds} rounds of ${seconds} s per gateway (medians of the rounds' percentiles)`);
console.log('gateway     req/s    p50 ms  p99 ms  gateway CPU µs/req  redis CPU µs/req');
for (const [name, t] of Object.entries(totals)) {
  console.log(`${name.padEnd(10)} ${(t.requests / t.seconds).toFixed(0).padStart(6)}  ${median(t.p50).toFixed(2).padStart(6)}  ${median(t.p99).toFixed(2).padStart(6)}  ` +
    `${(t.cpu / t.requests / 1000).toFixed(1).padStart(18)}  ${(name === 'redis' ? (t.redisCpu / t.requests / 1000).toFixed(1) : '-').padStart(16)}`);
}
const [l, s] = [totals['in-process'], totals.redis];
console.log(`ratio redis / in-process: gateway CPU per request ${((s.cpu / s.requests) / (l.cpu / l.requests)).toFixed(2)}×, ` +
  `p50 ${(median(s.p50) / median(l.p50)).toFixed(2)}×, p99 ${(median(s.p99) / median(l.p99)).toFixed(2)}×`);
for (const gw of Object.values(gateways)) await gw.stop();
await redis.stop();
await mock.stop();
