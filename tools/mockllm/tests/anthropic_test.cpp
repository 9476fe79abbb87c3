#include "anthropic.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace mockllm {
namespace {
namespace json = boost::json;

Reply messages(std::string_view request, Control control = {}) {
  return anthropic::messages(json::parse(request).as_object(), control);
}

std::string header(const Reply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

struct Event {
  std::string name;
  json::value data;
  bool paced;
};

// Each event as Anthropic frames it: "event: NAME\ndata: JSON\n\n", the JSON's type = NAME.
std::vector<Event> events(const Reply& r) {
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.content_type, "text/event-stream");
  std::vector<Event> out;
  for (const auto& e : r.events) {
    const std::string& s = e.data;
    EXPECT_EQ(s.substr(0, 7), "event: ");
    const std::size_t nl = s.find('\n');
    EXPECT_EQ(s.substr(nl + 1, 6), "data: ");
    EXPECT_EQ(s.substr(s.size() - 2), "\n\n");
    Event ev{s.substr(7, nl - 7), json::parse(s.substr(nl + 7)), e.paced};
    EXPECT_EQ(ev.data.at("type").as_string(), ev.name);
    out.push_back(std::move(ev));
  }
  return out;
}

std::vector<std::string> names(const std::vector<Event>& ev) {
  std::vector<std::string> out;
  for (const auto& e : ev) out.push_back(e.name);
  return out;
}

constexpr std::string_view kHello =
    R"({"model":"claude-m","max_tokens":100,"system":"12345678",
        "messages":[{"role":"user","content":"0123456789abcdef"}]})";

TEST(AnthropicMessages, AnswersWithDeterministicText) {
  Reply r = messages(kHello);
  ASSERT_EQ(r.status, 200u);
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(header(r, "request-id").starts_with("req_"));
  auto v = json::parse(r.body);
  EXPECT_TRUE(v.at("id").as_string().starts_with("msg_"));
  EXPECT_EQ(v.at("type"), "message");
  EXPECT_EQ(v.at("role"), "assistant");
  EXPECT_EQ(v.at("model"), "claude-m");
  ASSERT_EQ(v.at("content").as_array().size(), 1u);
  EXPECT_EQ(v.at("content").at(0).at("type"), "text");
  EXPECT_EQ(v.at("content").at(0).at("text"), "alpha bravo charlie delta echo foxtrot golf hotel");
  EXPECT_EQ(v.at("stop_reason"), "end_turn");
  EXPECT_TRUE(v.at("stop_sequence").is_null());
  const auto& usage = v.at("usage");
  EXPECT_EQ(usage.at("input_tokens"), 6);  // (8 + 16) / 4: system and messages count
  EXPECT_EQ(usage.at("output_tokens"), 8);
  EXPECT_EQ(usage.at("cache_creation_input_tokens"), 0);
  EXPECT_EQ(usage.at("cache_read_input_tokens"), 0);
}

TEST(AnthropicMessages, CountsBlocksAndReportsCacheTokens) {
  Control c;
  c.tokens = 2;
  c.cache_read_tokens = 100;
  c.cache_creation_tokens = 7;
  Reply r = messages(R"({"model":"m","max_tokens":10,
      "system":[{"type":"text","text":"12345678","cache_control":{"type":"ephemeral"}}],
      "messages":[{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image"}]},
                  {"role":"assistant","content":"efgh"},
                  {"role":"user","content":"ijkl"}]})",
                     c);
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("content").at(0).at("text"), "alpha bravo");
  EXPECT_EQ(v.at("usage").at("input_tokens"), 5);  // 20 code points; cache tokens not included
  EXPECT_EQ(v.at("usage").at("cache_read_input_tokens"), 100);
  EXPECT_EQ(v.at("usage").at("cache_creation_input_tokens"), 7);
  EXPECT_EQ(v.at("usage").at("output_tokens"), 2);
}

