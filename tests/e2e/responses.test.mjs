// End-to-end: OpenAI's Responses API (`POST /v1/responses`) with the official `openai` SDK, to
// every provider kind — translated to chat for openai-compatible and databricks providers, through
// chat to Messages for anthropic ones, passed through as it is for a provider or model configured
// `responses: native` — whole, streamed and with a function tool; stored responses (retrieve,
// input items, delete, owned by their key), `previous_response_id` rebuilt by the gateway (the
// fake provider refuses one it is sent, so a pass-through proves the expansion) and carried
// across a failover to a provider of another kind; refusals; the Databricks-provided OpenAI
// client (`{gateway}/serving-endpoints`) and Databricks agent invocations (plain HTTP and the
// Databricks SDK); governance (roles, guardrails on input items and output text, usage rows, a
// token limit, the inference log); and the Codex CLI through a chat-only provider.
//
// A request the gateway translates loses the client's `mock` field, so tests steer the fake
// provider with its sticky defaults (withMockDefaults), always cleared after.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { WorkspaceClient } from '@databricks/sdk-experimental';
import { startMock, startGateway, sha256, withMockDefaults, readSSE, waitFor, gatehouseBin } from './harness.mjs';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const codexBin = join(here, 'node_modules', '.bin', 'codex');

const PROVIDER_TOKEN = 'sk-provider-responses-Hq72';
const KEY = 'gh-responses-app-Pw31';          // key "app": every model
const OTHER_KEY = 'gh-responses-other-Xe58';  // key "other": every model, its own responses
const NARROW_KEY = 'gh-responses-narrow-Ko14'; // key "narrow": gpt only
const METERED_KEY = 'gh-responses-metered-Ud66'; // key "metered": a token limit

const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel';  // the mock's 8 tokens
const QUESTION = 'What is the weather in Paris today?';  // 35 code points: 8 input tokens
const ECHO = { echo: QUESTION.slice(0, 16) };  // the mock's function arguments
const weather = {
  type: 'function', name: 'get_weather', description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const EMAIL = 'jane.doe@example.com';
const SPLIT_EMAIL = ['Mail jane.do', 'e@exam', 'ple.com now'];  // one address over three deltas
const SPLIT_EMAIL_MASKED = 'Mail <EMAIL_ADDRESS> now';

// The four ways a Responses request reaches a provider.
const KINDS = {
  gpt: { kind: 'openai-compatible', native: false, path: '/v1/chat/completions', upstream: 'gpt-up' },
  claude: { kind: 'anthropic', native: false, path: '/v1/messages', upstream: 'claude-up' },
  llama: { kind: 'databricks', native: false, path: '/serving-endpoints/llama-up/invocations', upstream: undefined },
  native: { kind: 'openai-compatible, responses: native', native: true, path: '/v1/responses', upstream: 'native-up' },
};
const MODELS = Object.keys(KINDS);

let mock, mockB, gw, dir, dbPath, configPath;

function config() {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  oai:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "${PROVIDER_TOKEN}"}
  oai-native:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "${PROVIDER_TOKEN}"}
    responses: native
  anth:
    kind: anthropic
    base_url: "${mock.base}"
    auth: {token: "${PROVIDER_TOKEN}"}
  dbx:
    kind: databricks
    host: "${mock.base}"
    auth: {token: "${PROVIDER_TOKEN}"}
  b-native:
    kind: openai-compatible
    base_url: "${mockB.base}/v1"
    auth: {token: "${PROVIDER_TOKEN}"}
    responses: native
  b-anth:
    kind: anthropic
    base_url: "${mockB.base}"
    auth: {token: "${PROVIDER_TOKEN}"}
guardrails:
  pii: {kind: pii, entities: [EMAIL_ADDRESS], action: mask}
models:
  gpt: {provider: oai, upstream_model: "gpt-up"}
  claude: {provider: anth, upstream_model: "claude-up"}
  llama: {provider: dbx, upstream_model: "llama-up"}
  native: {provider: oai-native, upstream_model: "native-up"}
  native-model: {provider: oai, upstream_model: "native-model-up", responses: native}
  agent: {provider: dbx, upstream_model: "my-agent"}
  agent-native: {provider: dbx, upstream_model: "my-agent", responses: native}
  chat-model: {provider: oai, upstream_model: "codex-up"}
  guarded: {provider: oai, upstream_model: "gpt-up", guardrails: {input: [pii], output: [pii]}}
  guarded-native: {provider: oai-native, upstream_model: "native-up", guardrails: {input: [pii], output: [pii]}}
  guarded-agent: {provider: dbx, upstream_model: "my-agent", guardrails: {input: [pii], output: [pii]}}
  guarded-out: {provider: oai, upstream_model: "gpt-up", guardrails: {output: [pii]}}
  guarded-out-native: {provider: oai-native, upstream_model: "native-up", guardrails: {output: [pii]}}
  b-native-model: {provider: b-native, upstream_model: "b-native-up"}
  b-claude: {provider: b-anth, upstream_model: "b-claude-up"}
  chained:
    route: {targets: [{model: b-native-model}, {model: gpt}], cooldown: {after_failures: 50, seconds: 1}}
  chained-claude:
    route: {targets: [{model: b-claude}, {model: gpt}], cooldown: {after_failures: 50, seconds: 1}}
keys:
  - {name: app, sha256: "${sha256(KEY)}", role: all}
  - {name: other, sha256: "${sha256(OTHER_KEY)}", role: all}
  - {name: narrow, sha256: "${sha256(NARROW_KEY)}", role: narrow}
  - {name: metered, sha256: "${sha256(METERED_KEY)}", role: all}
roles:
  all: {models: ["*"]}
  narrow: {models: ["gpt"]}
limits:
  - {scope: key, match: metered, tpm: 100000}
store: {sqlite: "${dbPath}"}
responses: {max_chain: 3}
records:
  inference_log: {models: ["*"], payloads: true, sample: 1.0, retention_days: 30}
  flush_ms: 200
