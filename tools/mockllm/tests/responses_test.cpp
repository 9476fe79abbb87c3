#include "responses.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace mockllm {
namespace {
namespace json = boost::json;

constexpr std::string_view kWords = "alpha bravo charlie delta echo foxtrot golf hotel";
constexpr std::string_view kTools =
    R"("tools":[{"type":"web_search"},{"type":"function","name":"get_weather","parameters":{}},
                {"type":"function","name":"get_time","parameters":{}}])";

Reply create(std::string_view request, Control control = {}) {
  return responses::create(json::parse(request).as_object(), control);
}

json::value body(const Reply& r) {
  EXPECT_FALSE(r.stream);
  return json::parse(r.body);
}

struct Event {
  std::string type;  // from the `event:` line
  json::value data;
  bool paced = false;
};

// Every event is `event: TYPE\ndata: {"type":TYPE,...}\n\n`, numbered from 0; no [DONE].
std::vector<Event> events(const Reply& r) {
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.content_type, "text/event-stream; charset=utf-8");
  std::vector<Event> out;
  for (const auto& e : r.events) {
    EXPECT_TRUE(e.data.starts_with("event: ")) << e.data;
    EXPECT_TRUE(e.data.ends_with("\n\n")) << e.data;
    const std::size_t data_at = e.data.find("\ndata: ");
    Event event{e.data.substr(7, data_at - 7), json::parse(e.data.substr(data_at + 7)), e.paced};
    EXPECT_EQ(event.data.at("type"), json::value(event.type));
    EXPECT_EQ(event.data.at("sequence_number"), static_cast<std::int64_t>(out.size()));
    out.push_back(std::move(event));
  }
  return out;
}

std::vector<std::string> types(const std::vector<Event>& es) {
  std::vector<std::string> out;
  for (const auto& e : es) out.push_back(e.type);
  return out;
}

TEST(Responses, AnswersWithAResponseObject) {
  Reply r = create(R"({"model":"gpt-5","input":"0123456789abcdef"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto v = body(r);
  EXPECT_TRUE(v.at("id").as_string().starts_with("resp_"));
  EXPECT_EQ(v.at("object"), "response");
  EXPECT_EQ(v.at("status"), "completed");
  EXPECT_TRUE(v.at("error").is_null());
  EXPECT_TRUE(v.at("incomplete_details").is_null());
  EXPECT_EQ(v.at("model"), "gpt-5");
  ASSERT_EQ(v.at("output").as_array().size(), 1u);
  const auto& item = v.at("output").at(0);
  EXPECT_TRUE(item.at("id").as_string().starts_with("msg_"));
  EXPECT_EQ(item.at("type"), "message");
  EXPECT_EQ(item.at("status"), "completed");
  EXPECT_EQ(item.at("role"), "assistant");
  EXPECT_EQ(item.at("content"), json::parse(R"([{"type":"output_text","annotations":[],
      "logprobs":[],"text":"alpha bravo charlie delta echo foxtrot golf hotel"}])"));
  EXPECT_EQ(v.at("usage"), json::parse(R"({"input_tokens":4,"input_tokens_details":
      {"cached_tokens":0},"output_tokens":8,"output_tokens_details":{"reasoning_tokens":0},
      "total_tokens":12})"));
  // The API's defaults for what the request did not set.
  EXPECT_TRUE(v.at("previous_response_id").is_null());
  EXPECT_TRUE(v.at("instructions").is_null());
  EXPECT_EQ(v.at("tool_choice"), "auto");
  EXPECT_EQ(v.at("tools"), json::array());
  EXPECT_EQ(v.at("parallel_tool_calls"), true);
  EXPECT_EQ(v.at("store"), true);
  EXPECT_EQ(v.at("truncation"), "disabled");
  EXPECT_EQ(v.at("service_tier"), "default");
  EXPECT_EQ(v.at("metadata"), json::object());
  EXPECT_EQ(v.at("text"), json::parse(R"({"format":{"type":"text"},"verbosity":"medium"})"));
  EXPECT_NE(r.body.find("\"temperature\":1.0"), std::string::npos);
}

