// The guardrail stages (src/pipeline/guard.cpp) and their config (src/config/load_guardrails.cpp):
// input block/mask/log in every ingress shape, whole answers, streams masked across events in the
// provider's shape, the held text released before the event that closes its run, a block
// mid-stream, the records the hits leave, and the config's refusals with their places.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>

#include "api/text.h"
#include "config/load.h"
#include "gateway/classify.h"
#include "pipeline/guard.h"
#include "pipeline/pipeline.h"

namespace gatehouse::pipeline {
namespace {

const std::string kConfig = R"(providers:
  oai: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
  anth: {kind: anthropic, base_url: "http://127.0.0.1:9912"}
guardrails:
  pii: {kind: pii, entities: [EMAIL_ADDRESS, CREDIT_CARD], action: mask}
  dlp:
    kind: regex
    patterns:
      - {name: databricks-pat, regex: 'dapi[a-f0-9]{32}', action: block}
      - {name: ticket, regex: 'TICKET-[0-9]{4}', action: mask}
  shadow: {kind: pii, entities: [EMAIL_ADDRESS], action: log}
  classifier: {kind: model, model: guard}
models:
  chat: {provider: oai, guardrails: {input: [dlp, pii], output: [pii, dlp]}}
  claude: {provider: anth, guardrails: {input: [pii], output: [pii]}}
  plain: {provider: oai}
  shadowed: {provider: oai, guardrails: {input: [shadow]}}
  checked: {provider: oai, guardrails: {input: [classifier, pii]}}
  guard: {provider: oai}
  routed: {route: {targets: [{model: plain}, {model: chat}]}}
roles:
  contractor: {models: ["*"], guardrails: {input: [dlp]}}
)";

std::optional<std::string> no_env(const std::string&) { return std::nullopt; }

struct Fixture {
  std::shared_ptr<const config::Config> config;
  Pipeline pipeline;

  Fixture() {
    auto r = config::load_string(kConfig, "g.yaml", no_env);
    for (const auto& d : r.diagnostics) ADD_FAILURE() << d.to_string();
    config = r.config;
    if (!config) return;
    pipeline.add(std::make_unique<InputGuardStage>(*config, config->scanner));
    pipeline.add(std::make_unique<OutputGuardStage>(*config, config->scanner));
  }

  RequestContext request(const std::string& model, ApiShape shape, const std::string& body, bool stream = false,
                         ApiShape provider = ApiShape::kOpenAI) {
    RequestContext ctx;
    ctx.config = config.get();
    ctx.pipeline = &pipeline;
    ctx.ingress.shape = shape;
    ctx.request.model = model;
    ctx.request.model_config = &config->models.at(model);
    ctx.request.stream = stream;
    ctx.request.body_storage = body;
    ctx.request.body = ctx.request.body_storage;
    ctx.request.client_body = ctx.request.body;
    ctx.upstream.current.provider_shape = provider;
    return ctx;
  }

  // on_routed; the body the provider would get.
  Decision routed(RequestContext& ctx, std::string& body) {
    bool replaced = false;
    Decision d = pipeline.on_routed(ctx, &replaced);
    body = std::string(ctx.request.body);
    return d;
  }

