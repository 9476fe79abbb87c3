#include "openai.h"

#include <gtest/gtest.h>

#include <cstring>

#include <openssl/evp.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace mockllm {
namespace {
namespace json = boost::json;

Reply chat(std::string_view request, Control control = {}) {
  return openai::chat_completions(json::parse(request).as_object(), control);
}

// The JSON of each "data:" event but [DONE], which must come last.
std::vector<json::value> events(const Reply& r) {
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.content_type, "text/event-stream");
  EXPECT_EQ(r.events.back().data, "data: [DONE]\n\n");
  std::vector<json::value> out;
  for (std::size_t i = 0; i + 1 < r.events.size(); ++i) {
    const std::string& e = r.events[i].data;
    EXPECT_EQ(e.substr(0, 6), "data: ");
    EXPECT_EQ(e.substr(e.size() - 2), "\n\n");
    out.push_back(json::parse(e.substr(6)));
  }
  return out;
}

TEST(OpenAiChat, AnswersWithDeterministicTokens) {
  Reply r = chat(R"({"model":"m1","messages":[{"role":"user","content":"0123456789abcdef"}]})");
  ASSERT_EQ(r.status, 200u);
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("object"), "chat.completion");
  EXPECT_EQ(v.at("model"), "m1");
  EXPECT_EQ(v.at("system_fingerprint"), "fp_mockllm");
  EXPECT_TRUE(v.at("id").as_string().starts_with("chatcmpl-"));
  const auto& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "stop");
  EXPECT_EQ(choice.at("message").at("content"),
            "alpha bravo charlie delta echo foxtrot golf hotel");
  EXPECT_TRUE(choice.at("message").at("refusal").is_null());
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 4);
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 8);
  EXPECT_EQ(v.at("usage").at("total_tokens"), 12);
}

TEST(OpenAiChat, CountsTextPartsAndHonoursTokensAndN) {
  Control c;
  c.tokens = 3;
  Reply r = chat(R"({"model":"m","n":2,"messages":[{"role":"system","content":"12345678"},
      {"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image_url"}]}]})",
                 c);
  auto v = json::parse(r.body);
  ASSERT_EQ(v.at("choices").as_array().size(), 2u);
  EXPECT_EQ(v.at("choices").at(1).at("index"), 1);
  EXPECT_EQ(v.at("choices").at(1).at("message").at("content"), "alpha bravo charlie");
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 3);
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 6);
}

TEST(OpenAiChat, MaxTokensCutsTheAnswer) {
  Reply r = chat(R"({"model":"m","max_tokens":2,"messages":[{"role":"user","content":"x"}]})");
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "alpha bravo");
}

TEST(OpenAiChat, RejectsWhatIsNotAChatRequest) {
  for (auto body : {R"({"messages":[]})", R"({"model":"m"})", R"({"model":"m","messages":{}})",
                    R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":0})"}) {
    Reply r = chat(body);
    EXPECT_EQ(r.status, 400u) << body;
    auto v = json::parse(r.body);
    EXPECT_EQ(v.at("error").at("type"), "invalid_request_error");
    EXPECT_TRUE(v.at("error").at("code").is_null());
  }
}

constexpr std::string_view kToolRequest = R"({"model":"m","messages":[
    {"role":"user","content":"What is the weather in \"Paris\" today?"}],
    "tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}},
             {"type":"function","function":{"name":"other"}}]})";

TEST(OpenAiChat, CallsTheFirstTool) {
  Reply r = chat(kToolRequest);
  auto v = json::parse(r.body);
  const auto& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_TRUE(choice.at("message").at("content").is_null());
  const auto& call = choice.at("message").at("tool_calls").at(0);
  EXPECT_TRUE(call.at("id").as_string().starts_with("call_"));
  EXPECT_EQ(call.at("type"), "function");
  EXPECT_EQ(call.at("function").at("name"), "get_weather");
  auto args = json::parse(call.at("function").at("arguments").as_string());
  EXPECT_EQ(args.at("echo"), "What is the weat");
}

TEST(OpenAiChat, ToolChoiceNamesTheToolAndNoneOrAToolResultAnswersText) {
  std::string named(kToolRequest);
  named.insert(named.size() - 1,
               R"(,"tool_choice":{"type":"function","function":{"name":"other"}})");
  auto v = json::parse(chat(named).body);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("tool_calls").at(0).at("function").at("name"),
            "other");
  std::string none(kToolRequest);
  none.insert(none.size() - 1, R"(,"tool_choice":"none")");
  EXPECT_EQ(json::parse(chat(none).body).at("choices").at(0).at("finish_reason"), "stop");
  std::string answered(kToolRequest);
  answered.replace(
      answered.find("}],"), 3,
      R"(},{"role":"assistant","content":null},{"role":"tool","tool_call_id":"c","content":"sunny"}],)");
  EXPECT_EQ(json::parse(chat(answered).body).at("choices").at(0).at("finish_reason"), "stop");
}

