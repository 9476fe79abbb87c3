// End-to-end: virtual models — priority fallback, retries with backoff, cooldown and the probe
// that ends it, 429 + Retry-After, weighted split, latency preference, all targets down, streams
// that fail over before their first byte and end with an error event after it, per-target
// timeouts, a fallback across API shapes — with the official SDKs and two fake providers whose
// faults the tests switch on and off.
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, sha256, setMockDefaults, waitFor, PROVIDER_TOKEN } from './harness.mjs';

const KEY = 'gh-routing-key';
const ADMIN_KEY = 'gh-routing-admin';
const messages = [{ role: 'user', content: 'hi' }];
let a, b, gw;

function routingConfig() {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  pa:
    kind: openai-compatible
    base_url: "${a.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
  pb:
    kind: openai-compatible
    base_url: "${b.base}/v1"
    auth: {token: "\${TEST_PROVIDER_TOKEN}"}
  pb-claude:
    kind: anthropic
    base_url: "${b.base}"
    auth: {token: "sk-ant-routing"}
models:
  a-model: {provider: pa, upstream_model: "model-a"}
  b-model: {provider: pb, upstream_model: "model-b"}
  b-claude: {provider: pb-claude, upstream_model: "claude-b"}
  assistant:
    route:
      strategy: priority
      targets: [{model: a-model}, {model: b-model}]
      cooldown: {after_failures: 2, seconds: 2}
  retrying:
    route:
      targets: [{model: a-model}, {model: b-model}]
      retries: {attempts: 2, backoff_ms: 20}
      cooldown: {after_failures: 50, seconds: 1}
  only-429:
    route:
      targets: [{model: a-model}, {model: b-model}]
      fallback_on: [429]
      cooldown: {after_failures: 50, seconds: 1}
  polite:
    route:
      targets: [{model: a-model}, {model: b-model}]
      cooldown: {after_failures: 50, seconds: 60}
  impatient:
    route:
      targets: [{model: a-model, timeouts: {first_byte_ms: 150}}, {model: b-model}]
      cooldown: {after_failures: 50, seconds: 1}
  hasty:
    route:
      targets: [{model: a-model, timeouts: {first_byte_ms: 150}}, {model: b-model}]
      cooldown: {after_failures: 1, seconds: 60}
  cross-shape:
    route:
      targets: [{model: a-model}, {model: b-claude}]
      cooldown: {after_failures: 50, seconds: 1}
  ab-test:
    route: {strategy: weighted, targets: [{model: a-model, weight: 80}, {model: b-model, weight: 20}]}
  fastest:
    route: {strategy: latency, targets: [{model: a-model}, {model: b-model}], cooldown: {after_failures: 50, seconds: 1}}
keys:
  - {name: app, sha256: "${sha256(KEY)}", role: app}
  - {name: admin, sha256: "${sha256(ADMIN_KEY)}", role: ops}
roles:
  app: {models: ["*"]}
  ops: {models: ["*"], admin: true}
`;
}

before(async () => {
  a = await startMock();
  b = await startMock();
  gw = await startGateway({ yaml: routingConfig() });
});

after(async () => {
  await gw?.stop();
  await a?.stop();
  await b?.stop();
});

beforeEach(async () => {
  await setMockDefaults(a, {});
  await setMockDefaults(b, {});
});

const client = () => new OpenAI({ apiKey: KEY, baseURL: gw.baseURL, maxRetries: 0 });
const count = async (mock) => (await mock.stats()).requests;
const chat = (model, extra = {}) => client().chat.completions.create({ model, messages, ...extra }).withResponse();
async function health() {
  const r = await fetch(`${gw.base}/admin/v1/health`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(r.status, 200);
  return Object.fromEntries((await r.json()).targets.map((t) => [t.model, t]));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('priority and fallback', { timeout: 60_000 }, () => {
  test('the primary answers while healthy; on a 500 the secondary serves the same request', async () => {
    let { data, response } = await chat('assistant');
    assert.equal(data.model, 'model-a');
    assert.equal(response.headers.get('x-gatehouse-target'), 'a-model/pa');
    assert.equal(response.headers.get('x-gatehouse-attempts'), '1');

    await setMockDefaults(a, { status: 500 });
    const [ca, cb] = [await count(a), await count(b)];
    ({ data, response } = await chat('assistant'));
    assert.equal(data.model, 'model-b');
    assert.equal(response.headers.get('x-gatehouse-target'), 'b-model/pb');
    assert.equal(response.headers.get('x-gatehouse-attempts'), '2');
    assert.equal(await count(a), ca + 1);
    assert.equal(await count(b), cb + 1);
    await waitFor(() => /"status":200,.*"model":"assistant","target":"b-model","provider":"pb","attempts":2/.test(gw.log()), { what: "the access log line" });
    assert.match(gw.log(), /route assistant: target a-model \(pa\) failed: upstream_status \(HTTP 500\)/);
  });

  test('after repeated failures the primary cools down and is not tried; after the cooldown one probe brings it back', async () => {
    await setMockDefaults(a, { status: 500 });
    await chat('assistant');  // (with the test before's failure: at least two in a row)
    await chat('assistant');
    let h = await health();
    assert.equal(h['a-model'].state, 'cooling');
    assert.match(h['a-model'].last_error, /HTTP 500/);
    assert.deepEqual(h['a-model'].routes.sort(), ['assistant', 'cross-shape', 'fastest', 'hasty', 'impatient', 'only-429', 'polite', 'retrying', 'ab-test'].sort());

    // Cooling: the primary is skipped at once, even though it has recovered.
    await setMockDefaults(a, {});
    const ca = await count(a);
    for (let i = 0; i < 3; i++) {
      const { data, response } = await chat('assistant');
      assert.equal(data.model, 'model-b');
      assert.equal(response.headers.get('x-gatehouse-attempts'), '1', 'a cooling target costs no attempt');
    }
    assert.equal(await count(a), ca, 'not one request reached the cooling primary');

    // The cooldown (2 s) ends: the next request probes the primary, which is well again.
    await sleep(2100);
    const { data } = await chat('assistant');
    assert.equal(data.model, 'model-a');
    h = await health();
    assert.equal(h['a-model'].state, 'healthy');
    assert.equal(h['a-model'].consecutive_failures, 0);
    assert.equal((await chat('assistant')).data.model, 'model-a');
  });

  test('a probe that fails cools the target again for the whole cooldown', async () => {
    await setMockDefaults(a, { status: 503 });
    await chat('assistant');
    await chat('assistant');
    assert.equal((await health())['a-model'].state, 'cooling');
    await sleep(2100);
    const ca = await count(a);
    assert.equal((await chat('assistant')).data.model, 'model-b', 'the probe failed, b served');
    assert.equal(await count(a), ca + 1, 'exactly one probe');
    const h = await health();
    assert.equal(h['a-model'].state, 'cooling');
    assert.ok(h['a-model'].cooldown_remaining_s >= 1);
    await setMockDefaults(a, {});
    await sleep(2100);
    assert.equal((await chat('assistant')).data.model, 'model-a');
  });

  test('a 429 with Retry-After cools the target for that long at once, and the secondary serves', async () => {
    await setMockDefaults(a, { status: 429, retry_after: 2 });
    let { data } = await chat('polite');
    assert.equal(data.model, 'model-b');
    await setMockDefaults(a, {});
    const ca = await count(a);
    ({ data } = await chat('polite'));
    assert.equal(data.model, 'model-b', 'still cooling for the Retry-After');
    assert.equal(await count(a), ca);
    await sleep(2100);
    ({ data } = await chat('polite'));
    assert.equal(data.model, 'model-a');
  });

  test('retries: the same target again with backoff, then the next one', async () => {
    await setMockDefaults(a, { status: 502 });
    const ca = await count(a);
    const { data, response } = await chat('retrying');
    assert.equal(data.model, 'model-b');
    assert.equal(await count(a), ca + 3, 'one attempt and two retries on a');
    assert.equal(response.headers.get('x-gatehouse-attempts'), '4');
    await waitFor(() => /route retrying: target a-model \(pa\) failed, retrying/.test(gw.log()), { what: 'the retry in the log' });
  });

  test('a failure the route does not fall back on is the client\'s answer as it is; a 400 never falls back', async () => {
    await setMockDefaults(a, { status: 500 });
    let e = await chat('only-429').catch((x) => x);
    assert.ok(e instanceof OpenAI.InternalServerError, e.constructor?.name);
    assert.equal(e.status, 500);
    await setMockDefaults(a, { status: 400 });
    const cb = await count(b);
    // polite, not assistant: a-model's shared health now holds the failures of the tests before
    // (every retry counts), which is past assistant's threshold of 2.
    e = await chat('polite').catch((x) => x);
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor?.name);
    assert.equal(await count(b), cb, 'a bad request is not sent to another target');
  });

  test('all targets down: 503 naming each target\'s failure, without secrets', async () => {
    await setMockDefaults(a, { status: 500 });
    await setMockDefaults(b, { status: 503 });
    const e = await chat('polite').catch((x) => x);
    assert.ok(e instanceof OpenAI.InternalServerError, e.constructor?.name);
    assert.equal(e.status, 503);
    assert.equal(e.code, 'all_targets_failed');
    assert.match(e.message, /every target of model 'polite' failed: a-model: upstream_status \(HTTP 500\).*; b-model: upstream_status \(HTTP 503\)/);
    assert.ok(!e.message.includes(PROVIDER_TOKEN));
    assert.equal(e.headers.get('x-gatehouse-attempts'), '2');
  });

  test('a per-target first-byte timeout overrides the provider\'s and falls back', async () => {
    await setMockDefaults(a, { latency_ms: 5000 });
    const started = Date.now();
    const { data, response } = await chat('impatient');
    assert.equal(data.model, 'model-b');
    assert.equal(response.headers.get('x-gatehouse-attempts'), '2');
    assert.ok(Date.now() - started < 3000, `gave up on the first target early: took ${Date.now() - started} ms`);
  });

  test('a timeout under a route\'s own stricter timeout cools the target for that route alone', async () => {
    // Healthy first (the tests before failed it, and hasty cools it after one failure).
    assert.equal((await chat('polite')).data.model, 'model-a');
    await setMockDefaults(a, { latency_ms: 2000 });
    const before = (await health())['a-model'];
    assert.equal((await chat('hasty')).data.model, 'model-b');
    let h = (await health())['a-model'];
    assert.equal(h.failures, before?.failures ?? 0, 'the shared health did not count hasty\'s timeout');
    const mine = h.route_only.find((r) => r.route === 'hasty');
    assert.ok(mine, JSON.stringify(h.route_only));
    assert.equal(mine.state, 'cooling');
    assert.equal(mine.consecutive_failures, 1);
    // a-model is fast again: hasty still passes it over (its own cooldown), polite uses it.
    await setMockDefaults(a, {});
    const ca = await count(a);
    const { data, response } = await chat('hasty');
    assert.equal(data.model, 'model-b');
    assert.equal(response.headers.get('x-gatehouse-attempts'), '1', 'a-model passed over at once');
    assert.equal(await count(a), ca);
    assert.equal((await chat('polite')).data.model, 'model-a');
  });

  test('fallback across shapes: an OpenAI client falls back to an Anthropic provider, translated', async () => {
    await setMockDefaults(a, { status: 500 });
    const { data, response } = await chat('cross-shape');
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(response.headers.get('x-gatehouse-target'), 'b-claude/pb-claude');
    assert.equal((await b.lastRequest()).path, '/v1/messages');
  });
});

describe('streams', { timeout: 60_000 }, () => {
  test('a stream fails over before its first byte: the client sees only the secondary\'s stream', async () => {
    await setMockDefaults(a, { status: 500 });
    const stream = await client().chat.completions.create({ model: 'polite', messages, stream: true });
    let text = '';
    let model;
    for await (const chunk of stream) {
      model = chunk.model;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(model, 'model-b');
    assert.match(text, /alpha bravo/);
  });

  test('a failure mid-stream ends the stream with an error event: no fallback, no hang', async () => {
    await setMockDefaults(a, { stream_error_after: 3 });
    const cb = await count(b);
    const stream = await client().chat.completions.create({ model: 'polite', messages, stream: true });
    let chunks = 0;
    const started = Date.now();
    await assert.rejects(async () => {
      for await (const chunk of stream) if (chunk.choices.length) chunks += 1;
    });
    assert.ok(chunks >= 1 && chunks <= 4, `${chunks} chunks before the error`);
    assert.ok(Date.now() - started < 5000);
    assert.equal(await count(b), cb, 'a started stream does not fail over');
    // The provider's error event counts against the target, though...
    const said = await waitFor(async () => {
      const t = (await health())['a-model'];
      return /the stream broke after it started \(upstream_stream_error\)/.test(t.last_error ?? '') ? t : null;
    }, { what: 'the error event in the target\'s health' });
    assert.ok(said.consecutive_failures >= 1);
    // ...and so does a stream whose connection breaks after it started.
    await setMockDefaults(a, { reset: 'mid' });
    const cut = await client().chat.completions.create({ model: 'polite', messages, stream: true });
    await assert.rejects(async () => { for await (const _ of cut) { /* until it breaks */ } });
    const h = await waitFor(async () => {
      const t = (await health())['a-model'];
      return /the stream broke after it started \((?!upstream_stream_error)/.test(t.last_error ?? '') ? t : null;
    }, { what: 'the broken stream in the target\'s health' });
    assert.ok(h.consecutive_failures >= 2);
    await setMockDefaults(a, {});
  });
});

describe('strategies', { timeout: 120_000 }, () => {
  test('weighted 80/20 splits 2000 requests within ±3%', async () => {
    // a-model's health is shared: the failures of the tests before, made through other routes,
    // cool it for ab-test (default threshold 3). One answer through polite (threshold 50) makes it
    // healthy for every route.
    assert.equal((await chat('polite')).data.model, 'model-a');
    const targets = [];
    for (let batch = 0; batch < 100; batch++) {
      const rs = await Promise.all(Array.from({ length: 20 }, () =>
        fetch(`${gw.base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'ab-test', messages }),
        }).then(async (r) => { await r.arrayBuffer(); return r.headers.get('x-gatehouse-target'); })));
      targets.push(...rs);
    }
    const shareA = targets.filter((t) => t === 'a-model/pa').length / targets.length;
    const shareB = targets.filter((t) => t === 'b-model/pb').length / targets.length;
    assert.ok(Math.abs(shareA - 0.8) <= 0.03, `a got ${shareA}`);
    assert.ok(Math.abs(shareB - 0.2) <= 0.03, `b got ${shareB}`);
  });

  test('latency prefers the faster target and still sends it a small share of the others', async () => {
    await setMockDefaults(a, { latency_ms: 500 });
    // Both measured once, then the fast one wins.
    for (let i = 0; i < 4; i++) await chat('fastest');
    const served = [];
    for (let i = 0; i < 40; i++) served.push((await chat('fastest')).data.model);
    const toB = served.filter((m) => m === 'model-b').length;
    assert.ok(toB >= 36, `the faster target got ${toB} of 40`);
    assert.ok(toB < 40, 'the slower one still gets a share (to notice a recovery)');
    const h = await health();
    assert.ok(h['a-model'].latency_ms > h['b-model'].latency_ms);
  });
});
