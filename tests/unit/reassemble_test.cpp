#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "record/writer.h"

namespace gatehouse::record {
namespace {

namespace json = boost::json;

// One SSE event per data payload (optionally named), as the client got them.
std::string sse(std::initializer_list<std::string> payloads) {
  std::string out;
  for (const auto& p : payloads) out += "data: " + p + "\n\n";
  return out;
}

std::string event(const std::string& name, const std::string& data) {
  return "event: " + name + "\ndata: " + data + "\n\n";
}

json::object parsed(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  EXPECT_TRUE(v.is_object()) << text;
  return v.is_object() ? v.get_object() : json::object{};
}

// OpenAI chat.completion.chunk events become one chat.completion.
TEST(ReassembleOpenAI, TextDeltasFinishReasonAndUsageBecomeOneCompletion) {
  const std::string events = sse({
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]})",
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":", world"},"finish_reason":null}]})",
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})",
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}})",
      "[DONE]",
  });
  json::object o = parsed(reassemble(Capture::kOpenAIStream, events));
  EXPECT_EQ(o.at("object"), "chat.completion");
  EXPECT_EQ(o.at("id"), "chatcmpl-1");
  EXPECT_EQ(o.at("model"), "gpt-4o");
  EXPECT_EQ(o.at("created"), 1700000000);
  const auto& choices = o.at("choices").as_array();
  ASSERT_EQ(choices.size(), 1u);
  EXPECT_EQ(choices[0].at("index"), 0);
  EXPECT_EQ(choices[0].at("message").at("role"), "assistant");
  EXPECT_EQ(choices[0].at("message").at("content"), "Hello, world");
  EXPECT_EQ(choices[0].at("finish_reason"), "stop");
  EXPECT_EQ(o.at("usage").at("prompt_tokens"), 9);
  EXPECT_EQ(o.at("usage").at("completion_tokens"), 3);
  EXPECT_EQ(o.at("usage").at("total_tokens"), 12);
  EXPECT_FALSE(o.contains("error"));
}

TEST(ReassembleOpenAI, ToolCallArgumentFragmentsAreJoinedPerCall) {
  const std::string events = sse({
      R"({"id":"c2","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]})",
      R"({"id":"c2","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})",
      "[DONE]",
  });
  json::object o = parsed(reassemble(Capture::kOpenAIStream, events));
  const auto& choice = o.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  const auto& calls = choice.at("message").at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].at("id"), "call_a");
  EXPECT_EQ(calls[0].at("type"), "function");
  EXPECT_EQ(calls[0].at("function").at("name"), "get_weather");
  EXPECT_EQ(calls[0].at("function").at("arguments"), R"({"city":"Paris"})");
  EXPECT_EQ(calls[1].at("id"), "call_b");
  EXPECT_EQ(calls[1].at("function").at("name"), "get_time");
  EXPECT_EQ(calls[1].at("function").at("arguments"), "{}");
}

TEST(ReassembleOpenAI, SeveralChoicesAreKeptApartByIndex) {
  const std::string events = sse({
      R"({"choices":[{"index":0,"delta":{"content":"A"}},{"index":1,"delta":{"content":"B"}}]})",
      R"({"choices":[{"index":1,"delta":{"content":"b"},"finish_reason":"length"}]})",
      R"({"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]})",
  });
  json::object o = parsed(reassemble(Capture::kOpenAIStream, events));
  const auto& choices = o.at("choices").as_array();
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].at("message").at("content"), "Aa");
  EXPECT_EQ(choices[0].at("finish_reason"), "stop");
  EXPECT_EQ(choices[1].at("message").at("content"), "Bb");
  EXPECT_EQ(choices[1].at("finish_reason"), "length");
}

TEST(ReassembleOpenAI, AnErrorChunkIsKept) {
  const std::string events = sse({
      R"({"id":"c3","choices":[{"index":0,"delta":{"content":"par"}}]})",
      R"({"error":{"message":"upstream went away","type":"server_error","code":"upstream_error"}})",
  });
  json::object o = parsed(reassemble(Capture::kOpenAIStream, events));
  EXPECT_EQ(o.at("choices").at(0).at("message").at("content"), "par");
  EXPECT_EQ(o.at("error").at("message"), "upstream went away");
  EXPECT_EQ(o.at("error").at("code"), "upstream_error");
}