// Instructions after the tool result (Claude Code ends its conversations with a system message,
// which a gateway keeps in place) do not make the model call the tool again.
TEST(OpenAiChat, SystemMessagesAfterAToolResultStillAnswerText) {
  std::string answered(kToolRequest);
  answered.replace(answered.find("}],"), 3,
                   R"(},{"role":"assistant","content":null},{"role":"tool","tool_call_id":"c","content":"sunny"},)"
                   R"({"role":"system","content":"Be brief."},{"role":"developer","content":"Really."}],)");
  EXPECT_EQ(json::parse(chat(answered).body).at("choices").at(0).at("finish_reason"), "stop");
  std::string asked(kToolRequest);
  asked.replace(asked.find("}],"), 3, R"(},{"role":"system","content":"Be brief."}],)");
  EXPECT_EQ(json::parse(chat(asked).body).at("choices").at(0).at("finish_reason"), "tool_calls");
}

// reasoning_effort: every value some OpenAI model takes is accepted (which model takes which is
// the real API's business); anything else is OpenAI's invalid_value 400.
TEST(OpenAiChat, ReasoningEffortTakesOpenAisValues) {
  for (auto effort : {"\"none\"", "\"minimal\"", "\"low\"", "\"medium\"", "\"high\"", "\"xhigh\"", "null"}) {
    std::string body = std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":)") +
                       effort + "}";
    EXPECT_EQ(chat(body).status, 200u) << effort;
  }
  for (auto effort : {"\"max\"", "\"High\"", "3", "{}"}) {
    std::string body = std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":)") +
                       effort + "}";
    Reply r = chat(body);
    EXPECT_EQ(r.status, 400u) << effort;
    auto v = json::parse(r.body);
    EXPECT_EQ(v.at("error").at("type"), "invalid_request_error") << effort;
    EXPECT_EQ(v.at("error").at("param"), "reasoning_effort") << effort;
    EXPECT_EQ(v.at("error").at("code"), "invalid_value") << effort;
  }
}

TEST(OpenAiChat, StreamsOneChunkPerToken) {
  Control c;
  c.tokens = 3;
  Reply r = chat(R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})", c);
  auto ev = events(r);
  ASSERT_EQ(ev.size(), 5u);  // role, 3 tokens, finish
  EXPECT_FALSE(r.events[0].paced);
  EXPECT_TRUE(r.events[1].paced);
  EXPECT_EQ(ev[0].at("object"), "chat.completion.chunk");
  EXPECT_EQ(ev[0].at("choices").at(0).at("delta").at("role"), "assistant");
  EXPECT_EQ(ev[0].at("choices").at(0).at("delta").at("content"), "");
  std::string text;
  for (int i = 1; i <= 3; ++i)
    text += ev[i].at("choices").at(0).at("delta").at("content").as_string();
  EXPECT_EQ(text, "alpha bravo charlie");
  EXPECT_TRUE(ev[4].at("choices").at(0).at("delta").as_object().empty());
  EXPECT_EQ(ev[4].at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_FALSE(ev[4].as_object().contains("usage"));
  for (const auto& e : ev) EXPECT_EQ(e.at("id"), ev[0].at("id"));
}

TEST(OpenAiChat, StreamUsageComesLastWithNoChoices) {
  Reply r = chat(R"({"model":"m","stream":true,"stream_options":{"include_usage":true},
      "messages":[{"role":"user","content":"hello world!"}]})");
  auto ev = events(r);
  ASSERT_EQ(ev.size(), 11u);  // role, 8 tokens, finish, usage
  for (std::size_t i = 0; i + 1 < ev.size(); ++i) EXPECT_TRUE(ev[i].at("usage").is_null());
  EXPECT_TRUE(ev.back().at("choices").as_array().empty());
  EXPECT_EQ(ev.back().at("usage").at("prompt_tokens"), 3);
  EXPECT_EQ(ev.back().at("usage").at("completion_tokens"), 8);
}

TEST(OpenAiChat, StreamsToolCallArgumentsInPieces) {
  std::string req(kToolRequest);
  req.insert(req.size() - 1, R"(,"stream":true)");
  auto ev = events(chat(req));
  const auto& first = ev[0].at("choices").at(0).at("delta").at("tool_calls").at(0);
  EXPECT_EQ(first.at("index"), 0);
  EXPECT_EQ(first.at("function").at("name"), "get_weather");
  EXPECT_EQ(first.at("function").at("arguments"), "");
  std::string args;
  for (std::size_t i = 1; i + 1 < ev.size(); ++i) {
    args += ev[i]
                .at("choices")
                .at(0)
                .at("delta")
                .at("tool_calls")
                .at(0)
                .at("function")
                .at("arguments")
                .as_string();
  }
  EXPECT_EQ(ev.size(), 5u);  // head, 3 pieces, finish
  EXPECT_EQ(json::parse(args).at("echo"), "What is the weat");
  EXPECT_EQ(ev.back().at("choices").at(0).at("finish_reason"), "tool_calls");
}