  // A stream's events through on_event and on_stream_end: what the client would get.
  std::string stream(RequestContext& ctx, const std::vector<std::string>& events, std::optional<Error>* refused = nullptr) {
    pipeline.on_attempt(ctx);
    std::string out;
    for (const auto& e : events) {
      Decision d = pipeline.on_event(ctx, e);
      if (d.kind() == Decision::Kind::kRefuse) {
        if (refused) *refused = d.error();
        return out;
      }
      if (d.kind() == Decision::Kind::kReplace) {
        out += d.body();
      } else if (d.proceeds()) {
        out += e;
      }
    }
    Decision end = pipeline.on_stream_end(ctx);
    if (end.kind() == Decision::Kind::kReplace) out += end.body();
    return out;
  }
};

std::string chunk(const std::string& content) {
  return "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
         "\"delta\":{\"content\":" + boost::json::serialize(boost::json::value(content)) + "},\"finish_reason\":null}]}\n\n";
}
const std::string kFinish =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
const std::string kDone = "data: [DONE]\n\n";

// An Anthropic text delta of block 0.
std::string anthropic_delta(const std::string& t) {
  return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":" +
         boost::json::serialize(boost::json::value(t)) + "}}\n\n";
}
const std::string kBlockStop = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";

// The text a client reassembles from OpenAI chunks.
std::string content_of(const std::string& sse) {
  std::string text;
  std::size_t pos = 0;
  while ((pos = sse.find("data: {", pos)) != std::string::npos) {
    std::size_t eol = sse.find('\n', pos);
    auto v = boost::json::parse(sse.substr(pos + 6, eol - pos - 6));
    for (const auto& c : v.at("choices").as_array()) {
      const auto& d = c.at("delta").as_object();
      if (const auto* t = d.if_contains("content"); t && t->is_string()) text += t->as_string().c_str();
    }
    pos = eol;
  }
  return text;
}

const std::string kPat = "dapi0123456789abcdef0123456789abcdef";

TEST(GuardStage, ARequestWithNoHitGoesOnByteForByte) {
  Fixture f;
  const std::string body = R"({"model":"chat","messages":[{"role":"user","content":"hello there, nothing to see"}]})";
  auto ctx = f.request("chat", ApiShape::kOpenAI, body);
  std::string sent;
  EXPECT_TRUE(f.routed(ctx, sent).proceeds());
  EXPECT_EQ(sent, body);
  EXPECT_TRUE(ctx.guard.hits.empty());
  EXPECT_FALSE(ctx.guard.input_masked);
}

TEST(GuardStage, InputMasksReplaceOnlyTheStringsThatMatched) {
  Fixture f;
  const std::string body =
      R"({"model":"chat","messages":[{"role":"system","content":"be brief"},)"
      R"({"role":"user","content":[{"type":"text","text":"mail jane.doe@example.com about TICKET-1234"}]}]})";
  auto ctx = f.request("chat", ApiShape::kOpenAI, body);
  std::string sent;
  Decision d = f.routed(ctx, sent);
  ASSERT_TRUE(d.proceeds()) << d->message;
  EXPECT_EQ(sent, R"({"model":"chat","messages":[{"role":"system","content":"be brief"},)"
                  R"({"role":"user","content":[{"type":"text","text":"mail <EMAIL_ADDRESS> about <ticket>"}]}]})");
  EXPECT_TRUE(ctx.guard.input_masked);
  EXPECT_EQ(ctx.guard.summary(), "pii/EMAIL_ADDRESS:mask:input dlp/ticket:mask:input");
}

TEST(GuardStage, AnInputBlockNamesTheGuardrailAndPatternNeverTheText) {
  Fixture f;
  const std::string body = R"({"model":"chat","messages":[{"role":"user","content":"my token is )" + kPat + R"("}]})";
  auto ctx = f.request("chat", ApiShape::kOpenAI, body);
  std::string sent;
  Decision d = f.routed(ctx, sent);
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(d->status, 400);
  EXPECT_EQ(d->code, "guardrail_blocked");
  EXPECT_EQ(d->type, "guardrail_blocked");
  EXPECT_NE(d->message.find("'dlp'"), std::string::npos) << d->message;
  EXPECT_NE(d->message.find("databricks-pat"), std::string::npos) << d->message;
  EXPECT_EQ(d->message.find("dapi0123"), std::string::npos) << d->message;
  EXPECT_EQ(ctx.guard.blocked, "dlp/databricks-pat");
}

TEST(GuardStage, AnthropicSystemToolUseAndToolResultsAreScanned) {
  Fixture f;
  const std::string body =
      R"({"model":"claude","max_tokens":10,"system":[{"type":"text","text":"owner: ann@corp.example"}],"messages":[)"
      R"({"role":"user","content":"hi"},)"
      R"({"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"send","input":{"to":"bob@corp.example"}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sent to bob@corp.example"}]}]})";
  auto ctx = f.request("claude", ApiShape::kAnthropic, body);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  EXPECT_EQ(sent.find("@corp.example"), std::string::npos) << sent;
  EXPECT_NE(sent.find(R"("input":{"to":"<EMAIL_ADDRESS>"})"), std::string::npos) << sent;
  EXPECT_NE(sent.find(R"("tool_use_id":"t1")"), std::string::npos) << sent;  // ids untouched
  ASSERT_EQ(ctx.guard.hits.size(), 1u);
  EXPECT_EQ(ctx.guard.hits[0].count, 3);
}

TEST(GuardStage, ADatabricksInvocationAndEmbeddingsInputAreScanned) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kDatabricks, R"({"messages":[{"role":"user","content":"x@y.example.com"}]})");
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  EXPECT_EQ(sent, R"({"messages":[{"role":"user","content":"<EMAIL_ADDRESS>"}]})");
  auto emb = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","input":["a@b.example.org","fine"]})");
  emb.request.op = api::Operation::kEmbeddings;
  ASSERT_TRUE(f.routed(emb, sent).proceeds());
  EXPECT_EQ(sent, R"({"model":"chat","input":["<EMAIL_ADDRESS>","fine"]})");
}