TEST(Responses, EchoesTheRequestsSettings) {
  Reply r = create(R"({"model":"m","input":"x","instructions":"Be brief.","temperature":0.7,
      "top_p":0.9,"max_output_tokens":100,"store":false,"metadata":{"k":"v"},"user":"u1",
      "service_tier":"flex","reasoning":{"effort":"low"},"truncation":"auto",
      "text":{"format":{"type":"json_object"}},"parallel_tool_calls":false,
      "prompt_cache_key":"pk","include":["reasoning.encrypted_content"]})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto v = body(r);
  EXPECT_EQ(v.at("instructions"), "Be brief.");
  EXPECT_NE(r.body.find("\"temperature\":0.7,"), std::string::npos) << r.body;
  EXPECT_EQ(v.at("max_output_tokens"), 100);
  EXPECT_EQ(v.at("store"), false);
  EXPECT_EQ(v.at("metadata"), json::parse(R"({"k":"v"})"));
  EXPECT_EQ(v.at("user"), "u1");
  EXPECT_EQ(v.at("service_tier"), "flex");
  EXPECT_EQ(v.at("reasoning"), json::parse(R"({"effort":"low"})"));
  EXPECT_EQ(v.at("truncation"), "auto");
  EXPECT_EQ(v.at("parallel_tool_calls"), false);
  EXPECT_EQ(v.at("prompt_cache_key"), "pk");
}

TEST(Responses, CountsInstructionsAndEveryItemsText) {
  // 8 + 8 (message parts) + 4 (an assistant message) + 8 (arguments) + 4 (output) = 32.
  Reply r = create(R"({"model":"m","instructions":"12345678","tools":[{"type":"function",
      "name":"f"}],"input":[{"role":"user","content":[{"type":"input_text","text":"abcd"},
      {"type":"input_image","image_url":"data:x"},{"type":"input_text","text":"efgh"}]},
      {"type":"message","role":"assistant","content":[{"type":"output_text","text":"wxyz"}]},
      {"type":"function_call","call_id":"c1","name":"f","arguments":"{\"ab\":1}"},
      {"type":"function_call_output","call_id":"c1","output":"done"}]})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(body(r).at("usage").at("input_tokens"), 8);

  Control cached;
  cached.cache_read_tokens = 10;
  auto v = body(create(R"({"model":"m","input":"0123456789abcdef"})", cached));
  EXPECT_EQ(v.at("usage").at("input_tokens"), 14);
  EXPECT_EQ(v.at("usage").at("input_tokens_details").at("cached_tokens"), 10);
}

TEST(Responses, CallsTheFirstFunctionToolOrTheChosenOne) {
  auto v = body(create(std::string(R"({"model":"m","input":"What is the weather in Paris?",)") +
                       std::string(kTools) + "}"));
  ASSERT_EQ(v.at("output").as_array().size(), 1u);
  const auto& call = v.at("output").at(0);
  EXPECT_EQ(call.at("type"), "function_call");
  EXPECT_TRUE(call.at("id").as_string().starts_with("fc_"));
  EXPECT_TRUE(call.at("call_id").as_string().starts_with("call_"));
  EXPECT_EQ(call.at("name"), "get_weather");
  EXPECT_EQ(call.at("arguments"), R"({"echo":"What is the weat"})");
  EXPECT_EQ(call.at("status"), "completed");
  EXPECT_EQ(v.at("status"), "completed");
  EXPECT_EQ(v.at("usage").at("output_tokens"), 8);

  auto chosen = body(create(std::string(R"({"model":"m","input":"x",)") + std::string(kTools) +
                            R"(,"tool_choice":{"type":"function","name":"get_time"}})"));
  EXPECT_EQ(chosen.at("output").at(0).at("name"), "get_time");
  auto allowed = body(create(std::string(R"({"model":"m","input":"x",)") + std::string(kTools) +
                             R"(,"tool_choice":{"type":"allowed_tools","mode":"auto",
                             "tools":[{"type":"function","name":"get_time"}]}})"));
  EXPECT_EQ(allowed.at("output").at(0).at("name"), "get_time");
}

