// End-to-end: the official `openai` npm SDK against a running gatehouse in front of the bundled
// fake provider (mockllm). Each test asserts what the SDK sees and, where it matters, what the
// gateway sent upstream (the mock records it).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { startMock, startGateway, configFor, waitFor, QUICK_KEY, PROVIDER_TOKEN } from './harness.mjs';

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett'];
const words = (n) => WORDS.slice(0, n).join(' ');
const messages = [{ role: 'user', content: 'hi' }];

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

let mock, gw;
before(async () => {
  mock = await startMock();
  gw = await startGateway({ yaml: configFor(mock) });
});
after(async () => { await gw?.stop(); await mock?.stop(); });

const client = (opts = {}) => new OpenAI({ apiKey: QUICK_KEY, baseURL: gw.baseURL, maxRetries: 0, ...opts });

// Runs `fn` and returns the error it rejects with (failing if it does not reject).
async function caught(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

describe('chat completions', () => {
  test('non-stream answer, usage, id and x-request-id; upstream sees the mapped model and the provider token only', async () => {
    const { data, response } = await client().chat.completions
      .create({ model: 'chat-small', messages })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.match(data.id, /^chatcmpl-/);
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, words(8));
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(data.usage.completion_tokens, 8);
    assert.ok(data.usage.prompt_tokens >= 1);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);

    const requestId = response.headers.get('x-request-id');
    assert.ok(requestId, 'the answer carries x-request-id');

    const up = await mock.lastRequest();
    assert.equal(up.method, 'POST');
    assert.match(up.path, /\/chat\/completions$/);
    assert.equal(JSON.parse(up.body).model, 'gpt-x');
    assert.equal(up.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);
    for (const [name, value] of Object.entries(up.headers)) {
      assert.ok(!value.includes(QUICK_KEY), `the gateway key leaked upstream in header ${name}`);
    }
    assert.ok(!up.body.includes(QUICK_KEY));
    assert.equal(up.headers['x-request-id'], requestId, 'the same request id travels upstream');
  });

  test('a valid client x-request-id is adopted', async () => {
    const { response } = await client().chat.completions
      .create({ model: 'chat-small', messages }, { headers: { 'x-request-id': 'trace-abc.123:XYZ' } })
      .withResponse();
    assert.equal(response.headers.get('x-request-id'), 'trace-abc.123:XYZ');
    assert.equal((await mock.lastRequest()).headers['x-request-id'], 'trace-abc.123:XYZ');
  });

  test('every other field passes through untouched (tools, tool_choice, response_format, logprobs, n, seed, ...)', async () => {
    const body = {
      model: 'chat-small',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'héllo wörld ✓ "quoted" \\ back' }] },
      ],
      tools: [weatherTool],
      tool_choice: 'none',
      response_format: { type: 'json_object' },
      logprobs: true,
      top_logprobs: 2,
      n: 2,
      seed: 42,
      temperature: 0.3,
      top_p: 0.95,
      stop: ['\n\n', 'END'],
      max_completion_tokens: 64,
      user: 'user-1234',
      metadata: { team: 'e2e' },
      x_unknown_field: { nested: [1, 'two', null, 3.5, true, { deep: {} }], empty: [] },
    };
    const r = await client().chat.completions.create(body);
    assert.equal(r.choices.length, 2, 'n: 2 gives two choices');
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
    for (const c of r.choices) assert.equal(c.message.content, words(8));

    const up = JSON.parse((await mock.lastRequest()).body);
    assert.deepEqual(up, { ...body, model: 'gpt-x' });
  });
});

