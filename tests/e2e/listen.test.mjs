// End-to-end: a second gateway on a port that is already taken fails at start (exit 1, a message
// naming the address) instead of silently sharing the port through SO_REUSEPORT.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startMock, startGateway, configFor, writeConfig, gatehouseBin, PROVIDER_TOKEN } from './harness.mjs';

let mock, gw;
after(async () => { await gw?.stop(); await mock?.stop(); });

test('a port in use is an error at start, not a shared port', async () => {
  mock = await startMock();
  gw = await startGateway({ yaml: configFor(mock) });
  const taken = configFor(mock).replace('listen: "127.0.0.1:0"', `listen: "127.0.0.1:${gw.port}"`);
  const r = spawnSync(gatehouseBin, ['serve', '--config', writeConfig(taken)], {
    env: { ...process.env, TEST_PROVIDER_TOKEN: PROVIDER_TOKEN }, encoding: 'utf8', timeout: 10000,
  });
  assert.equal(r.status, 1, `exit ${r.status} ${r.signal ?? ''}\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout + r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${gw.port}: Address already in use`));
  // The first gateway still serves.
  const res = await fetch(`${gw.base}/healthz`);
  assert.equal(res.status, 200);
});

test('a gateway that can authenticate nobody says so at start; one with keys does not', async () => {
  const nobody = configFor(mock).replace(/keys:\n  - \{name: test[^\n]*\n/, '');
  assert.doesNotMatch(nobody, /keys:/);
  const lonely = await startGateway({ yaml: nobody });
  try {
    assert.match(lonely.log(), /nobody can authenticate, so every model request will be refused with 401/);
  } finally {
    await lonely.stop();
  }
  assert.doesNotMatch(gw.log(), /nobody can authenticate/);
});
