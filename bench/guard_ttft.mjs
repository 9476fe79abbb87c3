// Time to first token on streams through Gatehouse, guardrails on vs off, side by side in one run.
// Started by bench/guard_bench.sh (which starts mockllm and the gateway and stops them); Node's own
// fetch, no packages. Two models on the same provider: `plain` (no guardrails) and `guarded`
// (input [secrets, dlp, injection, pii], output [pii, dlp]). Per scenario, rounds alternate the
// two models (plain first in even rounds, guarded first in odd ones); each round streams
// `--streams / --rounds` requests per model, `--concurrency` at a time. Measured on the client:
// time to the response head, to the first NON-EMPTY content delta (TTFT: an event whose text the
// guardrails hold goes out with an empty delta, which a user does not see as a token), and to
// the end of the stream; and the gateway's CPU per stream (its threads' schedstat run time, ns,
// over each batch). Every stream's text is checked against what it must be.
//
//   node bench/guard_ttft.mjs --url http://127.0.0.1:PORT --key KEY --pid GATEHOUSE_PID
//        [--streams 200] [--rounds 10] [--concurrency 10] [--inter-token-ms 20]
//        [--scenarios tokens,words,lead,bytes3,bytes3-hit] [--json FILE]
//   node bench/guard_ttft.mjs --bodies DIR     # writes the non-streaming request bodies for wrk
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
    return acc;
  }, []));

// Ordinary business prose (the same paragraphs as bench/guard_stage_bench.cpp): letters,
// punctuation and a few numbers, none of which is a value any guardrail looks for.
const PARAGRAPHS = [
  'Our quarterly review covered the migration of the reporting pipeline to the new warehouse. ' +
    'Most dashboards now refresh within 15 minutes instead of two hours, and the finance team ' +
    'has stopped exporting spreadsheets by hand. ',
  'The remaining work is mostly about ownership: each table needs a named steward, a short ' +
    'description and a retention period. We agreed to finish this by the end of March, with ' +
    'about 40% of the tables already documented. ',
  'Costs went down by roughly 12% compared with the previous quarter, mainly because idle ' +
    'clusters are now stopped after 30 minutes. Storage grew to 3.4 TB, which is in line with ' +
    'the forecast we made in January. ',
  'Please summarise the open risks in plain language for the steering committee. Keep it ' +
    'short, avoid jargon, and point out anything that needs a decision from them rather than ' +
    'from the engineering team. ',
  'Version 2.7 of the ingestion service fixed the duplicate rows we saw in the orders table; ' +
    'the backfill for the affected 9 days ran over the weekend and the totals now match the ' +
    'ledger to the cent. ',
  'Two people will be on leave in the second half of the month, so the on-call rota has been ' +
    'adjusted. If an alert fires outside office hours, the runbook explains who to page and ' +
    'which checks to do first. ',
];

function prose(size, start = 0) {
  let out = '';
  for (let i = start; out.length < size; i++) out += PARAGRAPHS[i % PARAGRAPHS.length];
  out = out.slice(0, size);
  return out.slice(0, out.lastIndexOf(' ') + 1);  // end on a word boundary
}

// A chat request of about `size` bytes: a system prompt, then user / assistant turns of prose.
function chatRequest(model, size, extra) {
  const turns = size < 4096 ? 3 : 9;
  const messages = [{ role: 'system', content: 'You are a concise assistant for an analytics team. Answer in plain English.' }];
  const skeleton = JSON.stringify({ model, messages, ...extra }).length;
  const perTurn = Math.floor((size - skeleton - 40 * turns) / turns);
  for (let t = 0; t < turns; t++) messages.push({ role: t % 2 === 0 ? 'user' : 'assistant', content: prose(perTurn, t) });
  return JSON.stringify({ model, messages, ...extra });
}

if (args.bodies) {
  // wrk bodies: 1 KB and 100 KB prompts, a short answer (8 tokens), per model.
  for (const model of ['plain', 'guarded']) {
    for (const [name, size] of [['1k', 1024], ['100k', 100 * 1024]]) {
      const body = chatRequest(model, size, { max_tokens: 256, mock: { tokens: 8 } });
      writeFileSync(`${args.bodies}/body-${name}-${model}.json`, body);
    }
  }
  process.exit(0);
}