describe('streaming', () => {
  test('chunks arrive incrementally and reassemble to the non-stream text', async () => {
    const plain = await client().chat.completions.create({ model: 'chat-small', messages, mock: { tokens: 4 } });

    const t0 = performance.now();
    const { data: stream, response } = await client().chat.completions
      .create({ model: 'chat-small', messages, stream: true, mock: { tokens: 4, inter_token_ms: 150 } })
      .withResponse();
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    assert.ok(response.headers.get('x-request-id'));
    let text = '';
    let firstContentAt;
    let finish;
    const ids = new Set();
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      ids.add(chunk.id);
      assert.equal(chunk.usage ?? null, null, 'no usage without include_usage');
      const choice = chunk.choices[0];
      assert.ok(choice, 'without include_usage every chunk has a choice');
      if (choice.delta.content) {
        firstContentAt ??= performance.now();
        text += choice.delta.content;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    const total = performance.now() - t0;
    assert.equal(text, plain.choices[0].message.content);
    assert.equal(text, words(4));
    assert.equal(finish, 'stop');
    assert.equal(ids.size, 1, 'one completion id across chunks');
    // Four tokens 150 ms apart: the first arrives after ~1/4 of the stream if nothing buffers it.
    const ratio = (firstContentAt - t0) / total;
    assert.ok(ratio < 0.5, `first content chunk at ${(firstContentAt - t0).toFixed(0)} ms of ${total.toFixed(0)} ms`);
  });

  test('include_usage ends with a chunk whose choices are empty and which carries usage', async () => {
    const stream = await client().chat.completions.create({
      model: 'chat-small',
      messages,
      stream: true,
      stream_options: { include_usage: true },
      mock: { tokens: 5 },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 5);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + 5);
    for (const c of chunks.slice(0, -1)) {
      assert.equal(c.usage ?? null, null);
      assert.equal(c.choices.length, 1);
    }
    assert.equal(chunks.slice(0, -1).map((c) => c.choices[0].delta.content ?? '').join(''), words(5));
    const up = JSON.parse((await mock.lastRequest()).body);
    assert.deepEqual(up.stream_options, { include_usage: true });
    assert.equal(up.stream, true);
  });

  test('n: 2 streams two interleaved choices', async () => {
    const stream = await client().chat.completions.create({ model: 'chat-small', messages, stream: true, n: 2, mock: { tokens: 3 } });
    const text = ['', ''];
    const finish = [];
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text[c.index] += c.delta.content ?? '';
        if (c.finish_reason) finish[c.index] = c.finish_reason;
      }
    }
    assert.deepEqual(text, [words(3), words(3)]);
    assert.deepEqual(finish, ['stop', 'stop']);
  });

  test('the SDK stream helper accumulates a final completion', async () => {
    const runner = client().chat.completions.stream({ model: 'chat-small', messages, mock: { tokens: 3 } });
    const deltas = [];
    runner.on('content', (delta) => deltas.push(delta));
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, words(3));
    assert.equal(deltas.join(''), words(3));
    assert.ok(deltas.length >= 3, 'content came in several deltas');
  });
});

describe('tools', () => {
  const toolMessages = [{ role: 'user', content: 'weather in Paris, please' }];

  test('non-stream tool call', async () => {
    const r = await client().chat.completions.create({ model: 'chat-small', messages: toolMessages, tools: [weatherTool] });
    const choice = r.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.ok(call.id);
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { echo: 'weather in Paris' });
    assert.deepEqual(JSON.parse((await mock.lastRequest()).body).tools, [weatherTool]);
  });

  test('streamed tool-call deltas reassemble to the same arguments', async () => {
    const stream = await client().chat.completions.create({
      model: 'chat-small', messages: toolMessages, tools: [weatherTool], stream: true,
    });
    const calls = [];
    let finish;
    let argumentDeltas = 0;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      for (const tc of choice.delta.tool_calls ?? []) {
        calls[tc.index] ??= { id: '', name: '', arguments: '' };
        if (tc.id) calls[tc.index].id = tc.id;
        if (tc.function?.name) calls[tc.index].name += tc.function.name;
        if (tc.function?.arguments) { calls[tc.index].arguments += tc.function.arguments; argumentDeltas++; }
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'get_weather');
    assert.ok(calls[0].id);
    assert.ok(argumentDeltas >= 2, 'the arguments came in pieces');
    assert.deepEqual(JSON.parse(calls[0].arguments), { echo: 'weather in Paris' });
  });

  test('runTools: the SDK calls the function, sends its result back, and gets a text answer', async () => {
    const seen = [];
    const runner = client().chat.completions.runTools({
      model: 'chat-small',
      messages: toolMessages,
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: weatherTool.function.parameters,
          parse: JSON.parse,
          function: (args) => { seen.push(args); return { temperature_c: 21 }; },
        },
      }],
    });
    const content = await runner.finalContent();
    assert.deepEqual(seen, [{ echo: 'weather in Paris' }]);
    assert.equal(content, words(8));
    const [first, second] = (await mock.requests(2)).map((r) => JSON.parse(r.body));
    assert.equal(first.messages.length, 1);
    assert.equal(second.messages.at(-1).role, 'tool');
    assert.deepEqual(JSON.parse(second.messages.at(-1).content), { temperature_c: 21 });
    assert.equal(second.model, 'gpt-x');
  });
});

