// What the guardrail stages add to a request's CPU, kernel level: the issue's guardrail set (pii
// with six entities, a dlp regex guardrail with two patterns, secrets, prompt_injection) on one
// model, none on another, in one config; the InputGuardStage and OutputGuardStage built as the
// gateway builds them; their hooks timed through Pipeline on realistic OpenAI bodies, guardrails
// on ("guarded") and off ("plain"). Run: build/release/bench/guard_stage_bench (see
// docs/benchmarks.md#guardrails; --benchmark_repetitions=5 --benchmark_report_aggregates_only).
//
// * BM_Routed: Pipeline::on_routed on a chat request of ~1 KB or ~100 KB (system prompt, several
//   turns of prose with a few numbers), with no hit (the common case) or with a few values that
//   are masked (an email, a phone number, an IP address, a JDBC URL). When a stage replaced the
//   body, the gateway decodes it again (gateway/llm.cpp decode_replacement): that is timed too.
// * BM_Decode: api::decode_request on the same bodies, the decode every request pays anyway, for
//   scale.
// * BM_Response: on_response on a whole chat.completion whose answer is ~1 KB or ~100 KB.
// * BM_Stream: a whole stream (on_attempt, N content chunks through on_event, the finish chunk,
//   [DONE], on_stream_end): word deltas (each ends in a space: nothing is held), 3-byte deltas
//   (mid-word: held text is released into later events), and word deltas with an email and a
//   phone number split across events (masked). The counter `per_event` is the time per event.
//
// Each iteration builds a fresh RequestContext (as the gateway does per request) in both
// variants, so the on - off difference is what the guardrails add.
#include <benchmark/benchmark.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "api/request.h"
#include "config/load.h"
#include "pipeline/guard.h"
#include "pipeline/pipeline.h"

namespace {

using namespace gatehouse;
using pipeline::Decision;
using pipeline::Pipeline;
using pipeline::RequestContext;

// The issue's guardrail set (issue 12), minus the model kind (a classifier call is I/O, not
// CPU). `guarded` has the input list the issue gives and pii + dlp on the output.
const std::string kConfig = R"(providers:
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:9/v1"}
guardrails:
  pii:
    kind: pii
    entities: [EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS]
    action: mask
  dlp:
    kind: regex
    patterns:
      - {name: databricks-pat, regex: 'dapi[a-f0-9]{32}', action: block}
      - {name: jdbc-connection-string, regex: 'jdbc:databricks://[^\s]+', action: mask}
  secrets: {kind: secrets, action: block}
  injection: {kind: prompt_injection, action: block}
models:
  plain: {provider: local}
  guarded: {provider: local, guardrails: {input: [secrets, dlp, injection, pii], output: [pii, dlp]}}
)";

std::optional<std::string> no_env(const std::string&) { return std::nullopt; }

struct Setup {
  std::shared_ptr<const config::Config> config;
  Pipeline pipeline;
  Setup() {
    auto r = config::load_string(kConfig, "bench.yaml", no_env);
    for (const auto& d : r.diagnostics) std::fprintf(stderr, "%s\n", d.to_string().c_str());
    if (!r.config) std::abort();
    config = r.config;
    pipeline.add(std::make_unique<pipeline::InputGuardStage>(*config, config->scanner));
    pipeline.add(std::make_unique<pipeline::OutputGuardStage>(*config, config->scanner));
  }
};

const Setup& setup() {
  static const Setup s;
  return s;
}

// Paragraphs of ordinary business prose: letters, punctuation and a few numbers (dates,
// percentages, amounts, versions), none of which is a value any guardrail looks for.
const std::vector<std::string> kParagraphs = {
    "Our quarterly review covered the migration of the reporting pipeline to the new warehouse. "
    "Most dashboards now refresh within 15 minutes instead of two hours, and the finance team "
    "has stopped exporting spreadsheets by hand. ",
    "The remaining work is mostly about ownership: each table needs a named steward, a short "
    "description and a retention period. We agreed to finish this by the end of March, with "
    "about 40% of the tables already documented. ",
    "Costs went down by roughly 12% compared with the previous quarter, mainly because idle "
    "clusters are now stopped after 30 minutes. Storage grew to 3.4 TB, which is in line with "
    "the forecast we made in January. ",
    "Please summarise the open risks in plain language for the steering committee. Keep it "
    "short, avoid jargon, and point out anything that needs a decision from them rather than "
    "from the engineering team. ",
    "Version 2.7 of the ingestion service fixed the duplicate rows we saw in the orders table; "
    "the backfill for the affected 9 days ran over the weekend and the totals now match the "
    "ledger to the cent. ",
    "Two people will be on leave in the second half of the month, so the on-call rota has been "
    "adjusted. If an alert fires outside office hours, the runbook explains who to page and "
    "which checks to do first. ",
};

