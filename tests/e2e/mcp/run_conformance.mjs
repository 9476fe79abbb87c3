#!/usr/bin/env node
// Runs the MCP conformance suite (server scenarios) and prints one line per check.
//
//   node mcp/run_conformance.mjs --url http://127.0.0.1:8080/mcp/everything [--token KEY]
//   node mcp/run_conformance.mjs --server conformance|everything [--via-proxy]
//        [--suite active|all|pending] [--scenario NAME] [--spec-version 2025-06-18] [--json]
//
// --server starts that server (conformance_server.mjs, or npm's server-everything) and runs the
// suite directly against it; --via-proxy puts auth_proxy.mjs in front of it. --token puts
// auth_proxy.mjs in front of --url (the runner itself sends no credential). Exit status 0 when no
// check failed.
import { parseArgs } from 'node:util';
import { runConformance } from './conformance.mjs';
import { startConformanceServer, startEverything, startAuthProxy } from './harness_mcp.mjs';

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    server: { type: 'string' },
    'via-proxy': { type: 'boolean', default: false },
    suite: { type: 'string' },
    scenario: { type: 'string' },
    'spec-version': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const stops = [];
try {
  let url = opts.url;
  if (opts.server) {
    const srv = opts.server === 'everything' ? await startEverything() : await startConformanceServer();
    stops.push(srv);
    url = srv.url;
  }
  if (!url) throw new Error('--url or --server');
  if (opts.token !== undefined || opts['via-proxy']) {
    const u = new URL(url);
    const proxy = await startAuthProxy(u.origin, opts.token ?? 'unused');
    stops.unshift(proxy);
    url = `${proxy.base}${u.pathname}`;
  }
  const run = await runConformance(url, { suite: opts.suite, scenario: opts.scenario, specVersion: opts['spec-version'] });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ url, durationMs: run.durationMs, results: run.results }, null, 2)}\n`);
  } else {
    for (const [key, status] of Object.entries(run.results)) {
      const [scen, id] = key.split('/');
      const c = run.checks[scen].find((x) => x.id === id.replace(/#\d+$/, '') && x.status === status);
      process.stdout.write(`${status.padEnd(8)} ${key}${status !== 'SUCCESS' && c?.errorMessage ? `  — ${c.errorMessage.slice(0, 160)}` : ''}\n`);
    }
    process.stdout.write(`\n${run.passed.length} passed, ${run.failed.length} failed, ${run.warnings.length} warnings in ${(run.durationMs / 1000).toFixed(1)} s (${url})\n`);
  }
  process.exitCode = run.failed.length ? 1 : 0;
} finally {
  for (const s of stops) await s.stop();
}
