#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "api/openai.h"
#include "api/usage.h"

namespace gatehouse::api {
namespace {

CanonicalRequest decoded(Operation op, std::string body) {
  auto r = decode_request(op == Operation::kInvocations ? ApiShape::kDatabricks : ApiShape::kOpenAI, op, body);
  if (auto* e = std::get_if<Error>(&r)) ADD_FAILURE() << e->message << " for " << body;
  return std::holds_alternative<CanonicalRequest>(r) ? std::get<CanonicalRequest>(r) : CanonicalRequest{};
}

std::optional<Error> decode_error(Operation op, std::string body) {
  auto r = decode_request(op == Operation::kInvocations ? ApiShape::kDatabricks : ApiShape::kOpenAI, op, body);
  if (auto* e = std::get_if<Error>(&r)) return *e;
  return std::nullopt;
}

// The body parsed (a failure when it is not JSON).
boost::json::object json_of(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << body;
  EXPECT_TRUE(v.is_object()) << body;
  return v.is_object() ? v.get_object() : boost::json::object{};
}

// ---- read_usage: a whole answer.

// OpenAI chat: prompt/completion tokens and the cached part of the prompt.
TEST(ReadUsage, OpenAIChatWithCachedTokens) {
  auto u = read_usage(ApiShape::kOpenAI,
                      R"({"id":"c1","object":"chat.completion","choices":[{"index":0,"message":)"
                      R"({"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":120,)"
                      R"("completion_tokens":7,"total_tokens":127,"prompt_tokens_details":{"cached_tokens":64}}})");
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.input_tokens, 120);
  EXPECT_EQ(u.cached_input_tokens, 64);
  EXPECT_EQ(u.output_tokens, 7);
  EXPECT_EQ(u.total(), 127);
}

// Field order does not matter: usage before choices, details before the counts.
TEST(ReadUsage, OpenAIUsageInAnyOrder) {
  auto u = read_usage(ApiShape::kOpenAI,
                      R"({"usage":{"prompt_tokens_details":{"cached_tokens":2},"completion_tokens":3,)"
                      R"("prompt_tokens":10},"choices":[]})");
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.input_tokens, 10);
  EXPECT_EQ(u.cached_input_tokens, 2);
  EXPECT_EQ(u.output_tokens, 3);
}

// Embeddings: prompt tokens only.
TEST(ReadUsage, OpenAIEmbeddings) {
  auto u = read_usage(ApiShape::kOpenAI,
                      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],)"
                      R"("model":"emb","usage":{"prompt_tokens":8,"total_tokens":8}})");
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.input_tokens, 8);
  EXPECT_EQ(u.output_tokens, 0);
  EXPECT_EQ(u.cached_input_tokens, 0);
}

// Anthropic: input counts every prompt token (plain + cache writes + cache reads); cached = reads.
TEST(ReadUsage, AnthropicCacheTokens) {
  auto u = read_usage(ApiShape::kAnthropic,
                      R"({"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text",)"
                      R"("text":"hi"}],"usage":{"input_tokens":10,"cache_creation_input_tokens":20,)"
                      R"("cache_read_input_tokens":30,"output_tokens":7}})");
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.input_tokens, 60);
  EXPECT_EQ(u.cached_input_tokens, 30);
  EXPECT_EQ(u.output_tokens, 7);
  auto plain = read_usage(ApiShape::kAnthropic, R"({"usage":{"input_tokens":5,"output_tokens":1}})");
  EXPECT_EQ(plain.input_tokens, 5);
  EXPECT_EQ(plain.cached_input_tokens, 0);
}

// No usage (absent, null, or only the word in content) is not known.
TEST(ReadUsage, NoUsageIsNotKnown) {
  EXPECT_FALSE(read_usage(ApiShape::kOpenAI, R"({"choices":[]})").known);
  EXPECT_FALSE(read_usage(ApiShape::kOpenAI, R"({"choices":[],"usage":null})").known);
  EXPECT_FALSE(read_usage(ApiShape::kOpenAI, R"({"choices":[{"message":{"content":"\"usage\""}}]})").known);
  EXPECT_FALSE(read_usage(ApiShape::kAnthropic, R"({"type":"message","content":[]})").known);
  EXPECT_FALSE(read_usage(ApiShape::kOpenAI, "not json \"usage\"").known);
}