describe('embeddings', () => {
  const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

  test('SDK default: base64 on the wire (untouched), float arrays in hand', async () => {
    const r = await client().embeddings.create({ model: 'embed-small', input: 'hello world' });
    assert.equal(r.data.length, 1);
    const v = r.data[0].embedding;
    assert.ok(Array.isArray(v));
    assert.equal(v.length, 8);
    assert.ok(v.every((x) => typeof x === 'number' && Number.isFinite(x)));
    assert.ok(Math.abs(norm(v) - 1) < 1e-4, 'a unit vector');
    assert.ok(r.usage.prompt_tokens >= 1);

    const up = await mock.lastRequest();
    assert.match(up.path, /\/embeddings$/);
    const body = JSON.parse(up.body);
    assert.equal(body.encoding_format, 'base64');
    assert.equal(body.model, 'emb-x');
    assert.equal(body.input, 'hello world');
    assert.equal(up.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);

    // encoding_format "float" gives the same vector as text.
    const f = await client().embeddings.create({ model: 'embed-small', input: 'hello world', encoding_format: 'float' });
    assert.equal(JSON.parse((await mock.lastRequest()).body).encoding_format, 'float');
    const fv = f.data[0].embedding;
    assert.equal(fv.length, 8);
    fv.forEach((x, i) => assert.ok(Math.abs(x - v[i]) < 1e-6, `dim ${i}: ${x} vs ${v[i]}`));
  });

  test('dimensions passes through', async () => {
    const r = await client().embeddings.create({ model: 'embed-small', input: 'x', dimensions: 16 });
    assert.equal(r.data[0].embedding.length, 16);
    assert.equal(JSON.parse((await mock.lastRequest()).body).dimensions, 16);
  });

  test('array input gives one embedding per item, in order', async () => {
    const input = ['one', 'two', 'three'];
    const r = await client().embeddings.create({ model: 'embed-small', input });
    assert.equal(r.data.length, 3);
    assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2]);
    assert.deepEqual(JSON.parse((await mock.lastRequest()).body).input, input);
    const single = await client().embeddings.create({ model: 'embed-small', input: 'two' });
    assert.deepEqual(r.data[1].embedding, single.data[0].embedding, 'equal inputs embed equally');
    assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);
  });
});

test('models.list() gives exactly the configured model names', async () => {
  const models = [];
  for await (const m of client().models.list()) models.push(m);
  assert.deepEqual(models.map((m) => m.id).sort(), ['chat-small', 'embed-small']);
  for (const m of models) {
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'local');
  }
});

test('models.retrieve() answers a configured model and 404s an unknown one', async () => {
  const m = await client().models.retrieve('embed-small');
  assert.equal(m.id, 'embed-small');
  assert.equal(m.owned_by, 'local');
  const err = await caught(() => client().models.retrieve('no-such-model'));
  assert.ok(err instanceof OpenAI.NotFoundError, String(err));
  assert.equal(err.code, 'model_not_found');
  const anon = await caught(() => client({ apiKey: 'wrong' }).models.retrieve('embed-small'));
  assert.ok(anon instanceof OpenAI.AuthenticationError, String(anon));
});

