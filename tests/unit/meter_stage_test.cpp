// MeterStage (src/pipeline/meter.cpp): asking an OpenAI-compatible provider for a stream's usage
// when the client did not (on_attempt) and keeping that usage-only chunk from the client
// (on_event), reading usage from whole answers (on_response) and streams, marking a stream that
// ended with an error event, and meter()'s estimate and price.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>

#include "config/load.h"
#include "pipeline/meter.h"
#include "pipeline/pipeline.h"

namespace gatehouse::pipeline {
namespace {

const std::string kConfig = R"(providers:
  oai: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
  dbx: {kind: databricks, host: "https://dbc.example", auth: {token: "dapi-x"}}
  anth: {kind: anthropic, base_url: "http://127.0.0.1:9912"}
models:
  gpt: {provider: oai, price: {input_per_million: 2, output_per_million: 8}}
  cheap: {provider: oai, price: {input_per_million: 1, output_per_million: 1, cached_input_per_million: 0.5}}
  llama: {provider: dbx, upstream_model: my-endpoint}
  claude: {provider: anth, price: {input_per_million: 3, output_per_million: 15}}
  free: {provider: oai}
)";

const std::string kStreamBody = R"({"model":"gpt","stream":true,"messages":[{"role":"user","content":"hi"}]})";

// A stage before the meter, so that the meter's slot is not the first one.
class Nop final : public Stage {
 public:
  std::string_view name() const override { return "nop"; }
};

ApiShape shape_of(config::ProviderKind k) {
  switch (k) {
    case config::ProviderKind::kAnthropic: return ApiShape::kAnthropic;
    case config::ProviderKind::kDatabricks: return ApiShape::kDatabricks;
    default: return ApiShape::kOpenAI;
  }
}

struct Fixture {
  std::shared_ptr<const config::Config> config;
  Pipeline pipeline;
  const Stage* meter = nullptr;

