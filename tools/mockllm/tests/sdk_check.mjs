// Checks that the official `openai` npm SDK accepts mockllm's answers.
//
//   cd DIR_WITH_OPENAI_INSTALLED && node /path/to/sdk_check.mjs http://127.0.0.1:PORT/v1
//
// The SDK is loaded from the current directory so this file needs no package.json of its own.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(process.cwd() + '/');
const { default: OpenAI, RateLimitError, InternalServerError } = await import(
  require.resolve('openai'));
const baseURL = process.argv[2] ?? 'http://127.0.0.1:9911/v1';
const client = new OpenAI({ baseURL, apiKey: 'sk-mock', maxRetries: 0 });
const messages = [{ role: 'user', content: 'What is the weather in Paris today?' }];
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];

const chat = await client.chat.completions.create({ model: 'mock-model', messages });
assert.equal(chat.choices[0].message.content, 'alpha bravo charlie delta echo foxtrot golf hotel');
assert.equal(chat.usage.completion_tokens, 8);

let text = '';
let usage = null;
let chunks = 0;
const stream = await client.chat.completions.create({
  model: 'mock-model', messages, stream: true, stream_options: { include_usage: true }, mock: { tokens: 5 },
});
for await (const chunk of stream) {
  chunks++;
  text += chunk.choices[0]?.delta?.content ?? '';
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(text, 'alpha bravo charlie delta echo');
assert.equal(usage.completion_tokens, 5);
assert.equal(chunks, 8);  // role, 5 tokens, finish, usage

const runner = client.chat.completions.stream({ model: 'mock-model', messages, tools });
const final = await runner.finalChatCompletion();
const call = final.choices[0].message.tool_calls[0];
assert.equal(final.choices[0].finish_reason, 'tool_calls');
assert.equal(call.function.name, 'get_weather');
assert.deepEqual(JSON.parse(call.function.arguments), { echo: 'What is the weat' });

const tool = await client.chat.completions.create({ model: 'mock-model', messages, tools });
assert.equal(tool.choices[0].message.tool_calls[0].function.name, 'get_weather');

const emb = await client.embeddings.create({ model: 'mock-embed', input: ['a', 'b'] });  // base64
assert.equal(emb.data.length, 2);
assert.equal(emb.data[0].embedding.length, 8);
assert.ok(emb.data[0].embedding.every((x) => typeof x === 'number' && Math.abs(x) <= 1));
const embFloat = await client.embeddings.create({ model: 'mock-embed', input: 'a', encoding_format: 'float' });
// The same vector both ways: base64 carries the exact float32 values the JSON numbers round-trip.
assert.deepEqual(embFloat.data[0].embedding.map(Math.fround), emb.data[0].embedding);
const embWide = await client.embeddings.create({ model: 'mock-embed', input: 'a', dimensions: 16 });
assert.equal(embWide.data[0].embedding.length, 16);

const models = await client.models.list();
assert.equal(models.data[0].id, 'mock-model');

await assert.rejects(
  client.chat.completions.create({ model: 'm', messages, mock: { status: 429, retry_after: 1 } }),
  (e) => e instanceof RateLimitError && e.status === 429 && e.headers.get('retry-after') === '1');
await assert.rejects(
  client.chat.completions.create({ model: 'm', messages }, { headers: { 'x-mock-status': '503' } }),
  (e) => e instanceof InternalServerError && e.error.type === 'server_error');

console.log('sdk_check: all OpenAI SDK checks passed');