describe('errors map to the SDK error classes', () => {
  test('a wrong key is an AuthenticationError and nothing goes upstream', async () => {
    const before = (await mock.stats()).requests;
    const err = await caught(() => client({ apiKey: 'wrong' }).chat.completions.create({ model: 'chat-small', messages }));
    assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_api_key');
    assert.equal(err.type, 'authentication_error');
    assert.ok(err.requestID, 'errors carry x-request-id too');
    assert.equal((await mock.stats()).requests, before);
  });

  test('an unknown model is a NotFoundError with code model_not_found', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'no-such-model', messages }));
    assert.ok(err instanceof OpenAI.NotFoundError, String(err));
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
  });

  test('bad bodies are BadRequestErrors naming the field', async () => {
    const noMessages = await caught(() => client().chat.completions.create({ model: 'chat-small' }));
    assert.ok(noMessages instanceof OpenAI.BadRequestError, String(noMessages));
    assert.equal(noMessages.status, 400);
    assert.equal(noMessages.param, 'messages');

    const noModel = await caught(() => client().chat.completions.create({ messages }));
    assert.ok(noModel instanceof OpenAI.BadRequestError, String(noModel));
    assert.equal(noModel.param, 'model');

    const noInput = await caught(() => client().post('/embeddings', { body: { model: 'embed-small' } }));
    assert.ok(noInput instanceof OpenAI.BadRequestError, String(noInput));
    assert.equal(noInput.param, 'input');
  });

  test('upstream 429 is a RateLimitError that keeps Retry-After', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'chat-small', messages, mock: { status: 429, retry_after: 7 } }));
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.status, 429);
    assert.equal(err.headers.get('retry-after'), '7');
    assert.match(err.message, /mockllm injected status 429/, 'the upstream OpenAI-shaped error is relayed');
  });

  test('upstream 500 is an InternalServerError', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'chat-small', messages, mock: { status: 500 } }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 500);
    assert.equal(err.type, 'server_error');
  });

  test('an upstream HTML 503 is wrapped into an OpenAI-shaped 503', async () => {
    const err = await caught(() => client().chat.completions.create({
      model: 'chat-small', messages,
      mock: { status: 503, error_body: '<html><body>Service Unavailable</body></html>', error_content_type: 'text/html' },
    }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 503);
    assert.match(err.headers.get('content-type'), /^application\/json/);
    assert.equal(typeof err.error?.message, 'string');
    assert.ok(err.error.message.length > 0);
    assert.ok('type' in err.error && 'code' in err.error && 'param' in err.error, JSON.stringify(err.error));
    assert.equal(err.code, 'upstream_error');
  });

  test('an upstream 401 becomes a 502 upstream_auth_failed', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'chat-small', messages, mock: { status: 401 } }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_auth_failed');
  });

  test('an upstream 403 becomes a 502 upstream_auth_failed too', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'chat-small', messages, mock: { status: 403 } }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_auth_failed');
  });

  test('an upstream OpenAI-shaped 400 is relayed as a BadRequestError', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'chat-small', messages, mock: { status: 400 } }));
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.status, 400);
    assert.match(err.message, /mockllm injected status 400/);
  });

  test('a Databricks-style 429 body reaches the client in OpenAI shape, keeping status, code and Retry-After', async () => {
    const err = await caught(() => client().chat.completions.create({
      model: 'chat-small', messages,
      mock: { status: 429, retry_after: 2, error_body: '{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}', error_content_type: 'application/json' },
    }));
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.headers.get('retry-after'), '2');
    assert.equal(err.code, 'REQUEST_LIMIT_EXCEEDED');
    assert.equal(err.type, 'rate_limit_error');
    assert.match(err.message, /slow down/);
  });

  test('a streamed request that fails upstream before starting is an ordinary error, not a broken stream', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'chat-small', messages, stream: true, mock: { status: 429, retry_after: 3 } }));
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.headers.get('retry-after'), '3');
  });

  test('an upstream reset before answering is a 502', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'chat-small', messages, mock: { reset: 'before' } }));
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, 502);
    assert.ok(['upstream_disconnected', 'upstream_unreachable'].includes(err.code), `code ${err.code}`);
    // ...and the gateway is fine afterwards.
    const ok = await client().chat.completions.create({ model: 'chat-small', messages });
    assert.equal(ok.choices[0].message.content, words(8));
  });

  test('with default retries the SDK retries a 503: three upstream attempts', async () => {
    const before = (await mock.stats()).requests;
    const c = new OpenAI({ apiKey: QUICK_KEY, baseURL: gw.baseURL }); // maxRetries defaults to 2
    const err = await caught(() => c.chat.completions.create({ model: 'chat-small', messages, mock: { status: 503 } }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 503);
    assert.equal((await mock.stats()).requests - before, 3);
  });
});

describe('upstream timeouts (a gateway with short provider timeouts)', () => {
  let slow, c;
  before(async () => {
    slow = await startGateway({ yaml: configFor(mock, { providerExtra: '    timeouts: {first_byte_ms: 1000, idle_ms: 1000}' }) });
    c = new OpenAI({ apiKey: QUICK_KEY, baseURL: slow.baseURL, maxRetries: 0 });
  });
  after(async () => { await slow?.stop(); });

  test('a first-byte timeout is a 504 upstream_timeout, well before the upstream would answer', async () => {
    const latency = 6000;
    const t0 = performance.now();
    const err = await caught(() => c.chat.completions.create({ model: 'chat-small', messages, mock: { latency_ms: latency } }));
    const elapsed = performance.now() - t0;
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 504);
    assert.equal(err.code, 'upstream_timeout');
    assert.ok(elapsed < latency / 2, `answered after ${elapsed.toFixed(0)} ms`);
    // A fast request through the same gateway still works.
    const ok = await c.chat.completions.create({ model: 'chat-small', messages });
    assert.equal(ok.choices[0].message.content, words(8));
  });

  test('a stream whose upstream never starts is a 504 before any event', async () => {
    const err = await caught(() => c.chat.completions.create({ model: 'chat-small', messages, stream: true, mock: { latency_ms: 6000 } }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 504);
    assert.equal(err.code, 'upstream_timeout');
  });

  test('a stream that goes idle mid-way ends with an upstream_timeout error the SDK throws', async () => {
    const stream = await c.chat.completions.create({
      model: 'chat-small', messages, stream: true, mock: { tokens: 3, inter_token_ms: 3000 },
    });
    let chunks = 0;
    const err = await caught(async () => { for await (const _ of stream) chunks++; });
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.code, 'upstream_timeout');
    assert.ok(chunks >= 1, 'the stream had started (the role chunk arrived) before it stalled');
  });
});