TEST(AnthropicCountTokens, CountsLikeTheMessagesInputTokens) {
  constexpr std::string_view req =
      R"({"model":"m","max_tokens":10,
          "system":[{"type":"text","text":"12345678"}],
          "messages":[{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image"}]},
                      {"role":"assistant","content":"efgh"},
                      {"role":"user","content":"ijkl"}]})";
  const json::value parsed = json::parse(req);
  Reply r = anthropic::count_tokens(parsed.as_object());
  ASSERT_EQ(r.status, 200u);
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(header(r, "request-id").starts_with("req_"));
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"input_tokens":5})"));
  EXPECT_EQ(json::parse(messages(req).body).at("usage").at("input_tokens"), 5);
  // No max_tokens needed; stream and tools do not change the count.
  EXPECT_EQ(json::parse(anthropic::count_tokens(json::parse(R"({"model":"m",
                "tools":[{"name":"t","input_schema":{"type":"object"}}],
                "messages":[{"role":"user","content":"0123456789abcdef"}]})")
                                                    .as_object())
                            .body),
            json::parse(R"({"input_tokens":4})"));
}

TEST(AnthropicCountTokens, RejectsWhatIsNotAMessagesPrompt) {
  for (auto body : {R"({"messages":[{"role":"user","content":"x"}]})",
                    R"({"model":"m"})",
                    R"({"model":"m","messages":[]})",
                    R"({"model":"m","messages":[{"role":"system","content":"x"}]})",
                    R"({"model":"m","system":5,"messages":[{"role":"user","content":"x"}]})"}) {
    Reply r = anthropic::count_tokens(json::parse(body).as_object());
    EXPECT_EQ(r.status, 400u) << body;
    EXPECT_EQ(json::parse(r.body).at("error").at("type"), "invalid_request_error") << body;
  }
}

TEST(AnthropicMessages, MaxTokensCutsTheAnswer) {
  auto v = json::parse(
      messages(R"({"model":"m","max_tokens":3,"messages":[{"role":"user","content":"x"}]})").body);
  EXPECT_EQ(v.at("stop_reason"), "max_tokens");
  EXPECT_EQ(v.at("content").at(0).at("text"), "alpha bravo charlie");
  EXPECT_EQ(v.at("usage").at("output_tokens"), 3);
}

TEST(AnthropicMessages, StopSequenceHitEndsOnTheFirstOne) {
  constexpr std::string_view req =
      R"({"model":"m","max_tokens":50,"stop_sequences":["END","STOP"],
          "messages":[{"role":"user","content":"x"}]})";
  auto plain = json::parse(messages(req).body);
  EXPECT_EQ(plain.at("stop_reason"), "end_turn");  // only when the mock option asks
  Control c;
  c.stop_sequence_hit = true;
  auto hit = json::parse(messages(req, c).body);
  EXPECT_EQ(hit.at("stop_reason"), "stop_sequence");
  EXPECT_EQ(hit.at("stop_sequence"), "END");
  // Without stop_sequences in the request there is nothing to hit.
  auto none = json::parse(
      messages(R"({"model":"m","max_tokens":50,"messages":[{"role":"user","content":"x"}]})", c)
          .body);
  EXPECT_EQ(none.at("stop_reason"), "end_turn");
}

TEST(AnthropicMessages, RejectsWhatIsNotAMessagesRequest) {
  for (
      auto body : {
          R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})",
          R"({"model":5,"max_tokens":5,"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":"5","messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5.5,"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5})",
          R"({"model":"m","max_tokens":5,"messages":[]})",
          R"({"model":"m","max_tokens":5,"messages":{}})",
          R"({"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"messages":[{"role":"user"}]})",
          R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"x"}]}]})",
          R"({"model":"m","max_tokens":5,"stream":"yes","messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"tools":[{}],"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"tools":[{"name":"t"}],"tool_choice":{"type":"some"},
               "messages":[{"role":"user","content":"x"}]})",
          // A system message before the first user turn belongs in the top-level `system`.
          R"({"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"},{"role":"user","content":"y"}]})",
          R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},
               {"role":"system","content":[{"type":"image","source":{}}]}]})",
          R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"developer","content":"y"}]})",
          R"({"model":"m","max_tokens":5,"thinking":{"type":"sometimes"},"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"thinking":"adaptive","messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5000,"thinking":{"type":"enabled"},"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":1000},
               "messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":2000},
               "messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5000,"thinking":{"type":"adaptive","budget_tokens":2000},
               "messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"output_config":{"effort":"extreme"},"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"output_config":{"format":{"type":"regex"}},"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"output_config":"high","messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"context_management":{"edits":[{"keep":"all"}]},"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"context_management":{"edits":{}},"messages":[{"role":"user","content":"x"}]})",
          R"({"model":"m","max_tokens":5,"metadata":{"user_id":5},"messages":[{"role":"user","content":"x"}]})",
      }) {
    Reply r = messages(body);
    EXPECT_EQ(r.status, 400u) << body;
    auto v = json::parse(r.body);
    EXPECT_EQ(v.at("type"), "error") << body;
    EXPECT_EQ(v.at("error").at("type"), "invalid_request_error") << body;
    EXPECT_FALSE(v.at("error").at("message").as_string().empty());
    EXPECT_EQ(v.at("request_id").as_string(), header(r, "request-id"));
  }
}