// Responses: input counts its cached tokens and output its reasoning tokens, as chat's do.
TEST(ReadUsage, ResponsesObject) {
  auto u = read_usage(ApiShape::kResponses,
                      R"({"id":"resp_1","object":"response","status":"completed","output":[{"type":"message",)"
                      R"("content":[{"type":"output_text","text":"hi"}]}],"usage":{"input_tokens":328,)"
                      R"("input_tokens_details":{"cached_tokens":256},"output_tokens":52,)"
                      R"("output_tokens_details":{"reasoning_tokens":32},"total_tokens":380}})");
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.input_tokens, 328);
  EXPECT_EQ(u.cached_input_tokens, 256);
  EXPECT_EQ(u.output_tokens, 52);
  EXPECT_EQ(u.total(), 380);
  // A Databricks agent's answer usually has no usage; null is none too.
  EXPECT_FALSE(read_usage(ApiShape::kResponses, R"({"object":"response","output":[]})").known);
  EXPECT_FALSE(read_usage(ApiShape::kResponses, R"({"object":"response","output":[],"usage":null})").known);
  EXPECT_FALSE(read_usage(ApiShape::kResponses, R"({"usage":{"total_tokens":3}})").known);
}

// ---- StreamUsage: a stream's events.

// OpenAI's final usage-only chunk is reported as such (true) and read.
TEST(StreamUsage, OpenAIFinalUsageChunk) {
  StreamUsage s(ApiShape::kOpenAI);
  EXPECT_FALSE(s.event("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"));
  EXPECT_FALSE(s.usage().known);
  EXPECT_TRUE(s.event(
      "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3,"
      "\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n"));
  EXPECT_TRUE(s.usage().known);
  EXPECT_EQ(s.usage().input_tokens, 10);
  EXPECT_EQ(s.usage().cached_input_tokens, 4);
  EXPECT_EQ(s.usage().output_tokens, 3);
  EXPECT_FALSE(s.event("data: [DONE]\n\n"));
  EXPECT_EQ(s.usage().output_tokens, 3);
}

// A provider's in-stream error event is noticed (the route counts it against the target); chunks
// that merely mention "error" are not.
TEST(StreamUsage, InStreamErrorEvents) {
  StreamUsage openai(ApiShape::kOpenAI);
  openai.event("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\\"error\\\"\"}}]}\n\n");
  openai.event("data: {\"id\":\"c\",\"error\":null,\"choices\":[]}\n\n");
  EXPECT_FALSE(openai.failed());
  openai.event("data: { \"error\": {\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n");
  EXPECT_TRUE(openai.failed());

  StreamUsage anthropic(ApiShape::kAnthropic);
  anthropic.event("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"event: error\"}}\n\n");
  EXPECT_FALSE(anthropic.failed());
  anthropic.event("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n");
  EXPECT_TRUE(anthropic.failed());
}

// Usage before choices in the chunk is still a usage-only chunk.
TEST(StreamUsage, OpenAIUsageChunkInAnyOrder) {
  StreamUsage s(ApiShape::kOpenAI);
  EXPECT_TRUE(s.event("data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},\"choices\":[]}\n\n"));
  EXPECT_EQ(s.usage().output_tokens, 2);
}

// Databricks puts running usage on every chunk with choices: not usage-only, but the last wins.
TEST(StreamUsage, DatabricksRunningUsage) {
  StreamUsage s(ApiShape::kOpenAI);
  EXPECT_FALSE(s.event(
      "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}}\n\n"));
  EXPECT_EQ(s.usage().output_tokens, 1);
  EXPECT_FALSE(s.event(
      "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n"));
  EXPECT_TRUE(s.usage().known);
  EXPECT_EQ(s.usage().input_tokens, 9);
  EXPECT_EQ(s.usage().output_tokens, 2);
}

// "usage": null on ordinary chunks is ignored and keeps what was read before.
TEST(StreamUsage, NullUsageIsIgnored) {
  StreamUsage s(ApiShape::kOpenAI);
  EXPECT_FALSE(s.event("data: {\"choices\":[{\"delta\":{}}],\"usage\":null}\n\n"));
  EXPECT_FALSE(s.usage().known);
  s.event("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\n\n");
  EXPECT_FALSE(s.event("data: {\"choices\":[],\"usage\":null}\n\n"));
  EXPECT_EQ(s.usage().input_tokens, 5);
  EXPECT_EQ(s.usage().output_tokens, 6);
}

