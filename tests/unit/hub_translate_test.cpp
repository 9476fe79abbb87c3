// Translation through the hub (src/translate/hub.cpp): which shape pairs are translated, that a
// request or an answer going through the hub comes out as the direct codec's output (the golden
// samples of translate_test, whole and streamed), and api::find_spans, which locates the members
// the gateway edits in a body a stage or a translation produced.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "api/request.h"
#include "http/sse.h"
#include "translate/hub.h"
#include "translate/translate.h"

namespace gatehouse::translate {
namespace {

namespace fs = std::filesystem;

fs::path golden(const std::string& direction) { return fs::path(GATEHOUSE_TRANSLATE_GOLDEN_DIR) / direction; }

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// The golden inputs in `direction` whose names start with `prefix`, sorted.
std::vector<fs::path> inputs(const std::string& direction, const std::string& prefix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(golden(direction))) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(prefix) && name.find(".in.") != std::string::npos) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A translation's result as text: the body, or the error's status and message.
std::string text(const std::variant<std::string, Error>& r) {
  if (const auto* e = std::get_if<Error>(&r)) return "error " + std::to_string(e->status) + " " + e->param + ": " + e->message;
  return std::get<std::string>(r);
}

// What a translator generates differently each time: creation times and generated message ids.
std::string normalised(std::string s) {
  static const std::regex created("\"created\":[0-9]+");
  static const std::regex generated_id("msg_gh[0-9a-f]{16}");
  s = std::regex_replace(s, created, "\"created\":0");
  return std::regex_replace(s, generated_id, "msg_gh<id>");
}

// A provider's stream through `t`, event by event, then its end.
std::string stream(ResponseTranslator& t, std::string_view provider_stream) {
  std::string out;
  http::SseSplitter splitter;
  for (auto event : splitter.feed(provider_stream)) t.event(event, out);
  if (!splitter.pending().empty()) t.event(std::string(splitter.pending()) + "\n\n", out);
  t.finish(out);
  return out;
}

// ---- Which pairs are translated.

TEST(Hub, OnlyDifferentBodyShapesAreTranslated) {
  EXPECT_FALSE(needs_translation(ApiShape::kOpenAI, ApiShape::kOpenAI));
  EXPECT_FALSE(needs_translation(ApiShape::kOpenAI, ApiShape::kDatabricks));
  EXPECT_FALSE(needs_translation(ApiShape::kDatabricks, ApiShape::kOpenAI));
  EXPECT_FALSE(needs_translation(ApiShape::kDatabricks, ApiShape::kDatabricks));
  EXPECT_FALSE(needs_translation(ApiShape::kAnthropic, ApiShape::kAnthropic));
  EXPECT_TRUE(needs_translation(ApiShape::kOpenAI, ApiShape::kAnthropic));
  EXPECT_TRUE(needs_translation(ApiShape::kDatabricks, ApiShape::kAnthropic));
  EXPECT_TRUE(needs_translation(ApiShape::kAnthropic, ApiShape::kOpenAI));
  EXPECT_TRUE(needs_translation(ApiShape::kAnthropic, ApiShape::kDatabricks));
}

// Between two shapes with the same body, the request's bytes are left as they are.
TEST(Hub, AlikeBodiesPassThroughUntouched) {
  const std::string body = R"({"model":"m",  "messages":[{"role":"user","content":"hi"}], "x_vendor": {"a": 1}})";
  EXPECT_EQ(text(translate_request(ApiShape::kOpenAI, ApiShape::kDatabricks, body, {})), body);
  EXPECT_EQ(text(translate_request(ApiShape::kDatabricks, ApiShape::kOpenAI, body, {})), body);
  EXPECT_EQ(text(translate_request(ApiShape::kOpenAI, ApiShape::kOpenAI, body, {})), body);
}

// ---- Requests: the hub's output is the direct codec's.

TEST(Hub, AnthropicRequestsToAnOpenAIShapedProviderAreTheCodecs) {
  const auto cases = inputs("anthropic_to_openai", "request_");
  ASSERT_GE(cases.size(), 5u);
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string body = read_text(path);
    const ChatTarget target{.reasoning_effort = path.filename().string().find("reasoning_effort") != std::string::npos};
    const std::string direct = text(anthropic_request_to_openai(body, target));
    RequestOptions options;
    options.chat = target;
    EXPECT_EQ(text(translate_request(ApiShape::kAnthropic, ApiShape::kOpenAI, body, options)), direct);
    EXPECT_EQ(text(translate_request(ApiShape::kAnthropic, ApiShape::kDatabricks, body, options)), direct);
  }
}