  Fixture() {
    auto r = config::load_string(kConfig, "test.yaml",
                                 [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
    for (const auto& d : r.diagnostics) ADD_FAILURE() << d.to_string();
    config = r.config;
    pipeline.add(std::make_unique<Nop>());
    pipeline.add(std::make_unique<MeterStage>());
    meter = &pipeline.stage(1);
  }

  // A chat request to `model` whose attempt is about to go upstream with `body`.
  RequestContext ctx(const std::string& model, bool stream, std::string_view body = kStreamBody) const {
    RequestContext c;
    c.config = config.get();
    c.pipeline = &pipeline;
    c.request.model_request = true;
    c.request.op = api::Operation::kChat;
    c.request.model = model;
    c.request.model_config = &config->models.at(model);
    c.request.stream = stream;
    c.request.body = body;
    target(c, model, body);
    return c;
  }
  // The attempt goes to `model` (a first attempt, or a fallback).
  void target(RequestContext& c, const std::string& model, std::string_view body) const {
    const auto& m = config->models.at(model);
    const auto& p = config->providers.at(m.provider);
    auto& cur = c.upstream.current;
    cur = CurrentAttempt{};
    cur.number = c.upstream.attempts + 1;
    cur.model = &m;
    cur.provider = &p;
    cur.provider_shape = shape_of(p.kind);
    cur.body = body;
    c.upstream.served_model = &m;
    c.upstream.provider = p.name;
  }
};

boost::json::value parsed(std::string_view s) {
  boost::system::error_code ec;
  auto v = boost::json::parse(s, ec);
  EXPECT_FALSE(ec) << s;
  return v;
}

const std::string kContentChunk =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
const std::string kUsageChunk =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,"
    "\"completion_tokens\":5,\"total_tokens\":16}}\n\n";
const std::string kDone = "data: [DONE]\n\n";

// ---- on_attempt: asking for a stream's usage.

TEST(MeterStage, AsksAnOpenAICompatibleProviderForAStreamsUsage) {
  Fixture f;
  auto c = f.ctx("gpt", true);
  Decision d = f.meter->on_attempt(c);
  ASSERT_EQ(d.kind(), Decision::Kind::kReplace);
  auto v = parsed(d.body());
  EXPECT_EQ(v.at("stream_options").at("include_usage"), true);
  EXPECT_EQ(v.at("model"), "gpt");
  EXPECT_EQ(v.at("stream"), true);
  EXPECT_EQ(v.at("messages").as_array().size(), 1u);

  // Through the pipeline: the replacement is the attempt's body.
  auto p = f.ctx("gpt", true);
  bool replaced = false;
  EXPECT_TRUE(f.pipeline.on_attempt(p, &replaced).proceeds());
  EXPECT_TRUE(replaced);
  EXPECT_EQ(parsed(p.upstream.current.body).at("stream_options").at("include_usage"), true);
}

TEST(MeterStage, KeepsTheClientsOtherStreamOptions) {
  Fixture f;
  const std::string body = R"({"model":"gpt","stream":true,"stream_options":{"include_obfuscation":false},"messages":[]})";
  auto c = f.ctx("gpt", true, body);
  Decision d = f.meter->on_attempt(c);
  ASSERT_EQ(d.kind(), Decision::Kind::kReplace);
  auto v = parsed(d.body());
  EXPECT_EQ(v.at("stream_options").at("include_usage"), true);
  EXPECT_EQ(v.at("stream_options").at("include_obfuscation"), false);
  // "stream_options": null, from a client that did not ask either.
  const std::string null_body = R"({"model":"gpt","stream":true,"stream_options":null,"messages":[]})";
  auto n = f.ctx("gpt", true, null_body);
  Decision dn = f.meter->on_attempt(n);
  ASSERT_EQ(dn.kind(), Decision::Kind::kReplace);
  EXPECT_EQ(parsed(dn.body()).at("stream_options").at("include_usage"), true);
}

TEST(MeterStage, DoesNotAskWhenItNeedNot) {
  Fixture f;
  {
    SCOPED_TRACE("not a stream");
    auto c = f.ctx("gpt", false, R"({"model":"gpt","messages":[]})");
    EXPECT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  }
  {
    SCOPED_TRACE("the client asked");
    auto c = f.ctx("gpt", true, R"({"model":"gpt","stream":true,"stream_options":{"include_usage":true},"messages":[]})");
    c.upstream.current.include_usage = true;
    EXPECT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  }
  {
    SCOPED_TRACE("translated (the translation asks in its own way)");
    auto c = f.ctx("gpt", true);
    c.upstream.current.translated = true;
    EXPECT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  }
  {
    SCOPED_TRACE("embeddings");
    auto c = f.ctx("gpt", true, R"({"model":"gpt","input":"hi"})");
    c.request.op = api::Operation::kEmbeddings;
    EXPECT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  }
  {
    SCOPED_TRACE("databricks (usage on every chunk, unasked)");
    auto c = f.ctx("llama", true);
    EXPECT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  }
  {
    SCOPED_TRACE("anthropic");
    auto c = f.ctx("claude", true, R"({"model":"claude","stream":true,"max_tokens":5,"messages":[]})");
    EXPECT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  }
}

// ---- on_event: the usage-only chunk.

TEST(MeterStage, DropsTheUsageChunkItAskedForAndKeepsTheUsage) {
  Fixture f;
  auto c = f.ctx("gpt", true);
  ASSERT_EQ(f.pipeline.on_attempt(c).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(f.meter->on_event(c, kContentChunk).kind(), Decision::Kind::kContinue);
  EXPECT_FALSE(c.accounting.usage.known);
  EXPECT_EQ(f.meter->on_event(c, kUsageChunk).kind(), Decision::Kind::kDrop);
  EXPECT_TRUE(c.accounting.usage.known);
  EXPECT_EQ(c.accounting.usage.input_tokens, 11);
  EXPECT_EQ(c.accounting.usage.output_tokens, 5);
  EXPECT_EQ(f.meter->on_event(c, kDone).kind(), Decision::Kind::kContinue);
  // Through the pipeline, the same.
  EXPECT_EQ(f.pipeline.on_event(c, kUsageChunk).kind(), Decision::Kind::kDrop);
}

TEST(MeterStage, PassesTheUsageChunkTheClientAskedFor) {
  Fixture f;
  const std::string body = R"({"model":"gpt","stream":true,"stream_options":{"include_usage":true},"messages":[]})";
  auto c = f.ctx("gpt", true, body);
  c.upstream.current.include_usage = true;
  ASSERT_EQ(f.pipeline.on_attempt(c).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(f.meter->on_event(c, kContentChunk).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(f.meter->on_event(c, kUsageChunk).kind(), Decision::Kind::kContinue);
  EXPECT_TRUE(c.accounting.usage.known);
  EXPECT_EQ(c.accounting.usage.input_tokens, 11);
  EXPECT_EQ(c.accounting.usage.output_tokens, 5);
}

TEST(MeterStage, DatabricksRunningUsageIsKeptAndNothingIsDropped) {
  Fixture f;
  auto c = f.ctx("llama", true);
  ASSERT_EQ(f.pipeline.on_attempt(c).kind(), Decision::Kind::kContinue);
  const std::string first =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":1}}\n\n";
  const std::string last =
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":9}}\n\n";
  EXPECT_EQ(f.meter->on_event(c, first).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(c.accounting.usage.output_tokens, 1);
  EXPECT_EQ(f.meter->on_event(c, last).kind(), Decision::Kind::kContinue) << "the gateway did not ask: not its to drop";
  EXPECT_EQ(c.accounting.usage.input_tokens, 7);
  EXPECT_EQ(c.accounting.usage.output_tokens, 9);
}

// A fallback is a new attempt: what the meter asked of the first target does not hold for the next.
TEST(MeterStage, EachAttemptStartsOver) {
  Fixture f;
  auto c = f.ctx("gpt", true);
  ASSERT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kReplace);
  c.upstream.attempts = 1;
  f.target(c, "llama", kStreamBody);
  EXPECT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(f.meter->on_event(c, kUsageChunk).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(c.accounting.usage.input_tokens, 11);
}

TEST(MeterStage, AnthropicStreamUsage) {
  Fixture f;
  auto c = f.ctx("claude", true, R"({"model":"claude","stream":true,"max_tokens":5,"messages":[]})");
  ASSERT_EQ(f.pipeline.on_attempt(c).kind(), Decision::Kind::kContinue);
  const std::string start =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
      "\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":20,\"cache_read_input_tokens\":4,"
      "\"output_tokens\":1}}}\n\n";
  const std::string delta =
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
      "\"usage\":{\"output_tokens\":12}}\n\n";
  EXPECT_EQ(f.meter->on_event(c, start).kind(), Decision::Kind::kContinue);
  EXPECT_FALSE(c.accounting.usage.known) << "message_start alone is not the final usage";
  EXPECT_EQ(c.accounting.usage.input_tokens, 24);
  EXPECT_EQ(f.meter->on_event(c, delta).kind(), Decision::Kind::kContinue);
  EXPECT_TRUE(c.accounting.usage.known);
  EXPECT_EQ(c.accounting.usage.input_tokens, 24);
  EXPECT_EQ(c.accounting.usage.cached_input_tokens, 4);
  EXPECT_EQ(c.accounting.usage.output_tokens, 12);
}

// ---- on_response: a whole answer.

TEST(MeterStage, ReadsAWholeOpenAIAnswersUsage) {
  Fixture f;
  auto c = f.ctx("gpt", false, R"({"model":"gpt","messages":[]})");
  ASSERT_EQ(f.pipeline.on_attempt(c).kind(), Decision::Kind::kContinue);
  std::string body =
      R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],)"
      R"("usage":{"prompt_tokens":30,"completion_tokens":4,"total_tokens":34,"prompt_tokens_details":{"cached_tokens":10}}})";
  const std::string original = body;
  EXPECT_EQ(f.pipeline.on_response(c, body).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(body, original) << "the meter only reads";
  EXPECT_TRUE(c.accounting.usage.known);
  EXPECT_EQ(c.accounting.usage.input_tokens, 30);
  EXPECT_EQ(c.accounting.usage.cached_input_tokens, 10);
  EXPECT_EQ(c.accounting.usage.output_tokens, 4);
}

TEST(MeterStage, ReadsAWholeAnthropicAnswersUsageInItsShape) {
  Fixture f;
  auto c = f.ctx("claude", false, R"({"model":"claude","max_tokens":5,"messages":[]})");
  ASSERT_EQ(f.pipeline.on_attempt(c).kind(), Decision::Kind::kContinue);
  const std::string body =
      R"({"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"hi"}],)"
      R"("stop_reason":"end_turn","usage":{"input_tokens":10,"cache_creation_input_tokens":5,)"
      R"("cache_read_input_tokens":3,"output_tokens":7}})";
  EXPECT_EQ(f.meter->on_response(c, body).kind(), Decision::Kind::kContinue);
  EXPECT_TRUE(c.accounting.usage.known);
  EXPECT_EQ(c.accounting.usage.input_tokens, 18);
  EXPECT_EQ(c.accounting.usage.cached_input_tokens, 3);
  EXPECT_EQ(c.accounting.usage.output_tokens, 7);
}

// ---- on_stream_end: an error event inside the stream.

TEST(MeterStage, AnOpenAIErrorEventMarksTheStreamFailed) {
  Fixture f;
  auto c = f.ctx("gpt", true);
  ASSERT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kReplace);
  EXPECT_EQ(f.meter->on_event(c, kContentChunk).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(f.meter->on_event(c, "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n").kind(),
            Decision::Kind::kContinue)
      << "relayed as it is";
  EXPECT_EQ(c.outcome.error_code, "");
  EXPECT_EQ(f.pipeline.on_stream_end(c).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(c.outcome.error_code, "upstream_stream_error");
}

TEST(MeterStage, AnAnthropicErrorEventMarksTheStreamFailed) {
  Fixture f;
  auto c = f.ctx("claude", true, R"({"model":"claude","stream":true,"max_tokens":5,"messages":[]})");
  ASSERT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  f.meter->on_event(c, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n");
  f.meter->on_stream_end(c);
  EXPECT_EQ(c.outcome.error_code, "upstream_stream_error");
}

TEST(MeterStage, AStreamWithoutAnErrorEventIsNotMarked) {
  Fixture f;
  auto c = f.ctx("gpt", true);
  ASSERT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kReplace);
  // A chunk whose content mentions "error" is no error event.
  f.meter->on_event(c, "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\\"error\\\"\"}}]}\n\n");
  f.meter->on_event(c, kUsageChunk);
  f.meter->on_event(c, kDone);
  EXPECT_EQ(f.meter->on_stream_end(c).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(c.outcome.error_code, "");
  // No attempt was made (no state): nothing to say either.
  auto none = f.ctx("gpt", true);
  EXPECT_EQ(f.meter->on_event(none, kUsageChunk).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(f.meter->on_stream_end(none).kind(), Decision::Kind::kContinue);
  EXPECT_EQ(none.outcome.error_code, "");
}

// ---- meter(): the estimate and the price.

TEST(MeterStage, AnAcceptedRequestWithoutUsageIsChargedTheEstimate) {
  Fixture f;
  auto c = f.ctx("gpt", true);
  c.upstream.attempts = 1;
  c.upstream.upstream_answered = true;
  c.request.estimated_input_tokens = 1000;
  c.request.estimated_output_tokens = 500;
  MeterStage::meter(c);
  EXPECT_FALSE(c.accounting.usage.known);
  EXPECT_TRUE(c.accounting.usage.estimated);
  EXPECT_EQ(c.accounting.usage.input_tokens, 1000);
  EXPECT_EQ(c.accounting.usage.output_tokens, 500);
  EXPECT_DOUBLE_EQ(c.accounting.cost_usd, (1000 * 2 + 500 * 8) / 1e6);
  // The same however often it runs (on_settled, then on_complete).
  f.pipeline.on_settled(c);
  f.pipeline.on_complete(c);
  EXPECT_EQ(c.accounting.usage.input_tokens, 1000);
  EXPECT_EQ(c.accounting.usage.output_tokens, 500);
  EXPECT_DOUBLE_EQ(c.accounting.cost_usd, (1000 * 2 + 500 * 8) / 1e6);
}

TEST(MeterStage, NoProviderAcceptedItNothingIsCharged) {
  Fixture f;
  auto c = f.ctx("gpt", true);
  c.request.estimated_input_tokens = 1000;
  c.request.estimated_output_tokens = 500;
  c.upstream.upstream_answered = false;
  f.pipeline.on_settled(c);
  EXPECT_FALSE(c.accounting.usage.estimated);
  EXPECT_EQ(c.accounting.usage.total(), 0);
  EXPECT_EQ(c.accounting.cost_usd, 0);
}

TEST(MeterStage, AStreamCutAfterMessageStartTakesTheEstimateForWhatIsMissing) {
  Fixture f;
  auto c = f.ctx("claude", true, R"({"model":"claude","stream":true,"max_tokens":5,"messages":[]})");
  ASSERT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  f.meter->on_event(c,
                    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":50,"
                    "\"output_tokens\":1}}}\n\n");
  c.upstream.upstream_answered = true;
  c.request.estimated_input_tokens = 10;
  c.request.estimated_output_tokens = 100;
  MeterStage::meter(c);
  EXPECT_TRUE(c.accounting.usage.estimated);
  EXPECT_EQ(c.accounting.usage.input_tokens, 50) << "what the provider said, when more than the estimate";
  EXPECT_EQ(c.accounting.usage.output_tokens, 100);
  EXPECT_DOUBLE_EQ(c.accounting.cost_usd, (50 * 3 + 100 * 15) / 1e6);
}

TEST(MeterStage, ReportedUsageIsPricedAtTheServedModelsPrice) {
  Fixture f;
  auto c = f.ctx("gpt", false, R"({"model":"gpt","messages":[]})");
  // The route fell back from gpt to cheap: cheap served it.
  c.upstream.attempts = 2;
  f.target(c, "cheap", c.request.body);
  c.upstream.upstream_answered = true;
  c.request.estimated_input_tokens = 999'999;
  c.request.estimated_output_tokens = 999'999;
  ASSERT_EQ(f.meter->on_attempt(c).kind(), Decision::Kind::kContinue);
  std::string body =
      R"({"choices":[],"usage":{"prompt_tokens":4000,"completion_tokens":1000,"prompt_tokens_details":{"cached_tokens":2000}}})";
  f.pipeline.on_response(c, body);
  f.pipeline.on_settled(c);
  EXPECT_TRUE(c.accounting.usage.known);
  EXPECT_FALSE(c.accounting.usage.estimated) << "reported usage is not replaced by the estimate";
  EXPECT_EQ(c.accounting.usage.input_tokens, 4000);
  // cheap: 1 per million input, 0.5 cached, 1 output.
  EXPECT_DOUBLE_EQ(c.accounting.cost_usd, (2000 * 1 + 2000 * 0.5 + 1000 * 1) / 1e6);
  // A served model without a price costs nothing.
  f.target(c, "free", c.request.body);
  MeterStage::meter(c);
  EXPECT_EQ(c.accounting.cost_usd, 0);
  // Nothing served it: nothing to price.
  c.upstream.served_model = nullptr;
  MeterStage::meter(c);
  EXPECT_EQ(c.accounting.cost_usd, 0);
}

}  // namespace
}  // namespace gatehouse::pipeline
