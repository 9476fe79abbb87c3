import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, configFor, QUICK_KEY } from './harness.mjs';

let mock, gw;
before(async () => {
  mock = await startMock();
  gw = await startGateway({ yaml: configFor(mock) });
});
after(async () => { await gw?.stop(); await mock?.stop(); });

test('harness: a chat completion goes through the gateway', async () => {
  const client = new OpenAI({ apiKey: QUICK_KEY, baseURL: gw.baseURL, maxRetries: 0 });
  const r = await client.chat.completions.create({ model: 'chat-small', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.choices[0].message.content, 'alpha bravo charlie delta echo foxtrot golf hotel');
  assert.equal((await mock.lastRequest()).headers.authorization, 'Bearer sk-upstream-secret');
});