// The model's reasoning_effort setting reaches the codec through RequestOptions.
TEST(Hub, TheChatTargetOptionReachesTheCodec) {
  const std::string body = read_text(golden("anthropic_to_openai") / "request_claude_code_reasoning_effort.in.json");
  RequestOptions with;
  with.chat.reasoning_effort = true;
  RequestOptions without;
  const std::string a = text(translate_request(ApiShape::kAnthropic, ApiShape::kOpenAI, body, with));
  const std::string b = text(translate_request(ApiShape::kAnthropic, ApiShape::kOpenAI, body, without));
  EXPECT_EQ(a, text(anthropic_request_to_openai(body, {.reasoning_effort = true})));
  EXPECT_EQ(b, text(anthropic_request_to_openai(body, {.reasoning_effort = false})));
  EXPECT_NE(a, b) << "the sample's effort is kept for a reasoning model only";
}

TEST(Hub, OpenAIRequestsToAnAnthropicProviderAreTheCodecs) {
  const auto cases = inputs("openai_to_anthropic", "request_");
  ASSERT_GE(cases.size(), 5u);
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string body = read_text(path);
    for (int max_tokens : {4096, 77}) {
      const std::string direct = text(openai_request_to_anthropic(body, max_tokens));
      RequestOptions options;
      options.default_max_tokens = max_tokens;
      EXPECT_EQ(text(translate_request(ApiShape::kOpenAI, ApiShape::kAnthropic, body, options)), direct);
      EXPECT_EQ(text(translate_request(ApiShape::kDatabricks, ApiShape::kAnthropic, body, options)), direct);
    }
  }
  // A request without max_tokens gets the provider's default.
  const std::string none = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  RequestOptions options;
  options.default_max_tokens = 77;
  auto out = translate_request(ApiShape::kOpenAI, ApiShape::kAnthropic, none, options);
  ASSERT_TRUE(std::holds_alternative<std::string>(out)) << text(out);
  EXPECT_EQ(boost::json::parse(std::get<std::string>(out)).at("max_tokens"), 77);
}

TEST(Hub, ARequestTheTargetCannotExpressIsThe400OfTheCodec) {
  const std::string n2 = R"({"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]})";
  auto out = translate_request(ApiShape::kOpenAI, ApiShape::kAnthropic, n2, {});
  ASSERT_TRUE(std::holds_alternative<Error>(out));
  EXPECT_EQ(std::get<Error>(out).status, 400);
  EXPECT_EQ(text(out), text(openai_request_to_anthropic(n2, 4096)));
}

// ---- Answers: translate_response(provider's shape, client's shape) is the direct translator.

TEST(Hub, AnAnthropicAnswerBecomesChatLikeTheDirectTranslator) {
  const auto cases = inputs("anthropic_to_openai", "response_");
  ASSERT_GE(cases.size(), 3u);
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string body = read_text(path);
    const std::string direct = normalised(text(anthropic_response_to_openai(false)->body(body)));
    for (ApiShape client : {ApiShape::kOpenAI, ApiShape::kDatabricks}) {
      auto t = translate_response(ApiShape::kAnthropic, client, false);
      ASSERT_TRUE(t);
      EXPECT_EQ(normalised(text(t->body(body))), direct);
    }
  }
}

TEST(Hub, AChatAnswerBecomesAnthropicLikeTheDirectTranslator) {
  const auto cases = inputs("openai_to_anthropic", "response_");
  ASSERT_GE(cases.size(), 3u);
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string body = read_text(path);
    const std::string direct = normalised(text(openai_response_to_anthropic()->body(body)));
    EXPECT_NE(direct.find("\"type\":\"message\""), std::string::npos) << direct;
    for (ApiShape provider : {ApiShape::kOpenAI, ApiShape::kDatabricks}) {
      auto t = translate_response(provider, ApiShape::kAnthropic, false);
      ASSERT_TRUE(t);
      EXPECT_EQ(normalised(text(t->body(body))), direct);
    }
  }
}

