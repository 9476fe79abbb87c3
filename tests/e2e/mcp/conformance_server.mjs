#!/usr/bin/env node
// An MCP server written to the server scenarios of the conformance suite
// (@modelcontextprotocol/conformance 0.1.x: each scenario's description says which tool, resource
// or prompt it calls and what it expects back). npm's @modelcontextprotocol/server-everything is
// a showcase for client builders with other names, so it fails most scenarios; this one is the
// suite's target. Written with the SDK's low-level `Server` (every list answer is a literal, so
// e.g. a JSON Schema 2020-12 inputSchema reaches the client as written) over
// StreamableHTTPServerTransport, stateful, with an event store (resumability, SSE polling).
//
//   node conformance_server.mjs [--port 0] [--host 127.0.0.1] [--retry-ms 500]
//
// Prints `mcp conformance server listening on 127.0.0.1:PORT`; MCP is at /mcp. Like a local
// server must, it refuses a Host or Origin that is not localhost, 127.0.0.1 or [::1] (403).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  isInitializeRequest, McpError, ErrorCode,
  ListToolsRequestSchema, CallToolRequestSchema, ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema, ReadResourceRequestSchema, SubscribeRequestSchema,
  UnsubscribeRequestSchema, ListPromptsRequestSchema, GetPromptRequestSchema, CompleteRequestSchema,
  CreateMessageResultSchema, ElicitResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { EventStore } from './event_store.mjs';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'retry-ms': { type: 'string', default: '500' },
  },
});

// A 1x1 red PNG and a short silent WAV (8 kHz, 8-bit mono, 8 samples).
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = (() => {
  const samples = Buffer.alloc(8, 0x80);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + samples.length, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24); h.writeUInt32LE(8000, 28); h.writeUInt16LE(1, 32); h.writeUInt16LE(8, 34);
  h.write('data', 36); h.writeUInt32LE(samples.length, 40);
  return Buffer.concat([h, samples]).toString('base64');
})();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const noArgs = { type: 'object', properties: {} };
const text = (t) => ({ type: 'text', text: t });

// ---- tools ---------------------------------------------------------------------------------

const TOOLS = [
  { name: 'test_simple_text', description: 'Returns a simple text', inputSchema: noArgs },
  { name: 'test_image_content', description: 'Returns an image', inputSchema: noArgs },
  { name: 'test_audio_content', description: 'Returns audio', inputSchema: noArgs },
  { name: 'test_embedded_resource', description: 'Returns an embedded resource', inputSchema: noArgs },
  { name: 'test_multiple_content_types', description: 'Returns text, an image and a resource', inputSchema: noArgs },
  { name: 'test_tool_with_logging', description: 'Logs three messages while it runs', inputSchema: noArgs },
  { name: 'test_tool_with_progress', description: 'Reports progress 0, 50, 100 of 100', inputSchema: noArgs },
  { name: 'test_error_handling', description: 'Always fails with isError', inputSchema: noArgs },
  { name: 'test_sampling', description: 'Asks the client\'s model',
    inputSchema: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] } },
  { name: 'test_elicitation', description: 'Asks the user',
    inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } },
  { name: 'test_elicitation_sep1034_defaults', description: 'Elicitation with defaults of every primitive type', inputSchema: noArgs },
  { name: 'test_elicitation_sep1330_enums', description: 'Elicitation with the five enum forms', inputSchema: noArgs },
  { name: 'test_reconnection', description: 'Ends its SSE stream mid-call; the client resumes with Last-Event-ID', inputSchema: noArgs },
  { name: 'json_schema_2020_12_tool', description: 'Tool with JSON Schema 2020-12 features',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    } },
];