describe('streams that end early', () => {
  test('a client that aborts mid-stream makes the gateway cancel upstream', async () => {
    const before = await mock.stats();
    const stream = await client().chat.completions.create({
      model: 'chat-small', messages, stream: true, mock: { tokens: 50, inter_token_ms: 100 },
    });
    let received = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) received++;
        if (received === 2) stream.controller.abort();
      }
    } catch (e) {
      assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', String(e));
    }
    assert.ok(received >= 2 && received < 50, `received ${received} content chunks`);
    await waitFor(async () => (await mock.stats()).streams_cancelled > before.streams_cancelled,
      { what: 'the upstream stream to be cancelled' });
    await waitFor(async () => (await mock.stats()).active_streams === 0, { what: 'no active upstream streams' });
    const after = await mock.stats();
    assert.equal(after.streams_completed, before.streams_completed, 'the aborted stream did not run to the end');

    const ok = await client().chat.completions.create({ model: 'chat-small', messages });
    assert.equal(ok.choices[0].message.content, words(8));
    assert.equal((await fetch(`${gw.base}/healthz`)).status, 200);
  });

  test('a client that gives up before the first byte makes the gateway cancel upstream', async () => {
    const before = await mock.stats();
    const ac = new AbortController();
    const pending = client().chat.completions.create(
      { model: 'chat-small', messages, stream: true, mock: { latency_ms: 3000 } }, { signal: ac.signal });
    await waitFor(async () => (await mock.stats()).active_streams > before.active_streams, { what: 'the upstream stream to start' });
    ac.abort();
    const err = await caught(() => pending);
    assert.ok(err instanceof OpenAI.APIUserAbortError, String(err));
    await waitFor(async () => (await mock.stats()).streams_cancelled > before.streams_cancelled,
      { timeoutMs: 2000, what: 'the upstream stream to be cancelled before its latency ran out' });
    await waitFor(async () => (await mock.stats()).active_streams === 0, { what: 'no active upstream streams' });
  });

  test('an upstream reset mid-stream makes the SDK iteration throw after some content', async () => {
    const stream = await client().chat.completions.create({
      model: 'chat-small', messages, stream: true, mock: { tokens: 8, reset: 'mid' },
    });
    let text = '';
    const err = await caught(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    });
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.ok(text.length > 0, 'some content arrived before the reset');
    assert.ok(words(8).startsWith(text) && text.length < words(8).length, `partial text: ${JSON.stringify(text)}`);
    assert.equal(err.code, 'upstream_disconnected');
  });

  test('an upstream reset mid-answer (non-stream) is a 502', async () => {
    const err = await caught(() => client().chat.completions.create({ model: 'chat-small', messages, mock: { reset: 'mid' } }));
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 502);
  });
});

describe('concurrency and connection reuse', () => {
  test('50 concurrent requests succeed with distinct request ids, each carried upstream', async () => {
    const c = client();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      c.chat.completions.create({ model: 'chat-small', messages: [{ role: 'user', content: `q${i}` }], mock: { tokens: 2 } }).withResponse()));
    const ids = results.map(({ response }) => response.headers.get('x-request-id'));
    for (const { data } of results) assert.equal(data.choices[0].message.content, words(2));
    assert.equal(new Set(ids).size, 50);
    const upstreamIds = (await mock.requests(50)).map((r) => r.headers['x-request-id']);
    assert.deepEqual(new Set(upstreamIds), new Set(ids));
  });

  test('100 sequential requests reuse pooled upstream connections', async () => {
    const c = client();
    await c.chat.completions.create({ model: 'chat-small', messages }); // warm both the client's and the gateway's pools
    const before = (await mock.stats()).connections_accepted;
    for (let i = 0; i < 100; i++) {
      const r = await c.chat.completions.create({ model: 'chat-small', messages, mock: { tokens: 1 } });
      assert.equal(r.choices[0].message.content, 'alpha');
    }
    const added = (await mock.stats()).connections_accepted - before;
    assert.ok(added <= 4, `100 sequential requests opened ${added} new upstream connections`);
  });
});