const url = `${args.url}/v1/chat/completions`;
const key = args.key;
const pid = args.pid;
const STREAMS = Number(args.streams ?? 200);
const ROUNDS = Number(args.rounds ?? 10);
const CONC = Number(args.concurrency ?? 10);
const ITM = Number(args['inter-token-ms'] ?? 20);

// The streamed answers. `tokens`: mockllm's generated words (`alpha `, `bravo `: each delta a
// word and its space); `words`: prose, a word and its space per delta; `bytes3`: prose in 3-byte
// deltas, which mostly end inside a word; `bytes3-hit`: the same with an email address in it
// (masked by the guarded model). 64 deltas each. The mock waits `inter_token_ms` before each delta.
const WORDS_REPLY = prose(2000).split(/(?<= )/).slice(0, 64).join('');
const BYTES3_REPLY = prose(192 + 40).slice(0, 192);
const HIT_REPLY = (() => {
  const t = 'Mail jane.doe@example.com about it. ' + prose(192);
  return t.slice(0, 192);
})();
// `lead`: the same prose words as `words`, each delta a word with the space BEFORE it (" quarterly"),
// as OpenAI's and Anthropic's tokenizers cut text: every delta ends inside a word.
const LEAD_CHUNKS = WORDS_REPLY.trimEnd().split(/(?= )/);
const SCENARIOS = {
  tokens: { mock: { tokens: 64 }, expect: null },
  words: { mock: { reply: WORDS_REPLY }, expect: WORDS_REPLY },
  lead: { mock: { reply_chunks: LEAD_CHUNKS }, expect: LEAD_CHUNKS.join('') },
  bytes3: { mock: { reply: BYTES3_REPLY, reply_chunk: 3 }, expect: BYTES3_REPLY },
  'bytes3-hit': {
    mock: { reply: HIT_REPLY, reply_chunk: 3 },
    expect: HIT_REPLY,
    expectGuarded: HIT_REPLY.replace('jane.doe@example.com', '<EMAIL_ADDRESS>'),
  },
};
const TOKEN_WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu';

// The gateway's CPU time so far, ns: the sum of its threads' run time (/proc/PID/task/*/schedstat).
function cpuNs() {
  if (!pid) return 0;
  let total = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch { /* a thread that just ended */ }
  }
  return total;
}

async function oneStream(model, scenario) {
  const body = JSON.stringify({
    model,
    stream: true,
    messages: [{ role: 'user', content: 'Write a short status update for the analytics team, please.' }],
    mock: { inter_token_ms: ITM, ...scenario.mock },
  });
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body,
  });
  const head = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${model}: HTTP ${res.status}: ${await res.text()}`);
  let ttft = null, buf = '', text = '', events = 0, emptyDeltas = 0, charTime = 0;
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, at);
      buf = buf.slice(at + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        events++;
        const v = JSON.parse(line.slice(6));
        if (v.error) throw new Error(`${model}: stream error ${JSON.stringify(v.error)}`);
        const c = v.choices?.[0]?.delta?.content;
        if (typeof c === 'string') {
          if (c.length > 0 && ttft === null) ttft = performance.now() - t0;
          if (c.length === 0 && v.choices[0].delta.role === undefined) emptyDeltas++;
          text += c;
          charTime += c.length * (performance.now() - t0);
        }
      }
    }
  }
  // `mean`: when the answer's average character arrived (how late the text is, on average).
  return { head, ttft, mean: text.length ? charTime / text.length : null, total: performance.now() - t0, text, events, emptyDeltas };
}

function expected(model, name, scenario) {
  if (name === 'tokens') return TOKEN_WORDS.split(' ').concat(TOKEN_WORDS.split(' '), TOKEN_WORDS.split(' ')).slice(0, 64).join(' ');
  return model === 'guarded' && scenario.expectGuarded ? scenario.expectGuarded : scenario.expect;
}

async function batch(model, name, scenario, n, out) {
  let next = 0;
  const c0 = cpuNs();
  const workers = Array.from({ length: Math.min(CONC, n) }, async () => {
    while (next < n) {
      next++;
      const r = await oneStream(model, scenario);
      out.samples.push(r);
      if (r.text !== expected(model, name, scenario)) out.wrongText++;
    }
  });
  await Promise.all(workers);
  const used = cpuNs() - c0;
  out.cpuNs += used;
  out.streams += n;
  out.perBatch.push(used / 1000 / n);
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');

const chosen = (args.scenarios ?? 'tokens,words,lead,bytes3,bytes3-hit').split(',');
const results = {};
const started = new Date().toISOString();
for (const name of chosen) {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario ${name}`);
  // Warm-up: connections, the mock's and the gateway's first requests.
  for (const model of ['plain', 'guarded']) await batch(model, name, scenario, Math.min(CONC, 4), { samples: [], wrongText: 0, cpuNs: 0, streams: 0, perBatch: [] });
  const r = {};
  for (const model of ['plain', 'guarded']) r[model] = { samples: [], wrongText: 0, cpuNs: 0, streams: 0, perBatch: [] };
  const per = Math.ceil(STREAMS / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['plain', 'guarded'] : ['guarded', 'plain'];
    for (const model of order) await batch(model, name, scenario, per, r[model]);
  }
  results[name] = r;
  process.stderr.write(`guard_ttft: ${name} done\n`);
}