TEST(GuardStage, ShadowModeChangesNothingAndRecordsTheHit) {
  Fixture f;
  const std::string body = R"({"model":"shadowed","messages":[{"role":"user","content":"jane@example.com"}]})";
  auto ctx = f.request("shadowed", ApiShape::kOpenAI, body);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  EXPECT_EQ(sent, body);
  EXPECT_EQ(ctx.guard.summary(), "shadow/EMAIL_ADDRESS:log:input");
}

TEST(GuardStage, ARolesGuardrailsApplyAfterTheModels) {
  Fixture f;
  const auto& role = f.config->roles.at("contractor");
  auto ctx = f.request("plain", ApiShape::kOpenAI, R"({"model":"plain","messages":[{"role":"user","content":")" + kPat + R"("}]})");
  std::string sent;
  EXPECT_TRUE(f.routed(ctx, sent).proceeds());  // no role: plain has no guardrails
  auto with_role = f.request("plain", ApiShape::kOpenAI, R"({"model":"plain","messages":[{"role":"user","content":")" + kPat + R"("}]})");
  with_role.identity.roles.push_back(&role);
  EXPECT_EQ(f.routed(with_role, sent).kind(), Decision::Kind::kRefuse);
}

TEST(GuardStage, ARouteTakesEveryTargetsGuardrails) {
  Fixture f;
  auto ctx = f.request("routed", ApiShape::kOpenAI, R"({"model":"routed","messages":[{"role":"user","content":")" + kPat + R"("}]})");
  std::string sent;
  Decision d = f.routed(ctx, sent);
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(ctx.guard.blocked, "dlp/databricks-pat");
  const GuardrailPlan plan = plan_guardrails(*f.config, ctx);
  EXPECT_EQ(plan.output, plan_guardrails(*f.config, f.request("chat", ApiShape::kOpenAI, "{}")).output);
}

TEST(GuardStage, AModelGuardrailIsLeftForTheLlmPathWithTheMaskedText) {
  Fixture f;
  auto ctx = f.request("checked", ApiShape::kOpenAI, R"({"model":"checked","messages":[{"role":"user","content":"hi a@b.example.com"}]})");
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  ASSERT_EQ(ctx.guard.checks.size(), 1u);
  EXPECT_EQ(ctx.guard.checks[0].guardrail->name, "classifier");
  EXPECT_EQ(ctx.guard.checks[0].text, "hi <EMAIL_ADDRESS>\n");
}

TEST(GuardStage, AWholeAnswerIsMaskedOrRefusedInTheProvidersShape) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})");
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  f.pipeline.on_attempt(ctx);
  std::string answer = R"({"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"call 4111 1111 1111 1111"}}]})";
  ASSERT_TRUE(f.pipeline.on_response(ctx, answer).proceeds());
  EXPECT_EQ(answer, R"({"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"call <CREDIT_CARD>"}}]})");
  std::string leak = R"({"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":")" + kPat + R"("}}]})";
  Decision d = f.pipeline.on_response(ctx, leak);
  ASSERT_EQ(d.kind(), Decision::Kind::kRefuse);
  EXPECT_EQ(d->code, "guardrail_blocked");
  EXPECT_NE(d->message.find("answer"), std::string::npos);
  EXPECT_EQ(ctx.guard.summary(), "pii/CREDIT_CARD:mask:output dlp/databricks-pat:block:output");
}

TEST(GuardStage, AnEmailSplitAcrossEventsIsMaskedAndNoPieceOfItReachesTheClient) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  std::string out = f.stream(ctx, {chunk("Write to jane.do"), chunk("e@exam"), chunk("ple.com today."), kFinish, kDone});
  EXPECT_EQ(content_of(out), "Write to <EMAIL_ADDRESS> today.");
  EXPECT_EQ(out.find("jane"), std::string::npos) << out;
  EXPECT_EQ(out.find("exam"), std::string::npos) << out;
  // The finish chunk and [DONE] still close the stream, after the text.
  EXPECT_LT(out.rfind("<EMAIL_ADDRESS>"), out.find("\"finish_reason\":\"stop\""));
  EXPECT_TRUE(out.ends_with(kDone));
}

