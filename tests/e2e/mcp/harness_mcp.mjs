// Helpers for the MCP end-to-end tests: the MCP servers the tests start (test_server.mjs,
// conformance_server.mjs, npm's server-everything), the credential-adding proxy, and an SDK client
// with sampling, elicitation and roots handlers. See README.md in this directory.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

const here = dirname(fileURLToPath(import.meta.url));
export const e2eDir = resolve(here, '..');
export const testServerScript = join(here, 'test_server.mjs');
export const conformanceServerScript = join(here, 'conformance_server.mjs');
export const authProxyScript = join(here, 'auth_proxy.mjs');
export const everythingScript = join(e2eDir, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
export const filesystemScript = join(e2eDir, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');

// Spawns `node script args` and resolves once its output matches `ready` (group 1: the port).
// stop() sends SIGTERM and waits for the exit; with `strict`, a non-zero exit is an error.
async function startNode(script, args, { ready, env = {}, timeoutMs = 10_000, strict = true, name = script }) {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const port = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${name} not ready in ${timeoutMs} ms:\n${output.join('')}`)), timeoutMs);
    const onData = (buf) => {
      output.push(buf.toString());
      const m = output.join('').match(ready);
      if (m) { clearTimeout(timer); res(Number(m[1])); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(({ code, signal }) => { clearTimeout(timer); rej(new Error(`${name} exited (${code ?? signal}) before ready:\n${output.join('')}`)); });
  });
  return {
    port, child, output, exited,
    log() { return output.join(''); },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const r = await exited;
      if (strict && r.code !== 0) throw new Error(`${name} exited with ${r.code ?? r.signal} on SIGTERM:\n${output.join('').slice(-4000)}`);
      return r;
    },
  };
}

async function control(base, path, body) {
  const r = await fetch(`${base}/__control/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

// test_server.mjs with extra `args` (e.g. ['--name', 'crm', '--require-token', 'up-secret']).
// url: its MCP endpoint; base: scheme://host:port for the control endpoints.
export async function startMcpServer(args = []) {
  const p = await startNode(testServerScript, ['--port', '0', ...args], { ready: /mcp test server listening on [^\s]+:(\d+)/, name: 'mcp test server' });
  const base = `http://127.0.0.1:${p.port}`;
  const pathArg = args.indexOf('--path');
  return {
    ...p,
    base,
    url: `${base}${pathArg >= 0 ? args[pathArg + 1] : '/mcp'}`,
    // Every MCP message received so far, oldest first: {seq, time, http, kind, method, id, params,
    // result, error, session, headers, status?} (see test_server.mjs). `filter` narrows by method.
    async requests(filter) {
      const all = await control(base, 'requests');
      return filter ? all.filter((m) => m.method === filter) : all;
    },
    // The tools/call messages received for `tool` (any session).
    async calls(tool) { return (await this.requests('tools/call')).filter((m) => m.params?.name === tool); },
    define(tool, description) { return control(base, 'define', { tool, description }); },
    reset() { return control(base, 'reset', {}); },
    killSessions() { return control(base, 'kill-sessions', {}); },
    requireToken(token) { return control(base, 'require-token', { token }); },
    closeStreams() { return control(base, 'close-streams', {}); },
    sessions() { return control(base, 'sessions'); },
    resourceUpdated(uri) { return control(base, 'resource-updated', { uri }); },
    notify(method, params) { return control(base, 'notify', { method, params }); },
  };
}

// conformance_server.mjs: the server written to the conformance suite's scenarios.
export async function startConformanceServer(args = []) {
  const p = await startNode(conformanceServerScript, ['--port', '0', ...args], { ready: /mcp conformance server listening on [^\s]+:(\d+)/, name: 'mcp conformance server' });
  return { ...p, base: `http://127.0.0.1:${p.port}`, url: `http://127.0.0.1:${p.port}/mcp` };
}

// auth_proxy.mjs in front of `target` (a base URL; the request path is appended), adding
// `Authorization: Bearer token`. `args`: e.g. ['--rewrite-host'].
export async function startAuthProxy(target, token, args = []) {
  const p = await startNode(authProxyScript, ['--target', target, '--token', token, '--port', '0', ...args],
    { ready: /auth proxy listening on [^\s]+:(\d+)/, name: 'auth proxy' });
  return { ...p, base: `http://127.0.0.1:${p.port}` };
}

export async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

// npm's @modelcontextprotocol/server-everything in Streamable HTTP mode (`streamableHttp`, port
// from $PORT, endpoint /mcp). It cannot take port 0, so a free port is picked first. It has no
// SIGTERM handler (exits by the signal), so stop() does not check the exit code.
export async function startEverything() {
  const port = await freePort();
  const p = await startNode(everythingScript, ['streamableHttp'], {
    env: { PORT: String(port) }, ready: /MCP Streamable HTTP Server listening on port (\d+)/, strict: false, name: 'server-everything',
  });
  return { ...p, base: `http://127.0.0.1:${port}`, url: `http://127.0.0.1:${port}/mcp` };
}

// The stdio server of npm's @modelcontextprotocol/server-filesystem, as a gateway config's
// `command` runs it: [node, script, dir...].
export function filesystemCommand(...dirs) { return [process.execPath, filesystemScript, ...dirs]; }

// An SDK client (Client + StreamableHTTPClientTransport) connected to `url`.
//   token          sent as `Authorization: Bearer token`
//   headers        more request headers
//   sampling       (params) => CreateMessageResult; default: answers `sampled: <prompt>`
//   elicitation    (params) => ElicitResult; default: accept {answer: 'yes'}
//   roots          the roots/list answer; default one root file:///tmp/gatehouse-root
//   capabilities   replaces the default {sampling: {}, elicitation: {}, roots: {listChanged: true}}
//   protocolVersion  the version proposed in initialize (default: the SDK's latest, 2025-11-25)
//   connect        false: build without connecting (then `await c.client.connect(c.transport)`)
//   reconnection   the transport's reconnectionOptions
// Returns {client, transport, received, notifications(method?), serverRequests(method?), close()}:
// `received` is every message the client got after connecting (notifications, server requests,
// responses), in order.
export async function mcpClient(url, {
  token, headers = {}, sampling, elicitation, roots, capabilities, protocolVersion, name = 'gatehouse-e2e',
  connect = true, reconnection,
} = {}) {
  const allHeaders = { ...headers };
  if (token !== undefined) allHeaders.Authorization = `Bearer ${token}`;
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: allHeaders },
    ...(reconnection ? { reconnectionOptions: reconnection } : {}),
  });
  if (protocolVersion) {
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      if (message?.method === 'initialize') message = { ...message, params: { ...message.params, protocolVersion } };
      return send(message, options);
    };
  }
  const client = new Client({ name, version: '1.0.0' }, {
    capabilities: capabilities ?? { sampling: {}, elicitation: {}, roots: { listChanged: true } },
  });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => (sampling
    ? sampling(req.params)
    : {
      role: 'assistant', model: 'e2e-model', stopReason: 'endTurn',
      content: { type: 'text', text: `sampled: ${req.params.messages.map((m) => m.content?.text ?? '').join(' ')}` },
    }));
  client.setRequestHandler(ElicitRequestSchema, async (req) => (elicitation
    ? elicitation(req.params)
    : { action: 'accept', content: { answer: 'yes' } }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: roots ?? [{ uri: 'file:///tmp/gatehouse-root', name: 'root' }],
  }));
  const received = [];
  const c = {
    client, transport, received,
    notifications(method) { return received.filter((m) => m.method && !('id' in m) && (!method || m.method === method)); },
    serverRequests(method) { return received.filter((m) => m.method && 'id' in m && (!method || m.method === method)); },
    async connect() {
      await client.connect(transport);
      const onmessage = transport.onmessage;
      transport.onmessage = (m, extra) => { received.push(m); onmessage?.(m, extra); };
    },
    async close() { await client.close().catch(() => {}); },
  };
  if (connect) await c.connect();
  return c;
}
