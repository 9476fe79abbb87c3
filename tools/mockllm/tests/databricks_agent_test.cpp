#include "databricks_agent.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "databricks.h"

namespace mockllm {
namespace {
namespace json = boost::json;

constexpr std::string_view kWords = "alpha bravo charlie delta echo foxtrot golf hotel";
constexpr std::string_view kAsk = R"({"role":"user","content":"What does Databricks do?"})";

// Through the invocations entry point, as the router calls it.
Reply invoke(std::string_view endpoint, std::string_view request, Control control = {}) {
  return databricks::invocations(endpoint, json::parse(request).as_object(), control);
}

std::string header(const Reply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

// `data:` lines only (no `event:` lines), ending with [DONE].
std::vector<json::value> data_events(const Reply& r) {
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.content_type, "text/event-stream");
  EXPECT_EQ(r.events.back().data, "data: [DONE]\n\n");
  std::vector<json::value> out;
  for (std::size_t i = 0; i + 1 < r.events.size(); ++i) {
    const std::string& e = r.events[i].data;
    EXPECT_TRUE(e.starts_with("data: ")) << e;
    out.push_back(json::parse(e.substr(6)));
  }
  return out;
}

TEST(DatabricksAgent, AnInputOfItemsIsAnAgentRequest) {
  auto is_agent = [](std::string_view body) {
    return databricks::is_agent_request(json::parse(body).as_object());
  };
  EXPECT_TRUE(is_agent(R"({"input":[{"role":"user","content":"hi"}]})"));
  EXPECT_TRUE(
      is_agent(R"({"input":[{"type":"function_call_output","call_id":"c","output":"x"}]})"));
  EXPECT_FALSE(is_agent(R"({"input":"hi"})"));
  EXPECT_FALSE(is_agent(R"({"input":["a","b"]})"));
  EXPECT_FALSE(is_agent(R"({"input":[1,2,3]})"));
  EXPECT_FALSE(is_agent(R"({"input":[]})"));
  EXPECT_FALSE(is_agent(R"({"messages":[]})"));
}

TEST(DatabricksAgent, AnswersAsAResponsesAgent) {
  Reply r = invoke("my-agent", "{\"input\":[" + std::string(kAsk) + "]}");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(header(r, "served-model-name"), "my-agent");
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("object"), "response");
  EXPECT_EQ(v.at("id").as_string().size(), 36u);  // a UUID
  ASSERT_EQ(v.at("output").as_array().size(), 1u);
  const auto& item = v.at("output").at(0);
  EXPECT_EQ(item.at("type"), "message");
  EXPECT_EQ(item.at("role"), "assistant");
  EXPECT_EQ(item.at("content"),
            json::parse(R"([{"type":"output_text","text":")" + std::string(kWords) + "\"}]"));
  EXPECT_EQ(v.at("usage").at("input_tokens"), 6);
  EXPECT_EQ(v.at("usage").at("output_tokens"), 8);
  EXPECT_EQ(v.at("usage").at("total_tokens"), 14);
  EXPECT_FALSE(v.as_object().contains("custom_outputs"));  // none asked for, none sent
  EXPECT_EQ(v.at("databricks_output").at("databricks_request_id"), v.at("id"));
  EXPECT_FALSE(v.at("databricks_output").as_object().contains("trace"));
}

TEST(DatabricksAgent, EchoesCustomInputsAndReturnsATraceWhenAsked) {
  auto v = json::parse(invoke("ag", "{\"input\":[" + std::string(kAsk) + R"(],
      "custom_inputs":{"session":"s1","n":2},"context":{"conversation_id":"c1","user_id":"u1"},
      "databricks_options":{"return_trace":true}})")
                           .body);
  EXPECT_EQ(v.at("custom_outputs"), json::parse(R"({"session":"s1","n":2})"));
  const auto& trace = v.at("databricks_output").at("trace");
  EXPECT_TRUE(trace.at("info").at("trace_id").as_string().starts_with("tr-"));
  EXPECT_EQ(trace.at("info").at("state"), "OK");
  EXPECT_EQ(trace.at("info").at("request_preview"), "What does Databricks do?");
  EXPECT_EQ(trace.at("info").at("response_preview"), json::value(kWords));
  EXPECT_EQ(trace.at("data").at("spans"), json::array());
}