// Markdown: per scenario, plain and guarded side by side.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const lines = [];
lines.push(`Streams: ${STREAMS} per model and scenario in ${ROUNDS} alternating rounds, ${CONC} at a time, ` +
  `\`inter_token_ms: ${ITM}\`, 64 deltas each; started ${started}. Times from the request's start, on the client; ` +
  `"char" is when the answer's average character arrived (the mean over its characters).`);
lines.push('');
lines.push('| scenario | model | head p50 ms | TTFT p50 ms | TTFT p90 ms | TTFT p99 ms | char p50 ms | stream p50 ms | stream p90 ms | empty deltas / stream | gateway CPU µs / stream | wrong texts |');
lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const summary = {};
for (const name of chosen) {
  summary[name] = {};
  for (const model of ['plain', 'guarded']) {
    const r = results[name][model];
    const ttft = r.samples.map((s) => s.ttft).filter((x) => x !== null);
    const row = {
      head_p50: pct(r.samples.map((s) => s.head), 50),
      ttft_p50: pct(ttft, 50), ttft_p90: pct(ttft, 90), ttft_p99: pct(ttft, 99),
      mean_p50: pct(r.samples.map((s) => s.mean).filter((x) => x !== null), 50),
      total_p50: pct(r.samples.map((s) => s.total), 50), total_p90: pct(r.samples.map((s) => s.total), 90),
      empty: r.samples.reduce((a, s) => a + s.emptyDeltas, 0) / r.samples.length,
      cpu_us: r.cpuNs / 1000 / r.streams, cpu_per_round: r.perBatch,
      wrong: r.wrongText, n: r.samples.length, no_ttft: r.samples.length - ttft.length,
    };
    summary[name][model] = row;
    lines.push(`| ${name} | ${model} | ${f1(row.head_p50)} | ${f1(row.ttft_p50)} | ${f1(row.ttft_p90)} | ${f1(row.ttft_p99)} | ` +
      `${f1(row.mean_p50)} | ${f1(row.total_p50)} | ${f1(row.total_p90)} | ${f1(row.empty)} | ${f1(row.cpu_us)} | ${row.wrong} |`);
  }
}
lines.push('');
lines.push('| scenario | TTFT p50 guarded − plain, ms | TTFT p90, ms | char p50, ms | stream p50, ms | CPU µs / stream guarded − plain, median of the rounds (range) | CPU guarded ÷ plain |');
lines.push('|---|---:|---:|---:|---:|---:|---:|');
for (const name of chosen) {
  const p = summary[name].plain, g = summary[name].guarded;
  const diffs = g.cpu_per_round.map((x, i) => x - p.cpu_per_round[i]);
  lines.push(`| ${name} | ${f1(g.ttft_p50 - p.ttft_p50)} | ${f1(g.ttft_p90 - p.ttft_p90)} | ${f1(g.mean_p50 - p.mean_p50)} | ` +
    `${f1(g.total_p50 - p.total_p50)} | ${Math.round(median(diffs))} (${Math.round(Math.min(...diffs))} … ${Math.round(Math.max(...diffs))}) | ` +
    `${f2(g.cpu_us / p.cpu_us)} |`);
}
console.log(lines.join('\n'));
if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 1));