// Anthropic: message_start gives the input side, message_delta the output; never hidden.
TEST(StreamUsage, AnthropicStartAndDelta) {
  StreamUsage s(ApiShape::kAnthropic);
  EXPECT_FALSE(s.event(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"type\":\"message\","
      "\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,"
      "\"output_tokens\":1}}}\n\n"));
  EXPECT_FALSE(s.usage().known) << "final only with message_delta (a cut stream takes the estimate)";
  EXPECT_EQ(s.usage().input_tokens, 130);
  EXPECT_EQ(s.usage().cached_input_tokens, 100);
  EXPECT_EQ(s.usage().output_tokens, 1);
  EXPECT_FALSE(s.event(
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"usage\"}}\n\n"));
  EXPECT_FALSE(s.event(
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
      "\"usage\":{\"output_tokens\":15}}\n\n"));
  EXPECT_TRUE(s.usage().known);
  EXPECT_EQ(s.usage().input_tokens, 130);
  EXPECT_EQ(s.usage().cached_input_tokens, 100);
  EXPECT_EQ(s.usage().output_tokens, 15);
}

// The Responses stream: usage from its last event's response; no event is ever hidden; text
// relayed is the deltas' (the `.done` events and response.completed repeat it).
TEST(StreamUsage, ResponsesCompletedEvent) {
  StreamUsage s(ApiShape::kResponses);
  EXPECT_FALSE(s.event("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\","
                       "\"output\":[],\"usage\":null,\"error\":null},\"sequence_number\":0}\n\n"));
  EXPECT_FALSE(s.event("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
                       "\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"12345678\","
                       "\"sequence_number\":4}\n\n"));
  EXPECT_FALSE(s.event("event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\","
                       "\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"text\":\"12345678\"}\n\n"));
  EXPECT_EQ(s.relayed_tokens(), 2);
  EXPECT_FALSE(s.usage().known);
  EXPECT_FALSE(s.event(
      "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"output\":[{\"type\":"
      "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"12345678\"}]}],\"usage\":{\"input_tokens\":20,"
      "\"input_tokens_details\":{\"cached_tokens\":8},\"output_tokens\":9,\"output_tokens_details\":"
      "{\"reasoning_tokens\":4},\"total_tokens\":29}},\"sequence_number\":9}\n\n"));
  EXPECT_TRUE(s.usage().known);
  EXPECT_EQ(s.usage().input_tokens, 20);
  EXPECT_EQ(s.usage().cached_input_tokens, 8);
  EXPECT_EQ(s.usage().output_tokens, 9);
  EXPECT_EQ(s.relayed_tokens(), 2);
  EXPECT_FALSE(s.failed());
}

// An incomplete response (max_output_tokens) reports usage and is no failure; a failed one and
// an error event are; a delta that says "error" is not.
TEST(StreamUsage, ResponsesIncompleteFailedAndError) {
  StreamUsage incomplete(ApiShape::kResponses);
  incomplete.event("data: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\","
                   "\"usage\":{\"input_tokens\":5,\"output_tokens\":16}}}\n\n");
  EXPECT_TRUE(incomplete.usage().known);
  EXPECT_EQ(incomplete.usage().output_tokens, 16);
  EXPECT_FALSE(incomplete.failed());

  StreamUsage failed(ApiShape::kResponses);
  failed.event("data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"error\"}\n\n");
  failed.event("data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"response.failed\"}\n\n");
  EXPECT_FALSE(failed.failed());
  failed.event("event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\","
               "\"error\":{\"code\":\"server_error\",\"message\":\"m\"},\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n");
  EXPECT_TRUE(failed.failed());
  EXPECT_EQ(failed.usage().input_tokens, 5);

  StreamUsage error(ApiShape::kResponses);
  EXPECT_FALSE(error.event("event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\","
                           "\"param\":null,\"sequence_number\":2}\n\n"));
  EXPECT_TRUE(error.failed());
  EXPECT_FALSE(error.usage().known);
}

// A Databricks agent's stream: deltas by item id, whole items, no usage and no event lines.
TEST(StreamUsage, ResponsesFromADatabricksAgent) {
  StreamUsage s(ApiShape::kResponses);
  EXPECT_FALSE(s.event("data: {\"type\":\"response.output_text.delta\",\"item_id\":\"a\",\"delta\":\"abcdefgh\"}\n\n"));
  EXPECT_FALSE(s.event("data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"message\",\"id\":\"a\","
                       "\"content\":[{\"type\":\"output_text\",\"text\":\"abcdefgh\"}]}}\n\n"));
  EXPECT_FALSE(s.usage().known);
  EXPECT_FALSE(s.failed());
  EXPECT_EQ(s.relayed_tokens(), 2);
}