std::string prose(std::size_t size, std::size_t start = 0) {
  std::string out;
  for (std::size_t i = start; out.size() < size; ++i) out += kParagraphs[i % kParagraphs.size()];
  out.resize(size);
  while (!out.empty() && out.back() != ' ') out.pop_back();  // end on a word boundary
  return out;
}

std::string js(const std::string& s) { return boost::json::serialize(boost::json::value(s)); }

// Values the guarded model's guardrails mask (none blocks): an email, a phone number, an IPv4
// address, a JDBC URL.
const std::vector<std::string> kHits = {
    "write to jane.doe@example.com for access", "or call +1 415 555 0132 after nine",
    "the old host was 10.20.30.41 until May",
    "connect with jdbc:databricks://adb-1234567890123456.7.azuredatabricks.net:443/default "
    "from the notebook"};

// A chat request of about `size` bytes: a system prompt, then user / assistant turns of prose;
// with `hits`, the values above spread over the turns.
std::string chat_request(const std::string& model, std::size_t size, bool hits) {
  const std::size_t turns = size < 4096 ? 3 : 9;
  const std::string head = R"({"model":")" + model + R"(","messages":[{"role":"system","content":)" +
                           js("You are a concise assistant for an analytics team. Answer in plain English.") + "}";
  std::string body = head;
  const std::size_t per_turn = (size - head.size() - 40) / turns;
  for (std::size_t t = 0; t < turns; ++t) {
    std::string text = prose(per_turn - 40, t);
    if (hits && t < kHits.size()) text.insert(text.size() / 2, kHits[t] + ". ");
    body += std::string(R"(,{"role":")") + (t % 2 == 0 ? "user" : "assistant") + R"(","content":)" + js(text) + "}";
  }
  body += R"(],"max_tokens":256})";
  return body;
}

// A whole chat.completion with an answer of about `size` bytes.
std::string chat_response(std::size_t size, bool hits) {
  std::string text = prose(size);
  if (hits) text.insert(text.size() / 2, kHits[0] + ". ");
  return R"({"id":"chatcmpl-1","object":"chat.completion","created":1733400000,"model":"m","choices":[{"index":0,)"
         R"("message":{"role":"assistant","content":)" +
         js(text) +
         R"(},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":)" +
         std::to_string(size / 4) + R"(,"total_tokens":)" + std::to_string(size / 4 + 50) + "}}";
}

// One OpenAI chunk, as a provider (and mockllm) sends it.
std::string chunk(const std::string& delta_json, const char* finish = "null") {
  return R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733400000,"model":"m",)"
         R"("choices":[{"index":0,"delta":)" +
         delta_json + R"(,"logprobs":null,"finish_reason":)" + finish + "}]}\n\n";
}

// A stream's events: the role chunk, one chunk per delta, the finish chunk, [DONE].
std::vector<std::string> stream_events(const std::vector<std::string>& deltas) {
  std::vector<std::string> ev;
  ev.push_back(chunk(R"({"role":"assistant","content":""})"));
  for (const auto& d : deltas) ev.push_back(chunk(R"({"content":)" + js(d) + "}"));
  ev.push_back(chunk("{}", R"("stop")"));
  ev.push_back("data: [DONE]\n\n");
  return ev;
}

enum StreamKind { kWords, kBytes3, kWordsWithHits };

std::vector<std::string> stream_deltas(StreamKind kind, std::size_t n) {
  std::vector<std::string> out;
  // Words, each with the space after it (mockllm's `reply` split, and what most tokenizers
  // emit: a word with its leading or trailing space).
  std::string text = prose(n * 12);
  if (kind == kWordsWithHits) {
    text.insert(text.size() / 3, "Mail jane.doe@example.com today. ");
    text.insert(text.size() * 2 / 3, "Call +1 415 555 0132 now. ");
  }
  if (kind == kBytes3) {
    for (std::size_t at = 0; at < text.size() && out.size() < n; at += 3) out.push_back(text.substr(at, 3));
    return out;
  }
  std::size_t at = 0;
  while (at < text.size() && out.size() < n) {
    std::size_t sp = text.find(' ', at);
    sp = sp == std::string::npos ? text.size() : sp + 1;
    out.push_back(text.substr(at, sp - at));
    at = sp;
  }
  return out;
}

RequestContext make_ctx(const Setup& s, const std::string& model, std::string_view body) {
  RequestContext ctx;
  ctx.config = s.config.get();
  ctx.pipeline = &s.pipeline;
  ctx.ingress.shape = ApiShape::kOpenAI;
  ctx.request.model = model;
  ctx.request.model_config = &s.config->models.at(model);
  ctx.request.body = body;
  ctx.request.client_body = body;
  ctx.upstream.current.provider_shape = ApiShape::kOpenAI;
  return ctx;
}

