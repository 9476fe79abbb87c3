// Checks that the official `openai` npm SDK accepts mockllm's Responses API answers: whole,
// streamed (async iteration and the `responses.stream` helper), a tool call round trip, a cut
// answer, and the API's refusals.
//
//   cd DIR_WITH_OPENAI_INSTALLED && node /path/to/responses_sdk_check.mjs http://127.0.0.1:PORT/v1
//
// The SDK is loaded from the current directory so this file needs no package.json of its own.
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const require = createRequire(process.cwd() + '/');
const { default: OpenAI, APIError, BadRequestError, RateLimitError } = await import(
  require.resolve('openai'));
const baseURL = process.argv[2] ?? 'http://127.0.0.1:9911/v1';
const client = new OpenAI({ baseURL, apiKey: 'sk-mock', maxRetries: 0 });
const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel';
const question = 'What is the weather in Paris today?';
const tools = [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }];

// Whole answer: the SDK's output_text convenience, usage, echoed settings.
const whole = await client.responses.create({
  model: 'mock-model', input: question, instructions: 'Be brief.', temperature: 0.5,
  metadata: { suite: 'sdk' }, store: false,
});
assert.equal(whole.object, 'response');
assert.equal(whole.status, 'completed');
assert.equal(whole.output_text, WORDS);
assert.equal(whole.usage.output_tokens, 8);
assert.equal(whole.usage.input_tokens, Math.floor((question.length + 'Be brief.'.length) / 4));
assert.equal(whole.usage.input_tokens_details.cached_tokens, 0);
assert.equal(whole.temperature, 0.5);
assert.deepEqual(whole.metadata, { suite: 'sdk' });
assert.equal(whole.store, false);
assert.equal(whole.previous_response_id, null);

// A stream read by async iteration: the API's event sequence, numbered from 0.
const raw = await client.responses.create({
  model: 'mock-model', input: [{ role: 'user', content: [{ type: 'input_text', text: question }] }],
  stream: true, mock: { tokens: 3 },
});
const types = [];
let text = '';
let seq = 0;
let completed = null;
for await (const event of raw) {
  assert.equal(event.sequence_number, seq++);
  types.push(event.type);
  if (event.type === 'response.output_text.delta') text += event.delta;
  if (event.type === 'response.completed') completed = event.response;
}
assert.deepEqual(types, [
  'response.created', 'response.in_progress', 'response.output_item.added',
  'response.content_part.added', 'response.output_text.delta', 'response.output_text.delta',
  'response.output_text.delta', 'response.output_text.done', 'response.content_part.done',
  'response.output_item.done', 'response.completed']);
assert.equal(text, 'alpha bravo charlie');
assert.equal(completed.usage.output_tokens, 3);

// The streaming helper accumulates the same events into a final Response.
let helperDeltas = 0;
const runner = client.responses.stream({ model: 'mock-model', input: question, mock: { tokens: 4 } });
runner.on('response.output_text.delta', () => helperDeltas++);
const streamed = await runner.finalResponse();
// (The helper's final Response has no output_text convenience: read the part.)
assert.equal(streamed.output[0].content[0].text, 'alpha bravo charlie delta');
assert.equal(streamed.status, 'completed');
assert.equal(helperDeltas, 4);

// A tool call, then the caller's result: the model answers in text.
const call = await client.responses.create({ model: 'mock-model', input: question, tools });
const fc = call.output[0];
assert.equal(fc.type, 'function_call');
assert.equal(fc.name, 'get_weather');
assert.deepEqual(JSON.parse(fc.arguments), { echo: 'What is the weat' });
assert.ok(fc.call_id.startsWith('call_'));
const answer = await client.responses.create({
  model: 'mock-model', tools,
  input: [{ role: 'user', content: question }, ...call.output,
    { type: 'function_call_output', call_id: fc.call_id, output: '{"temp":21}' }],
});
assert.equal(answer.output[0].type, 'message');
assert.equal(answer.output_text, WORDS);
// Replaying the assistant's own message items is accepted too.
const replay = await client.responses.create({
  model: 'mock-model', input: [{ role: 'user', content: 'hi' }, ...whole.output,
    { role: 'user', content: 'again' }],
});
assert.equal(replay.status, 'completed');

// A streamed tool call through the helper: arguments arrive in pieces and add up.
const toolStream = client.responses.stream({
  model: 'mock-model', input: question, tools, tool_choice: 'required',
});
const toolFinal = await toolStream.finalResponse();
assert.deepEqual(JSON.parse(toolFinal.output[0].arguments), { echo: 'What is the weat' });

// max_output_tokens below the answer's length cuts it: status incomplete.
const cut = await client.responses.create({
  model: 'mock-model', input: question, max_output_tokens: 16, mock: { tokens: 20 },
});
assert.equal(cut.status, 'incomplete');
assert.equal(cut.incomplete_details.reason, 'max_output_tokens');
assert.equal(cut.usage.output_tokens, 16);
const cutTypes = [];
for await (const e of await client.responses.create({
  model: 'mock-model', input: question, max_output_tokens: 16, mock: { tokens: 20 }, stream: true,
})) cutTypes.push(e.type);
assert.equal(cutTypes.at(-1), 'response.incomplete');

// The API's refusals, with their param and code.
await assert.rejects(
  client.responses.create({ model: 'mock-model', input: 'hi', previous_response_id: 'resp_123' }),
  (e) => e instanceof BadRequestError && e.code === 'previous_response_not_found' &&
    e.param === 'previous_response_id' && e.message.includes("Previous response with id 'resp_123' not found."));
await assert.rejects(
  client.responses.create({ model: 'mock-model', input: 'hi', max_tokens: 20 }),
  (e) => e instanceof BadRequestError && e.code === 'unknown_parameter' && e.param === 'max_tokens');
await assert.rejects(
  client.responses.create({ model: 'mock-model', input: 'hi', max_output_tokens: 5 }),
  (e) => e instanceof BadRequestError && e.code === 'integer_below_min_value');
await assert.rejects(
  client.responses.create({ model: 'mock-model', input: 'hi', mock: { status: 429, retry_after: 1 } }),
  (e) => e instanceof RateLimitError && e.headers.get('retry-after') === '1');

// A model failing mid-stream: the SDK raises the API's error event.
await assert.rejects(async () => {
  for await (const e of await client.responses.create({
    model: 'mock-model', input: 'hi', stream: true, mock: { stream_error_after: 2 },
  })) void e;
}, (e) => e instanceof APIError && e.error?.code === 'server_error');

// The same answers under the Databricks serving prefix (the SDK with base URL
// {host}/serving-endpoints, as Databricks' own OpenAI client is set up).
const databricks = new OpenAI({
  baseURL: new URL(baseURL).origin + '/serving-endpoints', apiKey: 'dapi-mock', maxRetries: 0,
});
const served = await databricks.responses.create({ model: 'databricks-gpt-5', input: question });
assert.equal(served.model, 'databricks-gpt-5');
assert.equal(served.output_text, WORDS);

console.log('responses_sdk_check: all OpenAI Responses SDK checks passed');