TEST(OpenAiChat, CachedTokensArePartOfPromptTokens) {
  Control c;
  c.cache_read_tokens = 50;
  c.cache_creation_tokens = 9;  // no OpenAI field for it
  auto v = json::parse(
      chat(R"({"model":"m","messages":[{"role":"user","content":"0123456789abcdef"}]})", c).body);
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 54);
  EXPECT_EQ(v.at("usage").at("prompt_tokens_details").at("cached_tokens"), 50);
  EXPECT_EQ(v.at("usage").at("total_tokens"), 62);
  auto plain =
      json::parse(chat(R"({"model":"m","messages":[{"role":"user","content":"x"}]})").body);
  EXPECT_FALSE(plain.at("usage").as_object().contains("prompt_tokens_details"));
}

TEST(OpenAiChat, StreamErrorAfterNChunks) {
  Control c;
  c.stream_error_after = 2;
  Reply r = chat(R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})", c);
  ASSERT_EQ(r.events.size(), 4u);  // role, 2 tokens, error; no [DONE]
  auto err = json::parse(r.events.back().data.substr(6));
  EXPECT_EQ(err.at("error").at("type"), "server_error");
  EXPECT_NE(r.events.back().data, "data: [DONE]\n\n");
}

TEST(OpenAiErrors, InjectedStatusHasTheOpenAiShape) {
  Control c;
  c.status = 429;
  c.retry_after = 2;
  Reply r = openai::injected_error(c);
  EXPECT_EQ(r.status, 429u);
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("error").at("message"), "mockllm injected status 429");
  EXPECT_EQ(v.at("error").at("type"), "rate_limit_exceeded");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  c.status = 503;
  c.error_body = "<html>bad gateway</html>";
  c.error_content_type = "text/html";
  r = openai::injected_error(c);
  EXPECT_EQ(r.body, "<html>bad gateway</html>");
  EXPECT_EQ(r.content_type, "text/html");
}

TEST(OpenAiEmbeddings, FloatVectorsAreDeterministicUnitVectors) {
  auto v = json::parse(
      openai::embeddings(
          json::parse(R"({"model":"e","input":["a","b","a"],"dimensions":5})").as_object())
          .body);
  ASSERT_EQ(v.at("data").as_array().size(), 3u);
  EXPECT_EQ(v.at("data").at(0).at("embedding"), v.at("data").at(2).at("embedding"));
  EXPECT_NE(v.at("data").at(0).at("embedding"), v.at("data").at(1).at("embedding"));
  double norm = 0;
  for (const auto& x : v.at("data").at(1).at("embedding").as_array()) {
    const double d = x.to_number<double>();
    EXPECT_LE(std::abs(d), 1.0);
    norm += d * d;
  }
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 3);
  EXPECT_EQ(v.at("model"), "e");
}

TEST(OpenAiEmbeddings, Base64IsLittleEndianFloat32) {
  auto f = json::parse(
      openai::embeddings(json::parse(R"({"model":"e","input":[[1,2,3]]})").as_object()).body);
  auto b = json::parse(
      openai::embeddings(
          json::parse(R"({"model":"e","input":[1,2,3],"encoding_format":"base64"})").as_object())
          .body);
  EXPECT_EQ(b.at("usage").at("prompt_tokens"), 3);
  const auto& text = b.at("data").at(0).at("embedding").as_string();
  unsigned char raw[64];
  const int n = EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  ASSERT_GE(n, 32);  // 8 floats (EVP_DecodeBlock keeps padding bytes)
  for (int i = 0; i < 8; ++i) {
    float x;
    std::memcpy(&x, raw + 4 * i, 4);
    EXPECT_FLOAT_EQ(x, f.at("data").at(0).at("embedding").at(i).to_number<float>());
  }
}

TEST(OpenAiEmbeddings, RejectsBadInput) {
  for (auto body :
       {R"({"model":"e"})", R"({"model":"e","input":[]})", R"({"model":"e","input":[1,"a"]})",
        R"({"model":"e","input":"a","dimensions":0})",
        R"({"model":"e","input":"a","encoding_format":"hex"})"}) {
    EXPECT_EQ(openai::embeddings(json::parse(body).as_object()).status, 400u) << body;
  }
}

}  // namespace
}  // namespace mockllm