TEST(Responses, AnswersInTextWhenNoCallIsWanted) {
  auto none = body(create(std::string(R"({"model":"m","input":"x","tool_choice":"none",)") +
                          std::string(kTools) + "}"));
  EXPECT_EQ(none.at("output").at(0).at("type"), "message");
  auto builtin_only = body(create(R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})"));
  EXPECT_EQ(builtin_only.at("output").at(0).at("type"), "message");
  auto builtin_forced =
      body(create(std::string(R"({"model":"m","input":"x",)") + std::string(kTools) +
                  R"(,"tool_choice":{"type":"web_search"}})"));
  EXPECT_EQ(builtin_forced.at("output").at(0).at("type"), "message");
  // The caller answered the call: the model answers in text.
  auto answered = body(create(std::string(R"({"model":"m",)") + std::string(kTools) +
                              R"(,"input":[{"role":"user","content":"weather?"},
      {"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{}"},
      {"type":"function_call_output","call_id":"c1","output":"sunny"}]})"));
  EXPECT_EQ(answered.at("output").at(0).at("content").at(0).at("text"), json::value(kWords));
  // ...until the user speaks again.
  auto again = body(create(std::string(R"({"model":"m",)") + std::string(kTools) +
                           R"(,"input":[{"role":"user","content":"weather?"},
      {"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{}"},
      {"type":"function_call_output","call_id":"c1","output":"sunny"},
      {"role":"user","content":"and tomorrow?"}]})"));
  EXPECT_EQ(again.at("output").at(0).at("arguments"), R"({"echo":"and tomorrow?"})");
}

TEST(Responses, MaxOutputTokensCutsTheAnswer) {
  Control c;
  c.tokens = 20;
  auto v = body(create(R"({"model":"m","input":"x","max_output_tokens":16})", c));
  EXPECT_EQ(v.at("status"), "incomplete");
  EXPECT_EQ(v.at("incomplete_details"), json::parse(R"({"reason":"max_output_tokens"})"));
  EXPECT_EQ(v.at("output").at(0).at("status"), "incomplete");
  EXPECT_EQ(v.at("usage").at("output_tokens"), 16);
  EXPECT_EQ(v.at("max_output_tokens"), 16);
}

TEST(Responses, ReplyAndTheClassifierStandIn) {
  Control c;
  c.reply = "Hi there";
  EXPECT_EQ(body(create(R"({"model":"m","input":"x"})", c))
                .at("output")
                .at(0)
                .at("content")
                .at(0)
                .at("text"),
            "Hi there");
  auto guard = body(create(R"({"model":"llama-guard-3","input":[{"role":"user",
      "content":[{"type":"input_text","text":"UNSAFE-CONTENT here"}]}]})"));
  EXPECT_EQ(guard.at("output").at(0).at("content").at(0).at("text"), "unsafe\nS1");
}

struct Refusal {
  std::string_view request;
  std::string_view message;
  std::optional<std::string_view> param;
  std::optional<std::string_view> code;
  unsigned status = 400;
};