// The answer's text cut into events at every possible place (two events, then three): what the
// client reassembles is the masked text, and no event carries a piece of the address or card.
TEST(GuardStage, AValueCutAtEveryEventBoundaryIsMasked) {
  Fixture f;
  const std::string text = "Mail jane.doe@example.com or pay 4111 1111 1111 1111, thanks.";
  const std::string masked = "Mail <EMAIL_ADDRESS> or pay <CREDIT_CARD>, thanks.";
  auto run = [&](const std::vector<std::string>& parts) {
    auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
    std::string sent;
    EXPECT_TRUE(f.routed(ctx, sent).proceeds());
    std::vector<std::string> events;
    for (const auto& p : parts) events.push_back(chunk(p));
    events.push_back(kFinish);
    events.push_back(kDone);
    return f.stream(ctx, events);
  };
  for (std::size_t a = 1; a < text.size(); ++a) {
    std::string out = run({text.substr(0, a), text.substr(a)});
    ASSERT_EQ(content_of(out), masked) << "cut at " << a;
    ASSERT_EQ(out.find("jane"), std::string::npos) << "cut at " << a;
    ASSERT_EQ(out.find("1111"), std::string::npos) << "cut at " << a;
    for (std::size_t b = a + 1; b < text.size(); b += 3) {
      out = run({text.substr(0, a), text.substr(a, b - a), text.substr(b)});
      ASSERT_EQ(content_of(out), masked) << "cuts at " << a << ", " << b;
      ASSERT_EQ(out.find("example"), std::string::npos) << "cuts at " << a << ", " << b;
    }
  }
}

TEST(GuardStage, HeldTextIsReleasedInAnEventOfItsOwnBeforeTheRunCloses) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  // The stream ends on a word that might have grown into an address.
  std::string out = f.stream(ctx, {chunk("ask jane.doe"), kFinish, kDone});
  EXPECT_EQ(content_of(out), "ask jane.doe");
  EXPECT_LT(out.rfind("jane.doe"), out.find("\"finish_reason\":\"stop\""));
}

TEST(GuardStage, AnAnthropicStreamIsMaskedPerContentBlock) {
  Fixture f;
  auto ctx = f.request("claude", ApiShape::kAnthropic, R"({"model":"claude","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]})",
                       true, ApiShape::kAnthropic);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  const std::string start = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
  const std::string ping = "event: ping\ndata: {\"type\":\"ping\"}\n\n";
  std::string out = f.stream(ctx, {start, anthropic_delta("to jo@ex"), ping, anthropic_delta("ample.org"), kBlockStop});
  EXPECT_EQ(out.find("jo@"), std::string::npos) << out;
  EXPECT_EQ(out.find("ample.org"), std::string::npos) << out;
  EXPECT_NE(out.find("<EMAIL_ADDRESS>"), std::string::npos) << out;
  EXPECT_LT(out.find("<EMAIL_ADDRESS>"), out.find("content_block_stop"));
}

// A text delta whose text is the name of a closing event ("error", "message_stop") closes
// nothing: what an event is comes from its name, not from a search of its text.
TEST(GuardStage, AnAnthropicDeltaSayingErrorDoesNotResetTheScan) {
  Fixture f;
  auto ctx = f.request("claude", ApiShape::kAnthropic, R"({"model":"claude","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]})",
                       true, ApiShape::kAnthropic);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  for (const char* word : {"error", "message_stop", "content_block_stop"}) {
    std::string out = f.stream(ctx, {anthropic_delta("Mail "), anthropic_delta(word), anthropic_delta("@example.com now"), kBlockStop});
    EXPECT_EQ(out.find("@example.com"), std::string::npos) << word << ": " << out;
    EXPECT_NE(out.find("<EMAIL_ADDRESS>"), std::string::npos) << word << ": " << out;
  }
}

// One chunk with the run's first text and its finish_reason: the text's tail is released in that
// chunk, not after it.
TEST(GuardStage, AFinishChunkThatCarriesTheOnlyTextReleasesItInPlace) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  const std::string only =
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"content\":\"Write to jane@example.com\"},\"finish_reason\":\"stop\"}]}\n\n";
  std::string out = f.stream(ctx, {only, kDone});
  EXPECT_EQ(out, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
                 "\"delta\":{\"content\":\"Write to <EMAIL_ADDRESS>\"},\"finish_reason\":\"stop\"}]}\n\n" + kDone);
}