`;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-responses-'));
  dbPath = join(dir, 'gatehouse.db');
  mock = await startMock(['--require-token', PROVIDER_TOKEN]);
  mockB = await startMock(['--require-token', PROVIDER_TOKEN]);
  configPath = join(dir, 'gatehouse.yaml');
  writeFileSync(configPath, config());
  gw = await startGateway({ file: configPath });
});

after(async () => {
  await gw?.stop();
  await mock?.stop();
  await mockB?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers.

const openai = (key = KEY, opts = {}) => new OpenAI({ apiKey: key, baseURL: gw.baseURL, maxRetries: 0, ...opts });
const sql = async (statement) => (await run('sqlite3', [dbPath, statement])).stdout.trim();
const logs = async (...args) =>
  JSON.parse((await run(gatehouseBin, ['logs', '--config', configPath, '--format', 'json', ...args])).stdout);

async function caught(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

// The sequence number of the last request `m` received (0: none yet).
async function mark(m = mock) {
  const r = await m.requests(1);
  return r.length ? r[r.length - 1].seq : 0;
}

// The requests `m` received after `seq`, bodies parsed.
async function since(seq, m = mock) {
  return (await m.requests(100)).filter((r) => r.seq > seq).map((r) => {
    let json = null;
    try { json = JSON.parse(r.body); } catch { /* not JSON */ }
    return { ...r, json };
  });
}

// The one request `m` received after `seq`.
async function onlyUpstream(seq, m = mock) {
  const got = await since(seq, m);
  assert.equal(got.length, 1, `one upstream request: ${got.map((r) => r.path).join(', ')}`);
  return got[0];
}

// A chat or Messages content's text: a string, or its text parts/blocks joined.
const textOf = (content) => (typeof content === 'string' ? content
  : (content ?? []).filter((b) => b.type === 'text' || b.type === 'input_text' || b.type === 'output_text')
    .map((b) => b.text).join(''));

// A translated request as [role, text] pairs (Anthropic's top-level system first).
function conversation(body) {
  const out = [];
  if (body.system !== undefined) out.push(['system', textOf(body.system)]);
  for (const m of body.messages) out.push([m.role, textOf(m.content)]);
  return out;
}

// What every upstream call must carry: its provider's path and credential, and never the
// gateway key.
function assertUpstream(model, up) {
  const k = KINDS[model];
  assert.equal(up.method, 'POST');
  assert.equal(up.path, k.path, `${model} goes to its provider's path`);
  if (k.kind === 'anthropic') assert.equal(up.headers['x-api-key'], PROVIDER_TOKEN);
  else assert.equal(up.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);
  assert.ok(!JSON.stringify(up).includes(KEY), 'the gateway key never goes upstream');
  assert.equal(up.json.model, k.upstream, 'the upstream model (none for a Databricks endpoint)');
  assert.equal(up.json.previous_response_id, undefined, 'the provider never sees previous_response_id');
}

// The text of a Responses object's message outputs.
const outputText = (response) => response.output.filter((o) => o.type === 'message')
  .flatMap((o) => o.content).filter((c) => c.type === 'output_text').map((c) => c.text).join('');

// Reads a Responses stream (the SDK's events) to its end: {events, deltas}.
async function drain(stream) {
  const events = [];
  for await (const ev of stream) events.push(ev);
  const deltas = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta);
  return { events, deltas };
}

// What every Responses stream must be: created first, completed last, sequence numbers strictly
// increasing from 0, and one response id throughout. Returns the completed response.
function assertStreamShape(events) {
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'response.created', types.join(' '));
  assert.equal(types[1], 'response.in_progress', types.join(' '));
  assert.equal(types.at(-1), 'response.completed', types.join(' '));
  assert.equal(types.filter((t) => t === 'response.completed').length, 1, 'one terminal event');
  assert.equal(events[0].sequence_number, 0);
  events.forEach((e, i) => {
    assert.equal(typeof e.sequence_number, 'number', `${e.type} has a sequence_number`);
    if (i > 0) assert.ok(e.sequence_number > events[i - 1].sequence_number, `${e.type} #${i}: ${e.sequence_number} after ${events[i - 1].sequence_number}`);
  });
  const created = events[0].response;
  const completed = events.at(-1).response;
  assert.equal(created.status, 'in_progress');
  assert.equal(completed.status, 'completed');
  assert.equal(created.id, completed.id, 'one response id from created to completed');
  for (const e of events) if (e.response) assert.equal(e.response.id, created.id);
  return completed;
}