// What Claude Code 2.1 sends (captured from `claude -p` through a gateway, trimmed): a system
// message inside `messages` after the user turn, adaptive thinking, context management, an
// effort, a JSON user_id. The real API takes all of it; so does the mock.
constexpr std::string_view kClaudeCode = R"({"model":"claude-m","max_tokens":32000,"stream":false,
    "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.197;"},
              {"type":"text","text":"You are a Claude agent.","cache_control":{"type":"ephemeral"}}],
    "messages":[{"role":"user","content":[{"type":"text","text":"Say pong","cache_control":{"type":"ephemeral"}}]},
                {"role":"system","content":"Available agent types: Explore."},
                {"role":"assistant","content":"pong"},
                {"role":"user","content":"again"},
                {"role":"system","content":[{"type":"text","text":"Be brief."}]}],
    "metadata":{"user_id":"{\"device_id\":\"10984d41\",\"account_uuid\":\"\",\"session_id\":\"05707b6c\"}"},
    "thinking":{"type":"adaptive"},
    "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
    "output_config":{"effort":"high"}})";

TEST(AnthropicMessages, TakesWhatClaudeCodeSends) {
  Reply r = messages(kClaudeCode);
  ASSERT_EQ(r.status, 200u) << r.body;
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("content").at(0).at("type"), "text");
  // System messages are prompt: 47 + 23 (system) + 8 + 31 + 4 + 5 + 9 = 127 code points.
  EXPECT_EQ(v.at("usage").at("input_tokens"), 31);
}

TEST(AnthropicMessages, TakesEveryThinkingTypeAndEffort) {
  for (auto fields : {R"("thinking":{"type":"enabled","budget_tokens":1024})",
                      R"("thinking":{"type":"enabled","budget_tokens":4999,"display":"omitted"})",
                      R"("thinking":{"type":"disabled"})", R"("thinking":{"type":"adaptive","display":"summarized"})",
                      R"("thinking":{"type":"between_tools"})", R"("output_config":{"effort":"low"})",
                      R"("output_config":{"effort":"medium"})", R"("output_config":{"effort":"xhigh"})",
                      R"("output_config":{"effort":"max"})", R"("output_config":{"effort":null})",
                      R"("output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}})",
                      R"("context_management":{"edits":[{"type":"clear_tool_uses_20250919","trigger":{"type":"input_tokens","value":30000}}]})",
                      R"("context_management":{})", R"("metadata":{})"}) {
    std::string body = std::string(R"({"model":"m","max_tokens":5000,"messages":[{"role":"user","content":"x"}],)") +
                       fields + "}";
    Reply r = messages(body);
    EXPECT_EQ(r.status, 200u) << fields << ": " << r.body;
  }
}

TEST(AnthropicCountTokens, CountsSystemMessagesToo) {
  const json::value parsed = json::parse(kClaudeCode);
  EXPECT_EQ(json::parse(anthropic::count_tokens(parsed.as_object()).body), json::parse(R"({"input_tokens":31})"));
}

constexpr std::string_view kToolRequest = R"({"model":"m","max_tokens":100,
    "tools":[{"name":"get_weather","input_schema":{"type":"object"}},{"name":"other"}],
    "messages":[{"role":"user","content":"What is the weather in \"Paris\" today?"}]})";

std::string with(std::string_view request, std::string_view fields) {
  std::string out(request);
  out.insert(out.size() - 1, fields);
  return out;
}

