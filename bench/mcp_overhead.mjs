// What the MCP gateway adds to a tool call: the same MCP server (tests/e2e/mcp/test_server.mjs)
// called directly and through a gateway route, side by side in one run, with the official SDK
// client. Rounds alternate the order (direct first in even rounds, gateway first in odd ones);
// each round makes `--calls / --rounds` sequential tools/call `echo` per path on one session.
// Reports per path: p50 / p90 / p99 latency (ms) and the gateway's CPU per call (its threads'
// schedstat run time over the gateway batches). Every answer's text is checked.
//
//   GATEHOUSE_BUILD_DIR=build/release node bench/mcp_overhead.mjs [--calls 2000] [--rounds 10]
//        [--guardrails]    # the route with input [secrets] and output [pii] guardrails
// Run from the repository root after `cmake --build --preset release`; needs tests/e2e's npm packages.
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const e2e = join(root, 'tests', 'e2e');
const { startMcpServer, mcpClient } = await import(join(e2e, 'mcp', 'harness_mcp.mjs'));
const { startGateway, sha256 } = await import(join(e2e, 'harness.mjs'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const calls = Number(args.calls ?? 2000), rounds = Number(args.rounds ?? 10);
const guarded = args.guardrails === 'true';

function cpuNs(pid) {
  let total = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  return total;
}
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

const server = await startMcpServer(['--name', 'crm']);
const gw = await startGateway({ yaml: `server:
  listen: "127.0.0.1:0"
  workers: 2
log: {access_log: false}
keys:
  - {name: bench, sha256: "${sha256('k-bench')}"}
${guarded ? `guardrails:
  pii: {kind: pii, action: mask}
  secrets: {kind: secrets, action: block}
` : ''}mcp:
  servers:
    crm: {url: "${server.url}"${guarded ? ', guardrails: {input: [secrets], output: [pii]}' : ''}}
` });
const direct = await mcpClient(server.url);
const viaGw = await mcpClient(`${gw.base}/mcp/crm`, { token: 'k-bench' });
const lat = { direct: [], gateway: [] };
let gwCpu = 0, gwCalls = 0;
async function batch(name, client, n) {
  const before = name === 'gateway' ? cpuNs(gw.child.pid) : 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await client.client.callTool({ name: 'echo', arguments: { text: `call ${i}` } });
    lat[name].push(performance.now() - t0);
    if (r.content[0].text !== `crm: call ${i}`) throw new Error(`${name}: unexpected answer ${JSON.stringify(r.content)}`);
  }
  if (name === 'gateway') { gwCpu += cpuNs(gw.child.pid) - before; gwCalls += n; }
}
try {
  await batch('direct', direct, 50); await batch('gateway', viaGw, 50);  // warm up
  lat.direct.length = lat.gateway.length = 0; gwCpu = gwCalls = 0;
  const per = Math.floor(calls / rounds);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['direct', 'gateway'] : ['gateway', 'direct'];
    for (const name of order) await batch(name, name === 'direct' ? direct : viaGw, per);
  }
  const row = (name) => `${name.padEnd(8)} p50 ${pct(lat[name], 0.5).toFixed(3)}  p90 ${pct(lat[name], 0.9).toFixed(3)}  p99 ${pct(lat[name], 0.99).toFixed(3)} ms  (${lat[name].length} calls)`;
  console.log(`tools/call echo, sequential, one session each${guarded ? ', guardrails on' : ''}`);
  console.log(row('direct'));
  console.log(row('gateway'));
  console.log(`added    p50 ${(pct(lat.gateway, 0.5) - pct(lat.direct, 0.5)).toFixed(3)} ms, p50 ratio ${(pct(lat.gateway, 0.5) / pct(lat.direct, 0.5)).toFixed(2)}`);
  console.log(`gateway CPU per call: ${(gwCpu / gwCalls / 1000).toFixed(1)} µs`);
} finally {
  await direct.close(); await viaGw.close(); await gw.stop(); await server.stop();
}