TEST(Responses, RefusesWhatTheApiRefuses) {
  const Refusal cases[] = {
      {R"({"input":"x"})", "Missing required parameter: 'model'.", "model",
       "missing_required_parameter"},
      {R"({"model":7,"input":"x"})",
       "Invalid type for 'model': expected a string, but got an integer instead.", "model",
       "invalid_type"},
      {R"({"model":"m"})", "Missing required parameter: 'input'.", "input",
       "missing_required_parameter"},
      {R"({"model":"m","input":"x","foo":1})", "Unknown parameter: 'foo'.", "foo",
       "unknown_parameter"},
      {R"({"model":"m","input":"x","max_tokens":50})", "Unknown parameter: 'max_tokens'.",
       "max_tokens", "unknown_parameter"},
      {R"({"model":"m","input":"x","messages":[]})",
       "Unsupported parameter: 'messages'. In the Responses API, this parameter has moved to "
       "'input'. Try again with the new parameter. See the API documentation for more "
       "information: https://platform.openai.com/docs/api-reference/responses/create.",
       std::nullopt, "unsupported_parameter"},
      {R"({"model":"m","input":{"a":1}})",
       "Invalid type for 'input': expected one of a string or array of input items, but got an "
       "object instead.",
       "input", "invalid_type"},
      {R"({"model":"m","input":[7]})",
       "Invalid type for 'input[0]': expected an input item, but got an integer instead.",
       "input[0]", "invalid_type"},
      {R"({"model":"m","input":[{"role":"tool","content":"x"}]})",
       "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and "
       "'user'.",
       "input[0]", "invalid_value"},
      {R"({"model":"m","input":[{"role":"user"}]})",
       "Missing required parameter: 'input[0].content'.", "input[0].content",
       "missing_required_parameter"},
      {R"({"model":"m","input":[{"role":"user","content":"x","name":"bob"}]})",
       "Unknown parameter: 'input[0].name'.", "input[0].name", "unknown_parameter"},
      {R"({"model":"m","input":[{"role":"user","content":[{"type":"text","text":"x"}]}]})",
       "Invalid value: 'text'. Supported values are: 'input_text', 'input_image', "
       "'input_audio', 'output_text', 'refusal', 'input_file', 'computer_screenshot', "
       "'summary_text', and 'encrypted_content'.",
       "input[0].content[0].type", "invalid_value"},
      {R"({"model":"m","input":[{"role":"assistant",)"
       R"("content":[{"type":"input_text","text":"x"}]}]})",
       "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.",
       "input[0].content[0]", "invalid_value"},
      {R"({"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]})",
       "Missing required parameter: 'input[0].content[0].text'.", "input[0].content[0].text",
       "missing_required_parameter"},
      {R"({"model":"m","input":[{"type":"tool_result","content":"x"}]})", "", "input[0]",
       "invalid_value"},
      {R"({"model":"m","input":[{"type":"function_call_output","output":"x"}]})",
       "Missing required parameter: 'input[0].call_id'.", "input[0].call_id",
       "missing_required_parameter"},
      {R"({"model":"m","input":[{"type":"function_call","call_id":"c","name":"f",
          "arguments":{"a":1}}]})",
       "Invalid type for 'input[0].arguments': expected a string, but got an object instead.",
       "input[0].arguments", "invalid_type"},
      {R"({"model":"m","input":[{"type":"function_call_output","call_id":"c9","output":"x"}]})",
       "No tool call found for function call output with call_id c9.", "input", std::nullopt},
      {R"({"model":"m","input":[{"type":"function_call","call_id":"c1","name":"f",
          "arguments":"{}"}]})",
       "No tool output found for function call c1.", "input", std::nullopt},
      {R"({"model":"m","input":"x","tools":[{"type":"function","function":{"name":"f"}}]})",
       "Missing required parameter: 'tools[0].name'.", "tools[0].name",
       "missing_required_parameter"},
      {R"({"model":"m","input":"x","tool_choice":"sometimes"})",
       "Invalid value: 'sometimes'. Supported values are: 'none', 'auto', and 'required'.",
       "tool_choice", "invalid_value"},
      {R"({"model":"m","input":"x","max_output_tokens":15})",
       "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but "
       "got 15 instead.",
       "max_output_tokens", "integer_below_min_value"},
      {R"({"model":"m","input":"x","max_output_tokens":"20"})",
       "Invalid type for 'max_output_tokens': expected an integer, but got a string instead.",
       "max_output_tokens", "invalid_type"},
      {R"({"model":"m","input":"x","temperature":2.5})",
       "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 "
       "instead.",
       "temperature", "decimal_above_max_value"},
      {R"({"model":"m","input":"x","stream":"yes"})",
       "Invalid type for 'stream': expected a boolean, but got a string instead.", "stream",
       "invalid_type"},
      {R"({"model":"m","input":"x","stream_options":{"include_usage":true}})",
       "Unknown parameter: 'stream_options.include_usage'.", "stream_options.include_usage",
       "unknown_parameter"},
      {R"({"model":"m","input":"x","reasoning":{"effort":"extreme"}})",
       "Invalid value: 'extreme'. Supported values are: 'none', 'minimal', 'low', 'medium', "
       "'high', 'xhigh', and 'max'.",
       "reasoning.effort", "invalid_value"},
      {R"({"model":"m","input":"x","truncation":"bogus"})",
       "Invalid value: 'bogus'. Supported values are: 'auto' and 'disabled'.", "truncation",
       "invalid_value"},
      {R"({"model":"m","input":"x","text":{"format":{"type":"json_schema"}}})",
       "Missing required parameter: 'text.format.name'.", "text.format.name",
       "missing_required_parameter"},
      {R"({"model":"m","input":"x","include":["bogus.thing"]})", "", "include[0]", "invalid_value"},
      {R"({"model":"m","input":"x","metadata":"x"})",
       "Invalid type for 'metadata': expected a metadata object, but got a string instead.",
       "metadata", "invalid_type"},
      {R"({"model":"m","input":"x","previous_response_id":"resp_abc123"})",
       "Previous response with id 'resp_abc123' not found.", "previous_response_id",
       "previous_response_not_found"},
      {R"({"model":"m","input":"x","conversation":"conv_1"})",
       "Conversation with id 'conv_1' not found.", std::nullopt, std::nullopt, 404},
      {R"({"model":"m","input":[]})",
       "One of \"input\" or \"previous_response_id\" or 'prompt' or 'conversation' must be "
       "provided.",
       std::nullopt, "missing_required_parameter"},
      {R"({"model":"m","input":"x","background":true})", "", "background", std::nullopt},
      // Order: a bad parameter is reported before the stored state it points at.
      {R"({"model":"m","input":"x","previous_response_id":"resp_1","truncation":"bogus"})", "",
       "truncation", "invalid_value"},
  };
  for (const Refusal& c : cases) {
    Reply r = create(c.request);
    EXPECT_EQ(r.status, c.status) << c.request << " -> " << r.body;
    auto e = json::parse(r.body).at("error");
    EXPECT_EQ(e.at("type"), "invalid_request_error") << c.request;
    if (!c.message.empty()) {
      EXPECT_EQ(e.at("message"), json::value(c.message)) << c.request;
    }
    if (c.param) {
      EXPECT_EQ(e.at("param"), json::value(*c.param)) << c.request;
    } else {
      EXPECT_TRUE(e.at("param").is_null()) << c.request;
    }
    if (c.code) {
      EXPECT_EQ(e.at("code"), json::value(*c.code)) << c.request;
    } else {
      EXPECT_TRUE(e.at("code").is_null()) << c.request;
    }
  }
}