const char* model_of(int64_t on) { return on ? "guarded" : "plain"; }

// Args: size in bytes, hits (0/1), guardrails on (0/1).
void BM_Routed(benchmark::State& state) {
  const Setup& s = setup();
  const std::string model = model_of(state.range(2));
  const std::string body = chat_request(model, std::size_t(state.range(0)), state.range(1) != 0);
  std::size_t replaced_count = 0, hits = 0;
  for (auto _ : state) {
    RequestContext ctx = make_ctx(s, model, body);
    bool replaced = false;
    Decision d = s.pipeline.on_routed(ctx, &replaced);
    if (!d.proceeds()) state.SkipWithError("on_routed refused the request");
    if (replaced) {
      // What the gateway does next with a replaced body (gateway/llm.cpp decode_replacement).
      auto again = api::decode_request(ctx.ingress.shape, api::Operation::kChat, ctx.request.body_storage);
      benchmark::DoNotOptimize(again);
      ++replaced_count;
    }
    hits = ctx.guard.hits.size();
    benchmark::DoNotOptimize(ctx.request.body.data());
  }
  state.counters["bytes"] = double(body.size());
  state.counters["replaced"] = double(replaced_count) / double(std::max<int64_t>(1, state.iterations()));
  state.counters["hit_kinds"] = double(hits);
}
BENCHMARK(BM_Routed)
    ->ArgNames({"size", "hits", "on"})
    ->ArgsProduct({{1 << 10, 100 << 10}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

// The decode every request pays with or without guardrails (for scale).
void BM_Decode(benchmark::State& state) {
  const std::string body = chat_request("plain", std::size_t(state.range(0)), false);
  std::string copy;
  for (auto _ : state) {
    copy.assign(body);
    auto r = api::decode_request(ApiShape::kOpenAI, api::Operation::kChat, copy);
    benchmark::DoNotOptimize(r);
  }
  state.counters["bytes"] = double(body.size());
}
BENCHMARK(BM_Decode)->ArgName("size")->Arg(1 << 10)->Arg(100 << 10)->Unit(benchmark::kMicrosecond);

// Args: answer size, hits, on.
void BM_Response(benchmark::State& state) {
  const Setup& s = setup();
  const std::string model = model_of(state.range(2));
  const std::string request = chat_request(model, 1 << 10, false);
  const std::string answer = chat_response(std::size_t(state.range(0)), state.range(1) != 0);
  std::string body;
  for (auto _ : state) {
    RequestContext ctx = make_ctx(s, model, request);
    s.pipeline.on_routed(ctx);
    s.pipeline.on_attempt(ctx);
    body.assign(answer);  // the gateway holds the answer in a string: on_response may replace it
    Decision d = s.pipeline.on_response(ctx, body);
    if (!d.proceeds()) state.SkipWithError("on_response refused the answer");
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["bytes"] = double(answer.size());
}
BENCHMARK(BM_Response)
    ->ArgNames({"size", "hits", "on"})
    ->ArgsProduct({{1 << 10, 100 << 10}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

// Args: kind (0 words, 1 three-byte deltas, 2 words with hits), deltas, on.
void BM_Stream(benchmark::State& state) {
  const Setup& s = setup();
  const std::string model = model_of(state.range(2));
  const std::string request = chat_request(model, 1 << 10, false);
  const auto events = stream_events(stream_deltas(StreamKind(state.range(0)), std::size_t(state.range(1))));
  std::size_t out_bytes = 0, replaced = 0;
  for (auto _ : state) {
    RequestContext ctx = make_ctx(s, model, request);
    s.pipeline.on_routed(ctx);
    s.pipeline.on_attempt(ctx);
    out_bytes = 0;
    for (const auto& e : events) {
      Decision d = s.pipeline.on_event(ctx, e);
      if (d.kind() == Decision::Kind::kRefuse) state.SkipWithError("the stream was refused");
      if (d.kind() == Decision::Kind::kReplace) {
        out_bytes += d.body().size();
        ++replaced;
      } else if (d.proceeds()) {
        out_bytes += e.size();
      }
    }
    Decision end = s.pipeline.on_stream_end(ctx);
    if (end.kind() == Decision::Kind::kReplace) out_bytes += end.body().size();
    benchmark::DoNotOptimize(out_bytes);
  }
  state.counters["events"] = double(events.size());
  state.counters["replaced"] = double(replaced) / double(std::max<int64_t>(1, state.iterations()));
  state.counters["per_event"] = benchmark::Counter(double(state.iterations()) * double(events.size()),
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Stream)
    ->ArgNames({"kind", "deltas", "on"})
    ->ArgsProduct({{kWords, kBytes3, kWordsWithHits}, {64, 1024}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