// Anthropic message events become one message with its content blocks.
TEST(ReassembleAnthropic, TextAndToolUseBlocksStopReasonAndMergedUsage) {
  const std::string events =
      event("message_start", R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}})") +
      event("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
      event("ping", R"({"type":"ping"})") +
      event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me "}})") +
      event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"check."}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
      event("content_block_start", R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}})") +
      event("content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}})") +
      event("content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\", \"days\": 3}"}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":1})") +
      event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}})") +
      event("message_stop", R"({"type":"message_stop"})");
  json::object m = parsed(reassemble(Capture::kAnthropicStream, events));
  EXPECT_EQ(m.at("id"), "msg_1");
  EXPECT_EQ(m.at("role"), "assistant");
  EXPECT_EQ(m.at("model"), "claude-sonnet");
  EXPECT_EQ(m.at("stop_reason"), "tool_use");
  EXPECT_EQ(m.at("usage").at("input_tokens"), 25) << "message_start's usage is kept";
  EXPECT_EQ(m.at("usage").at("output_tokens"), 42) << "message_delta's usage wins";
  const auto& content = m.at("content").as_array();
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0].at("type"), "text");
  EXPECT_EQ(content[0].at("text"), "Let me check.");
  EXPECT_EQ(content[1].at("type"), "tool_use");
  EXPECT_EQ(content[1].at("id"), "toolu_1");
  EXPECT_EQ(content[1].at("name"), "get_weather");
  ASSERT_TRUE(content[1].at("input").is_object()) << "the joined partial_json is parsed";
  EXPECT_EQ(content[1].at("input").at("city"), "Paris");
  EXPECT_EQ(content[1].at("input").at("days"), 3);
  EXPECT_FALSE(m.contains("error"));
}

// A tool with no parameters streams one empty partial_json: the input stays the start's {}.
TEST(ReassembleAnthropic, ToolUseWithEmptyPartialJsonKeepsAnObjectInput) {
  const std::string events =
      event("message_start", R"({"type":"message_start","message":{"id":"msg_2","content":[],"usage":{"input_tokens":5}}})") +
      event("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_2","name":"now","input":{}}})") +
      event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
      event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}})");
  json::object m = parsed(reassemble(Capture::kAnthropicStream, events));
  const auto& block = m.at("content").at(0);
  EXPECT_EQ(block.at("name"), "now");
  EXPECT_TRUE(block.at("input").is_object()) << "input became " << json::serialize(block.at("input"));
}

TEST(ReassembleAnthropic, AnErrorEventIsKept) {
  const std::string events =
      event("message_start", R"({"type":"message_start","message":{"id":"msg_3","content":[],"usage":{"input_tokens":5}}})") +
      event("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
      event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hal"}})") +
      event("error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  json::object m = parsed(reassemble(Capture::kAnthropicStream, events));
  EXPECT_EQ(m.at("content").at(0).at("text"), "Hal");
  EXPECT_EQ(m.at("error").at("type"), "overloaded_error");
  EXPECT_EQ(m.at("error").at("message"), "Overloaded");
}

// Events may end lines with CRLF (the SSE spec allows it).
TEST(ReassembleOpenAI, CarriageReturnLineEndsAreRead) {
  const std::string events =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\r\n\r\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"y\"},\"finish_reason\":\"stop\"}]}\r\n\r\n"
      "data: [DONE]\r\n\r\n";
  json::object o = parsed(reassemble(Capture::kOpenAIStream, events));
  ASSERT_EQ(o.at("choices").as_array().size(), 1u);
  EXPECT_EQ(o.at("choices").at(0).at("message").at("content"), "xy");
}

// What cannot be read is kept as it came; whole bodies are never touched.
TEST(Reassemble, GarbageIsReturnedUnchanged) {
  for (const std::string& garbage : {std::string("this is not a stream"), std::string("data: {not json\n\n"),
                                    std::string("\x01\x02\xff binary"), std::string("")}) {
    EXPECT_EQ(reassemble(Capture::kOpenAIStream, garbage), garbage) << "openai: " << garbage;
    EXPECT_EQ(reassemble(Capture::kAnthropicStream, garbage), garbage) << "anthropic: " << garbage;
  }
}

TEST(Reassemble, WholeBodiesAreReturnedAsTheyAre) {
  const std::string body = R"({"id":"x","choices":[{"message":{"content":"hi"}}]})";
  EXPECT_EQ(reassemble(Capture::kWhole, body), body);
  EXPECT_EQ(reassemble(Capture::kWhole, "data: {\"a\":1}\n\n"), "data: {\"a\":1}\n\n");
}

}  // namespace
}  // namespace gatehouse::record
