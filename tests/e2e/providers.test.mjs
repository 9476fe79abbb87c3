// End-to-end: the official `@anthropic-ai/sdk` and `openai` SDKs, as a new user would point them
// at Gatehouse, through the gateway to each provider kind (openai-compatible, anthropic,
// databricks) served by the bundled fake provider; plus Databricks clients (plain HTTP on
// /serving-endpoints/{model}/invocations). Each test asserts what the client gets and what the
// provider received (mockllm records it): path, credential, headers, body.
//
// A request the gateway translates loses the client's `mock` body field and its headers, so
// those tests steer the mock with its sticky defaults (withMockDefaults), always cleared after.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMock, startGateway, sha256, withMockDefaults, readSSE, QUICK_KEY } from './harness.mjs';

// One credential for the three providers: the mock takes it as a bearer token or as x-api-key.
const PROVIDER_TOKEN = 'sk-provider-for-all-three';
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
const words = (n) => WORDS.slice(0, n).join(' ');
const QUESTION = 'What is the weather in Paris today?';
const ECHO = { echo: QUESTION.slice(0, 16) };  // the mock's tool arguments: the question's start

// What each gateway model is, and how its provider must be called.
const PROVIDERS = {
  claude: {
    kind: 'anthropic', upstream: 'claude-up', path: '/v1/messages',
    credential: (h) => h['x-api-key'] === PROVIDER_TOKEN && h.authorization === undefined,
  },
  gpt: {
    kind: 'openai-compatible', upstream: 'gpt-up', path: '/v1/chat/completions',
    credential: (h) => h.authorization === `Bearer ${PROVIDER_TOKEN}` && h['x-api-key'] === undefined,
  },
  llama: {
    kind: 'databricks', upstream: 'llama-up', path: '/serving-endpoints/llama-up/invocations',
    credential: (h) => h.authorization === `Bearer ${PROVIDER_TOKEN}` && h['x-api-key'] === undefined,
  },
};
const MODELS = Object.keys(PROVIDERS);

function config(mock) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  oai:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "${PROVIDER_TOKEN}"}
  anth:
    kind: anthropic
    base_url: "${mock.base}"
    auth: {token: "${PROVIDER_TOKEN}"}
  dbx:
    kind: databricks
    host: "${mock.base}"
    auth: {token: "${PROVIDER_TOKEN}"}
models:
  claude: {provider: anth, upstream_model: "claude-up"}
  gpt: {provider: oai, upstream_model: "gpt-up"}
  llama: {provider: dbx, upstream_model: "llama-up"}
  embed: {provider: oai, upstream_model: "emb-up"}
  dbx-embed: {provider: dbx, upstream_model: "gte-up"}
keys:
  - {name: test, sha256: "${sha256(QUICK_KEY)}"}
`;
}

let mock, gw;
before(async () => {
  mock = await startMock(['--require-token', PROVIDER_TOKEN]);
  gw = await startGateway({ yaml: config(mock) });
});
after(async () => { await gw?.stop(); await mock?.stop(); });

// The last request the provider received, its body parsed.
async function upstream() {
  const r = await mock.lastRequest();
  assert.ok(r, 'the provider received a request');
  return { ...r, json: JSON.parse(r.body) };
}

async function mockRequestCount() { return (await mock.stats()).requests; }

// Checks what every upstream call must be: the provider's path and credential, the gateway's
// request id, and no trace of the client's gateway key.
function assertUpstreamCall(model, up, requestId, path = PROVIDERS[model].path) {
  const p = PROVIDERS[model];
  assert.equal(up.path.split('?')[0], path, `${model} goes to its ${p.kind} provider's path`);
  assert.ok(p.credential(up.headers), `${model}: the ${p.kind} provider's credential, and only it: ${JSON.stringify(up.headers)}`);
  assert.ok(!JSON.stringify(up).includes(QUICK_KEY), 'the gateway key never goes upstream');
  if (requestId) assert.equal(up.headers['x-request-id'], requestId, 'the request id travels upstream');
  if (p.kind === 'databricks') assert.equal(up.json.model, undefined, 'the endpoint names the model');
  else assert.equal(up.json.model, p.upstream);
}

// A message's content as {role, text}: a string, or the text of its text blocks/parts (a
// translation may write either form).
function textOf(message) {
  const c = message.content;
  const text = typeof c === 'string' ? c
    : c.map((b) => (b.type === 'text' ? b.text : `<${b.type}>`)).join('');
  return { role: message.role, text };
}