TEST(AnthropicMessages, CallsTheFirstTool) {
  auto v = json::parse(messages(kToolRequest).body);
  EXPECT_EQ(v.at("stop_reason"), "tool_use");
  ASSERT_EQ(v.at("content").as_array().size(), 1u);
  const auto& block = v.at("content").at(0);
  EXPECT_EQ(block.at("type"), "tool_use");
  EXPECT_TRUE(block.at("id").as_string().starts_with("toolu_"));
  EXPECT_EQ(block.at("name"), "get_weather");
  EXPECT_EQ(block.at("input").at("echo"), "What is the weat");
  for (auto choice : {R"({"type":"auto"})", R"({"type":"any"})"}) {
    auto w =
        json::parse(messages(with(kToolRequest, std::string(",\"tool_choice\":") + choice)).body);
    EXPECT_EQ(w.at("content").at(0).at("name"), "get_weather") << choice;
  }
}

TEST(AnthropicMessages, ToolChoiceNamesTheToolAndNoneOrAToolResultAnswersText) {
  auto named = json::parse(
      messages(with(kToolRequest, R"(,"tool_choice":{"type":"tool","name":"other"})")).body);
  EXPECT_EQ(named.at("content").at(0).at("name"), "other");

  auto none = json::parse(messages(with(kToolRequest, R"(,"tool_choice":{"type":"none"})")).body);
  EXPECT_EQ(none.at("stop_reason"), "end_turn");
  EXPECT_EQ(none.at("content").at(0).at("type"), "text");

  auto answered = json::parse(messages(R"({"model":"m","max_tokens":100,
      "tools":[{"name":"get_weather"}],
      "messages":[{"role":"user","content":"weather?"},
                  {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},
                  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"}]}]})")
                                  .body);
  EXPECT_EQ(answered.at("stop_reason"), "end_turn");
  EXPECT_EQ(answered.at("content").at(0).at("type"), "text");
  // weather? (8) + sunny (5) = 13 code points: tool results count as input.
  EXPECT_EQ(answered.at("usage").at("input_tokens"), 3);
}

TEST(AnthropicStream, SendsAnthropicsEventSequence) {
  Control c;
  c.tokens = 3;
  c.cache_read_tokens = 4;
  c.cache_creation_tokens = 2;
  Reply r = messages(with(kHello, R"(,"stream":true)"), c);
  EXPECT_TRUE(header(r, "request-id").starts_with("req_"));
  auto ev = events(r);
  EXPECT_EQ(names(ev), (std::vector<std::string>{"message_start", "content_block_start", "ping",
                                                 "content_block_delta", "content_block_delta",
                                                 "content_block_delta", "content_block_stop",
                                                 "message_delta", "message_stop"}));
  const auto& message = ev[0].data.at("message");
  EXPECT_TRUE(message.at("id").as_string().starts_with("msg_"));
  EXPECT_EQ(message.at("model"), "claude-m");
  EXPECT_TRUE(message.at("content").as_array().empty());
  EXPECT_TRUE(message.at("stop_reason").is_null());
  EXPECT_EQ(message.at("usage").at("input_tokens"), 6);
  EXPECT_EQ(message.at("usage").at("output_tokens"), 1);
  EXPECT_EQ(message.at("usage").at("cache_read_input_tokens"), 4);
  EXPECT_EQ(message.at("usage").at("cache_creation_input_tokens"), 2);

  EXPECT_EQ(ev[1].data.at("index"), 0);
  EXPECT_EQ(ev[1].data.at("content_block"), json::parse(R"({"type":"text","text":""})"));
  std::string text;
  for (int i = 3; i <= 5; ++i) {
    EXPECT_TRUE(ev[static_cast<std::size_t>(i)].paced);
    const auto& delta = ev[static_cast<std::size_t>(i)].data.at("delta");
    EXPECT_EQ(delta.at("type"), "text_delta");
    text += delta.at("text").as_string();
  }
  EXPECT_EQ(text, "alpha bravo charlie");
  EXPECT_FALSE(ev[0].paced);
  EXPECT_EQ(ev[6].data.at("index"), 0);
  EXPECT_EQ(ev[7].data, json::parse(R"({"type":"message_delta",
      "delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}})"));
  EXPECT_EQ(ev[8].data, json::parse(R"({"type":"message_stop"})"));
}

TEST(AnthropicStream, StopReasonsReachTheMessageDelta) {
  Control c;
  c.stop_sequence_hit = true;
  auto ev = events(messages(R"({"model":"m","max_tokens":2,"stream":true,"stop_sequences":["##"],
      "messages":[{"role":"user","content":"x"}]})",
                            c));
  EXPECT_EQ(ev.size(), 8u);  // 2 deltas
  EXPECT_EQ(ev[6].data.at("delta").at("stop_reason"), "stop_sequence");
  EXPECT_EQ(ev[6].data.at("delta").at("stop_sequence"), "##");
  EXPECT_EQ(ev[6].data.at("usage").at("output_tokens"), 2);
}

