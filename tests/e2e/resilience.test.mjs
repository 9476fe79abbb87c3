// Clients that vanish under load must not poison the upstream connection pool: a watcher aborts
// the upstream exchange when its client leaves, and a connection it closed must never be reused
// (a regression once returned such connections, so every later request failed with 502).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMock, startGateway, configFor, QUICK_KEY } from './harness.mjs';

let mock, gw;
before(async () => {
  mock = await startMock();
  gw = await startGateway({ yaml: configFor(mock) });
});
after(async () => { await gw?.stop(); await mock?.stop(); });

const body = JSON.stringify({ model: 'chat-small', messages: [{ role: 'user', content: 'hi' }], mock: { tokens: 4 } });
// The mock answers after 20 ms; clients are cut around that moment, when the answer and the
// client's close reach the gateway together.
const slowBody = JSON.stringify({ model: 'chat-small', messages: [{ role: 'user', content: 'hi' }], mock: { tokens: 4, latency_ms: 20 } });

function post(agent, { abortAfterMs, payload = body } = {}) {
  return new Promise((resolve) => {
    const req = http.request(`${gw.base}/v1/chat/completions`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${QUICK_KEY}` },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', () => resolve({ status: 'aborted' }));
      // A connection cut mid-answer may end with 'close' alone; the first resolve wins.
      res.on('close', () => resolve({ status: res.complete ? res.statusCode : 'aborted', text }));
    });
    req.on('error', () => resolve({ status: 'aborted' }));
    req.on('close', () => resolve({ status: 'aborted' }));
    if (abortAfterMs !== undefined) setTimeout(() => req.destroy(), abortAfterMs);
    req.end(payload);
  });
}

test('after hundreds of clients vanish mid-request, every following request succeeds', async () => {
  // Many requests in flight at once, their clients cut at staggered moments (some before the
  // answer, some as it arrives), several rounds so pooled connections are reused in between.
  for (let round = 0; round < 12; round++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const jobs = [];
    for (let i = 0; i < 64; i++) jobs.push(post(agent, { payload: slowBody, abortAfterMs: i % 4 === 0 ? undefined : 18 + (i % 5) }));
    await Promise.all(jobs);
    agent.destroy();
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const results = await Promise.all(Array.from({ length: 64 }, () => post(agent)));
  agent.destroy();
  const failed = results.filter((r) => r.status !== 200);
  assert.equal(failed.length, 0, `follow-up requests failed: ${JSON.stringify(failed.slice(0, 3))}`);
  for (const r of results) assert.equal(JSON.parse(r.text).choices[0].message.content, 'alpha bravo charlie delta');
});
