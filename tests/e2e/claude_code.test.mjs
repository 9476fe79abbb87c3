// End-to-end: Claude Code (npm `@anthropic-ai/claude-code`, the real CLI) in print mode,
// `claude -p PROMPT --model M`, pointed at a running gatehouse in front of the bundled fake
// provider (mockllm), for a model served by an `anthropic` provider (pass-through) and one
// served by an `openai-compatible` provider (translated). Each test checks what Claude Code
// printed and how it exited, and what the provider received.
//
// Claude Code 2.1 sends `role: "system"` messages inside `messages`, `thinking: {type:
// "adaptive"}`, `context_management`, `output_config: {effort}` and a JSON `metadata.user_id`
// to `/v1/messages?beta=true`, with 20-odd tools. The mock calls the first tool it is offered;
// Claude Code refuses the mock's arguments and hands back an error `tool_result`; the mock then
// answers text, which Claude Code prints. So each case is a full tool round trip.
//
// This machine reaches nothing but loopback: Claude Code must talk to the gateway only. Checked
// with `strace -f -e trace=connect`: with the environment below it connects to the gateway and
// nowhere else; without CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC (and DISABLE_TELEMETRY,
// DISABLE_ERROR_REPORTING) it also looks up api.anthropic.com. The environment is built from
// nothing (no proxy variables, no ANTHROPIC_* of the developer's), with a fresh HOME and working
// directory per run. `npm ci` must run install scripts: Claude Code's postinstall puts the native
// binary for this platform (an optional dependency) at node_modules/.bin/claude.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock, startGateway, sha256, QUICK_KEY } from './harness.mjs';

const claudeBin = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '.bin', 'claude');
const PROVIDER_TOKEN = 'sk-provider-claude-code';
const ANSWER = 'alpha bravo charlie delta echo foxtrot golf hotel';  // the mock's 8 tokens
const RUN_TIMEOUT_MS = 120_000;

function config(mock) {
  return `server:
  listen: "127.0.0.1:0"
  workers: 2
providers:
  anth:
    kind: anthropic
    base_url: "${mock.base}"
    auth: {token: "${PROVIDER_TOKEN}"}
  oai:
    kind: openai-compatible
    base_url: "${mock.base}/v1"
    auth: {token: "${PROVIDER_TOKEN}"}
models:
  claude-native: {provider: anth, upstream_model: "claude-up"}
  gpt-chat: {provider: oai, upstream_model: "gpt-up", reasoning_effort: true}
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

// Runs `claude -p prompt --model model ...args` against the gateway: {code, stdout, stderr}.
async function claude(model, prompt, args = []) {
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-claude-home-'));
  const cwd = mkdtempSync(join(tmpdir(), 'gatehouse-claude-work-'));
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    ANTHROPIC_BASE_URL: gw.base,
    ANTHROPIC_API_KEY: QUICK_KEY,
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
  try {
    const child = spawn(claudeBin, ['-p', prompt, '--model', model, ...args],
      { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
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

// What the provider received since the last reset, bodies parsed.
async function received() {
  const all = await mock.requests(100);
  return all.map((r) => {
    assert.ok(!r.body_truncated, `${r.path}: the mock kept the whole body`);
    return { ...r, json: JSON.parse(r.body) };
  });
}

function assertRan(run) {
  assert.equal(run.code, 0, `claude exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.ok(run.stdout.includes(ANSWER), `claude printed the provider's answer: ${run.stdout}`);
}

describe('Claude Code in print mode', () => {
  test('a model of an anthropic provider: its requests pass through as they are', async () => {
    await mock.reset();
    const run = await claude('claude-native', 'Say pong');
    assertRan(run);

    const ups = await received();
    assert.ok(ups.length >= 2, `a tool round trip: ${ups.length} request(s)`);
    for (const up of ups) {
      assert.equal(up.path, '/v1/messages?beta=true', 'the SDK\'s beta query goes along');
      assert.equal(up.headers['x-api-key'], PROVIDER_TOKEN);
      assert.ok(!JSON.stringify(up).includes(QUICK_KEY), 'the gateway key never goes upstream');
      assert.match(up.headers['anthropic-beta'] ?? '', /claude-code-/, 'Claude Code\'s beta header goes along');
      assert.equal(up.json.model, 'claude-up');
      assert.ok(up.json.messages.some((m) => m.role === 'system'),
        'Claude Code sends system messages inside messages (the case this test is for)');
      assert.equal(up.json.thinking?.type, 'adaptive');
      assert.ok(up.json.context_management, 'context_management is forwarded');
      assert.equal(typeof up.json.output_config?.effort, 'string');
    }
    // The second request answers the mock's tool call.
    const [first, last] = [ups[0].json, ups[ups.length - 1].json];
    assert.ok(first.tools.length > 0, 'Claude Code offers its tools');
    const turns = last.messages.filter((m) => m.role !== 'system');
    const blocks = (m) => (Array.isArray(m?.content) ? m.content : []);
    const call = blocks(turns.at(-2)).find((b) => b.type === 'tool_use');
    const result = blocks(turns.at(-1)).find((b) => b.type === 'tool_result');
    assert.ok(call && result, 'the last turn answers the tool call');
    assert.equal(result.tool_use_id, call.id);
  });

  test('a model of an openai-compatible provider: its requests are translated', async () => {
    await mock.reset();
    const run = await claude('gpt-chat', 'Say pong', ['--effort', 'low']);
    assertRan(run);

    const ups = await received();
    assert.ok(ups.length >= 2, `a tool round trip: ${ups.length} request(s)`);
    for (const up of ups) {
      assert.equal(up.path, '/v1/chat/completions', 'no query on a translated request');
      assert.equal(up.headers.authorization, `Bearer ${PROVIDER_TOKEN}`);
      assert.equal(up.headers['anthropic-beta'], undefined);
      assert.ok(!JSON.stringify(up).includes(QUICK_KEY), 'the gateway key never goes upstream');
      const body = up.json;
      assert.equal(body.model, 'gpt-up');
      assert.equal(body.stream, true);
      assert.deepEqual(body.stream_options, { include_usage: true });
      assert.equal(body.reasoning_effort, 'low', 'output_config.effort, on a model configured with reasoning_effort');
      for (const dropped of ['thinking', 'context_management', 'output_config', 'metadata', 'system']) {
        assert.equal(body[dropped], undefined, `${dropped} has no place in a chat request`);
      }
      assert.equal(body.user, undefined, 'Claude Code\'s user_id is longer than OpenAI takes');
      assert.ok(body.tools.length > 0 && body.tools.every((t) => t.type === 'function' && t.function.parameters));
      // The top-level system first, then the conversation with Claude Code's system messages in
      // their places (the 400 this test was written for).
      assert.equal(body.messages[0].role, 'system');
      assert.ok(body.messages.slice(1).some((m) => m.role === 'system'), 'a system message inside the conversation');
      assert.equal(body.messages.find((m) => m.role !== 'system').role, 'user');
    }
    // The second request carries the tool call and its result as the chat shape has them.
    const last = ups[ups.length - 1].json.messages;
    const assistant = last.findIndex((m) => m.role === 'assistant' && m.tool_calls);
    assert.ok(assistant > 0, 'the assistant\'s tool call');
    assert.equal(last[assistant + 1].role, 'tool', 'the tool message right after the call');
    assert.equal(last[assistant + 1].tool_call_id, last[assistant].tool_calls[0].id);
  });
});
