// Checks that the official `@anthropic-ai/sdk` npm SDK accepts mockllm's Anthropic Messages
// answers: plain, streamed (helper and raw events), tool use, errors before and during a stream.
//
//   cd DIR_WITH_SDK_INSTALLED && node /path/to/anthropic_sdk_check.mjs http://127.0.0.1:PORT [API_KEY]
//
// The base URL has no /v1: the SDK adds /v1/messages. Pass API_KEY when mockllm runs with
// --require-token (the SDK sends it as x-api-key). The SDK is loaded from the current directory
// so this file needs no package.json of its own.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(process.cwd() + '/');
const { default: Anthropic } = await import(require.resolve('@anthropic-ai/sdk'));
const baseURL = process.argv[2] ?? 'http://127.0.0.1:9911';
const apiKey = process.argv[3] ?? 'sk-ant-mock';
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0 });
const model = 'claude-mock';
const messages = [{ role: 'user', content: 'What is the weather in Paris today?' }];
const tools = [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object' } }];
const fullText = 'alpha bravo charlie delta echo foxtrot golf hotel';

// Plain.
const msg = await client.messages.create({
  model, max_tokens: 100, system: 'Be brief.', messages,
  mock: { cache_read_tokens: 12, cache_creation_tokens: 3 },
});
assert.equal(msg.type, 'message');
assert.equal(msg.role, 'assistant');
assert.equal(msg.model, model);
assert.ok(msg.id.startsWith('msg_'));
assert.equal(msg.content[0].type, 'text');
assert.equal(msg.content[0].text, fullText);
assert.equal(msg.stop_reason, 'end_turn');
assert.equal(msg.stop_sequence, null);
assert.equal(msg.usage.output_tokens, 8);
assert.equal(msg.usage.input_tokens, 11);  // (9 + 35) code points / 4
assert.equal(msg.usage.cache_read_input_tokens, 12);
assert.equal(msg.usage.cache_creation_input_tokens, 3);
assert.ok(msg._request_id.startsWith('req_'));

// max_tokens and stop sequences.
const cut = await client.messages.create({ model, max_tokens: 2, messages });
assert.equal(cut.stop_reason, 'max_tokens');
assert.equal(cut.content[0].text, 'alpha bravo');
const stopped = await client.messages.create(
  { model, max_tokens: 100, messages, stop_sequences: ['###'] },
  { headers: { 'x-mock-stop-sequence-hit': 'true' } });
assert.equal(stopped.stop_reason, 'stop_sequence');
assert.equal(stopped.stop_sequence, '###');

// Streaming through the helper.
const helper = client.messages.stream({ model, max_tokens: 100, messages, mock: { tokens: 5 } });
let deltas = '';
helper.on('text', (t) => { deltas += t; });
const final = await helper.finalMessage();
assert.equal(final.content[0].text, 'alpha bravo charlie delta echo');
assert.equal(deltas, 'alpha bravo charlie delta echo');
assert.equal(final.stop_reason, 'end_turn');
assert.equal(final.usage.output_tokens, 5);
assert.equal(final.usage.input_tokens, 8);

// Streaming raw events (the SDK drops ping events itself).
const raw = await client.messages.create({
  model, max_tokens: 100, messages, stream: true, mock: { tokens: 3, cache_read_tokens: 4 },
});
const types = [];
let text = '';
let startUsage = null;
let deltaUsage = null;
for await (const ev of raw) {
  types.push(ev.type);
  if (ev.type === 'message_start') startUsage = ev.message.usage;
  if (ev.type === 'content_block_delta') text += ev.delta.text;
  if (ev.type === 'message_delta') deltaUsage = ev.usage;
}
assert.deepEqual(types, ['message_start', 'content_block_start', 'content_block_delta',
  'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta',
  'message_stop']);
assert.equal(text, 'alpha bravo charlie');
assert.equal(startUsage.cache_read_input_tokens, 4);
assert.equal(deltaUsage.output_tokens, 3);

// Tool use, plain and streamed (the helper assembles input_json_delta pieces).
const tool = await client.messages.create({ model, max_tokens: 100, messages, tools });
assert.equal(tool.stop_reason, 'tool_use');
assert.equal(tool.content[0].type, 'tool_use');
assert.ok(tool.content[0].id.startsWith('toolu_'));
assert.equal(tool.content[0].name, 'get_weather');
assert.deepEqual(tool.content[0].input, { echo: 'What is the weat' });
const chosen = await client.messages.create({
  model, max_tokens: 100, messages,
  tools: [...tools, { name: 'other', input_schema: { type: 'object' } }],
  tool_choice: { type: 'tool', name: 'other' },
});
assert.equal(chosen.content[0].name, 'other');
const toolStream = await client.messages.stream({ model, max_tokens: 100, messages, tools }).finalMessage();
assert.equal(toolStream.stop_reason, 'tool_use');
assert.deepEqual(toolStream.content[0].input, { echo: 'What is the weat' });
const answered = await client.messages.create({
  model, max_tokens: 100, tools,
  messages: [...messages,
    { role: 'assistant', content: [{ type: 'tool_use', id: tool.content[0].id, name: 'get_weather', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: tool.content[0].id, content: 'sunny' }] }],
});
assert.equal(answered.stop_reason, 'end_turn');

// count_tokens: counted as the Messages answer's input_tokens.
const counted = await client.messages.countTokens({ model, system: 'Be brief.', messages });
assert.equal(counted.input_tokens, 11);  // (9 + 35) code points / 4, as above

// Errors before the stream: the SDK's classes by status, the body's error.type and request id.
await assert.rejects(
  client.messages.create({ model, max_tokens: 100, messages },
    { headers: { 'x-mock-status': '429', 'x-mock-retry-after': '1' } }),
  (e) => e instanceof Anthropic.RateLimitError && e.status === 429 &&
    e.error.error.type === 'rate_limit_error' && e.headers.get('retry-after') === '1' &&
    e.requestID.startsWith('req_'));
await assert.rejects(
  client.messages.create({ model, max_tokens: 100, messages, mock: { status: 529 } }),
  (e) => e.status === 529 && e.error.error.type === 'overloaded_error' &&
    (Anthropic.OverloadedError ? e instanceof Anthropic.OverloadedError : e instanceof Anthropic.InternalServerError));
await assert.rejects(
  client.messages.create({ model, max_tokens: 0, messages }),
  (e) => e instanceof Anthropic.BadRequestError && e.error.error.type === 'invalid_request_error');
if (process.argv[3]) {
  await assert.rejects(
    new Anthropic({ baseURL, apiKey: 'wrong-key', maxRetries: 0 })
      .messages.create({ model, max_tokens: 1, messages }),
    (e) => e instanceof Anthropic.AuthenticationError && e.error.error.type === 'authentication_error');
}

// An error during the stream: the SDK raises it from the iteration.
const failing = await client.messages.create({
  model, max_tokens: 100, messages, stream: true, mock: { stream_error_after: 2 },
});
let seen = 0;
await assert.rejects(
  (async () => { for await (const ev of failing) if (ev.type === 'content_block_delta') seen++; })(),
  (e) => e instanceof Anthropic.APIError && e.error?.error?.type === 'overloaded_error');
assert.equal(seen, 2);

console.log('anthropic_sdk_check: all Anthropic SDK checks passed');