TEST(Hub, AnAnthropicStreamBecomesChatChunksLikeTheDirectTranslator) {
  const auto cases = inputs("anthropic_to_openai", "stream_");
  ASSERT_GE(cases.size(), 3u);
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string events = read_text(path);
    for (bool include_usage : {false, true}) {
      auto direct_t = anthropic_response_to_openai(include_usage);
      const std::string direct = normalised(stream(*direct_t, events));
      EXPECT_NE(direct.find("chat.completion.chunk"), std::string::npos);
      auto t = translate_response(ApiShape::kAnthropic, ApiShape::kOpenAI, include_usage);
      ASSERT_TRUE(t);
      EXPECT_EQ(normalised(stream(*t, events)), direct) << "include_usage " << include_usage;
    }
  }
}

// The client's include_usage reaches the translator: the final usage chunk only when asked.
TEST(Hub, IncludeUsageDecidesTheUsageChunk) {
  const std::string events = read_text(golden("anthropic_to_openai") / "stream_text.in.sse");
  auto with = translate_response(ApiShape::kAnthropic, ApiShape::kOpenAI, true);
  auto without = translate_response(ApiShape::kAnthropic, ApiShape::kOpenAI, false);
  const std::string a = stream(*with, events);
  const std::string b = stream(*without, events);
  EXPECT_NE(a.find("\"choices\":[]"), std::string::npos) << a;
  EXPECT_EQ(b.find("\"choices\":[]"), std::string::npos) << b;
}

TEST(Hub, AChatStreamBecomesAnthropicEventsLikeTheDirectTranslator) {
  const auto cases = inputs("openai_to_anthropic", "stream_");
  ASSERT_GE(cases.size(), 3u);
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string events = read_text(path);
    auto direct_t = openai_response_to_anthropic();
    const std::string direct = normalised(stream(*direct_t, events));
    EXPECT_NE(direct.find("event: message_start"), std::string::npos) << direct;
    for (ApiShape provider : {ApiShape::kOpenAI, ApiShape::kDatabricks}) {
      for (bool include_usage : {false, true}) {
        auto t = translate_response(provider, ApiShape::kAnthropic, include_usage);
        ASSERT_TRUE(t);
        EXPECT_EQ(normalised(stream(*t, events)), direct);
      }
    }
  }
}

// ---- Responses clients: to an OpenAI-shaped provider in one step, to an Anthropic one through
// the hub in two (the Responses codec, then the Anthropic one).

const ResponsesAnswer kAnswer{.id = "resp_00112233445566778899aabbccddeeff", .model = "claude-sonnet", .created_at = 1767225600,
                              .request = R"({"model":"claude-sonnet","input":"hi","instructions":"Be brief."})", .previous_response_id = {}};

TEST(Hub, ResponsesRequestsToAnOpenAIShapedProviderAreTheCodecs) {
  const auto cases = inputs("responses_to_openai", "request_");
  ASSERT_GE(cases.size(), 10u);
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string body = read_text(path);
    const ChatTarget target{.reasoning_effort = path.filename().string().find("reasoning_effort") != std::string::npos};
    std::vector<std::string> direct_dropped;
    const std::string direct = text(responses_request_to_openai(body, target, &direct_dropped));
    for (ApiShape provider : {ApiShape::kOpenAI, ApiShape::kDatabricks}) {
      std::vector<std::string> dropped;
      RequestOptions options;
      options.chat = target;
      options.dropped = &dropped;
      EXPECT_EQ(text(translate_request(ApiShape::kResponses, provider, body, options)), direct);
      EXPECT_EQ(dropped, direct_dropped) << "the dropped tools reach RequestOptions::dropped";
    }
  }
}