TEST(AnthropicStream, StreamsToolInputInPieces) {
  auto ev = events(messages(with(kToolRequest, R"(,"stream":true)")));
  ASSERT_GE(ev.size(), 8u);
  const auto& block = ev[1].data.at("content_block");
  EXPECT_EQ(block.at("type"), "tool_use");
  EXPECT_TRUE(block.at("id").as_string().starts_with("toolu_"));
  EXPECT_EQ(block.at("name"), "get_weather");
  EXPECT_TRUE(block.at("input").as_object().empty());
  std::string partial;
  std::size_t pieces = 0;
  for (const auto& e : ev) {
    if (e.name != "content_block_delta") continue;
    ++pieces;
    EXPECT_TRUE(e.paced);
    EXPECT_EQ(e.data.at("delta").at("type"), "input_json_delta");
    partial += e.data.at("delta").at("partial_json").as_string();
  }
  EXPECT_GE(pieces, 2u);
  EXPECT_LE(pieces, 3u);
  EXPECT_EQ(json::parse(partial), json::parse(R"({"echo":"What is the weat"})"));
  EXPECT_EQ(ev[ev.size() - 2].data.at("delta").at("stop_reason"), "tool_use");
}

TEST(AnthropicStream, ErrorAfterNDeltasEndsTheStream) {
  Control c;
  c.stream_error_after = 2;
  auto ev = events(messages(with(kHello, R"(,"stream":true)"), c));
  EXPECT_EQ(names(ev),
            (std::vector<std::string>{"message_start", "content_block_start", "ping",
                                      "content_block_delta", "content_block_delta", "error"}));
  EXPECT_EQ(ev.back().data, json::parse(R"({"type":"error",
      "error":{"type":"overloaded_error","message":"Overloaded"}})"));
  c.stream_error_after = 0;
  EXPECT_EQ(events(messages(with(kHello, R"(,"stream":true)"), c)).size(), 4u);
}

TEST(AnthropicErrors, InjectedStatusTakesAnthropicsTypes) {
  const std::pair<int, std::string_view> cases[] = {{400, "invalid_request_error"},
                                                    {401, "authentication_error"},
                                                    {403, "permission_error"},
                                                    {404, "not_found_error"},
                                                    {409, "conflict_error"},
                                                    {413, "request_too_large"},
                                                    {422, "invalid_request_error"},
                                                    {429, "rate_limit_error"},
                                                    {500, "api_error"},
                                                    {502, "api_error"},
                                                    {503, "api_error"},
                                                    {504, "timeout_error"},
                                                    {529, "overloaded_error"}};
  for (const auto& [status, type] : cases) {
    Control c;
    c.status = status;
    Reply r = anthropic::injected_error(c);
    EXPECT_EQ(r.status, static_cast<unsigned>(status));
    auto v = json::parse(r.body);
    EXPECT_EQ(v.at("type"), "error");
    EXPECT_EQ(v.at("error").at("type").as_string(), type) << status;
    EXPECT_TRUE(v.at("request_id").as_string().starts_with("req_"));
    EXPECT_EQ(v.at("request_id").as_string(), header(r, "request-id"));
  }
}

TEST(AnthropicErrors, InjectedRetryAfterAndRawBody) {
  Control c;
  c.status = 429;
  c.retry_after = 7;
  Reply r = anthropic::injected_error(c);
  EXPECT_EQ(header(r, "Retry-After"), "7");
  c.status = 502;
  c.error_body = "<html>bad gateway</html>";
  c.error_content_type = "text/html";
  r = anthropic::injected_error(c);
  EXPECT_EQ(r.status, 502u);
  EXPECT_EQ(r.body, "<html>bad gateway</html>");
  EXPECT_EQ(r.content_type, "text/html");
  EXPECT_TRUE(header(r, "request-id").starts_with("req_"));
}

}  // namespace
}  // namespace mockllm