const ELICIT_DEFAULTS = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Name', default: 'John Doe' },
    age: { type: 'integer', description: 'Age', default: 30 },
    score: { type: 'number', description: 'Score', default: 95.5 },
    status: { type: 'string', description: 'Status', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean', description: 'Verified', default: true },
  },
};
const ELICIT_ENUMS = {
  type: 'object',
  properties: {
    untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    titledSingle: { type: 'string', oneOf: [
      { const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' },
      { const: 'value3', title: 'Third Option' }] },
    legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
    untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
    titledMulti: { type: 'array', items: { anyOf: [
      { const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' },
      { const: 'value3', title: 'Third Choice' }] } },
  },
};

async function callTool(server, name, args, extra) {
  const log = (data) => extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data } });
  const elicited = async (params) => {
    if (!server.getClientCapabilities()?.elicitation) throw new McpError(ErrorCode.InvalidRequest, 'the client does not support elicitation');
    const r = await extra.sendRequest({ method: 'elicitation/create', params }, ElicitResultSchema);
    return r;
  };
  switch (name) {
    case 'test_simple_text':
      return { content: [text('This is a simple text response for testing.')] };
    case 'test_image_content':
      return { content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] };
    case 'test_audio_content':
      return { content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] };
    case 'test_embedded_resource':
      return { content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] };
    case 'test_multiple_content_types':
      return { content: [
        text('Multiple content types test:'),
        { type: 'image', data: PNG, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } },
      ] };
    case 'test_tool_with_logging':
      await log('Tool execution started');
      await sleep(50);
      await log('Tool processing data');
      await sleep(50);
      await log('Tool execution completed');
      return { content: [text('Tool with logging executed successfully')] };
    case 'test_tool_with_progress': {
      const progressToken = extra._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (progress) await sleep(50);
        if (progressToken !== undefined) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total: 100 } });
        }
      }
      return { content: [text(`Progress test completed (token ${progressToken ?? 'none'})`)] };
    }
    case 'test_error_handling':
      return { isError: true, content: [text('This tool intentionally returns an error for testing')] };
    case 'test_sampling': {
      if (!server.getClientCapabilities()?.sampling) throw new McpError(ErrorCode.InvalidRequest, 'the client does not support sampling');
      const r = await extra.sendRequest({ method: 'sampling/createMessage', params: {
        messages: [{ role: 'user', content: text(String(args?.prompt ?? '')) }], maxTokens: 100 } }, CreateMessageResultSchema);
      const blocks = Array.isArray(r.content) ? r.content : [r.content];
      return { content: [text(`LLM response: ${blocks.filter((b) => b.type === 'text').map((b) => b.text).join('')}`)] };
    }
    case 'test_elicitation': {
      const r = await elicited({ message: String(args?.message ?? ''), requestedSchema: {
        type: 'object',
        properties: { username: { type: 'string', description: 'User\'s response' }, email: { type: 'string', description: 'User\'s email address' } },
        required: ['username', 'email'] } });
      return { content: [text(`User response: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)] };
    }
    case 'test_elicitation_sep1034_defaults': {
      const r = await elicited({ message: 'Please review the defaults', requestedSchema: ELICIT_DEFAULTS });
      return { content: [text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)] };
    }
    case 'test_elicitation_sep1330_enums': {
      const r = await elicited({ message: 'Please choose', requestedSchema: ELICIT_ENUMS });
      return { content: [text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`)] };
    }
    case 'test_reconnection':
      await sleep(100);
      extra.closeSSEStream?.();      // the result goes to the event store, replayed on resume
      await sleep(200);
      return { content: [text('Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.')] };
    case 'json_schema_2020_12_tool':
      return { content: [text(`json_schema_2020_12_tool called with ${JSON.stringify(args ?? {})}`)] };
    default:
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  }
}

// ---- resources and prompts -----------------------------------------------------------------

const RESOURCES = [
  { uri: 'test://static-text', name: 'static-text', description: 'A static text resource', mimeType: 'text/plain' },
  { uri: 'test://static-binary', name: 'static-binary', description: 'A static binary resource (PNG)', mimeType: 'image/png' },
  { uri: 'test://watched-resource', name: 'watched-resource', description: 'A resource to subscribe to', mimeType: 'text/plain' },
];
const TEMPLATES = [
  { uriTemplate: 'test://template/{id}/data', name: 'template-data', description: 'Data for an id', mimeType: 'application/json' },
];
function readResource(uri) {
  if (uri === 'test://static-text') return [{ uri, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }];
  if (uri === 'test://static-binary') return [{ uri, mimeType: 'image/png', blob: PNG }];
  if (uri === 'test://watched-resource') return [{ uri, mimeType: 'text/plain', text: 'Watched resource content' }];
  const m = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
  if (m) return [{ uri, mimeType: 'application/json', text: JSON.stringify({ id: m[1], templateTest: true, data: `Data for ID: ${m[1]}` }) }];
  throw new McpError(ErrorCode.InvalidParams, `Resource not found: ${uri}`);
}