TEST(DatabricksAgent, AnswersInTextWhateverToolsItIsGiven) {
  auto v = json::parse(invoke("ag", "{\"input\":[" + std::string(kAsk) + R"(],
      "tools":[{"type":"function","name":"f","parameters":{}}]})")
                           .body);
  EXPECT_EQ(v.at("output").at(0).at("type"), "message");
  // A conversation carrying the agent's earlier tool calls is read, and counted.
  auto w = json::parse(invoke("ag", R"({"input":[{"role":"user","content":"12345678"},
      {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
      {"type":"function_call_output","call_id":"c1","output":"12345678"},
      {"type":"message","role":"assistant","content":[{"type":"output_text","text":"ok"}]}]})")
                           .body);
  EXPECT_EQ(w.at("usage").at("input_tokens"), 5);  // 8 + 2 + 8 + 2 code points
}

TEST(DatabricksAgent, StreamsMlflowEventsThenDone) {
  Control c;
  c.tokens = 3;
  c.cache_read_tokens = 5;
  Reply r = invoke(
      "ag", "{\"stream\":true,\"custom_inputs\":{\"k\":1},\"input\":[" + std::string(kAsk) + "]}",
      c);
  EXPECT_EQ(header(r, "served-model-name"), "ag");
  auto es = data_events(r);
  ASSERT_EQ(es.size(), 5u);
  std::string text;
  const auto item_id = es[0].at("item_id");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(r.events[static_cast<std::size_t>(i)].paced);
    EXPECT_EQ(es[i].at("type"), "response.output_text.delta");
    EXPECT_EQ(es[i].at("item_id"), item_id);
    text += es[i].at("delta").as_string();
  }
  EXPECT_EQ(text, "alpha bravo charlie");
  EXPECT_EQ(es[3].at("type"), "response.output_item.done");
  EXPECT_EQ(es[3].at("item").at("id"), item_id);
  EXPECT_EQ(es[3].at("item").at("content").at(0).at("text"), json::value(text));
  EXPECT_EQ(es[4].at("type"), "response.completed");
  const auto& response = es[4].at("response");
  EXPECT_EQ(response.at("usage").at("input_tokens"), 11);
  EXPECT_EQ(response.at("usage").at("input_tokens_details").at("cached_tokens"), 5);
  EXPECT_EQ(response.at("usage").at("output_tokens"), 3);
  EXPECT_EQ(response.at("custom_outputs"), json::parse(R"({"k":1})"));
  EXPECT_EQ(es[4].at("databricks_output").at("databricks_request_id"), response.at("id"));
}

TEST(DatabricksAgent, AStreamErrorIsMlflowsErrorEventWithoutDone) {
  Control c;
  c.stream_error_after = 1;
  Reply r = invoke("ag", "{\"stream\":true,\"input\":[" + std::string(kAsk) + "]}", c);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_TRUE(r.events[0].data.find("response.output_text.delta") != std::string::npos);
  auto error = json::parse(r.events[1].data.substr(6));
  EXPECT_EQ(error.at("type"), "error");
  EXPECT_EQ(error.at("code"), "server_error");
  EXPECT_TRUE(error.at("message").is_string());
}

TEST(DatabricksAgent, RefusesWhatTheAgentsSchemaRefuses) {
  for (auto body :
       {R"({"input":[{"role":"user"}]})", R"({"input":[{"content":"x"}]})",
        R"({"input":[{"type":"function_call","name":"f"}]})",
        R"({"input":[{"role":"user","content":"x"},"loose text"]})",
        R"({"input":[{"role":"user","content":"x"}],"custom_inputs":[1]})",
        R"({"input":[{"role":"user","content":"x"}],"context":{"user_id":7}})",
        R"({"input":[{"role":"user","content":"x"}],"databricks_options":{"return_trace":"yes"}})",
        R"({"input":[{"role":"user","content":"x"}],"stream":"yes"})"}) {
    Reply r = invoke("ag", body);
    EXPECT_EQ(r.status, 400u) << body;
    EXPECT_EQ(json::parse(r.body).at("error_code"), "BAD_REQUEST") << body;
  }
}

TEST(DatabricksAgent, AGuardEndpointGivesItsVerdict) {
  auto v = json::parse(
      invoke("safety-guard", R"({"input":[{"role":"user","content":"UNSAFE-CONTENT"}]})").body);
  EXPECT_EQ(v.at("output").at(0).at("content").at(0).at("text"), "unsafe\nS1");
}

}  // namespace
}  // namespace mockllm