// Held reasoning goes out as reasoning, not as a tool call.
TEST(GuardStage, HeldReasoningIsReleasedAsReasoning) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  const std::string thinking =
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"reasoning_content\":\"think of jane.doe\"},\"finish_reason\":null}]}\n\n";
  std::string out = f.stream(ctx, {thinking, kFinish, kDone});
  EXPECT_EQ(out.find("tool_calls"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("reasoning_content":"jane.doe")"), std::string::npos) << out;
}

TEST(GuardStage, ABlockMidStreamEndsItBeforeAnyPartOfTheMatchWasSent) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  std::optional<Error> refused;
  std::string out = f.stream(ctx, {chunk("the key: dapi0123"), chunk("456789abcdef0123456789ab"), chunk("cdef and more"), kDone}, &refused);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code, "guardrail_blocked");
  EXPECT_EQ(out.find("dapi"), std::string::npos) << out;
  EXPECT_EQ(out.find("0123"), std::string::npos) << out;
}

// Found by tests/fuzz/fuzz_events: held text was dropped when the event it came in (the model
// for the delta event that releases it) had a value Boost.JSON refuses outside the text, which
// event_texts (simdjson, reading only the text) had accepted. Now the delta is written from
// defaults; the Anthropic delta keeps its type.
TEST(GuardStage, HeldTextIsReleasedEvenWhenItsEventDoesNotParseWhole) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  const std::string odd =
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"write to jane\"},\"finish_reason\":nuld}]}\n\n";
  std::string out = f.stream(ctx, {odd, kDone});
  // "jane" was held (it may become an address) and goes out before [DONE], in a delta of its own.
  const auto at = out.find(R"("delta":{"content":"jane"})");
  EXPECT_NE(at, std::string::npos) << out;
  EXPECT_LT(at, out.find(kDone)) << out;

  auto actx = f.request("claude", ApiShape::kAnthropic, R"({"model":"claude","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]})",
                        true, ApiShape::kAnthropic);
  ASSERT_TRUE(f.routed(actx, sent).proceeds());
  const std::string deep = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
                           "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"to\\\":\\\"bob\"},\"x\":tru}\n\n";
  const std::string stop = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n";
  out = f.stream(actx, {deep, kBlockStop});
  EXPECT_NE(out.find(R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"bob"}})"),
            std::string::npos)
      << out;
}

// Found by tests/fuzz/fuzz_events: a chunk that closes a run (finish_reason) and carries two
// pieces of it (two tool_calls entries of one index, which a client joins) finished the run
// after the first piece, deciding its end without the second: an address split between them
// went out unmasked. The run is finished after its last piece in the event now.
TEST(GuardStage, ARunIsClosedAfterItsLastPieceInTheEvent) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kOpenAI, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  const std::string event =
      R"(data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"to\":\"jane.doe@exam"}},)"
      R"({"index":0,"function":{"arguments":"ple.com\"}"}}]},"finish_reason":"tool_calls"}]})"
      "\n\n";
  std::string out = f.stream(ctx, {event, kDone});
  std::string arguments;
  auto v = boost::json::parse(out.substr(6, out.find('\n') - 6));
  for (const auto& call : v.at("choices").at(0).at("delta").at("tool_calls").as_array())
    arguments += call.at("function").at("arguments").as_string().c_str();
  EXPECT_EQ(arguments, R"({"to":"<EMAIL_ADDRESS>"})") << out;
}

TEST(GuardStage, AStreamWithNoGuardrailsPassesEveryEventAsItCame) {
  Fixture f;
  auto ctx = f.request("plain", ApiShape::kOpenAI, R"({"model":"plain","stream":true,"messages":[{"role":"user","content":"hi"}]})", true);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  f.pipeline.on_attempt(ctx);
  EXPECT_TRUE(f.pipeline.on_event(ctx, chunk("mail jane@example.com")).proceeds());
}

TEST(GuardStage, TheTestReportShowsMatchesAndTheOutput) {
  Fixture f;
  auto report = test_guardrail(*f.config, "pii", "mail jane@example.com now");
  ASSERT_TRUE(std::holds_alternative<std::string>(report));
  auto v = boost::json::parse(std::get<std::string>(report));
  EXPECT_EQ(v.at("result").as_string(), "mask");
  EXPECT_EQ(v.at("output").as_string(), "mail <EMAIL_ADDRESS> now");
  EXPECT_EQ(v.at("matches").as_array().at(0).at("start").to_number<int>(), 5);
  EXPECT_TRUE(std::holds_alternative<Error>(test_guardrail(*f.config, "nope", "x")));
  EXPECT_TRUE(std::holds_alternative<Error>(test_guardrail(*f.config, "classifier", "x")));
}