TEST(Hub, AResponsesRequestReachesAnAnthropicProviderThroughChat) {
  for (const auto& path : inputs("responses_to_openai", "request_")) {
    SCOPED_TRACE(path.filename().string());
    const std::string body = read_text(path);
    auto chat = responses_request_to_openai(body, {}, nullptr);
    const std::string expected = std::holds_alternative<Error>(chat)
                                     ? text(chat)
                                     : text(openai_request_to_anthropic(std::get<std::string>(chat), 77));
    RequestOptions options;
    options.default_max_tokens = 77;
    EXPECT_EQ(text(translate_request(ApiShape::kResponses, ApiShape::kAnthropic, body, options)), expected);
  }
  // Codex's request as Claude reads it: instructions and developer text in `system`, the shell
  // function as a tool, the built-ins left out.
  auto out = translate_request(ApiShape::kResponses, ApiShape::kAnthropic,
                               read_text(golden("responses_to_openai") / "request_codex.in.json"), {});
  ASSERT_TRUE(std::holds_alternative<std::string>(out)) << text(out);
  auto v = boost::json::parse(std::get<std::string>(out));
  EXPECT_NE(std::string(v.at("system").as_string()).find("Approval policy: on-request."), std::string::npos);
  ASSERT_EQ(v.at("tools").as_array().size(), 1u);
  EXPECT_EQ(v.at("tools").at(0).at("name"), "shell");
  EXPECT_EQ(v.at("stream"), true);
}

// A provider that speaks Responses only is never a translation's target, nor its answers' source.
TEST(Hub, NothingIsTranslatedToTheResponsesShape) {
  auto out = translate_request(ApiShape::kOpenAI, ApiShape::kResponses, R"({"messages":[]})", {});
  ASSERT_TRUE(std::holds_alternative<Error>(out));
  EXPECT_EQ(std::get<Error>(out).status, 400);
  EXPECT_EQ(translate_response(ApiShape::kResponses, ApiShape::kOpenAI, false), nullptr);
}

TEST(Hub, AChatAnswerBecomesAResponseLikeTheDirectTranslator) {
  for (const auto& path : inputs("openai_to_responses", "response_")) {
    SCOPED_TRACE(path.filename().string());
    const std::string body = read_text(path);
    const std::string direct = text(openai_response_to_responses(kAnswer)->body(body));
    for (ApiShape provider : {ApiShape::kOpenAI, ApiShape::kDatabricks}) {
      auto t = translate_response(provider, ApiShape::kResponses, false, &kAnswer);
      ASSERT_TRUE(t);
      EXPECT_EQ(text(t->body(body)), direct);
    }
  }
  for (const auto& path : inputs("openai_to_responses", "stream_")) {
    SCOPED_TRACE(path.filename().string());
    const std::string events = read_text(path);
    const std::string direct = stream(*openai_response_to_responses(kAnswer), events);
    auto t = translate_response(ApiShape::kOpenAI, ApiShape::kResponses, false, &kAnswer);
    ASSERT_TRUE(t);
    EXPECT_EQ(stream(*t, events), direct);
  }
}

// An Anthropic answer reaches a Responses client as the chat answer it is equivalent to would:
// the chain's output is the Responses translation of the Anthropic codec's chat answer.
TEST(Hub, AnAnthropicAnswerBecomesAResponseThroughChat) {
  const auto cases = inputs("anthropic_to_openai", "response_");
  ASSERT_GE(cases.size(), 3u);
  int calls = 0;
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string body = read_text(path);
    const std::string chat = text(anthropic_response_to_openai(false)->body(body));
    const std::string direct = text(openai_response_to_responses(kAnswer)->body(chat));
    auto t = translate_response(ApiShape::kAnthropic, ApiShape::kResponses, false, &kAnswer);
    ASSERT_TRUE(t);
    const std::string chained = text(t->body(body));
    EXPECT_EQ(chained, direct);
    auto v = boost::json::parse(chained);
    EXPECT_EQ(v.at("id"), boost::json::value(kAnswer.id));
    EXPECT_EQ(v.at("instructions"), "Be brief.");
    for (const auto& item : v.at("output").as_array()) calls += item.at("type") == "function_call";
  }
  EXPECT_GE(calls, 2) << "the tool_use samples become function calls";
}

TEST(Hub, AnAnthropicStreamBecomesResponsesEventsThroughChat) {
  const auto cases = inputs("anthropic_to_openai", "stream_");
  ASSERT_GE(cases.size(), 3u);
  for (const auto& path : cases) {
    SCOPED_TRACE(path.filename().string());
    const std::string events = read_text(path);
    // The hub step asks for usage: response.completed carries it.
    const std::string chat = stream(*anthropic_response_to_openai(true), events);
    const std::string direct = stream(*openai_response_to_responses(kAnswer), chat);
    auto t = translate_response(ApiShape::kAnthropic, ApiShape::kResponses, false, &kAnswer);
    ASSERT_TRUE(t);
    const std::string chained = stream(*t, events);
    EXPECT_EQ(chained, direct);
    const bool complete = chained.find("event: response.completed") != std::string::npos;
    EXPECT_TRUE(complete || chained.find("event: error") != std::string::npos) << chained;
    if (path.filename().string().starts_with("stream_tool_use") && complete) {
      EXPECT_NE(chained.find("\"type\":\"function_call\""), std::string::npos) << chained;
      EXPECT_NE(chained.find("\"input_tokens\":"), std::string::npos) << chained;
    }
  }
}