// ---- with_stream_usage: asking an OpenAI-shaped provider for stream usage.

// Checks that every span of `req` points into `body` where it should.
void expect_spans_match(const std::string& body, const CanonicalRequest& req, const std::string& model) {
  ASSERT_LE(req.model_offset + req.model_length, body.size());
  EXPECT_EQ(body.substr(req.model_offset, req.model_length), "\"" + model + "\"");
  ASSERT_LE(req.member_end, body.size());
  const std::string member = body.substr(req.member_offset, req.member_end - req.member_offset);
  EXPECT_EQ(member.rfind("\"model\"", 0), 0u) << member;
  EXPECT_TRUE(member.ends_with("\"" + model + "\"")) << member;
  ASSERT_LE(req.stream_options_offset + req.stream_options_length, body.size());
  const std::string so = body.substr(req.stream_options_offset, req.stream_options_length);
  EXPECT_EQ(so.rfind("\"stream_options\"", 0), 0u) << so;
  EXPECT_EQ(so.back(), '}') << so;
}

// No stream_options: one is added as the first member; the model span moves with the body.
TEST(WithStreamUsage, AddsStreamOptionsAsTheFirstMember) {
  std::string body = R"({"model":"the-model","messages":[{"role":"user","content":"hi"}],"stream":true})";
  auto req = decoded(Operation::kChat, body);
  EXPECT_FALSE(req.include_usage);
  std::string out = with_stream_usage(body, req);
  EXPECT_EQ(out.rfind(R"({"stream_options":{"include_usage":true},"model":"the-model",)", 0), 0u) << out;
  EXPECT_TRUE(req.include_usage);
  expect_spans_match(out, req, "the-model");
  auto rewritten = json_of(rewrite_model(out, req, "up-model"));
  EXPECT_EQ(rewritten.at("model").as_string(), "up-model");
  EXPECT_EQ(rewritten.at("stream_options").at("include_usage").as_bool(), true);
  EXPECT_EQ(rewritten.at("stream").as_bool(), true);
  // The new body decodes to the same request, with the usage asked for.
  auto again = decoded(Operation::kChat, out);
  EXPECT_TRUE(again.include_usage);
  EXPECT_EQ(again.model_offset, req.model_offset);
  EXPECT_EQ(again.stream_options_offset, req.stream_options_offset);
  EXPECT_EQ(again.stream_options_length, req.stream_options_length);
}

// An existing stream_options before the model: include_usage set, other members kept, spans moved.
TEST(WithStreamUsage, SetsIncludeUsageInExistingOptionsBeforeTheModel) {
  std::string body =
      R"({"stream": true, "stream_options": {"include_obfuscation": false, "include_usage": false}, )"
      R"("model": "the-model", "messages": [{"role": "user", "content": "hi"}]})";
  auto req = decoded(Operation::kChat, body);
  EXPECT_FALSE(req.include_usage);
  EXPECT_GT(req.stream_options_length, 0u);
  std::string out = with_stream_usage(body, req);
  auto j = json_of(out);
  EXPECT_EQ(j.at("stream_options").at("include_usage").as_bool(), true);
  EXPECT_EQ(j.at("stream_options").at("include_obfuscation").as_bool(), false);
  EXPECT_EQ(j.at("stream_options").as_object().size(), 2u);
  expect_spans_match(out, req, "the-model");
  auto rewritten = json_of(rewrite_model(out, req, "up-model"));
  EXPECT_EQ(rewritten.at("model").as_string(), "up-model");
  EXPECT_EQ(rewritten.at("messages").as_array().size(), 1u);
  EXPECT_TRUE(decoded(Operation::kChat, out).include_usage);
}