// POST /serving-endpoints/{name}/invocations as a Databricks client sends it.
const invoke = (name, body) => fetch(`${gw.base}/serving-endpoints/${name}/invocations`, {
  method: 'POST',
  headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

// The usage row of request `id`: {input, output, estimated, status}.
const usageRow = (id) => waitFor(async () => {
  const row = await sql(`SELECT input_token_count, output_token_count, usage_estimated, status_code, model FROM usage WHERE request_id = '${id}'`);
  if (!row) return null;
  const [input, output, estimated, status, model] = row.split('|');
  return { input: Number(input), output: Number(output), estimated: Number(estimated), status: Number(status), model };
}, { what: `the usage row of ${id}` });

// ---------------------------------------------------------------------------------------------
// 1. client.responses.create / stream to every provider kind.

for (const model of MODELS) {
  const k = KINDS[model];

  describe(`responses -> ${model} (${k.kind}, ${k.native ? 'passed through' : 'translated'})`, { timeout: 60_000 }, () => {
    test('create: output_text, usage, status, id, and what the provider received', async () => {
      const seq = await mark();
      const body = { model, input: QUESTION, instructions: 'Answer briefly.', max_output_tokens: 64 };
      const { data: r, response } = await openai().responses.create(body).withResponse();
      assert.equal(r.object, 'response');
      assert.equal(r.status, 'completed');
      assert.match(r.id, k.native ? /^resp_[A-Za-z0-9]+$/ : /^resp_[0-9a-f]{32}$/);
      assert.equal(r.output_text, WORDS);
      assert.equal(r.output.length, 1);
      assert.equal(r.output[0].type, 'message');
      assert.equal(r.output[0].role, 'assistant');
      assert.equal(r.usage.output_tokens, 8);
      assert.ok(r.usage.input_tokens >= 8, `input tokens ${r.usage.input_tokens}`);
      assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
      assert.ok(response.headers.get('x-request-id'));

      const up = await onlyUpstream(seq);
      assertUpstream(model, up);
      if (k.native) {
        assert.deepEqual(up.json, { ...body, model: k.upstream }, 'the client\'s body, model replaced');
      } else {
        assert.equal(up.json.input, undefined, 'a chat request has no input');
        assert.deepEqual(conversation(up.json), [['system', 'Answer briefly.'], ['user', QUESTION]]);
        assert.equal(up.json.max_tokens ?? up.json.max_completion_tokens, 64, 'max_output_tokens becomes the chat limit');
        assert.equal(up.json.stream ?? false, false);
      }
    });

    test('streamed: events in order, sequence numbers, one id, deltas make the final text', async () => {
      const seq = await mark();
      const stream = openai().responses.stream({ model, input: QUESTION });
      const { events, deltas } = await drain(stream);
      const completed = assertStreamShape(events);
      const final = await stream.finalResponse();  // (the SDK adds output_text only to a parsed response)
      assert.equal(deltas.length, 8, 'a delta per token');
      assert.equal(deltas.join(''), WORDS);
      assert.equal(outputText(final), WORDS);
      assert.equal(outputText(completed), WORDS);
      assert.equal(events.find((e) => e.type === 'response.output_text.done').text, WORDS);
      assert.equal(completed.usage.output_tokens, 8);
      const types = events.map((e) => e.type);
      assert.ok(types.indexOf('response.output_item.added') < types.indexOf('response.output_text.delta'));
      assert.ok(types.lastIndexOf('response.output_text.delta') < types.indexOf('response.output_item.done'));

      const up = await onlyUpstream(seq);
      assertUpstream(model, up);
      assert.equal(up.json.stream, true);
      if (k.kind === 'openai-compatible' && !k.native) {
        assert.deepEqual(up.json.stream_options, { include_usage: true }, 'a translated stream asks for usage');
      }
      // What the client was streamed is what was stored.
      const stored = await openai().responses.retrieve(completed.id);
      assert.equal(stored.id, completed.id);
      assert.equal(stored.output_text, WORDS);
    });

    test('a client that leaves once it has response.completed is a 200 in the records; one that leaves before is a 499', async () => {
      // Reads the raw stream until `until` appears, then drops the connection: the request id.
      const leaveAt = async (until) => {
        const ac = new AbortController();
        const res = await fetch(`${gw.baseURL}/responses`, {
          method: 'POST', signal: ac.signal,
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, input: QUESTION, stream: true }),
        });
        assert.equal(res.status, 200);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let text = '';
        while (!text.includes(until)) {
          const { value, done } = await reader.read();
          assert.ok(!done, `the stream ended before ${until}: ${text}`);
          text += decoder.decode(value, { stream: true });
        }
        ac.abort();
        return res.headers.get('x-request-id');
      };
      // The provider holds its stream open after the last event (the closing chunk comes late):
      // the client has the whole answer and leaves, as Codex does.
      const whole = await withMockDefaults(mock, { linger_ms: 3000 }, () => leaveAt('"type":"response.completed"'));
      const row = await usageRow(whole);
      assert.equal(row.status, 200, 'the whole answer was delivered');
      assert.equal(row.output, 8);
      // Leaving after the first delta, with the rest still to come: a 499.
      const early = await withMockDefaults(mock, { inter_token_ms: 300 }, () => leaveAt('response.output_text.delta'));
      assert.equal((await usageRow(early)).status, 499);
    });

    test('function tool round trip: a function_call, then previous_response_id + function_call_output', async () => {
      const client = openai();
      let seq = await mark();
      const first = await client.responses.create({ model, input: QUESTION, tools: [weather] });
      assert.equal(first.status, 'completed');
      assert.equal(first.output.length, 1);
      const call = first.output[0];
      assert.equal(call.type, 'function_call');
      assert.equal(call.name, 'get_weather');
      assert.ok(typeof call.call_id === 'string' && call.call_id.length > 0, JSON.stringify(call));
      assert.deepEqual(JSON.parse(call.arguments), ECHO);
      const up1 = await onlyUpstream(seq);
      assertUpstream(model, up1);
      if (k.native) assert.deepEqual(up1.json.tools, [weather]);
      else if (k.kind === 'anthropic') {
        assert.deepEqual(up1.json.tools, [{ name: weather.name, description: weather.description, input_schema: weather.parameters }]);
      } else {
        assert.deepEqual(up1.json.tools, [{ type: 'function', function: {
          name: weather.name, description: weather.description, parameters: weather.parameters } }]);
      }

      seq = await mark();
      const output = { type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21 C' };
      const second = await client.responses.create({ model, previous_response_id: first.id, input: [output], tools: [weather] });
      assert.equal(second.status, 'completed');
      assert.equal(second.output_text, WORDS);
      assert.notEqual(second.id, first.id);

      // The provider got the whole conversation: the question, the call, its result.
      const up2 = await onlyUpstream(seq);
      assertUpstream(model, up2);
      const got = up2.json;
      if (k.native) {
        assert.equal(got.input.length, 3, JSON.stringify(got.input));
        const [user, fc, fco] = got.input;
        assert.equal(user.role, 'user');
        assert.equal(textOf(user.content), QUESTION);
        assert.equal(fc.type, 'function_call');
        assert.equal(fc.call_id, call.call_id);
        assert.equal(fc.name, 'get_weather');
        assert.deepEqual(JSON.parse(fc.arguments), ECHO);
        assert.deepEqual(fco, output);
      } else if (k.kind === 'anthropic') {
        const [user, assistant, result] = got.messages;
        assert.equal(got.messages.length, 3);
        assert.deepEqual([user.role, textOf(user.content)], ['user', QUESTION]);
        assert.equal(assistant.role, 'assistant');
        const use = assistant.content.find((b) => b.type === 'tool_use');
        assert.equal(use.id, call.call_id);
        assert.equal(use.name, 'get_weather');
        assert.deepEqual(use.input, ECHO);
        assert.equal(result.role, 'user');
        const tr = result.content.find((b) => b.type === 'tool_result');
        assert.equal(tr.tool_use_id, call.call_id);
        assert.equal(textOf(tr.content), 'sunny, 21 C');
      } else {
        assert.equal(got.messages.length, 3, JSON.stringify(got.messages));
        const [user, assistant, tool] = got.messages;
        assert.deepEqual(user, { role: 'user', content: QUESTION });
        assert.equal(assistant.role, 'assistant');
        assert.equal(assistant.tool_calls.length, 1);
        assert.equal(assistant.tool_calls[0].id, call.call_id);
        assert.equal(assistant.tool_calls[0].function.name, 'get_weather');
        assert.deepEqual(JSON.parse(assistant.tool_calls[0].function.arguments), ECHO);
        assert.deepEqual(tool, { role: 'tool', tool_call_id: call.call_id, content: 'sunny, 21 C' });
      }

      // Each turn lists only its own input items.
      const items1 = [];
      for await (const item of client.responses.inputItems.list(first.id)) items1.push(item);
      assert.equal(items1.length, 1);
      assert.equal(items1[0].type, 'message');
      assert.equal(items1[0].role, 'user');
      assert.equal(textOf(items1[0].content), QUESTION);
      const items2 = [];
      for await (const item of client.responses.inputItems.list(second.id)) items2.push(item);
      assert.equal(items2.length, 1);
      assert.equal(items2[0].type, 'function_call_output');
      assert.equal(items2[0].call_id, call.call_id);
      assert.equal(items2[0].output, 'sunny, 21 C');
    });
  });
}

describe('responses: native per model', () => {
  test('models.X.responses: native passes a request through on a provider that translates the others', async () => {
    const seq = await mark();
    const body = { model: 'native-model', input: [{ role: 'user', content: QUESTION }], temperature: 0.5 };
    const r = await openai().responses.create(body);
    assert.equal(r.output_text, WORDS);
    const up = await onlyUpstream(seq);
    assert.equal(up.path, '/v1/responses');
    assert.deepEqual(up.json, { ...body, model: 'native-model-up' });

    // The same provider's other model is translated.
    const seq2 = await mark();
    await openai().responses.create({ model: 'gpt', input: QUESTION });
    assert.equal((await onlyUpstream(seq2)).path, '/v1/chat/completions');
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Stored responses.

describe('stored responses', { timeout: 60_000 }, () => {
  test('retrieve, input items (limit, order, after), delete, then NotFoundError', async () => {
    const client = openai();
    const input = [
      { role: 'user', content: 'one' },
      { role: 'user', content: [{ type: 'input_text', text: 'two' }] },
      { role: 'user', content: 'three' },
    ];
    const made = await client.responses.create({ model: 'gpt', input });
    const got = await client.responses.retrieve(made.id);
    assert.equal(got.id, made.id);
    assert.equal(got.object, 'response');
    assert.equal(got.status, 'completed');
    assert.equal(got.output_text, WORDS);
    assert.deepEqual(got.usage, made.usage);
    assert.deepEqual(got.output, made.output);

    const all = await client.responses.inputItems.list(made.id);
    assert.deepEqual(all.data.map((i) => textOf(i.content)), ['three', 'two', 'one'], 'newest first by default');
    assert.ok(all.data.every((i) => i.type === 'message' && i.role === 'user' && typeof i.id === 'string'));
    assert.equal(all.has_more, false);
    const asc = await client.responses.inputItems.list(made.id, { order: 'asc', limit: 2 });
    assert.deepEqual(asc.data.map((i) => textOf(i.content)), ['one', 'two']);
    assert.equal(asc.has_more, true);
    const next = await client.responses.inputItems.list(made.id, { order: 'asc', after: asc.data[1].id });
    assert.deepEqual(next.data.map((i) => textOf(i.content)), ['three']);
    const paged = [];
    for await (const item of client.responses.inputItems.list(made.id, { order: 'asc', limit: 1 })) paged.push(textOf(item.content));
    assert.deepEqual(paged, ['one', 'two', 'three'], 'the SDK pages through with after');

    await client.responses.delete(made.id);
    const e = await caught(() => client.responses.retrieve(made.id));
    assert.ok(e instanceof OpenAI.NotFoundError, e.constructor.name);
    assert.equal(e.status, 404);
    const e2 = await caught(() => client.responses.inputItems.list(made.id));
    assert.equal(e2.status, 404);
    const e3 = await caught(() => client.responses.delete(made.id));
    assert.equal(e3.status, 404, 'deleting twice');
    const chained = await caught(() => client.responses.create({ model: 'gpt', input: 'more', previous_response_id: made.id }));
    assert.equal(chained.status, 400);
    assert.equal(chained.code, 'previous_response_not_found');
  });

  test('a response belongs to the key that made it: another key gets 404 and cannot chain from it', async () => {
    const made = await openai().responses.create({ model: 'gpt', input: 'mine' });
    const other = openai(OTHER_KEY);
    for (const call of [() => other.responses.retrieve(made.id), () => other.responses.inputItems.list(made.id),
      () => other.responses.delete(made.id)]) {
      const e = await caught(call);
      assert.ok(e instanceof OpenAI.NotFoundError, e.constructor.name);
      assert.match(e.message, new RegExp(made.id));
    }
    const seq = await mark();
    const e = await caught(() => other.responses.create({ model: 'gpt', input: 'x', previous_response_id: made.id }));
    assert.equal(e.status, 400);
    assert.equal(e.code, 'previous_response_not_found');
    assert.equal((await since(seq)).length, 0, 'nothing upstream');
    // The owner's response survived the other key's delete.
    assert.equal((await openai().responses.retrieve(made.id)).output_text, WORDS);
  });

  test('store: false keeps nothing: retrieve is 404, chaining from it is 400', async () => {
    const r = await openai().responses.create({ model: 'gpt', input: 'forget me', store: false });
    assert.equal(r.output_text, WORDS);
    assert.equal(r.store, false);
    const e = await caught(() => openai().responses.retrieve(r.id));
    assert.equal(e.status, 404);
    const e2 = await caught(() => openai().responses.create({ model: 'gpt', input: 'x', previous_response_id: r.id }));
    assert.equal(e2.status, 400);
    assert.equal(e2.code, 'previous_response_not_found');
  });

  test('an answer names the previous_response_id it continues, as sent and as stored', async () => {
    for (const model of MODELS) {
      const first = await openai().responses.create({ model, input: 'one' });
      assert.equal(first.previous_response_id, null, model);
      const second = await openai().responses.create({ model, input: 'two', previous_response_id: first.id });
      assert.equal(second.previous_response_id, first.id, `${model}: the answer`);
      assert.equal((await openai().responses.retrieve(second.id)).previous_response_id, first.id, `${model}: the stored answer`);
    }
  });

  test('a native response is stored under the provider\'s id and chains from there', async () => {
    const first = await openai().responses.create({ model: 'native', input: 'My name is Ada.' });
    const stored = await openai().responses.retrieve(first.id);
    assert.equal(stored.id, first.id);
    assert.equal(stored.output_text, WORDS);
    const seq = await mark();
    const second = await openai().responses.create({ model: 'native', input: 'What is my name?', previous_response_id: first.id });
    assert.equal(second.output_text, WORDS);
    const up = await onlyUpstream(seq);
    assert.equal(up.json.previous_response_id, undefined);
    assert.deepEqual(up.json.input.map((i) => [i.role, textOf(i.content)]),
      [['user', 'My name is Ada.'], ['assistant', WORDS], ['user', 'What is my name?']]);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. previous_response_id across a failover to a provider of another kind.

describe('a conversation survives a failover to another provider kind', { timeout: 60_000 }, () => {
  test('native (B) -> chat (A, B failing) -> native (B): each target gets the whole conversation', async () => {
    const client = openai();
    let seqA = await mark(mock);
    let seqB = await mark(mockB);
    const t1 = await client.responses.create({ model: 'chained', input: 'My name is Ada.' }).withResponse();
    assert.equal(t1.data.output_text, WORDS);
    assert.equal(t1.response.headers.get('x-gatehouse-attempts'), '1');
    const b1 = await onlyUpstream(seqB, mockB);
    assert.equal(b1.path, '/v1/responses');
    assert.equal(b1.json.model, 'b-native-up');
    assert.equal((await since(seqA, mock)).length, 0);

    seqA = await mark(mock);
    const t2 = await withMockDefaults(mockB, { status: 500 },
      () => client.responses.create({ model: 'chained', input: 'What is my name?', previous_response_id: t1.data.id }).withResponse());
    assert.equal(t2.data.output_text, WORDS);
    assert.equal(t2.response.headers.get('x-gatehouse-attempts'), '2', 'B failed, A answered');
    const a2 = await onlyUpstream(seqA, mock);
    assert.equal(a2.path, '/v1/chat/completions');
    assert.deepEqual(conversation(a2.json), [['user', 'My name is Ada.'], ['assistant', WORDS], ['user', 'What is my name?']]);
    assert.equal(a2.json.previous_response_id, undefined);

    seqB = await mark(mockB);
    const t3 = await client.responses.create({ model: 'chained', input: 'Thanks.', previous_response_id: t2.data.id });
    assert.equal(t3.output_text, WORDS);
    const b3 = await onlyUpstream(seqB, mockB);
    assert.equal(b3.path, '/v1/responses');
    assert.equal(b3.json.previous_response_id, undefined, 'the gateway expanded it (the mock refuses one)');
    assert.deepEqual(b3.json.input.map((i) => [i.role, textOf(i.content)]), [
      ['user', 'My name is Ada.'], ['assistant', WORDS], ['user', 'What is my name?'], ['assistant', WORDS], ['user', 'Thanks.'],
    ]);
  });

  test('a tool call made by an anthropic provider is answered through an openai-compatible one', async () => {
    const client = openai();
    const seqB = await mark(mockB);
    const first = await client.responses.create({ model: 'chained-claude', input: QUESTION, tools: [weather] });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    assert.match(call.call_id, /^toolu_/, 'the Anthropic tool_use id');
    assert.equal((await onlyUpstream(seqB, mockB)).path, '/v1/messages');

    const seqA = await mark(mock);
    const second = await withMockDefaults(mockB, { status: 529 }, () => client.responses.create({
      model: 'chained-claude', tools: [weather], previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21 C' }],
    }));
    assert.equal(second.output_text, WORDS);
    const a = await onlyUpstream(seqA, mock);
    assert.equal(a.path, '/v1/chat/completions');
    const [user, assistant, tool] = a.json.messages;
    assert.deepEqual(user, { role: 'user', content: QUESTION });
    assert.equal(assistant.tool_calls[0].id, call.call_id);
    assert.deepEqual(JSON.parse(assistant.tool_calls[0].function.arguments), ECHO);
    assert.deepEqual(tool, { role: 'tool', tool_call_id: call.call_id, content: 'sunny, 21 C' });
  });
});

// ---------------------------------------------------------------------------------------------
// 4. What the gateway refuses, and what it leaves out.

describe('refusals and dropped tools', () => {
  test('no input: 400 param input, OpenAI\'s error shape, nothing upstream', async () => {
    const seq = await mark();
    const e = await caught(() => openai().responses.create({ model: 'gpt' }));
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
    assert.equal(e.param, 'input');
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.message, /input/);
    assert.equal((await since(seq)).length, 0);
  });

  test('an unknown previous_response_id: 400 previous_response_not_found, for translated and native alike', async () => {
    for (const model of ['gpt', 'native']) {
      const seq = await mark();
      const e = await caught(() => openai().responses.create({ model, input: 'hi', previous_response_id: 'resp_0123456789abcdef' }));
      assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
      assert.equal(e.code, 'previous_response_not_found');
      assert.equal(e.param, 'previous_response_id');
      assert.match(e.message, /resp_0123456789abcdef/);
      assert.equal((await since(seq)).length, 0, `${model}: the gateway answered, the provider never saw it`);
    }
  });

  test('an item a chat provider cannot take is a 400 naming it', async () => {
    const cases = [
      ['gpt', { type: 'item_reference', id: 'msg_123' }, 'item_reference'],
      ['claude', { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'q' } }, 'web_search_call'],
      ['llama', { type: 'item_reference', id: 'msg_123' }, 'item_reference'],
    ];
    for (const [model, item, name] of cases) {
      const seq = await mark();
      const e = await caught(() => openai().responses.create({ model, input: [{ role: 'user', content: 'hi' }, item] }));
      assert.ok(e instanceof OpenAI.BadRequestError, `${model}: ${e.constructor.name}`);
      assert.match(e.message, new RegExp(name));
      assert.equal((await since(seq)).length, 0, `${model}: nothing upstream`);
    }
  });

  test('what no target can serve: background, conversation, prompt templates, input_file to chat', async () => {
    const cases = [
      ['gpt', { input: 'hi', background: true }, /background/],
      ['gpt', { input: 'hi', conversation: 'conv_123' }, /conversation/],
      ['gpt', { input: 'hi', prompt: { id: 'pmpt_123' } }, /prompt/],
      ['gpt', { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-123' }] }] }, /input_file/],
    ];
    for (const [model, body, message] of cases) {
      const seq = await mark();
      const e = await caught(() => openai().responses.create({ model, ...body }));
      assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(body)}: ${e.constructor.name} ${e.message}`);
      assert.match(e.message, message);
      assert.equal((await since(seq)).length, 0, `${JSON.stringify(body)}: nothing upstream`);
    }
  });

  test('a chain longer than responses.max_chain (3) is a 400 naming the limit', async () => {
    let prev = null;
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await openai().responses.create({ model: 'gpt', input: `turn ${i}`, ...(prev ? { previous_response_id: prev } : {}) });
      ids.push(r.id);
      prev = r.id;
    }
    // The third turn's chain has three responses: a fourth turn may follow it...
    const seq = await mark();
    const fourth = await openai().responses.create({ model: 'gpt', input: 'turn 3', previous_response_id: prev });
    const up = await onlyUpstream(seq);
    assert.equal(up.json.messages.length, 7, 'three turns of two messages, then the new one');
    // ...but not a fifth: its chain would be four long.
    const seq2 = await mark();
    const e = await caught(() => openai().responses.create({ model: 'gpt', input: 'turn 4', previous_response_id: fourth.id }));
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
    assert.equal(e.param, 'previous_response_id');
    assert.match(e.message, /max_chain|3/);
    assert.equal((await since(seq2)).length, 0);
  });

  test('built-in tools are left out for a translated provider, with x-gatehouse-warning', async () => {
    for (const stream of [false, true]) {
      const seq = await mark();
      const { data, response } = await openai().responses
        .create({ model: 'gpt', input: QUESTION, tools: [{ type: 'web_search' }, weather], tool_choice: 'auto', stream })
        .withResponse();
      assert.equal(response.headers.get('x-gatehouse-warning'), 'tools the provider cannot run were left out: web_search');
      if (stream) {
        const { events } = await drain(data);
        assert.equal(assertStreamShape(events).output[0].type, 'function_call');
      } else {
        assert.equal(data.output[0].type, 'function_call');
      }
      const up = await onlyUpstream(seq);
      assert.deepEqual(up.json.tools.map((t) => [t.type, t.function.name]), [['function', 'get_weather']]);
    }
    // A native provider runs them: passed through, no warning.
    const seq = await mark();
    const { response } = await openai().responses
      .create({ model: 'native', input: QUESTION, tools: [{ type: 'web_search' }] }).withResponse();
    assert.equal(response.headers.get('x-gatehouse-warning'), null);
    assert.deepEqual((await onlyUpstream(seq)).json.tools, [{ type: 'web_search' }]);
  });
});

describe('without a store', () => {
  let gw2;
  before(async () => {
    gw2 = await startGateway({ yaml: `server:
  listen: "127.0.0.1:0"
  workers: 1
providers:
  oai: {kind: openai-compatible, base_url: "${mock.base}/v1", auth: {token: "${PROVIDER_TOKEN}"}}
models:
  gpt: {provider: oai, upstream_model: "gpt-up"}
keys:
  - {name: app, sha256: "${sha256(KEY)}"}
` });
  });
  after(async () => { await gw2?.stop(); });

  test('responses work; previous_response_id is a 400 that says a store is needed', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: gw2.baseURL, maxRetries: 0 });
    const r = await client.responses.create({ model: 'gpt', input: QUESTION });
    assert.equal(r.output_text, WORDS);
    const seq = await mark();
    const e = await caught(() => client.responses.create({ model: 'gpt', input: 'more', previous_response_id: r.id }));
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
    assert.equal(e.param, 'previous_response_id');
    assert.match(e.message, /store/);
    assert.equal((await since(seq)).length, 0);
    const e2 = await caught(() => client.responses.retrieve(r.id));
    assert.equal(e2.status, 404);
  });
});

describe('two gateways on one store', () => {
  let replica;
  before(async () => { replica = await startGateway({ file: configPath }); });
  after(async () => { await replica?.stop(); });

  test('a response made through one is read, listed and continued through the other', async () => {
    const first = await openai().responses.create({ model: 'gpt', input: 'My name is Ada.' });
    const other = new OpenAI({ apiKey: KEY, baseURL: replica.baseURL, maxRetries: 0 });
    assert.equal((await other.responses.retrieve(first.id)).output_text, WORDS);
    assert.equal((await other.responses.inputItems.list(first.id)).data.length, 1);
    const seq = await mark();
    await other.responses.create({ model: 'gpt', input: 'What is my name?', previous_response_id: first.id });
    assert.deepEqual(conversation((await onlyUpstream(seq)).json),
      [['user', 'My name is Ada.'], ['assistant', WORDS], ['user', 'What is my name?']]);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Databricks: the OpenAI client at {gateway}/serving-endpoints, and agent invocations.

describe('Databricks clients', { timeout: 60_000 }, () => {
  const dbxClient = () => new OpenAI({ apiKey: KEY, baseURL: `${gw.base}/serving-endpoints`, maxRetries: 0 });
  const agentBody = {
    input: [{ role: 'user', content: 'What can you do?' }],
    custom_inputs: { session: 's-42', flags: ['a', 'b'] },
    databricks_options: { return_trace: true },
    context: { conversation_id: 'c-1', user_id: 'u-1' },
  };

  test('the Databricks-provided OpenAI client: responses.create on a model endpoint and an agent', async () => {
    let seq = await mark();
    const r = await dbxClient().responses.create({ model: 'llama', input: QUESTION });
    assert.equal(r.output_text, WORDS);
    assert.equal(r.usage.output_tokens, 8);
    let up = await onlyUpstream(seq);
    assert.equal(up.path, '/serving-endpoints/llama-up/invocations');
    assert.deepEqual(up.json.messages, [{ role: 'user', content: QUESTION }]);
    assert.equal((await dbxClient().responses.retrieve(r.id)).output_text, WORDS, 'stored, read back on the same base URL');

    // An agent endpoint (responses: native) gets the Responses body, custom_inputs included.
    seq = await mark();
    const a = await dbxClient().responses.create({
      model: 'agent-native', input: agentBody.input, custom_inputs: agentBody.custom_inputs,
    });
    assert.equal(a.output_text, WORDS);
    assert.deepEqual(a.custom_outputs, agentBody.custom_inputs, 'the agent echoes custom_inputs');
    up = await onlyUpstream(seq);
    assert.equal(up.path, '/serving-endpoints/my-agent/invocations');
    assert.deepEqual(up.json, { input: agentBody.input, custom_inputs: agentBody.custom_inputs });

    // Streamed, the agent's own events come through (ResponsesAgent's dialect: deltas, the done
    // item and response.completed, no response.created or sequence numbers — so the SDK's
    // responses.stream() helper, which needs response.created first, cannot read it; iterating
    // create({stream: true}) can, as Databricks' examples do).
    const stream = await dbxClient().responses.create({
      model: 'agent-native', input: agentBody.input, custom_inputs: agentBody.custom_inputs, stream: true,
    });
    const { events, deltas } = await drain(stream);
    assert.equal(deltas.join(''), WORDS);
    const completed = events.find((e) => e.type === 'response.completed');
    assert.ok(completed, events.map((e) => e.type).join(' '));
    assert.deepEqual(completed.response.custom_outputs, agentBody.custom_inputs);
  });

  test('a string input to an agent endpoint reaches it as a message item (not as an embeddings input)', async () => {
    const seq = await mark();
    const a = await dbxClient().responses.create({ model: 'agent-native', input: QUESTION });
    const up = await onlyUpstream(seq);
    assert.ok(Array.isArray(up.json.input), `the agent got input ${JSON.stringify(up.json.input)}: a string is an embeddings invocation`);
    assert.equal(a.object, 'response', `the client got ${JSON.stringify(a).slice(0, 200)}`);
    assert.equal(a.output_text, WORDS);
  });

  test('an agent invocation passes through unchanged: custom_inputs in, custom_outputs out', async () => {
    const seq = await mark();
    const res = await invoke('agent', agentBody);
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('x-request-id'));
    const body = await res.json();
    assert.equal(body.object, 'response');
    assert.equal(outputText(body), WORDS);
    assert.deepEqual(body.custom_outputs, agentBody.custom_inputs);
    assert.match(body.databricks_output.trace.info.trace_id, /^tr-[0-9a-f]{32}$/, 'return_trace reached the agent');
    const up = await onlyUpstream(seq);
    assert.equal(up.path, '/serving-endpoints/my-agent/invocations');
    assert.equal(up.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);
    assert.deepEqual(up.json, agentBody, 'the body is the client\'s, unchanged');
  });

  test('a streamed agent invocation: data events, custom_outputs on response.completed, [DONE]', async () => {
    const seq = await mark();
    const res = await invoke('agent', { ...agentBody, stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = await readSSE(res);
    assert.equal(events.at(-1).data, '[DONE]');
    const data = events.slice(0, -1).map((e) => e.data);
    const deltas = data.filter((d) => d.type === 'response.output_text.delta').map((d) => d.delta);
    assert.equal(deltas.join(''), WORDS);
    const completed = data.find((d) => d.type === 'response.completed');
    assert.ok(completed, data.map((d) => d.type).join(' '));
    assert.deepEqual(completed.response.custom_outputs, agentBody.custom_inputs);
    assert.equal(outputText(completed.response), WORDS);
    const up = await onlyUpstream(seq);
    assert.deepEqual(up.json, { ...agentBody, stream: true });
  });

  test('the Databricks SDK (WorkspaceClient with a PAT) queries an agent through the gateway', async () => {
    // servingEndpoints.query sends only the fields its QueryEndpointInput knows (input, messages,
    // max_tokens, ...; no custom_inputs); the SDK's own apiClient sends any body with the same
    // host, auth and error handling.
    const w = new WorkspaceClient({ host: gw.base, token: KEY, authType: 'pat' });
    let seq = await mark();
    const r = await w.servingEndpoints.query({ name: 'agent', input: agentBody.input });
    assert.equal(r.object, 'response');
    assert.equal(outputText(r), WORDS);
    let up = await onlyUpstream(seq);
    assert.equal(up.path, '/serving-endpoints/my-agent/invocations');
    assert.deepEqual(up.json, { input: agentBody.input });

    seq = await mark();
    const full = await w.apiClient.request({
      path: '/serving-endpoints/agent/invocations', method: 'POST',
      headers: new Headers({ 'content-type': 'application/json', accept: 'application/json' }),
      raw: false, payload: agentBody,
    });
    assert.deepEqual(full.custom_outputs, agentBody.custom_inputs);
    up = await onlyUpstream(seq);
    assert.deepEqual(up.json, agentBody);

    const bad = new WorkspaceClient({ host: gw.base, token: 'gh-wrong', authType: 'pat' });
    const e = await caught(() => bad.servingEndpoints.query({ name: 'agent', input: agentBody.input }));
    assert.equal(e.statusCode ?? e.status, 401, `${e.constructor.name}: ${e.message}`);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Governance: roles, guardrails, usage, limits, the inference log.

describe('governance', { timeout: 60_000 }, () => {
  test('a role that does not name the model: 403, nothing upstream; stored responses need a key', async () => {
    const seq = await mark();
    const e = await caught(() => openai(NARROW_KEY).responses.create({ model: 'claude', input: 'hi' }));
    assert.ok(e instanceof OpenAI.PermissionDeniedError, e.constructor.name);
    assert.equal((await since(seq)).length, 0);
    assert.equal((await openai(NARROW_KEY).responses.create({ model: 'gpt', input: 'hi' })).output_text, WORDS);
    const made = await openai().responses.create({ model: 'gpt', input: 'hi' });
    const e2 = await caught(() => openai('gh-no-such-key').responses.retrieve(made.id));
    assert.ok(e2 instanceof OpenAI.AuthenticationError, e2.constructor.name);
  });

  for (const model of ['guarded', 'guarded-native']) {
    test(`${model}: an input guardrail masks an email in input items and instructions`, async () => {
      const seq = await mark();
      await openai().responses.create({
        model,
        instructions: `Reply to ${EMAIL}.`,
        input: [
          { role: 'user', content: [{ type: 'input_text', text: `Write to ${EMAIL} today.` }] },
          { role: 'assistant', content: [{ type: 'output_text', text: 'Sure.' }] },
          { role: 'user', content: `And cc ${EMAIL}.` },
        ],
      });
      const up = await onlyUpstream(seq);
      assert.ok(!up.body.includes(EMAIL), `the provider got the address: ${up.body}`);
      assert.ok(up.body.includes('<EMAIL_ADDRESS>'), up.body);
    });

    test(`${model}: an output guardrail masks an email in the answer, whole and streamed`, async () => {
      await withMockDefaults(mock, { reply_chunks: SPLIT_EMAIL }, async () => {
        const whole = await openai().responses.create({ model, input: 'hi' });
        assert.equal(whole.output_text, SPLIT_EMAIL_MASKED);

        const { events, deltas } = await drain(openai().responses.stream({ model, input: 'hi' }));
        const completed = assertStreamShape(events);
        for (const d of deltas) assert.ok(!/jane|example/.test(d), `a delta holds part of the address: ${JSON.stringify(d)}`);
        assert.equal(deltas.join(''), SPLIT_EMAIL_MASKED);
        assert.equal(events.find((e) => e.type === 'response.output_text.done').text, SPLIT_EMAIL_MASKED);
        assert.equal(outputText(completed), SPLIT_EMAIL_MASKED);
        assert.ok(!JSON.stringify(events).includes(EMAIL), 'no event holds the address');
        // What is stored is what the client got.
        assert.equal((await openai().responses.retrieve(completed.id)).output_text, SPLIT_EMAIL_MASKED);
      });
    });
  }

  for (const model of ['guarded-out', 'guarded-out-native']) {
    test(`${model}: an output guardrail masks an email in function-call arguments, whole and streamed`, async () => {
      // The mock's arguments echo the first 16 characters of the user's text: the address.
      const input = 'jo@example.com, what is the weather?';
      const whole = await openai().responses.create({ model, input, tools: [weather] });
      const call = whole.output.find((o) => o.type === 'function_call');
      assert.ok(call, JSON.stringify(whole.output));
      assert.ok(!call.arguments.includes('jo@example.com'), `the arguments: ${call.arguments}`);
      assert.deepEqual(JSON.parse(call.arguments), { echo: '<EMAIL_ADDRESS>, ' });

      const { events } = await drain(openai().responses.stream({ model, input, tools: [weather] }));
      const completed = assertStreamShape(events);
      assert.ok(!JSON.stringify(events).includes('jo@example.com'), 'no event holds the address');
      assert.deepEqual(JSON.parse(completed.output.find((o) => o.type === 'function_call').arguments), { echo: '<EMAIL_ADDRESS>, ' });
    });
  }

  test('guarded-agent: a Databricks agent invocation is guarded on its input items and its output text', async () => {
    const seq = await mark();
    const res = await withMockDefaults(mock, { reply: `Mail ${EMAIL} now` }, () =>
      invoke('guarded-agent', { input: [{ role: 'user', content: [{ type: 'input_text', text: `Write to ${EMAIL} today.` }] }] }));
    assert.equal(res.status, 200);
    const body = await res.json();
    const up = await onlyUpstream(seq);
    assert.ok(!up.body.includes(EMAIL), `the agent got the address: ${up.body}`);
    assert.equal(outputText(body), 'Mail <EMAIL_ADDRESS> now');
  });

  for (const model of MODELS) {
    test(`${model}: usage rows carry the provider's reported tokens, whole and streamed`, async () => {
      const whole = await openai().responses.create({ model, input: QUESTION }).withResponse();
      const row = await usageRow(whole.response.headers.get('x-request-id'));
      assert.deepEqual(row, { input: whole.data.usage.input_tokens, output: 8, estimated: 0, status: 200, model });

      const { data: stream, response } = await openai().responses.create({ model, input: QUESTION, stream: true }).withResponse();
      const { events } = await drain(stream);
      const usage = events.at(-1).response.usage;
      const srow = await usageRow(response.headers.get('x-request-id'));
      assert.deepEqual(srow, { input: usage.input_tokens, output: usage.output_tokens, estimated: 0, status: 200, model },
        'a stream is charged what its response.completed reports');
    });
  }

  test('a streamed agent invocation\'s usage row carries the usage of its response.completed', async () => {
    const res = await invoke('agent', { input: [{ role: 'user', content: QUESTION }], stream: true });
    const events = await readSSE(res);
    const usage = events.find((e) => e.data?.type === 'response.completed').data.response.usage;
    assert.equal(usage.output_tokens, 8);
    const row = await usageRow(res.headers.get('x-request-id'));
    assert.deepEqual(row, { input: usage.input_tokens, output: 8, estimated: 0, status: 200, model: 'agent' });
  });

  // The token window: a request's charge is what the remaining tokens drop by between two
  // identical probes around it (each probe reserves the same estimate).
  async function charged(send) {
    const probe = () => openai(METERED_KEY).responses.create({ model: 'gpt', input: 'probe', max_output_tokens: 50 }).withResponse();
    const p1 = await probe();
    await send(openai(METERED_KEY));
    const p2 = await probe();
    const remaining = (p) => Number(p.response.headers.get('x-ratelimit-remaining-tokens'));
    assert.equal(p1.response.headers.get('x-ratelimit-limit-tokens'), '100000');
    return remaining(p1) - remaining(p2) - p1.data.usage.total_tokens;
  }

  test('a token limit is charged a Responses request\'s real usage (plain, translated stream, native stream)', async () => {
    const plain = await charged((c) => c.responses.create({ model: 'gpt', input: QUESTION }));
    assert.equal(plain, 16, 'the plain request: 8 in + 8 out');
    const translated = await charged(async (c) => drain(await c.responses.create({ model: 'claude', input: QUESTION, stream: true })));
    assert.equal(translated, 16, 'a translated stream: its usage');
    const native = await charged(async (c) => drain(await c.responses.create({ model: 'native', input: QUESTION, stream: true })));
    assert.equal(native, 16, 'a native stream: the usage of its response.completed, not the estimate');
  });

  test('the inference log keeps the Responses request and the answer, streamed ones reassembled', async () => {
    const whole = await openai().responses.create({ model: 'claude', input: QUESTION, metadata: { case: 'log' } }).withResponse();
    const { data: stream, response } = await openai().responses.create({ model: 'gpt', input: QUESTION, stream: true }).withResponse();
    await drain(stream);
    const ids = [whole.response.headers.get('x-request-id'), response.headers.get('x-request-id')];
    const rows = await waitFor(async () => {
      const r = await logs('--limit', '20');
      return ids.every((id) => r.some((x) => x.request_id === id)) ? r : null;
    }, { what: 'the inference log rows' });
    const w = rows.find((r) => r.request_id === ids[0]);
    assert.equal(w.model, 'claude');
    assert.equal(w.provider, 'anth');
    assert.equal(w.status_code, 200);
    assert.deepEqual(w.request, { model: 'claude', input: QUESTION, metadata: { case: 'log' } });
    assert.equal(w.response.id, whole.data.id);
    assert.equal(outputText(w.response), WORDS);
    assert.equal(w.output_tokens, 8);
    const s = rows.find((r) => r.request_id === ids[1]);
    assert.equal(s.streaming, true);
    assert.equal(s.response.object, 'response', 'the stream is reassembled into one response');
    assert.equal(outputText(s.response), WORDS);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Codex CLI (npm @openai/codex) through a chat-only provider.
//
// Codex reads providers from $CODEX_HOME/config.toml; `wire_api = "responses"` is the only wire
// it speaks. Checked with `strace -f -e trace=connect,sendto,sendmmsg`: by default it also looks
// up github.com and api.github.com and chatgpt.com (the plugins feature: the curated plugin list)
// and ab.chatgpt.com (analytics); `[features] plugins = false` and `[analytics] enabled = false`
// leave it talking to the gateway alone. It needs no OpenAI login: the key comes from env_key.

const RUN_TIMEOUT_MS = 120_000;

async function codex(prompt) {
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-codex-home-'));
  const cwd = mkdtempSync(join(tmpdir(), 'gatehouse-codex-work-'));
  writeFileSync(join(home, 'config.toml'), `model = "chat-model"
model_provider = "gatehouse"
check_for_update_on_startup = false
web_search = "live"

[model_providers.gatehouse]
name = "Gatehouse"
base_url = "${gw.baseURL}"
env_key = "GATEHOUSE_KEY"
wire_api = "responses"

[features]
plugins = false

[analytics]
enabled = false
`);
  const env = { PATH: process.env.PATH, HOME: home, CODEX_HOME: home, GATEHOUSE_KEY: KEY, NO_COLOR: '1' };
  try {
    // Its own process group: the npm launcher runs the native binary as a child, and a timeout
    // must stop both (killing the launcher alone leaves the binary holding the pipes open).
    const child = spawn(codexBin, ['exec', '--skip-git-repo-check', prompt], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, RUN_TIMEOUT_MS);
    const code = await new Promise((res, rej) => {
      child.on('error', rej);
      child.on('close', (c, signal) => res(c ?? signal));
    });
    clearTimeout(timer);
    return { code, stdout, stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  }
}

describe('Codex CLI', { timeout: RUN_TIMEOUT_MS + 30_000 }, () => {
  test('codex exec through a chat-only provider: Responses in, chat completions out, the answer printed', async () => {
    const seq = await mark();
    const logFrom = gw.log().length;
    const ran = await codex('Say hello');
    assert.equal(ran.code, 0, `codex exited ${ran.code}\nstdout: ${ran.stdout}\nstderr: ${ran.stderr}`);
    assert.ok(ran.stdout.includes(WORDS), `codex printed the provider's answer: ${ran.stdout}\nstderr: ${ran.stderr}`);

    // The provider saw chat completions only (the mock calls Codex's first tool; Codex answers
    // it, then the mock answers text: a tool round trip).
    const ups = await since(seq);
    assert.ok(ups.length >= 2, `a tool round trip: ${ups.map((u) => u.path).join(', ')}`);
    for (const up of ups) {
      assert.equal(up.path, '/v1/chat/completions');
      assert.equal(up.json.model, 'codex-up');
      assert.equal(up.json.input, undefined);
      assert.equal(up.json.stream, true);
      assert.ok(up.json.tools.length > 0 && up.json.tools.every((t) => t.type === 'function'), 'function tools only');
      assert.ok(!up.json.tools.some((t) => t.function.name === 'web_search'));
      assert.ok(up.json.messages.some((m) => m.role === 'user' && textOf(m.content) === 'Say hello'));
    }
    const last = ups.at(-1).json.messages;
    const call = last.findIndex((m) => m.role === 'assistant' && m.tool_calls);
    assert.ok(call > 0, 'the tool call is in the conversation');
    assert.equal(last[call + 1].role, 'tool');
    assert.equal(last[call + 1].tool_call_id, last[call].tool_calls[0].id);

    // The gateway's access log: Codex's Responses requests, answered 200.
    const accessLines = () => gw.log().slice(logFrom).split('\n').filter((l) => l.includes('"type":"access"'))
      .map((l) => JSON.parse(l.slice(l.indexOf('{')))).filter((a) => a.model === 'chat-model');
    const mine = await waitFor(() => { const a = accessLines(); return a.length >= ups.length ? a : null; },
      { what: 'the access log lines of codex\'s requests' });
    assert.equal(mine.length, ups.length, 'one Responses request per upstream call');
    for (const a of mine) {
      assert.equal(a.path, '/v1/responses');
      assert.equal(a.status, 200);
      assert.equal(a.error, null);
      assert.equal(a.stream, true);
      assert.equal(a.key, 'app');
    }
    // What Codex sent: a built-in web_search tool the chat provider never saw.
    const rows = await waitFor(async () => {
      const r = (await logs('--model', 'chat-model', '--limit', '10')).filter((x) => mine.some((a) => a.request_id === x.request_id));
      return r.length === mine.length ? r : null;
    }, { what: 'the inference log rows of codex' });
    for (const r of rows) {
      assert.ok(Array.isArray(r.request.input), 'Codex sends input items');
      assert.ok(r.request.tools.some((t) => t.type === 'web_search'), `Codex offered web_search: ${JSON.stringify(r.request.tools.map((t) => t.type))}`);
    }
  });
});