// ---- The Responses shape: a native Responses provider (OpenAI), a Databricks agent.

// One Responses stream event, with an `event:` line as OpenAI sends them (a Databricks agent
// sends the data line only).
std::string responses_event(const std::string& data, bool event_line = true) {
  const std::string type = boost::json::parse(data).at("type").as_string().c_str();
  return (event_line ? "event: " + type + "\n" : std::string()) + "data: " + data + "\n\n";
}
std::string text_delta(const std::string& text, int sequence) {
  return responses_event(R"({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":)" +
                         boost::json::serialize(boost::json::value(text)) + R"(,"logprobs":[],"sequence_number":)" +
                         std::to_string(sequence) + "}");
}

// What a Responses client reads of a stream: the deltas joined, and each whole text (a `.done`
// event's, an item's, the completed response's) in order.
struct ResponsesRead {
  std::string deltas;
  std::vector<std::string> wholes;
};
ResponsesRead responses_read(const std::string& sse) {
  ResponsesRead out;
  for (std::size_t at = 0; at < sse.size();) {
    const std::size_t end = sse.find("\n\n", at) + 2;
    EXPECT_TRUE(api::event_texts(ApiShape::kResponses, sse.substr(at, end - at), [&](const api::TextPiece& p) {
      if (p.whole) {
        out.wholes.emplace_back(p.text);
      } else {
        out.deltas += p.text;
      }
    })) << sse.substr(at, end - at);
    at = end;
  }
  return out;
}

TEST(GuardStage, AResponsesRequestAndADatabricksAgentsInvocationAreScanned) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kResponses,
                       R"({"model":"chat","instructions":"owner ann@corp.example","input":[{"role":"user","content":[)"
                       R"({"type":"input_text","text":"about TICKET-1234"}]},{"type":"function_call_output","call_id":"c",)"
                       R"("output":"sent to bob@corp.example"}]})");
  ctx.request.op = api::Operation::kResponses;
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  EXPECT_EQ(sent, R"({"model":"chat","instructions":"owner <EMAIL_ADDRESS>","input":[{"role":"user","content":[)"
                  R"({"type":"input_text","text":"about <ticket>"}]},{"type":"function_call_output","call_id":"c",)"
                  R"("output":"sent to <EMAIL_ADDRESS>"}]})");
  // At a Databricks endpoint: the body is an agent's Responses request, not a chat invocation.
  auto agent = f.request("chat", ApiShape::kDatabricks, R"({"input":[{"role":"user","content":"mail x@y.example.com"}]})");
  agent.request.op = api::Operation::kResponses;
  ASSERT_TRUE(f.routed(agent, sent).proceeds());
  EXPECT_EQ(sent, R"({"input":[{"role":"user","content":"mail <EMAIL_ADDRESS>"}]})");
}

TEST(GuardStage, AWholeResponsesObjectIsMasked) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kResponses, R"({"model":"chat","input":"hi"})", false, ApiShape::kResponses);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  f.pipeline.on_attempt(ctx);
  std::string answer = R"({"object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"to jo@ex.example.org"}]},)"
                       R"({"type":"function_call","name":"f","arguments":"{\"t\":\"TICKET-0001\"}"}]})";
  ASSERT_TRUE(f.pipeline.on_response(ctx, answer).proceeds());
  EXPECT_EQ(answer, R"({"object":"response","output":[{"type":"message","content":[{"type":"output_text","text":"to <EMAIL_ADDRESS>"}]},)"
                    R"({"type":"function_call","name":"f","arguments":"{\"t\":\"<ticket>\"}"}]})");
}

