#!/usr/bin/env node
// A credential-adding HTTP proxy: forwards every request (any method, bodies streamed both ways,
// SSE included) to --target, with `Authorization: Bearer TOKEN` set. The MCP conformance runner
// sends no credential; this stands between it and the gateway.
//
//   node auth_proxy.mjs --target http://127.0.0.1:8080 --token gh-test-key [--port 0] [--rewrite-host]
//
// Prints `auth proxy listening on 127.0.0.1:PORT`. A request for /a/b?c goes to TARGET/a/b?c
// (a path in --target is put in front). Headers go along as they are except the hop-by-hop ones
// and any client Authorization (replaced); `Host` is kept as the client sent it (so the gateway's
// DNS-rebinding check sees what the client sent) unless --rewrite-host sets the target's.
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    target: { type: 'string' },
    token: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'rewrite-host': { type: 'boolean', default: false },
  },
});
if (!opts.target || opts.token === undefined) {
  process.stderr.write('usage: auth_proxy.mjs --target URL --token TOKEN [--port 0] [--rewrite-host]\n');
  process.exit(2);
}
const target = new URL(opts.target);
const prefix = target.pathname.replace(/\/$/, '');

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate',
  'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
function endToEnd(headers) {
  const named = new Set(String(headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean));
  const out = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(k) && !named.has(k)) out[k] = v;
  }
  return out;
}

const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const headers = endToEnd(req.headers);
  headers.authorization = `Bearer ${opts.token}`;
  if (opts['rewrite-host']) headers.host = target.host;
  const up = http.request({
    agent, hostname: target.hostname, port: target.port || 80, method: req.method,
    path: prefix + req.url, headers, setHost: false,
  });
  up.on('socket', (s) => s.setNoDelay(true));
  up.on('response', (upRes) => {
    res.writeHead(upRes.statusCode, upRes.statusMessage, endToEnd(upRes.headers));
    res.flushHeaders();    // an SSE stream's headers go out before its first event
    upRes.pipe(res);
    upRes.on('error', () => res.destroy());
  });
  up.on('error', (e) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`auth proxy: ${e.message}\n`);
    } else {
      res.destroy();
    }
  });
  // The client went away (e.g. closed an SSE stream): so does the upstream request.
  res.on('close', () => { if (!res.writableFinished) up.destroy(); });
  req.pipe(up);
});
server.on('connection', (s) => s.setNoDelay(true));
server.listen(Number(opts.port), opts.host, () => {
  const { address, port } = server.address();
  process.stdout.write(`auth proxy listening on ${address}:${port}\n`);
});
const stop = () => { server.close(); server.closeAllConnections(); agent.destroy(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