TEST(Responses, AcceptsWhatTheApiAccepts) {
  for (auto request : {
           R"({"model":"m","input":"x","instructions":null,"temperature":null,"tools":[]})",
           R"({"model":"m","input":[{"type":"message","role":"developer","content":"Be brief."},
               {"role":"user","content":"hi","id":"msg_1","status":"completed"},
               {"type":"message","role":"assistant","status":"completed","id":"msg_2",
                "phase":"final_answer","content":[{"type":"output_text","text":"Hello",
                "annotations":[],"logprobs":[]},{"type":"refusal","refusal":"no"}]},
               {"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"abc"},
               {"type":"item_reference","id":"msg_0"},
               {"role":"user","content":[{"type":"input_image","image_url":"data:,"}]}]})",
           R"({"model":"m","input":"x","tools":[{"type":"mcp","server_label":"s"},
               {"type":"custom","name":"c"}],"tool_choice":{"type":"web_search"},
               "text":{"format":{"type":"json_schema","name":"n","schema":{},"strict":true},
               "verbosity":"low"},"reasoning":{"effort":"xhigh","summary":"auto"},
               "service_tier":"priority","prompt_cache_retention":"24h","top_logprobs":5,
               "max_tool_calls":3,"safety_identifier":"s","context_management":[{"type":"x"}],
               "stream_options":{"include_obfuscation":false},"stream":false,"mock":{}})",
       }) {
    Reply r = create(request);
    EXPECT_EQ(r.status, 200u) << request << " -> " << r.body;
  }
}

TEST(Responses, StreamsTheApisEventsForText) {
  Control c;
  c.tokens = 3;
  Reply r = create(R"({"model":"m","input":"x","stream":true})", c);
  auto es = events(r);
  EXPECT_EQ(types(es), (std::vector<std::string>{
                           "response.created", "response.in_progress", "response.output_item.added",
                           "response.content_part.added", "response.output_text.delta",
                           "response.output_text.delta", "response.output_text.delta",
                           "response.output_text.done", "response.content_part.done",
                           "response.output_item.done", "response.completed"}));
  const json::value& created = es[0].data.at("response");
  EXPECT_EQ(created.at("status"), "in_progress");
  EXPECT_EQ(created.at("output"), json::array());
  EXPECT_TRUE(created.at("usage").is_null());
  const json::value& item = es[2].data.at("item");
  EXPECT_EQ(item.at("status"), "in_progress");
  EXPECT_EQ(item.at("content"), json::array());
  const std::string id(item.at("id").as_string());
  EXPECT_EQ(es[3].data.at("part").at("text"), "");
  std::string text;
  for (int i = 4; i < 7; ++i) {
    EXPECT_TRUE(es[i].paced);
    EXPECT_EQ(es[i].data.at("item_id"), json::value(id));
    EXPECT_EQ(es[i].data.at("output_index"), 0);
    EXPECT_EQ(es[i].data.at("content_index"), 0);
    EXPECT_EQ(es[i].data.at("logprobs"), json::array());
    EXPECT_TRUE(es[i].data.at("obfuscation").is_string());
    text += es[i].data.at("delta").as_string();
  }
  EXPECT_EQ(text, "alpha bravo charlie");
  EXPECT_EQ(es[7].data.at("text"), json::value(text));
  EXPECT_EQ(es[8].data.at("part").at("text"), json::value(text));
  EXPECT_EQ(es[9].data.at("item").at("status"), "completed");
  const json::value& done = es[10].data.at("response");
  EXPECT_EQ(done.at("id"), created.at("id"));
  EXPECT_EQ(done.at("status"), "completed");
  EXPECT_EQ(done.at("output").at(0).at("content").at(0).at("text"), json::value(text));
  EXPECT_EQ(done.at("usage").at("output_tokens"), 3);
}