// An address split across two deltas is masked as it flows, and the whole copies of the text
// (output_text.done, content_part.done, output_item.done, response.completed) are masked the same
// way; the hit is counted once, not once per copy.
TEST(GuardStage, AResponsesStreamIsMaskedInItsDeltasAndInEveryWholeCopy) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kResponses, R"({"model":"chat","stream":true,"input":"hi"})", true, ApiShape::kResponses);
  ctx.request.op = api::Operation::kResponses;
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  const std::string full = "Write to jane.doe@example.com re TICKET-1234.";
  const std::string item = R"({"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":)" +
                           boost::json::serialize(boost::json::value(full)) + R"(,"annotations":[]}]})";
  const std::string quoted = boost::json::serialize(boost::json::value(full));
  std::string out = f.stream(ctx, {
      responses_event(R"({"type":"response.created","response":{"id":"r","output":[],"usage":null},"sequence_number":0})"),
      responses_event(R"({"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","content":[]},"sequence_number":1})"),
      text_delta("Write to jane.do", 2),
      text_delta("e@example.com re TICKET-1234.", 3),
      responses_event(R"({"type":"response.output_text.done","item_id":"msg_1","output_index":0,"content_index":0,"text":)" + quoted +
                      R"(,"logprobs":[],"sequence_number":4})"),
      responses_event(R"({"type":"response.content_part.done","item_id":"msg_1","output_index":0,"content_index":0,)"
                      R"("part":{"type":"output_text","text":)" + quoted + R"(},"sequence_number":5})"),
      responses_event(R"({"type":"response.output_item.done","output_index":0,"item":)" + item + R"(,"sequence_number":6})"),
      responses_event(R"({"type":"response.completed","response":{"id":"r","output":[)" + item +
                      R"(],"usage":{"input_tokens":3,"output_tokens":12}},"sequence_number":7})"),
  });
  const std::string masked = "Write to <EMAIL_ADDRESS> re <ticket>.";
  EXPECT_EQ(out.find("jane"), std::string::npos) << out;
  EXPECT_EQ(out.find("example.com"), std::string::npos) << out;
  EXPECT_EQ(out.find("1234"), std::string::npos) << out;
  const ResponsesRead read = responses_read(out);
  EXPECT_EQ(read.deltas, masked);
  EXPECT_EQ(read.wholes, (std::vector<std::string>{masked, masked, masked, masked}));
  EXPECT_EQ(ctx.guard.summary(), "pii/EMAIL_ADDRESS:mask:output dlp/ticket:mask:output");
}

// Text held at the end of a run goes out in a delta event of its own before the `.done` event
// that closes it, with the run's identity and the sequence number of the delta it continues.
TEST(GuardStage, HeldResponsesTextIsReleasedBeforeTheDoneEvent) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kResponses, R"({"model":"chat","stream":true,"input":"hi"})", true, ApiShape::kResponses);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  const std::string done = responses_event(R"({"type":"response.output_text.done","item_id":"msg_1","output_index":0,)"
                                           R"("content_index":0,"text":"ask jane.doe","sequence_number":3})");
  std::string out = f.stream(ctx, {text_delta("ask jane.doe", 2), done});
  EXPECT_EQ(out, text_delta("ask ", 2) + text_delta("jane.doe", 2) + done);
}

// A Databricks agent: data lines only, deltas by item id, an output_item.done per item — one
// that repeats the streamed text, one whose text was never streamed (its hit counts).
TEST(GuardStage, ADatabricksAgentsStreamIsMaskedPerItem) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kDatabricks, R"({"input":[{"role":"user","content":"hi"}]})", true, ApiShape::kResponses);
  ctx.request.op = api::Operation::kResponses;
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  auto delta = [](const std::string& text) {
    return responses_event(R"({"type":"response.output_text.delta","item_id":"a1","delta":)" +
                           boost::json::serialize(boost::json::value(text)) + "}", false);
  };
  std::string out = f.stream(ctx, {
      delta("Mail jane.do"),
      delta("e@example.com now"),
      responses_event(R"({"type":"response.output_item.done","item":{"type":"message","id":"a1","role":"assistant",)"
                      R"("content":[{"type":"output_text","text":"Mail jane.doe@example.com now"}]}})", false),
      responses_event(R"({"type":"response.output_item.done","item":{"type":"function_call_output","call_id":"c",)"
                      R"("output":"ticket TICKET-4321 for bob@corp.example"}})", false),
  });
  EXPECT_EQ(out.find("jane"), std::string::npos) << out;
  EXPECT_EQ(out.find("bob@"), std::string::npos) << out;
  EXPECT_EQ(out.find("event:"), std::string::npos) << out;
  const ResponsesRead read = responses_read(out);
  EXPECT_EQ(read.deltas, "Mail <EMAIL_ADDRESS> now");
  EXPECT_EQ(read.wholes, (std::vector<std::string>{"Mail <EMAIL_ADDRESS> now", "ticket <ticket> for <EMAIL_ADDRESS>"}));
  EXPECT_EQ(ctx.guard.summary(), "pii/EMAIL_ADDRESS:mask:outputx2 dlp/ticket:mask:output");
}