// Runs `fn` and returns the error it rejects with (failing if it does not reject).
async function caught(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

// A fetch for the SDKs that remembers the last request they sent (headers, body).
function spyFetch() {
  const spy = async (url, init) => {
    spy.last = { url: String(url), headers: new Headers(init?.headers), body: init?.body };
    return fetch(url, init);
  };
  return spy;
}

const anthropic = (opts = {}) =>
  new Anthropic({ baseURL: gw.base, apiKey: QUICK_KEY, maxRetries: 0, ...opts });
const openai = (opts = {}) => new OpenAI({ baseURL: gw.baseURL, apiKey: QUICK_KEY, maxRetries: 0, ...opts });
const ask = { max_tokens: 256, messages: [{ role: 'user', content: QUESTION }] };
const weather = { name: 'get_weather', description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

// ---------------------------------------------------------------------------------------------
// 1. The Anthropic SDK, to each provider kind.

describe('Anthropic SDK: credentials', () => {
  test('apiKey (this SDK version sends it as Authorization: Bearer) reaches every provider kind', async () => {
    const spy = spyFetch();
    for (const model of MODELS) {
      const msg = await anthropic({ fetch: spy }).messages.create({ model, ...ask });
      assert.equal(msg.content[0].text, words(8), model);
      assertUpstreamCall(model, await upstream());
    }
    assert.equal(spy.last.headers.get('authorization'), `Bearer ${QUICK_KEY}`);
  });

  test('x-api-key (what Claude Code with ANTHROPIC_API_KEY and the Python SDK send) is a gateway key too', async () => {
    const spy = spyFetch();
    const client = anthropic({ fetch: spy, defaultHeaders: { authorization: null, 'x-api-key': QUICK_KEY } });
    for (const model of MODELS) {
      const msg = await client.messages.create({ model, ...ask });
      assert.equal(msg.content[0].text, words(8), model);
      assertUpstreamCall(model, await upstream());
    }
    assert.equal(spy.last.headers.get('x-api-key'), QUICK_KEY);
    assert.equal(spy.last.headers.get('authorization'), null);
  });

  test('authToken (Claude Code with ANTHROPIC_AUTH_TOKEN) sends Bearer and is accepted', async () => {
    const spy = spyFetch();
    const client = new Anthropic({ baseURL: gw.base, authToken: QUICK_KEY, maxRetries: 0, fetch: spy });
    const msg = await client.messages.create({ model: 'claude', ...ask });
    assert.equal(msg.content[0].text, words(8));
    assert.equal(spy.last.headers.get('authorization'), `Bearer ${QUICK_KEY}`);
    assert.equal(spy.last.headers.get('x-api-key'), null);
    assertUpstreamCall('claude', await upstream());
  });

  test('a bad gateway key is an AuthenticationError in Anthropic\'s shape, and nothing goes upstream', async () => {
    const before = await mockRequestCount();
    for (const opts of [{ apiKey: 'gh-wrong' }, { defaultHeaders: { authorization: null, 'x-api-key': 'gh-wrong' } }]) {
      const err = await caught(() => anthropic(opts).messages.create({ model: 'claude', ...ask }));
      assert.ok(err instanceof Anthropic.AuthenticationError, err.constructor.name);
      assert.equal(err.status, 401);
      assert.equal(err.error.type, 'error');
      assert.equal(err.error.error.type, 'authentication_error');
      assert.ok(err.requestID, 'request-id header');
      assert.equal(err.requestID, err.headers.get('x-request-id'));
    }
    assert.equal(await mockRequestCount(), before);
  });

  test('an unknown model is a NotFoundError (not_found_error) naming it', async () => {
    const err = await caught(() => anthropic().messages.create({ model: 'no-such-model', ...ask }));
    assert.ok(err instanceof Anthropic.NotFoundError, err.constructor.name);
    assert.equal(err.status, 404);
    assert.equal(err.error.error.type, 'not_found_error');
    assert.match(err.error.error.message, /no-such-model/);
    assert.ok(err.headers.get('x-request-id'));
  });
});

for (const model of MODELS) {
  const p = PROVIDERS[model];
  const native = p.kind === 'anthropic';

  describe(`Anthropic SDK -> ${model} (${p.kind}, ${native ? 'pass-through' : 'translated'})`, () => {
    test('messages.create: text, stop_reason, usage, msg_ id, request ids', async () => {
      const { data: msg, response } = await anthropic().messages.create({ model, ...ask }).withResponse();
      assert.equal(msg.type, 'message');
      assert.equal(msg.role, 'assistant');
      assert.match(msg.id, /^msg_/);
      assert.deepEqual(msg.content, [{ type: 'text', text: words(8) }]);
      assert.equal(msg.stop_reason, 'end_turn');
      assert.equal(msg.usage.output_tokens, 8);
      assert.equal(msg.usage.input_tokens, 8, 'the mock counts 35 code points as 8 tokens');
      const requestId = response.headers.get('x-request-id');
      assert.ok(requestId);
      assert.equal(response.headers.get('request-id'), requestId, "the Anthropic SDK's request id is the gateway's");
      assert.equal(msg._request_id, requestId);
      const up = await upstream();
      assertUpstreamCall(model, up, requestId);
      if (!native) {
        assert.deepEqual(up.json.messages, [{ role: 'user', content: QUESTION }]);
        assert.equal(up.json.max_completion_tokens ?? up.json.max_tokens, 256);
        assert.equal(up.json.stream ?? false, false);
      }
    });

    test('messages.stream(): text events and finalMessage', async () => {
      let text = '';
      const stream = anthropic().messages.stream({ model, ...ask });
      stream.on('text', (t) => { text += t; });
      const final = await stream.finalMessage();
      assert.equal(text, words(8));
      assert.deepEqual(final.content, [{ type: 'text', text: words(8) }]);
      assert.equal(final.stop_reason, 'end_turn');
      assert.equal(final.usage.output_tokens, 8);
      assert.equal(final.usage.input_tokens, 8);
      const up = await upstream();
      assertUpstreamCall(model, up);
      assert.equal(up.json.stream, true);
      if (!native) assert.deepEqual(up.json.stream_options, { include_usage: true }, 'a translated stream asks for usage');
      if (native) assert.equal(up.headers.accept, 'text/event-stream');
    });

    test('raw stream events come in Anthropic\'s order', async () => {
      const { data: stream, response } = await anthropic().messages
        .create({ model, ...ask, stream: true }).withResponse();
      assert.match(response.headers.get('content-type'), /^text\/event-stream/);
      const types = [];
      let text = '';
      let outputTokens;
      for await (const ev of stream) {
        types.push(ev.type);
        if (ev.type === 'message_start') assert.equal(ev.message.role, 'assistant');
        if (ev.type === 'content_block_start') assert.equal(ev.content_block.type, 'text');
        if (ev.type === 'content_block_delta') {
          assert.equal(ev.delta.type, 'text_delta');
          text += ev.delta.text;
        }
        if (ev.type === 'message_delta') {
          assert.equal(ev.delta.stop_reason, 'end_turn');
          outputTokens = ev.usage.output_tokens;
        }
      }
      assert.deepEqual(types, ['message_start', 'content_block_start',
        ...Array(8).fill('content_block_delta'), 'content_block_stop', 'message_delta', 'message_stop']);
      assert.equal(text, words(8));
      assert.equal(outputTokens, 8, 'message_delta carries output_tokens');
    });

    test('tool use: a tool_use block with its input parsed, stop_reason tool_use', async () => {
      const msg = await anthropic().messages.create({ model, ...ask, tools: [weather] });
      assert.equal(msg.stop_reason, 'tool_use');
      const block = msg.content.find((b) => b.type === 'tool_use');
      assert.ok(block, JSON.stringify(msg.content));
      assert.equal(block.name, 'get_weather');
      assert.ok(typeof block.id === 'string' && block.id.length > 0);
      assert.deepEqual(block.input, ECHO);
      const up = await upstream();
      assertUpstreamCall(model, up);
      if (native) {
        assert.deepEqual(up.json.tools, [weather]);
      } else {
        assert.deepEqual(up.json.tools, [{ type: 'function', function: {
          name: weather.name, description: weather.description, parameters: weather.input_schema } }]);
      }
    });

    test('streamed tool use: finalMessage assembles the input from input_json_delta', async () => {
      const partials = [];
      const stream = anthropic().messages.stream({ model, ...ask, tools: [weather] });
      stream.on('streamEvent', (ev) => {
        if (ev.type === 'content_block_delta') {
          assert.equal(ev.delta.type, 'input_json_delta');
          partials.push(ev.delta.partial_json);
        }
      });
      const final = await stream.finalMessage();
      assert.equal(final.stop_reason, 'tool_use');
      const block = final.content.find((b) => b.type === 'tool_use');
      assert.ok(block, JSON.stringify(final.content));
      assert.equal(block.name, 'get_weather');
      assert.deepEqual(block.input, ECHO);
      assert.ok(partials.length >= 1);
      assert.deepEqual(JSON.parse(partials.join('')), ECHO);
    });

    test('multi-turn: a tool_result sent back gets a text answer', async () => {
      const first = await anthropic().messages.create({ model, ...ask, tools: [weather] });
      const call = first.content.find((b) => b.type === 'tool_use');
      const messages = [
        ...ask.messages,
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny, 21 C' }] },
      ];
      const second = await anthropic().messages.create({ model, max_tokens: 256, tools: [weather], messages });
      assert.equal(second.stop_reason, 'end_turn');
      assert.equal(second.content[0].type, 'text');
      assert.equal(second.content[0].text, words(8));
      const up = await upstream();
      assertUpstreamCall(model, up);
      if (native) {
        assert.deepEqual(up.json.messages, messages);
      } else {
        const [user, assistant, tool] = up.json.messages;
        assert.deepEqual(user, { role: 'user', content: QUESTION });
        assert.equal(assistant.role, 'assistant');
        assert.equal(assistant.tool_calls.length, 1);
        assert.equal(assistant.tool_calls[0].id, call.id);
        assert.equal(assistant.tool_calls[0].type, 'function');
        assert.equal(assistant.tool_calls[0].function.name, 'get_weather');
        assert.deepEqual(JSON.parse(assistant.tool_calls[0].function.arguments), ECHO);
        assert.equal(tool.role, 'tool');
        assert.equal(tool.tool_call_id, call.id);
        assert.match(typeof tool.content === 'string' ? tool.content : JSON.stringify(tool.content), /sunny, 21 C/);
        assert.equal(up.json.messages.length, 3);
      }
    });

    test('system prompt', async () => {
      const spy = spyFetch();
      const body = { model, max_tokens: 100, system: 'You are terse.', temperature: 0.2,
        messages: [{ role: 'user', content: 'hello' }], metadata: { user_id: 'u-42' } };
      const msg = await anthropic({ fetch: spy }).messages.create(body,
        { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } });
      assert.equal(msg.content[0].text, words(8));
      assert.equal(msg.usage.input_tokens, 4, '(14 + 5) code points / 4: the system prompt counts');
      const up = await upstream();
      assertUpstreamCall(model, up);
      if (native) {
        // Native pass-through: the client's bytes with only `model` replaced, and its headers.
        const sent = JSON.parse(spy.last.body);
        assert.deepEqual(up.json, { ...sent, model: 'claude-up' });
        assert.equal(up.body, spy.last.body.replace('"model":"claude"', '"model":"claude-up"'), 'byte for byte');
        assert.equal(up.headers['anthropic-version'], spy.last.headers.get('anthropic-version'));
        assert.equal(up.headers['anthropic-beta'], 'prompt-caching-2024-07-31');
      } else {
        assert.deepEqual(up.json.messages, [{ role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'hello' }]);
        assert.equal(up.json.temperature, 0.2);
        assert.equal(up.json.user, 'u-42');
        assert.equal(up.headers['anthropic-version'], undefined);
        assert.equal(up.headers['anthropic-beta'], undefined);
      }
    });

    test('beta features: anthropic-beta (and the ?beta=true query older SDKs add)', async () => {
      const spy = spyFetch();
      const msg = await anthropic({ fetch: spy }).beta.messages.create(
        { model, ...ask, betas: ['files-api-2025-04-14'] }, { query: { beta: 'true' } });
      assert.equal(msg.content[0].text, words(8));
      assert.equal(spy.last.headers.get('anthropic-beta'), 'files-api-2025-04-14');
      const up = await upstream();
      assertUpstreamCall(model, up);
      if (native) {
        assert.equal(up.path, '/v1/messages?beta=true');
        assert.equal(up.headers['anthropic-beta'], 'files-api-2025-04-14');
      } else {
        assert.equal(up.path, p.path, 'no Anthropic query on an OpenAI-shaped provider');
        assert.equal(up.headers['anthropic-beta'], undefined);
      }
    });

    if (!native) {
      test('a server tool (web_search) is a 400 naming it, and nothing goes upstream', async () => {
        const before = await mockRequestCount();
        const err = await caught(() => anthropic().messages.create(
          { model, ...ask, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }));
        assert.ok(err instanceof Anthropic.BadRequestError, err.constructor.name);
        assert.equal(err.error.error.type, 'invalid_request_error');
        assert.match(err.error.error.message, /web_search/);
        assert.equal(await mockRequestCount(), before);
      });
    }

    test('image block (base64)', async () => {
      const png = Buffer.from('not really a png, but base64 all the same').toString('base64');
      const content = [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
        { type: 'text', text: 'What is in this picture?' }];
      const msg = await anthropic().messages.create({ model, max_tokens: 100, messages: [{ role: 'user', content }] });
      assert.equal(msg.content[0].text, words(8));
      const up = await upstream();
      assertUpstreamCall(model, up);
      if (native) {
        assert.deepEqual(up.json.messages[0].content, content);
      } else {
        assert.deepEqual(up.json.messages, [{ role: 'user', content: [
          { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          { type: 'text', text: 'What is in this picture?' }] }]);
      }
    });

    test('stop_sequences', async () => {
      const stop_sequences = ['###', 'END'];
      const msg = await anthropic().messages.create({ model, ...ask, stop_sequences });
      assert.equal(msg.content[0].text, words(8));
      const up = await upstream();
      assertUpstreamCall(model, up);
      if (native) {
        assert.deepEqual(up.json.stop_sequences, stop_sequences);
        // The Anthropic provider ending on one reaches the client as it said it.
        const hit = await withMockDefaults(mock, { stop_sequence_hit: true },
          () => anthropic().messages.create({ model, ...ask, stop_sequences }));
        assert.equal(hit.stop_reason, 'stop_sequence');
        assert.equal(hit.stop_sequence, '###');
      } else {
        assert.deepEqual(up.json.stop, stop_sequences);
        assert.equal(up.json.stop_sequences, undefined);
      }
    });

    test('max_tokens below the answer: stop_reason max_tokens', async () => {
      const msg = await anthropic().messages.create({ model, max_tokens: 3, messages: ask.messages });
      assert.equal(msg.stop_reason, 'max_tokens');
      assert.equal(msg.content[0].text, words(3));
      assert.equal(msg.usage.output_tokens, 3);
      const streamed = await anthropic().messages.stream({ model, max_tokens: 3, messages: ask.messages }).finalMessage();
      assert.equal(streamed.stop_reason, 'max_tokens');
      assert.equal(streamed.content[0].text, words(3));
    });

    test('prompt cache reads reported by the provider reach usage.cache_read_input_tokens', async () => {
      const msg = await withMockDefaults(mock, { cache_read_tokens: 40 },
        () => anthropic().messages.create({ model, ...ask }));
      assert.equal(msg.usage.cache_read_input_tokens, 40);
      // Anthropic's input_tokens excludes cache reads (the mock's OpenAI prompt_tokens includes them).
      assert.equal(msg.usage.input_tokens, 8);
      const final = await withMockDefaults(mock, { cache_read_tokens: 40 },
        () => anthropic().messages.stream({ model, ...ask }).finalMessage());
      assert.equal(final.usage.cache_read_input_tokens, 40, 'streamed too');
      assert.equal(final.usage.input_tokens, 8);
    });

    test('upstream 429 with Retry-After: RateLimitError with retry-after', async () => {
      const err = await withMockDefaults(mock, { status: 429, retry_after: 7 },
        () => caught(() => anthropic().messages.create({ model, ...ask })));
      assert.ok(err instanceof Anthropic.RateLimitError, `${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 429);
      assert.equal(err.error.type, 'error');
      assert.equal(err.error.error.type, 'rate_limit_error');
      assert.ok(err.error.error.message.length > 0);
      assert.equal(err.headers.get('retry-after'), '7');
      assert.equal(err.requestID, err.headers.get('x-request-id'), 'request-id is the gateway\'s request id');
      assertUpstreamCall(model, await upstream());
    });

    test('an upstream error mid-stream: the SDK stream raises it, without message_stop', async () => {
      const seen = [];
      const err = await withMockDefaults(mock, { stream_error_after: 2 }, () => caught(async () => {
        const stream = await anthropic().messages.create({ model, ...ask, stream: true });
        for await (const ev of stream) seen.push(ev.type);
      }));
      assert.ok(err instanceof Anthropic.APIError, `${err.constructor.name}: ${err.message}`);
      assert.equal(typeof err.error?.error?.type, 'string', JSON.stringify(err.error));
      if (native) assert.equal(err.error.error.type, 'overloaded_error');
      assert.equal(seen.filter((t) => t === 'content_block_delta').length, 2, seen.join(' '));
      assert.ok(!seen.includes('message_stop'));

      // The helper rejects finalMessage() too.
      const helperErr = await withMockDefaults(mock, { stream_error_after: 1 },
        () => caught(() => anthropic().messages.stream({ model, ...ask }).finalMessage()));
      assert.ok(helperErr instanceof Anthropic.AnthropicError, helperErr.constructor.name);
    });

    test('count_tokens', async () => {
      const before = await mockRequestCount();
      const body = { model, system: 'You are terse.', messages: [{ role: 'user', content: QUESTION }] };
      const { input_tokens } = await anthropic().messages.countTokens(body);
      if (native) {
        assert.equal(input_tokens, 12, 'the provider\'s count: (14 + 35) code points / 4');
        const up = await upstream();
        assertUpstreamCall(model, up, undefined, '/v1/messages/count_tokens');
        assert.deepEqual(up.json, { ...body, model: 'claude-up' });
        assert.equal(await mockRequestCount(), before + 1);
      } else {
        assert.ok(Number.isInteger(input_tokens) && input_tokens > 0, String(input_tokens));
        assert.equal(await mockRequestCount(), before, 'an estimate: the provider is not asked');
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// 2. The OpenAI SDK to an Anthropic provider (translated).

describe('OpenAI SDK -> claude (anthropic, translated)', () => {
  const weatherFn = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
    parameters: weather.input_schema } };
  const messages = [{ role: 'user', content: QUESTION }];

  // The upstream body must be a Messages request the real API accepts.
  function assertMessagesRequest(body) {
    assert.equal(body.model, 'claude-up');
    assert.ok(Number.isInteger(body.max_tokens) && body.max_tokens >= 1, 'max_tokens is required by Anthropic');
    assert.ok(Array.isArray(body.messages) && body.messages.length > 0);
    for (const m of body.messages) assert.ok(m.role === 'user' || m.role === 'assistant', `role ${m.role}`);
    for (const key of ['n', 'stream_options', 'max_completion_tokens', 'stop', 'tool_calls']) {
      assert.equal(body[key], undefined, `no OpenAI-only field ${key}`);
    }
  }

  test('plain: content, finish_reason, usage; upstream is a valid Messages request with default max_tokens 4096', async () => {
    const { data: r, response } = await openai().chat.completions.create({ model: 'claude', messages }).withResponse();
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, words(8));
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.prompt_tokens, 8);
    assert.equal(r.usage.completion_tokens, 8);
    assert.equal(r.usage.total_tokens, 16);
    const up = await upstream();
    assertUpstreamCall('claude', up, response.headers.get('x-request-id'));
    assertMessagesRequest(up.json);
    assert.equal(up.json.max_tokens, 4096, 'default_max_tokens when the client gave none');
    assert.deepEqual(up.json.messages.map(textOf), [{ role: 'user', text: QUESTION }]);
    assert.equal(up.headers['anthropic-version'], '2023-06-01');
  });

  test('max_completion_tokens / max_tokens become max_tokens; a cut answer is finish_reason length', async () => {
    const r = await openai().chat.completions.create({ model: 'claude', messages, max_completion_tokens: 3 });
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.choices[0].message.content, words(3));
    assert.equal((await upstream()).json.max_tokens, 3);
    await openai().chat.completions.create({ model: 'claude', messages, max_tokens: 77 });
    assert.equal((await upstream()).json.max_tokens, 77);
  });

  test('system and developer messages become the top-level system', async () => {
    await openai().chat.completions.create({ model: 'claude', messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'developer', content: 'Answer in English.' },
      ...messages,
    ] });
    const up = await upstream();
    assertMessagesRequest(up.json);
    const system = typeof up.json.system === 'string' ? up.json.system
      : up.json.system.map((b) => b.text).join('\n\n');
    assert.equal(system, 'You are terse.\n\nAnswer in English.');
    assert.deepEqual(up.json.messages.map(textOf), [{ role: 'user', text: QUESTION }]);
  });

  test('stream with include_usage: the last chunk has usage and no choices', async () => {
    const stream = await openai().chat.completions.create({
      model: 'claude', messages, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 8);
    assert.equal(last.usage.prompt_tokens, 8);
    assert.equal(last.usage.total_tokens, 16);
    const body = chunks.slice(0, -1);
    for (const c of body) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.usage ?? null, null, 'only the last chunk carries usage');
    }
    assert.equal(body.map((c) => c.choices[0]?.delta?.content ?? '').join(''), words(8));
    assert.equal(body.at(-1).choices[0].finish_reason, 'stop');
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one id across chunks');
    const up = await upstream();
    assertMessagesRequest(up.json);
    assert.equal(up.json.stream, true);
  });

  test('stream without include_usage: no usage chunk', async () => {
    const stream = await openai().chat.completions.create({ model: 'claude', messages, stream: true });
    let text = '';
    let finish;
    let n = 0;
    for await (const c of stream) {
      n++;
      assert.equal(c.usage ?? null, null);
      assert.equal(c.choices.length, 1, 'every chunk has a choice');
      text += c.choices[0].delta.content ?? '';
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.ok(n >= 9);
    assert.equal(text, words(8));
    assert.equal(finish, 'stop');
  });

  test('tool calls: arguments are JSON text, finish_reason tool_calls; tools reach Anthropic with input_schema', async () => {
    const r = await openai().chat.completions.create({ model: 'claude', messages, tools: [weatherFn], tool_choice: 'required' });
    const choice = r.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.match(call.id, /\S/);
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), ECHO);
    const up = await upstream();
    assertMessagesRequest(up.json);
    assert.deepEqual(up.json.tools, [{ name: 'get_weather', description: 'Weather for a city', input_schema: weather.input_schema }]);
    assert.deepEqual(up.json.tool_choice, { type: 'any' });
  });

  test('streamed tool calls: the argument pieces assemble to valid JSON', async () => {
    const stream = await openai().chat.completions.create({ model: 'claude', messages, tools: [weatherFn], stream: true });
    let args = '';
    let name;
    let id;
    let finish;
    for await (const c of stream) {
      const d = c.choices[0]?.delta;
      for (const tc of d?.tool_calls ?? []) {
        assert.equal(tc.index, 0);
        if (tc.id) id = tc.id;
        if (tc.function?.name) name = tc.function.name;
        args += tc.function?.arguments ?? '';
      }
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.ok(id);
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(args), ECHO);
    assert.equal(finish, 'tool_calls');
  });

  test('a tool result sent back becomes a tool_result block; the answer is text', async () => {
    const first = await openai().chat.completions.create({ model: 'claude', messages, tools: [weatherFn] });
    const call = first.choices[0].message.tool_calls[0];
    const r = await openai().chat.completions.create({ model: 'claude', tools: [weatherFn], messages: [
      ...messages,
      first.choices[0].message,
      { role: 'tool', tool_call_id: call.id, content: 'sunny, 21 C' },
    ] });
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].message.content, words(8));
    const up = await upstream();
    assertMessagesRequest(up.json);
    const [user, assistant, result] = up.json.messages;
    assert.deepEqual(textOf(user), { role: 'user', text: QUESTION });
    const use = assistant.content.find((b) => b.type === 'tool_use');
    assert.deepEqual(use, { type: 'tool_use', id: call.id, name: 'get_weather', input: ECHO });
    assert.equal(result.role, 'user');
    const block = result.content.find((b) => b.type === 'tool_result');
    assert.equal(block.tool_use_id, call.id);
    assert.match(JSON.stringify(block.content), /sunny, 21 C/);
  });

  test('cache reads and writes reported by Anthropic: prompt_tokens includes both, cached_tokens the reads', async () => {
    const cache = { cache_read_tokens: 40, cache_creation_tokens: 20 };
    const r = await withMockDefaults(mock, cache,
      () => openai().chat.completions.create({ model: 'claude', messages }));
    assert.equal(r.usage.prompt_tokens, 68);
    assert.equal(r.usage.prompt_tokens_details.cached_tokens, 40);
    assert.equal(r.usage.total_tokens, 76);
    const stream = await withMockDefaults(mock, cache, () => openai().chat.completions.create(
      { model: 'claude', messages, stream: true, stream_options: { include_usage: true } }));
    let usage;
    for await (const c of stream) usage = c.usage ?? usage;
    assert.equal(usage.prompt_tokens, 68, 'streamed too');
    assert.equal(usage.prompt_tokens_details.cached_tokens, 40);
  });

  test('stop, temperature, user map to Messages fields; fields without a counterpart are dropped', async () => {
    const r = await withMockDefaults(mock, { stop_sequence_hit: true }, () => openai().chat.completions.create({
      model: 'claude', messages, stop: 'END', temperature: 0.5, top_p: 0.9, user: 'u-7',
      seed: 3, presence_penalty: 0.1, logit_bias: { 42: 1 } }));
    assert.equal(r.choices[0].finish_reason, 'stop', 'stop_sequence is finish_reason stop');
    const up = await upstream();
    assertMessagesRequest(up.json);
    assert.deepEqual(up.json.stop_sequences, ['END']);
    assert.equal(up.json.temperature, 0.5);
    assert.equal(up.json.top_p, 0.9);
    assert.deepEqual(up.json.metadata, { user_id: 'u-7' });
    for (const key of ['seed', 'presence_penalty', 'logit_bias', 'user']) assert.equal(up.json[key], undefined, key);
  });

  test('n: 2 is a BadRequestError naming n, and nothing goes upstream', async () => {
    const before = await mockRequestCount();
    const err = await caught(() => openai().chat.completions.create({ model: 'claude', messages, n: 2 }));
    assert.ok(err instanceof OpenAI.BadRequestError, err.constructor.name);
    assert.equal(err.status, 400);
    assert.equal(err.param, 'n');
    assert.match(err.message, /\bn\b/);
    assert.equal(await mockRequestCount(), before);
  });

  test('response_format json_object is a BadRequestError naming it', async () => {
    const err = await caught(() => openai().chat.completions.create(
      { model: 'claude', messages, response_format: { type: 'json_object' } }));
    assert.ok(err instanceof OpenAI.BadRequestError, err.constructor.name);
    assert.equal(err.param, 'response_format');
  });

  test('embeddings from an Anthropic model: 400', async () => {
    const before = await mockRequestCount();
    const err = await caught(() => openai().embeddings.create({ model: 'claude', input: 'hello' }));
    assert.ok(err instanceof OpenAI.BadRequestError, err.constructor.name);
    assert.equal(err.status, 400);
    assert.match(err.message, /claude/);
    assert.equal(await mockRequestCount(), before);
  });

  test('Anthropic 529 overloaded_error: InternalServerError with status 529 and the message', async () => {
    const err = await withMockDefaults(mock, { status: 529 },
      () => caught(() => openai().chat.completions.create({ model: 'claude', messages })));
    assert.ok(err instanceof OpenAI.InternalServerError, err.constructor.name);
    assert.equal(err.status, 529);
    assert.match(err.message, /Overloaded/);
    assert.equal(err.code, 'overloaded_error');
    assert.ok(err.headers.get('x-request-id'));
  });

  test('Anthropic 429: RateLimitError with Retry-After kept', async () => {
    const err = await withMockDefaults(mock, { status: 429, retry_after: 4 },
      () => caught(() => openai().chat.completions.create({ model: 'claude', messages })));
    assert.ok(err instanceof OpenAI.RateLimitError, err.constructor.name);
    assert.equal(err.code, 'rate_limit_error');
    assert.equal(err.headers.get('retry-after'), '4');
  });

  test('an Anthropic error event mid-stream: the OpenAI SDK raises it', async () => {
    let text = '';
    const err = await withMockDefaults(mock, { stream_error_after: 3 }, () => caught(async () => {
      const stream = await openai().chat.completions.create({ model: 'claude', messages, stream: true });
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    }));
    assert.ok(err instanceof OpenAI.APIError, err.constructor.name);
    assert.match(err.message, /Overloaded/);
    assert.equal(text, 'alpha bravo charlie ');
  });
});

// ---------------------------------------------------------------------------------------------
// 3. The OpenAI SDK pointed at {gateway}/serving-endpoints, as Databricks hands it out.

describe('OpenAI SDK with baseURL {gateway}/serving-endpoints', () => {
  const dbxClient = () => openai({ baseURL: `${gw.base}/serving-endpoints` });

  test('chat reaches every provider kind', async () => {
    for (const model of MODELS) {
      const spy = spyFetch();
      const r = await openai({ baseURL: `${gw.base}/serving-endpoints`, fetch: spy })
        .chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(spy.last.url, `${gw.base}/serving-endpoints/chat/completions`);
      assert.equal(r.choices[0].message.content, words(8), model);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assertUpstreamCall(model, await upstream());
    }
  });

  test('streamed chat', async () => {
    const stream = await dbxClient().chat.completions.create({
      model: 'llama', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, words(8));
    assertUpstreamCall('llama', await upstream());
  });

  test('embeddings from a databricks and an openai-compatible provider', async () => {
    const r = await dbxClient().embeddings.create({ model: 'dbx-embed', input: ['a', 'b'], encoding_format: 'float' });
    assert.equal(r.data.length, 2);
    assert.equal(r.data[0].embedding.length, 8);
    let up = await upstream();
    assert.equal(up.path, '/serving-endpoints/gte-up/invocations');
    assert.equal(up.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);
    assert.deepEqual(up.json.input, ['a', 'b']);

    const o = await dbxClient().embeddings.create({ model: 'embed', input: 'a', encoding_format: 'float' });
    assert.equal(o.data.length, 1);
    assert.deepEqual(o.data[0].embedding, r.data[0].embedding, 'the mock embeds "a" the same everywhere');
    up = await upstream();
    assert.equal(up.path, '/v1/embeddings');
    assert.equal(up.json.model, 'emb-up');
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Databricks clients: POST /serving-endpoints/{model}/invocations over plain HTTP.

describe('Databricks ingress: /serving-endpoints/{model}/invocations', () => {
  const invoke = (model, body, { key = QUICK_KEY } = {}) =>
    fetch(`${gw.base}/serving-endpoints/${model}/invocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const chat = { messages: [{ role: 'user', content: QUESTION }], max_tokens: 64 };

  async function assertDatabricksError(res, status, codes) {
    assert.equal(res.status, status);
    assert.ok(res.headers.get('x-request-id'), 'x-request-id on errors too');
    const body = await res.json();
    assert.deepEqual(Object.keys(body).sort(), ['error_code', 'message'], JSON.stringify(body));
    assert.ok([].concat(codes).includes(body.error_code), `${body.error_code} in ${codes}`);
    assert.ok(body.message.length > 0);
    return body;
  }

  for (const model of MODELS) {
    test(`${model}: an OpenAI-shaped answer`, async () => {
      const res = await invoke(model, { ...chat, usage_context: { project: 'p1' } });
      assert.equal(res.status, 200);
      const requestId = res.headers.get('x-request-id');
      assert.ok(requestId);
      const body = await res.json();
      assert.equal(body.object, 'chat.completion');
      assert.equal(body.choices[0].message.role, 'assistant');
      assert.equal(body.choices[0].message.content, words(8));
      assert.equal(body.choices[0].finish_reason, 'stop');
      assert.equal(body.usage.completion_tokens, 8);
      assert.equal(body.usage.prompt_tokens, 8);
      const up = await upstream();
      assertUpstreamCall(model, up, requestId);
      if (model === 'claude') {
        assert.equal(up.json.max_tokens, 64);
        assert.deepEqual(up.json.messages.map(textOf), [{ role: 'user', text: QUESTION }]);
        assert.equal(up.json.usage_context, undefined, 'not a Messages field');
      } else {
        assert.deepEqual(up.json.usage_context, { project: 'p1' }, 'passes through');
      }
    });

    test(`${model}: a stream of OpenAI chunks ending with [DONE]`, async () => {
      const res = await invoke(model, { ...chat, stream: true });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /^text\/event-stream/);
      assert.ok(res.headers.get('x-request-id'));
      const events = await readSSE(res);
      assert.equal(events.at(-1).data, '[DONE]');
      const chunks = events.slice(0, -1).map((e) => e.data);
      for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk', JSON.stringify(c));
      assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), words(8));
      assert.equal(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean).at(-1), 'stop');
      assertUpstreamCall(model, await upstream());
    });

    test(`${model}: upstream 429 is 429 REQUEST_LIMIT_EXCEEDED with Retry-After`, async () => {
      const res = await withMockDefaults(mock, { status: 429, retry_after: 5 }, () => invoke(model, chat));
      await assertDatabricksError(res, 429, 'REQUEST_LIMIT_EXCEEDED');
      assert.equal(res.headers.get('retry-after'), '5');
      assertUpstreamCall(model, await upstream());
    });
  }

  test('embeddings with `input`', async () => {
    for (const [model, path] of [['dbx-embed', '/serving-endpoints/gte-up/invocations'], ['embed', '/v1/embeddings']]) {
      const res = await invoke(model, { input: ['x', 'y', 'z'] });
      assert.equal(res.status, 200, model);
      const body = await res.json();
      assert.equal(body.data.length, 3);
      assert.equal((await upstream()).path, path);
    }
  });

  test('an unknown model is 404 ENDPOINT_NOT_FOUND', async () => {
    const body = await assertDatabricksError(await invoke('no-such-model', chat), 404, 'ENDPOINT_NOT_FOUND');
    assert.match(body.message, /no-such-model/);
  });

  test('a bad key is 401 UNAUTHENTICATED, and nothing goes upstream', async () => {
    const before = await mockRequestCount();
    await assertDatabricksError(await invoke('llama', chat, { key: 'gh-wrong' }), 401, 'UNAUTHENTICATED');
    assert.equal(await mockRequestCount(), before);
  });

  test('neither messages nor input, or invalid JSON, is 400', async () => {
    const before = await mockRequestCount();
    for (const body of [{ max_tokens: 5 }, { messages: 'hi' }, '{not json']) {
      await assertDatabricksError(await invoke('llama', body), 400, ['BAD_REQUEST', 'INVALID_PARAMETER_VALUE']);
    }
    assert.equal(await mockRequestCount(), before);
  });

  test('embeddings from an Anthropic model is 400 in the Databricks shape', async () => {
    await assertDatabricksError(await invoke('claude', { input: 'x' }), 400, ['BAD_REQUEST', 'INVALID_PARAMETER_VALUE']);
  });
});