// The chain's error event is the Responses translator's, numbered after what it sent.
TEST(Hub, TheChainsErrorEventIsTheClientShapes) {
  auto t = translate_response(ApiShape::kAnthropic, ApiShape::kResponses, false, &kAnswer);
  ASSERT_TRUE(t);
  std::string out;
  t->event("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\","
           "\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}}\n\n",
           out);
  const std::string error = t->error_event(Error::upstream_reset("the provider closed the connection"));
  EXPECT_NE(error.find("event: response.failed"), std::string::npos) << error;
  EXPECT_NE(error.find("\"sequence_number\":3"), std::string::npos) << out << error;
  EXPECT_EQ(translate_response(ApiShape::kAnthropic, ApiShape::kOpenAI, false)->error_event(Error::internal("x")), "");
}

}  // namespace
}  // namespace gatehouse::translate

// ---- api::find_spans.

namespace gatehouse::api {
namespace {

std::string_view at(std::string_view body, std::size_t offset, std::size_t length) { return body.substr(offset, length); }

TEST(FindSpans, ModelTokenAndMember) {
  const std::string body = R"({"model":"gpt-x","messages":[{"role":"user","content":"hi"}]})";
  auto s = find_spans(body);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->object_start, 1u);
  EXPECT_EQ(at(body, s->model_offset, s->model_length), R"("gpt-x")");
  EXPECT_EQ(at(body, s->member_offset, s->member_end - s->member_offset), R"("model":"gpt-x")");
  EXPECT_EQ(s->stream_options_length, 0u);
  EXPECT_FALSE(s->has_data_class);
  // The spans are what the body edits need.
  EXPECT_EQ(rewrite_model(body, *s, "up/stream"), R"({"model":"up/stream","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(remove_model(body, *s), R"({"messages":[{"role":"user","content":"hi"}]})");
}

TEST(FindSpans, SpacesEscapesAndNestedModelsAreRead) {
  const std::string body = R"(  { "messages" : [{"role":"user","content":"x","model":"inner"}] , "model" : "a\"b"  , "stream" : true } )";
  auto s = find_spans(body);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->object_start, 3u);
  EXPECT_EQ(at(body, s->model_offset, s->model_length), R"("a\"b")") << "the top-level model, not a message's";
  EXPECT_EQ(at(body, s->member_offset, s->member_end - s->member_offset), R"("model" : "a\"b")");
  auto removed = remove_model(body, *s);
  EXPECT_EQ(boost::json::parse(removed).as_object().contains("model"), false) << removed;
  EXPECT_EQ(boost::json::parse(removed).at("stream"), true) << removed;
}

TEST(FindSpans, ABodyWithoutModel) {
  const std::string body = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":5})";
  auto s = find_spans(body);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->model_length, 0u);
  EXPECT_EQ(s->model_offset, s->object_start);
  EXPECT_EQ(s->object_start, 1u);
  EXPECT_EQ(rewrite_model(body, *s, "m"), R"({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5})");
  EXPECT_EQ(remove_model(body, *s), body);
  auto empty = find_spans("{}");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->model_length, 0u);
  EXPECT_EQ(rewrite_model("{}", *empty, "m"), R"({"model":"m"})");
}

TEST(FindSpans, StreamOptionsNullOrObject) {
  const std::string null_body = R"({"model":"m","stream_options":null,"stream":true})";
  auto n = find_spans(null_body);
  ASSERT_TRUE(n);
  EXPECT_EQ(at(null_body, n->stream_options_offset, n->stream_options_length), R"("stream_options":null)");

  const std::string obj_body = R"({"model":"m","stream_options": {"include_usage": false, "x": [1, {"y": 2}]} ,"messages":[]})";
  auto o = find_spans(obj_body);
  ASSERT_TRUE(o);
  EXPECT_EQ(at(obj_body, o->stream_options_offset, o->stream_options_length),
            R"("stream_options": {"include_usage": false, "x": [1, {"y": 2}]})");
  EXPECT_EQ(at(obj_body, o->model_offset, o->model_length), R"("m")");
}