// A block in the deltas ends the stream before any of the match went out; one in a text sent
// only whole (an agent's item) refuses that event.
TEST(GuardStage, AResponsesBlockEndsTheStream) {
  Fixture f;
  auto ctx = f.request("chat", ApiShape::kResponses, R"({"model":"chat","stream":true,"input":"hi"})", true, ApiShape::kResponses);
  std::string sent;
  ASSERT_TRUE(f.routed(ctx, sent).proceeds());
  std::optional<Error> refused;
  std::string out = f.stream(
      ctx, {text_delta("the key: dapi0123", 1), text_delta("456789abcdef0123456789abcdef", 2), text_delta(" and more", 3)},
      &refused);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code, "guardrail_blocked");
  EXPECT_EQ(out.find("dapi"), std::string::npos) << out;

  refused.reset();
  out = f.stream(ctx, {responses_event(R"({"type":"response.output_item.done","item":{"type":"message","id":"b",)"
                                       R"("content":[{"type":"output_text","text":"key )" + kPat + R"("}]}})", false)},
                 &refused);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(out, "");
}

TEST(GuardVerdict, LlamaGuardsConventionIsRead) {
  using gateway::read_verdict;
  using gateway::Verdict;
  EXPECT_TRUE(std::get<Verdict>(read_verdict("safe")).safe);
  EXPECT_TRUE(std::get<Verdict>(read_verdict("\n\n Safe \n")).safe);
  auto u = std::get<Verdict>(read_verdict("unsafe\nS1,S10"));
  EXPECT_FALSE(u.safe);
  EXPECT_EQ(u.categories, "S1,S10");
  EXPECT_TRUE(std::holds_alternative<Error>(read_verdict("I cannot help with that")));
  EXPECT_TRUE(std::holds_alternative<Error>(read_verdict("")));
}

std::vector<config::Diagnostic> problems(const std::string& yaml) {
  return config::load_string(yaml, "g.yaml", no_env).diagnostics;
}
std::string all(const std::vector<config::Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.to_string() + "\n";
  return out;
}

TEST(GuardConfig, AnInvalidPatternIsAnErrorAtItsPlaceWithTheCompilersMessage) {
  auto ds = problems(R"(guardrails:
  dlp:
    kind: regex
    patterns:
      - {name: bad, regex: '(unclosed'}
)");
  ASSERT_EQ(ds.size(), 1u) << all(ds);
  EXPECT_EQ(ds[0].line, 5);
  EXPECT_NE(ds[0].message.find("patterns[0] (bad)"), std::string::npos) << ds[0].message;
  EXPECT_NE(ds[0].message.find("does not compile"), std::string::npos) << ds[0].message;
}

TEST(GuardConfig, UnknownEntitiesKindsActionsAndNamesAreErrors) {
  auto ds = problems(R"(providers:
  oai: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
guardrails:
  pii: {kind: pii, entities: [EMAIL, CREDIT_CARD], action: redact}
  odd: {kind: magic}
  m: {kind: model, model: nowhere}
models:
  chat: {provider: oai, guardrails: {input: [pii, missing], output: [m]}}
roles:
  r: {models: ["*"], guardrails: {input: [ghost]}}
)");
  const std::string text = all(ds);
  EXPECT_NE(text.find("g.yaml:4:31: guardrails.pii.entities: unknown entity 'EMAIL'"), std::string::npos) << text;
  EXPECT_NE(text.find("guardrails.pii.action must be one of block, mask, log"), std::string::npos) << text;
  EXPECT_NE(text.find("guardrails.odd.kind must be one of"), std::string::npos) << text;
  EXPECT_NE(text.find("model 'nowhere' is not defined"), std::string::npos) << text;
  EXPECT_NE(text.find("guardrail 'missing' is not defined under guardrails"), std::string::npos) << text;
  EXPECT_NE(text.find("'m' is a model guardrail; those check inputs only"), std::string::npos) << text;
  EXPECT_NE(text.find("roles.r.guardrails.input: guardrail 'ghost'"), std::string::npos) << text;
}

TEST(GuardConfig, KeysOfAnotherKindAreErrorsNotNoOps) {
  auto ds = problems(R"(guardrails:
  s: {kind: secrets, patterns: [{name: x, regex: y}], region: US}
)");
  const std::string text = all(ds);
  EXPECT_NE(text.find("guardrails.s.patterns does not apply to a secrets guardrail"), std::string::npos) << text;
  EXPECT_NE(text.find("guardrails.s.region does not apply to a secrets guardrail"), std::string::npos) << text;
}

}  // namespace
}  // namespace gatehouse::pipeline