const PROMPTS = [
  { name: 'test_simple_prompt', description: 'A prompt without arguments' },
  { name: 'test_prompt_with_arguments', description: 'A prompt with two arguments', arguments: [
    { name: 'arg1', description: 'First test argument', required: true },
    { name: 'arg2', description: 'Second test argument', required: true }] },
  { name: 'test_prompt_with_embedded_resource', description: 'A prompt embedding a resource', arguments: [
    { name: 'resourceUri', description: 'URI of the resource to embed', required: true }] },
  { name: 'test_prompt_with_image', description: 'A prompt with an image' },
];
function getPrompt(name, args = {}) {
  const user = (content) => ({ role: 'user', content });
  switch (name) {
    case 'test_simple_prompt':
      return { messages: [user(text('This is a simple prompt for testing.'))] };
    case 'test_prompt_with_arguments':
      return { messages: [user(text(`Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'`))] };
    case 'test_prompt_with_embedded_resource':
      return { messages: [
        user({ type: 'resource', resource: { uri: args.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } }),
        user(text('Please process the embedded resource above.'))] };
    case 'test_prompt_with_image':
      return { messages: [user({ type: 'image', data: PNG, mimeType: 'image/png' }), user(text('Please analyze the image above.'))] };
    default:
      throw new McpError(ErrorCode.InvalidParams, `Prompt not found: ${name}`);
  }
}

function buildServer() {
  const server = new Server({ name: 'gatehouse-conformance-server', version: '1.0.0' }, {
    capabilities: {
      tools: { listChanged: true }, resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true }, logging: {}, completions: {},
    },
  });
  const subscriptions = new Set();
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => callTool(server, req.params.name, req.params.arguments, extra));
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: RESOURCES }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: TEMPLATES }));
  server.setRequestHandler(ReadResourceRequestSchema, async (req) => ({ contents: readResource(req.params.uri) }));
  server.setRequestHandler(SubscribeRequestSchema, async (req) => { subscriptions.add(req.params.uri); return {}; });
  server.setRequestHandler(UnsubscribeRequestSchema, async (req) => { subscriptions.delete(req.params.uri); return {}; });
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: PROMPTS }));
  server.setRequestHandler(GetPromptRequestSchema, async (req) => getPrompt(req.params.name, req.params.arguments));
  server.setRequestHandler(CompleteRequestSchema, async (req) => {
    const words = ['paris', 'park', 'party', 'test', 'testing', 'tested'];
    const values = words.filter((w) => w.startsWith(req.params.argument.value ?? ''));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  return server;
}

// ---- HTTP ----------------------------------------------------------------------------------

const LOCAL = new Set(['localhost', '127.0.0.1', '[::1]']);
function hostIsLocal(value) {
  try { return LOCAL.has(new URL(`http://${value}`).hostname); } catch { return false; }
}
function originIsLocal(value) {
  try { return LOCAL.has(new URL(value).hostname); } catch { return false; }
}

const sessions = new Map();
const sendJson = (res, status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
const rpcError = (code, message) => ({ jsonrpc: '2.0', error: { code, message }, id: null });

async function handle(req, res) {
  if (new URL(req.url, 'http://x').pathname !== '/mcp') return sendJson(res, 404, { error: 'not found' });
  // DNS-rebinding protection.
  if (!hostIsLocal(req.headers.host ?? '') || (req.headers.origin !== undefined && !originIsLocal(req.headers.origin))) {
    return sendJson(res, 403, rpcError(-32000, 'Forbidden: Host or Origin is not local'));
  }
  let body;
  if (req.method === 'POST') {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return sendJson(res, 400, rpcError(-32700, 'Parse error')); }
  }
  const sid = req.headers['mcp-session-id'];
  let transport;
  if (sid !== undefined) {
    transport = sessions.get(sid);
    if (!transport) return sendJson(res, 404, rpcError(-32001, 'Session not found'));
  } else if (req.method === 'POST' && (Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body))) {
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new EventStore(),
      retryInterval: Number(opts['retry-ms']),
      onsessioninitialized: (id) => sessions.set(id, transport),
    });
    transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
    await buildServer().connect(transport);
  } else {
    return sendJson(res, 400, rpcError(-32000, 'Bad Request: no valid session id'));
  }
  await transport.handleRequest(req, res, body);
}

const httpServer = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    process.stderr.write(`conformance server: ${e.stack}\n`);
    if (!res.headersSent) sendJson(res, 500, rpcError(-32603, String(e.message ?? e)));
    else res.end();
  });
});
httpServer.listen(Number(opts.port), opts.host, () => {
  const { address, port } = httpServer.address();
  process.stdout.write(`mcp conformance server listening on ${address}:${port}\n`);
});
const stop = async () => {
  for (const t of sessions.values()) await t.close().catch(() => {});
  httpServer.close();
  httpServer.closeAllConnections();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