TEST(Responses, StreamsAToolCallInArgumentPieces) {
  auto es = events(create(std::string(R"({"model":"m","input":"What is the weather?",)") +
                          std::string(kTools) + R"(,"stream":true,
                          "stream_options":{"include_obfuscation":false}})"));
  const auto t = types(es);
  ASSERT_GE(t.size(), 7u);
  EXPECT_EQ(t[2], "response.output_item.added");
  EXPECT_EQ(es[2].data.at("item").at("type"), "function_call");
  EXPECT_EQ(es[2].data.at("item").at("arguments"), "");
  EXPECT_EQ(es[2].data.at("item").at("name"), "get_weather");
  std::string arguments;
  std::size_t i = 3;
  for (; t[i] == "response.function_call_arguments.delta"; ++i) {
    EXPECT_FALSE(es[i].data.as_object().contains("obfuscation"));
    arguments += es[i].data.at("delta").as_string();
  }
  EXPECT_GE(i - 3, 2u);
  EXPECT_LE(i - 3, 3u);
  EXPECT_EQ(arguments, R"({"echo":"What is the weat"})");
  EXPECT_EQ(t[i], "response.function_call_arguments.done");
  EXPECT_EQ(es[i].data.at("arguments"), json::value(arguments));
  EXPECT_EQ(es[i].data.at("name"), "get_weather");
  EXPECT_EQ(t[i + 1], "response.output_item.done");
  EXPECT_EQ(es[i + 1].data.at("item").at("arguments"), json::value(arguments));
  EXPECT_EQ(t[i + 2], "response.completed");
  EXPECT_EQ(i + 3, t.size());
}

TEST(Responses, ACutStreamEndsIncomplete) {
  Control c;
  c.tokens = 20;
  auto es = events(create(R"({"model":"m","input":"x","stream":true,"max_output_tokens":16})", c));
  EXPECT_EQ(es.back().type, "response.incomplete");
  EXPECT_EQ(es.back().data.at("response").at("status"), "incomplete");
  EXPECT_EQ(es.back().data.at("response").at("incomplete_details").at("reason"),
            "max_output_tokens");
  EXPECT_EQ(es[es.size() - 2].data.at("item").at("status"), "incomplete");
}

TEST(Responses, AStreamErrorIsTheApisErrorEventThenFailed) {
  Control c;
  c.stream_error_after = 2;
  auto es = events(create(R"({"model":"m","input":"x","stream":true})", c));
  const auto t = types(es);
  ASSERT_EQ(t.size(), 8u);
  EXPECT_EQ(t[4], "response.output_text.delta");
  EXPECT_EQ(t[5], "response.output_text.delta");
  EXPECT_EQ(t[6], "error");
  const json::value& error = es[6].data.at("error");
  EXPECT_EQ(error.at("type"), "server_error");
  EXPECT_EQ(error.at("code"), "server_error");
  EXPECT_TRUE(error.at("param").is_null());
  EXPECT_EQ(t[7], "response.failed");
  EXPECT_EQ(es[7].data.at("response").at("status"), "failed");
  EXPECT_EQ(es[7].data.at("response").at("error").at("code"), "server_error");
}

TEST(Responses, AStoredResponseIsNotFound) {
  Reply r = responses::not_found("resp_123");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(json::parse(r.body).at("error").at("message"),
            "Response with id 'resp_123' not found.");
}

}  // namespace
}  // namespace mockllm