TEST(FindSpans, DataClassMember) {
  const std::string body = R"({"model":"m","data_class":"confidential","messages":[]})";
  auto s = find_spans(body);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->has_data_class);
  EXPECT_EQ(at(body, s->data_class_member_offset, s->data_class_member_end - s->data_class_member_offset),
            R"("data_class":"confidential")");
  Spans moved = *s;
  const std::string without = remove_data_class(body, moved);
  EXPECT_EQ(without, R"({"model":"m","messages":[]})");
  EXPECT_EQ(at(without, moved.model_offset, moved.model_length), R"("m")");
  EXPECT_FALSE(moved.has_data_class);
  // The last member: the comma before it goes.
  const std::string last_body = R"({"model":"m","messages":[],"data_class":"public"})";
  Spans last = *find_spans(last_body);
  EXPECT_EQ(remove_data_class(last_body, last), R"({"model":"m","messages":[]})");
  // Only the top-level member counts; a first member is found as well as a later one.
  const std::string nested = R"({"data_class":"public","model":"m","x":{"data_class":"no"},"data_classes":1})";
  auto l = find_spans(nested);
  ASSERT_TRUE(l);
  EXPECT_EQ(at(nested, l->data_class_member_offset, l->data_class_member_end - l->data_class_member_offset),
            R"("data_class":"public")");
  EXPECT_EQ(at(nested, l->model_offset, l->model_length), R"("m")");
  // No data_class: nothing to remove.
  EXPECT_FALSE(find_spans(R"({"model":"m","x":{"data_class":"no"}})")->has_data_class);
}

TEST(FindSpans, NotAJsonObjectIsNullopt) {
  for (std::string_view bad : {"", "not json", R"({"model":)", R"({"model":"m")", "[1,2]", R"("a string")", "42", "null"}) {
    EXPECT_FALSE(find_spans(bad)) << bad;
  }
}

// The spans of a body found again (a stage's replacement) are those its decoder found.
TEST(FindSpans, AgreeWithTheDecoders) {
  const std::vector<std::string> bodies = {
      R"({"model":"gpt","messages":[{"role":"user","content":"hi"}]})",
      R"({ "stream": true, "messages":[{"role":"user","content":"hi"}], "model" : "gpt" , "stream_options" : null })",
      R"({"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true},"data_class":"internal","model":"gpt"})",
      R"({"data_class" : "public" ,"model":"gpt","messages":[{"role":"user","content":"hi"}],"max_tokens":3})",
  };
  for (const auto& original : bodies) {
    SCOPED_TRACE(original);
    for (ApiShape shape : {ApiShape::kOpenAI, ApiShape::kAnthropic}) {
      std::string body = original;
      if (shape == ApiShape::kAnthropic && body.find("max_tokens") == std::string::npos) continue;
      auto decoded = decode_request(shape, Operation::kChat, body);
      ASSERT_TRUE(std::holds_alternative<CanonicalRequest>(decoded)) << std::get<Error>(decoded).message;
      const auto& d = std::get<CanonicalRequest>(decoded);
      auto s = find_spans(original);
      ASSERT_TRUE(s);
      EXPECT_EQ(s->object_start, d.object_start);
      EXPECT_EQ(s->model_offset, d.model_offset);
      EXPECT_EQ(s->model_length, d.model_length);
      EXPECT_EQ(s->member_offset, d.member_offset);
      EXPECT_EQ(s->member_end, d.member_end);
      EXPECT_EQ(s->stream_options_offset, d.stream_options_offset);
      EXPECT_EQ(s->stream_options_length, d.stream_options_length);
      EXPECT_EQ(s->has_data_class, d.has_data_class);
      if (d.has_data_class) {
        EXPECT_EQ(s->data_class_member_offset, d.data_class_member_offset);
        EXPECT_EQ(s->data_class_member_end, d.data_class_member_end);
      }
    }
  }
}

}  // namespace
}  // namespace gatehouse::api