// An existing stream_options after the model (pretty-printed body): the model span is unchanged.
TEST(WithStreamUsage, SetsIncludeUsageInExistingOptionsAfterTheModel) {
  std::string body =
      "{\n  \"model\": \"the-model\",\n  \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],\n"
      "  \"stream_options\": {\"x\": 1},\n  \"stream\": true\n}\n";
  auto req = decoded(Operation::kChat, body);
  const std::size_t model_at = req.model_offset;
  std::string out = with_stream_usage(body, req);
  EXPECT_EQ(req.model_offset, model_at);
  expect_spans_match(out, req, "the-model");
  auto j = json_of(out);
  EXPECT_EQ(j.at("stream_options").at("include_usage").as_bool(), true);
  EXPECT_EQ(j.at("stream_options").at("x").as_int64(), 1);
  EXPECT_EQ(j.at("stream").as_bool(), true);
  EXPECT_EQ(json_of(rewrite_model(out, req, "up")).at("model").as_string(), "up");
}

// The data_class span moves too: removing it from the new body leaves valid JSON without it.
TEST(WithStreamUsage, MovesTheDataClassSpan) {
  std::string body =
      R"({"messages":[{"role":"user","content":"hi"}],"model":"the-model","data_class":"internal","stream":true})";
  auto req = decoded(Operation::kChat, body);
  ASSERT_TRUE(req.has_data_class);
  std::string out = with_stream_usage(body, req);
  std::string without = remove_data_class(out, req);
  auto j = json_of(without);
  EXPECT_FALSE(j.contains("data_class"));
  EXPECT_EQ(j.at("stream_options").at("include_usage").as_bool(), true);
  expect_spans_match(without, req, "the-model");
  EXPECT_EQ(json_of(rewrite_model(without, req, "up")).at("model").as_string(), "up");
}

// A body without a model (a Databricks invocation) gets the option, and a model can still be added.
TEST(WithStreamUsage, InvocationWithoutModel) {
  std::string body = R"({"messages":[{"role":"user","content":"hi"}],"stream":true})";
  auto req = decoded(Operation::kInvocations, body);
  ASSERT_EQ(req.model_length, 0u);
  std::string out = with_stream_usage(body, req);
  auto j = json_of(rewrite_model(out, req, "endpoint-model"));
  EXPECT_EQ(j.at("model").as_string(), "endpoint-model");
  EXPECT_EQ(j.at("stream_options").at("include_usage").as_bool(), true);
}

// A null stream_options (as some clients send) must not end up as a second stream_options member.
TEST(WithStreamUsage, NullStreamOptionsIsReplacedNotDuplicated) {
  std::string body = R"({"model":"the-model","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":null})";
  auto req = decoded(Operation::kChat, body);
  std::string out = with_stream_usage(body, req);
  std::size_t count = 0;
  for (std::size_t at = out.find("\"stream_options\""); at != std::string::npos;
       at = out.find("\"stream_options\"", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << out;
  expect_spans_match(out, req, "the-model");
}

// ---- decode_request: stream_options.

// include_usage is read (true, false, null), and the member's span is kept.
TEST(DecodeStreamOptions, ReadsIncludeUsageAndTheSpan) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options" : {"include_usage":true}})";
  auto req = decoded(Operation::kChat, body);
  EXPECT_TRUE(req.include_usage);
  EXPECT_EQ(body.substr(req.stream_options_offset, req.stream_options_length),
            R"("stream_options" : {"include_usage":true})");
  EXPECT_FALSE(decoded(Operation::kChat,
                       R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":false}})")
                   .include_usage);
  EXPECT_FALSE(decoded(Operation::kChat,
                       R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":null}})")
                   .include_usage);
  auto none = decoded(Operation::kChat, R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(none.stream_options_length, 0u);
}

// A mistyped include_usage is a 400 naming stream_options.
TEST(DecodeStreamOptions, MistypedIncludeUsageIsAnError) {
  auto e = decode_error(Operation::kChat,
                        R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":"yes"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->param, "stream_options");
  EXPECT_NE(e->message.find("include_usage"), std::string::npos);
  e = decode_error(Operation::kChat,
                   R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":1}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "stream_options");
}

// stream_options that is not an object (nor null) is a 400 naming stream_options.
TEST(DecodeStreamOptions, NonObjectStreamOptionsIsAnError) {
  for (const char* value : {"\"yes\"", "5", "[true]", "true"}) {
    auto e = decode_error(Operation::kChat,
                          std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":)") +
                              value + "}");
    ASSERT_TRUE(e) << value;
    EXPECT_EQ(e->status, 400) << value;
    EXPECT_EQ(e->param, "stream_options") << value;
  }
}

}  // namespace
}  // namespace gatehouse::api
