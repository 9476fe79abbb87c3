#include "databricks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace mockllm {
namespace {
namespace json = boost::json;

Reply invoke(std::string_view endpoint, std::string_view request, Control control = {}) {
  return databricks::invocations(endpoint, json::parse(request).as_object(), control);
}

std::string header(const Reply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

std::vector<json::value> chunks(const Reply& r) {
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.events.back().data, "data: [DONE]\n\n");
  std::vector<json::value> out;
  for (std::size_t i = 0; i + 1 < r.events.size(); ++i) {
    out.push_back(json::parse(r.events[i].data.substr(6)));
  }
  return out;
}

TEST(DatabricksPath, FindsTheEndpointName) {
  EXPECT_EQ(databricks::invocations_endpoint("/serving-endpoints/llama-70b/invocations"),
            "llama-70b");
  EXPECT_EQ(databricks::invocations_endpoint("/serving-endpoints//invocations"), std::nullopt);
  EXPECT_EQ(databricks::invocations_endpoint("/serving-endpoints/a/b/invocations"), std::nullopt);
  EXPECT_EQ(databricks::invocations_endpoint("/serving-endpoints/a"), std::nullopt);
  EXPECT_EQ(databricks::invocations_endpoint("/v1/serving-endpoints/a/invocations"), std::nullopt);
}

TEST(DatabricksInvocations, ChatAnswersAsOpenAiWithTheEndpointAsModel) {
  Control c;
  c.tokens = 2;
  c.cache_read_tokens = 10;
  Reply r = invoke("my-llm", R"({"messages":[{"role":"user","content":"0123456789abcdef"}],
      "usage_context":{"project":"p1"}})",
                   c);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(header(r, "served-model-name"), "my-llm");
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("object"), "chat.completion");
  EXPECT_EQ(v.at("model"), "my-llm");
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "alpha bravo");
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 14);  // 4 + 10 cached
  EXPECT_EQ(v.at("usage").at("prompt_tokens_details").at("cached_tokens"), 10);
  EXPECT_EQ(v.at("usage").at("total_tokens"), 16);
}

TEST(DatabricksInvocations, IgnoresTheRequestsModel) {
  auto v = json::parse(
      invoke("ep", R"({"model":"something-else","messages":[{"role":"user","content":"x"}]})")
          .body);
  EXPECT_EQ(v.at("model"), "ep");
  v = json::parse(invoke("ep", R"({"model":7,"input":"x"})").body);
  EXPECT_EQ(v.at("model"), "ep");
}

TEST(DatabricksInvocations, EmbeddingsWhenTheBodyHasInput) {
  Reply r = invoke("gte", R"({"input":["a","b"]})");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(header(r, "served-model-name"), "gte");
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("object"), "list");
  EXPECT_EQ(v.at("data").as_array().size(), 2u);
  EXPECT_EQ(v.at("model"), "gte");
}

TEST(DatabricksInvocations, ErrorsTakeDatabricksShape) {
  for (auto body : {R"({"prompt":"x"})", R"({"messages":[]})", R"({"input":[]})",
                    R"({"messages":[{"role":"user","content":"x"}],"n":0})"}) {
    Reply r = invoke("ep", body);
    EXPECT_EQ(r.status, 400u) << body;
    auto v = json::parse(r.body);
    EXPECT_EQ(v.at("error_code"), "BAD_REQUEST") << body;
    EXPECT_FALSE(v.at("message").as_string().empty());
    EXPECT_FALSE(v.as_object().contains("error"));
    EXPECT_EQ(header(r, "served-model-name"), "");
  }
}

TEST(DatabricksStream, EveryChunkCarriesTheRunningUsage) {
  Control c;
  c.tokens = 3;
  auto ch = chunks(
      invoke("ep", R"({"stream":true,"messages":[{"role":"user","content":"12345678"}]})", c));
  ASSERT_EQ(ch.size(), 5u);  // role, 3 tokens, finish: no separate usage chunk
  const int expected_completion[] = {0, 1, 2, 3, 3};
  std::string text;
  for (std::size_t i = 0; i < ch.size(); ++i) {
    EXPECT_EQ(ch[i].at("model"), "ep");
    EXPECT_EQ(ch[i].at("object"), "chat.completion.chunk");
    const auto& usage = ch[i].at("usage");
    EXPECT_EQ(usage.at("prompt_tokens"), 2);
    EXPECT_EQ(usage.at("completion_tokens"), expected_completion[i]) << i;
    EXPECT_EQ(usage.at("total_tokens"), 2 + expected_completion[i]);
    if (const auto* content =
            ch[i].at("choices").at(0).at("delta").as_object().if_contains("content")) {
      text += content->as_string();
    }
  }
  EXPECT_EQ(text, "alpha bravo charlie");
  EXPECT_EQ(ch.back().at("choices").at(0).at("finish_reason"), "stop");
  // Asking for usage changes nothing: it is already on every chunk.
  auto asked = chunks(invoke("ep", R"({"stream":true,"stream_options":{"include_usage":true},
      "messages":[{"role":"user","content":"12345678"}]})",
                             c));
  EXPECT_EQ(asked.size(), 5u);
  EXPECT_EQ(asked.back().at("usage").at("completion_tokens"), 3);
}

TEST(DatabricksStream, ToolCallUsageGrowsToTheTotal) {
  auto ch = chunks(invoke("ep", R"({"stream":true,"messages":[{"role":"user","content":"hi"}],
      "tools":[{"type":"function","function":{"name":"f"}}]})"));
  EXPECT_EQ(ch.front().at("usage").at("completion_tokens"), 0);
  EXPECT_EQ(ch.back().at("usage").at("completion_tokens"), 8);
  EXPECT_EQ(ch.back().at("choices").at(0).at("finish_reason"), "tool_calls");
  for (std::size_t i = 1; i < ch.size(); ++i) {
    EXPECT_GE(ch[i].at("usage").at("completion_tokens").as_int64(),
              ch[i - 1].at("usage").at("completion_tokens").as_int64());
  }
}

TEST(DatabricksErrors, InjectedStatusTakesDatabricksCodes) {
  const std::pair<int, std::string_view> cases[] = {{400, "BAD_REQUEST"},
                                                    {401, "UNAUTHENTICATED"},
                                                    {403, "PERMISSION_DENIED"},
                                                    {404, "ENDPOINT_NOT_FOUND"},
                                                    {429, "REQUEST_LIMIT_EXCEEDED"},
                                                    {500, "INTERNAL_ERROR"},
                                                    {503, "TEMPORARILY_UNAVAILABLE"},
                                                    {504, "DEADLINE_EXCEEDED"},
                                                    {502, "INTERNAL_ERROR"}};
  for (const auto& [status, code] : cases) {
    Control c;
    c.status = status;
    c.retry_after = 3;
    Reply r = databricks::injected_error(c);
    EXPECT_EQ(r.status, static_cast<unsigned>(status));
    auto v = json::parse(r.body);
    EXPECT_EQ(v.at("error_code").as_string(), code) << status;
    EXPECT_TRUE(v.at("message").is_string());
    EXPECT_EQ(header(r, "Retry-After"), "3");
  }
  Control raw;
  raw.status = 503;
  raw.error_body = "upstream request timeout";
  raw.error_content_type = "text/plain";
  Reply r = databricks::injected_error(raw);
  EXPECT_EQ(r.body, "upstream request timeout");
  EXPECT_EQ(r.content_type, "text/plain");
}

}  // namespace
}  // namespace mockllm
