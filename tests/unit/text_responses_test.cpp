// The Responses shape's text (api/text.h, text_responses.cpp) and its stream's runs
// (api/text_event.h): requests, Responses objects, delta events and their channels, the whole
// texts `.done` and lifecycle events repeat, the events that close runs, and delta events
// written to carry held text.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "api/request.h"
#include "api/responses_channel.h"
#include "api/text.h"
#include "api/text_event.h"

namespace gatehouse::api {
namespace {

struct Got {
  std::string text;
  std::size_t offset = 0;
  std::size_t length = 0;
  std::uint32_t channel = 0;
  bool whole = false;
};

// Every piece: its token is a JSON string in `source` that says the piece's text.
TextFn collect(std::vector<Got>& out, std::string_view source) {
  return [&out, source](const TextPiece& p) {
    EXPECT_LE(p.offset + p.length, source.size());
    if (p.offset + p.length > source.size()) return;
    const std::string_view token = source.substr(p.offset, p.length);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(token, ec);
    EXPECT_TRUE(!ec && v.is_string()) << token;
    if (!ec && v.is_string()) {
      EXPECT_EQ(std::string(v.get_string()), p.text) << token;
    }
    out.push_back(Got{std::string(p.text), p.offset, p.length, p.channel, p.whole});
  };
}

using Texts = std::vector<std::string>;

Texts texts(const std::vector<Got>& got) {
  Texts out;
  for (const auto& g : got) out.push_back(g.text);
  return out;
}

Texts request(std::string_view body, ApiShape shape = ApiShape::kResponses, bool expect_ok = true) {
  std::vector<Got> got;
  EXPECT_EQ(request_texts(shape, Operation::kResponses, body, collect(got, body)), expect_ok) << body;
  return texts(got);
}

Texts answer(std::string_view body) {
  std::vector<Got> got;
  EXPECT_TRUE(response_texts(ApiShape::kResponses, body, collect(got, body))) << body;
  for (const auto& g : got) EXPECT_FALSE(g.whole);
  return texts(got);
}

std::vector<Got> event(std::string_view e, bool expect_ok = true) {
  std::vector<Got> got;
  EXPECT_EQ(event_texts(ApiShape::kResponses, e, collect(got, e)), expect_ok) << e;
  return got;
}

std::string sse(const std::string& type, const std::string& data, bool event_line = true) {
  return (event_line ? "event: " + type + "\n" : std::string()) + "data: " + data + "\n\n";
}

std::uint32_t hashed(std::string_view item_id) { return responses::item_channel(std::nullopt, item_id); }

// ---- Requests.

TEST(ResponsesText, InstructionsAndAStringInput) {
  EXPECT_EQ(request(R"({"model":"gpt-5","instructions":"be brief","input":"mail jane@example.com"})"),
            (Texts{"be brief", "mail jane@example.com"}));
}

TEST(ResponsesText, EveryKindOfInputItem) {
  const std::string body = R"({"model":"m","input":[)"
                           R"({"role":"developer","content":"dev prompt"},)"
                           R"({"type":"message","role":"user","content":[{"type":"input_text","text":"look"},)"
                           R"({"type":"input_image","image_url":"https://x/secret.png","detail":"auto"},)"
                           R"({"type":"input_file","file_data":"data:application/pdf;base64,QUJD","filename":"f.pdf"}]},)"
                           R"({"type":"message","role":"assistant","id":"msg_1","content":[)"
                           R"({"type":"output_text","text":"earlier answer","annotations":[]},{"type":"refusal","refusal":"no"}]},)"
                           R"({"type":"function_call","call_id":"call_1","name":"send_mail","arguments":"{\"to\":\"a@b.co\"}"},)"
                           R"({"type":"function_call_output","call_id":"call_1","output":"sent"},)"
                           R"({"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"part out"},)"
                           R"({"type":"input_image","image_url":"https://x/y.png"}]},)"
                           R"({"type":"custom_tool_call","call_id":"c","name":"grammar","input":"free form"},)"
                           R"({"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"I thought"}],)"
                           R"("encrypted_content":"gAAA"},)"
                           R"({"type":"item_reference","id":"msg_0"}]})";
  EXPECT_EQ(request(body), (Texts{"dev prompt", "look", "earlier answer", "no", R"({"to":"a@b.co"})", "sent",
                                  "part out", "free form"}));
}

// A Databricks agent's invocation decodes as a Responses request: the operation decides.
TEST(ResponsesText, ADatabricksAgentInvocationIsReadAsResponses) {
  std::string body = R"({"input":[{"role":"user","content":"agent, mail jane@example.com"}],"custom_inputs":{"k":"v"}})";
  auto decoded = decode_request(ApiShape::kDatabricks, Operation::kInvocations, body);
  ASSERT_TRUE(std::holds_alternative<CanonicalRequest>(decoded)) << std::get<Error>(decoded).message;
  ASSERT_EQ(std::get<CanonicalRequest>(decoded).op, Operation::kResponses);
  EXPECT_EQ(request(body, ApiShape::kDatabricks), (Texts{"agent, mail jane@example.com"}));
  EXPECT_EQ(request_shape(ApiShape::kDatabricks, Operation::kResponses), ApiShape::kResponses);
}

TEST(ResponsesText, TypeAnywhereAndUnknownItemsHaveNoText) {
  // The type after the content; a tool call's item whose members happen to be named like text.
  EXPECT_EQ(request(R"({"input":[{"content":[{"text":"t1","type":"input_text"}],"role":"user","type":"message"},)"
                    R"({"content":"not text","type":"web_search_call"},)"
                    R"({"arguments":"args","output":"out","type":"mcp_call","name":"n"}]})"),
            (Texts{"t1", "args", "out"}));
  // A message's content under an item whose type says otherwise is not text; a repeated type is
  // refused (a provider reading the last one would see text the walk dropped).
  EXPECT_EQ(request(R"({"input":[{"type":"function_call","content":"x","arguments":"a"}]})"), (Texts{"a"}));
  EXPECT_EQ(request(R"({"input":[{"type":"message","type":"reasoning","content":"x"}]})", ApiShape::kResponses, false),
            Texts{});
}

TEST(ResponsesText, PromptVariables) {
  EXPECT_EQ(request(R"({"prompt":{"id":"pmpt_1","version":"2","variables":{"name":"Jane Doe",)"
                    R"("doc":{"type":"input_text","text":"jane@example.com"},"pic":{"type":"input_image","image_url":"u"}}},"input":"hi"})"),
            (Texts{"Jane Doe", "jane@example.com", "hi"}));
}

TEST(ResponsesText, ReasoningIsTextInAnswersNotRequests) {
  const std::string item = R"({"type":"reasoning","summary":[{"type":"summary_text","text":"plan"}],)"
                           R"("content":[{"type":"reasoning_text","text":"raw thought"}]})";
  EXPECT_EQ(request(R"({"input":[)" + item + "]}"), Texts{});
  EXPECT_EQ(answer(R"({"object":"response","output":[)" + item + "]}"), (Texts{"plan", "raw thought"}));
}

// ---- Whole answers.

TEST(ResponsesText, AResponsesObjectsOutput) {
  const std::string body =
      R"({"id":"resp_1","object":"response","status":"completed","instructions":"sys","model":"gpt-5",)"
      R"("output":[{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"thinking"}]},)"
      R"({"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[)"
      R"({"type":"output_text","text":"Write to jane@example.com","annotations":[{"type":"url_citation","title":"t"}]},)"
      R"({"type":"refusal","refusal":"I cannot"}]},)"
      R"({"id":"fc_1","type":"function_call","call_id":"call_1","name":"f","arguments":"{\"q\":1}","status":"completed"}],)"
      R"("usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15}})";
  EXPECT_EQ(answer(body), (Texts{"thinking", "Write to jane@example.com", "I cannot", R"({"q":1})"}));
}

// A ResponsesAgent's answer: messages, its tool calls and their outputs, no usage.
TEST(ResponsesText, ADatabricksAgentsAnswer) {
  EXPECT_EQ(answer(R"({"object":"response","output":[)"
                   R"({"type":"function_call","id":"fc","call_id":"c","name":"lookup","arguments":"{\"id\":7}"},)"
                   R"({"type":"function_call_output","call_id":"c","output":"jane@example.com"},)"
                   R"({"type":"message","id":"m","role":"assistant","content":[{"type":"output_text","text":"done"}]}],)"
                   R"("custom_outputs":{"note":"not scanned"}})"),
            (Texts{R"({"id":7})", "jane@example.com", "done"}));
}

// ---- Stream events: deltas and their channels.

TEST(ResponsesEvent, TextDeltaChannelIsItsItemAndPart) {
  auto got = event(sse("response.output_text.delta",
                       R"({"type":"response.output_text.delta","item_id":"msg_1","output_index":2,"content_index":1,)"
                       R"("delta":"jane@","logprobs":[],"sequence_number":7})"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "jane@");
  EXPECT_EQ(got[0].channel, 2u * 64 + 1);
  EXPECT_FALSE(got[0].whole);
}

TEST(ResponsesEvent, RefusalArgumentsReasoningAndSummaryDeltas) {
  auto one = [](const std::string& type, const std::string& rest) {
    auto got = event(sse(type, R"({"type":")" + type + R"(",)" + rest + "}"));
    EXPECT_EQ(got.size(), 1u) << type;
    return got.empty() ? Got{} : got[0];
  };
  Got g = one("response.refusal.delta", R"("item_id":"m","output_index":0,"content_index":3,"delta":"no")");
  EXPECT_EQ(g.channel, 3u);
  g = one("response.function_call_arguments.delta", R"("item_id":"fc","output_index":4,"delta":"{\"to\":")");
  EXPECT_EQ(g.text, "{\"to\":");
  EXPECT_EQ(g.channel, 4u * 64);
  g = one("response.reasoning_summary_text.delta", R"("item_id":"rs","output_index":1,"summary_index":2,"delta":"plan")");
  EXPECT_EQ(g.channel, 64u + 48 + 2);
  g = one("response.reasoning_text.delta", R"("item_id":"rs","output_index":1,"content_index":0,"delta":"think")");
  EXPECT_EQ(g.channel, 64u);
  g = one("response.custom_tool_call_input.delta", R"("item_id":"ct","output_index":5,"delta":"in")");
  EXPECT_EQ(g.channel, 5u * 64);
  g = one("response.mcp_call_arguments.delta", R"("item_id":"mc","output_index":6,"delta":"{}")");
  EXPECT_EQ(g.channel, 6u * 64);
}

// A Databricks agent's deltas name their item only by id: one channel per item, from the id.
TEST(ResponsesEvent, DatabricksAgentDeltasAreChannelledByItemId) {
  auto a1 = event(sse("", R"({"type":"response.output_text.delta","item_id":"item-a","delta":"one"})", false));
  auto b = event(sse("", R"({"type":"response.output_text.delta","item_id":"item-b","delta":"two"})", false));
  auto a2 = event(sse("", R"({"delta":"three","item_id":"item-a","type":"response.output_text.delta"})", false));
  ASSERT_EQ(a1.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  ASSERT_EQ(a2.size(), 1u);
  EXPECT_EQ(a1[0].channel, a2[0].channel);
  EXPECT_NE(a1[0].channel, b[0].channel);
  EXPECT_GE(a1[0].channel, responses::kHashedItems);
  EXPECT_EQ(a1[0].channel, hashed("item-a"));
  // Neither an index nor an id: the first item's.
  auto bare = event(sse("", R"({"type":"response.output_text.delta","delta":"x"})", false));
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_EQ(bare[0].channel, 0u);
}

TEST(ResponsesEvent, HugeIndexesShareTheLastChannels) {
  auto got = event(sse("response.output_text.delta",
                       R"({"type":"response.output_text.delta","output_index":99999999999,"content_index":5000,"delta":"x"})"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].channel, std::uint32_t(responses::kMaxOutputIndex) * 64 + 47);
  EXPECT_LT(got[0].channel, responses::kHashedItems);
}

// ---- Stream events: whole texts.

TEST(ResponsesEvent, DoneEventsAndLifecycleEventsCarryWholeTexts) {
  struct Case {
    std::string event;
    Texts want;
  } cases[] = {
      {sse("response.output_text.done", R"({"type":"response.output_text.done","item_id":"m","output_index":0,)"
                                        R"("content_index":0,"text":"Write to jane@example.com","logprobs":[]})"),
       {"Write to jane@example.com"}},
      {sse("response.refusal.done", R"({"type":"response.refusal.done","output_index":0,"content_index":1,"refusal":"no"})"),
       {"no"}},
      {sse("response.function_call_arguments.done",
           R"({"type":"response.function_call_arguments.done","item_id":"fc","name":"f","output_index":1,"arguments":"{}"})"),
       {"{}"}},
      {sse("response.reasoning_summary_text.done",
           R"({"type":"response.reasoning_summary_text.done","output_index":0,"summary_index":0,"text":"plan"})"),
       {"plan"}},
      {sse("response.content_part.done", R"({"type":"response.content_part.done","item_id":"m","output_index":0,)"
                                         R"("content_index":0,"part":{"type":"output_text","text":"whole","annotations":[]}})"),
       {"whole"}},
      {sse("response.output_item.done", R"({"type":"response.output_item.done","output_index":0,"item":{"id":"m",)"
                                        R"("type":"message","role":"assistant","content":[{"type":"output_text","text":"item text"}]}})"),
       {"item text"}},
      {sse("response.completed", R"({"type":"response.completed","sequence_number":9,"response":{"id":"r","object":"response",)"
                                 R"("output":[{"type":"message","content":[{"type":"output_text","text":"final"}]},)"
                                 R"({"type":"function_call","name":"f","arguments":"{\"a\":1}"}],"usage":{"input_tokens":1}}})"),
       {"final", R"({"a":1})"}},
  };
  for (const auto& c : cases) {
    auto got = event(c.event);
    EXPECT_EQ(texts(got), c.want) << c.event;
    for (const auto& g : got) {
      EXPECT_TRUE(g.whole) << c.event;
      EXPECT_EQ(g.channel, 0u) << c.event;
    }
  }
}

TEST(ResponsesEvent, EventsWithoutText) {
  for (const std::string& e : {
           sse("response.created", R"({"type":"response.created","response":{"id":"r","status":"in_progress","output":[],"error":null}})"),
           sse("response.in_progress", R"({"type":"response.in_progress","response":{"id":"r","output":[]}})"),
           sse("response.output_item.added", R"({"type":"response.output_item.added","output_index":0,)"
                                             R"("item":{"id":"m","type":"message","content":[]}})"),
           sse("response.content_part.added", R"({"type":"response.content_part.added","output_index":0,"content_index":0,)"
                                              R"("part":{"type":"output_text","text":""}})"),
           sse("error", R"({"type":"error","code":"server_error","message":"jane@example.com broke","param":null})"),
           sse("response.web_search_call.searching", R"({"type":"response.web_search_call.searching","output_index":0})"),
           sse("", R"({"delta":"a type-less event","item_id":"m"})", false),
           sse("response.code_interpreter_call_code.delta",
               R"({"type":"response.code_interpreter_call_code.delta","output_index":0,"delta":"print 1"})"),
           std::string(": keep-alive\n\n"),
       }) {
    EXPECT_TRUE(event(e).empty()) << e;
  }
}

// The member that holds text depends on the type, wherever it comes: a `text` in a delta event
// is not its text, a `delta` in a `.done` event is not either.
TEST(ResponsesEvent, TheTypeDecidesWhichMemberIsText) {
  auto got = event(sse("", R"({"text":"not this","delta":"this","type":"response.output_text.delta","output_index":0})", false));
  EXPECT_EQ(texts(got), Texts{"this"});
  got = event(sse("", R"({"delta":"not this","text":"this","type":"response.output_text.done"})", false));
  EXPECT_EQ(texts(got), Texts{"this"});
  event(sse("", R"({"type":"response.output_text.delta","type":"response.output_text.done","delta":"x"})", false), false);
}

// ---- Which runs an event closes.

TEST(ResponsesClosed, APartsDoneClosesItsRunAnItemsDoneTheItem) {
  auto closed = channels_closed(ApiShape::kResponses,
                                sse("response.output_text.done", R"({"type":"response.output_text.done","item_id":"m",)"
                                                                 R"("output_index":2,"content_index":1,"text":"t"})"));
  EXPECT_FALSE(closed.all);
  EXPECT_TRUE(closed.closes(2 * 64 + 1));
  EXPECT_FALSE(closed.closes(2 * 64));
  EXPECT_TRUE(closed.closes(hashed("m") + 1));  // the same run as a delta without output_index
  closed = channels_closed(ApiShape::kResponses,
                           sse("response.function_call_arguments.done",
                               R"({"type":"response.function_call_arguments.done","item_id":"fc","output_index":3,"arguments":"{}"})"));
  EXPECT_TRUE(closed.closes(3 * 64));
  closed = channels_closed(ApiShape::kResponses,
                           sse("response.reasoning_summary_part.done", R"({"type":"response.reasoning_summary_part.done",)"
                                                                       R"("output_index":1,"summary_index":2,"part":{}})"));
  EXPECT_TRUE(closed.closes(64 + 48 + 2));
  EXPECT_FALSE(closed.closes(64 + 2));
  closed = channels_closed(ApiShape::kResponses,
                           sse("response.output_item.done", R"({"type":"response.output_item.done","output_index":1,)"
                                                            R"("item":{"id":"rs","type":"reasoning"}})"));
  for (std::uint32_t c = 64; c < 128; ++c) EXPECT_TRUE(closed.closes(c)) << c;
  EXPECT_FALSE(closed.closes(63));
  EXPECT_FALSE(closed.closes(128));
}

// A Databricks agent's output_item.done (data only, no output_index) closes the runs of the item
// its deltas named by id.
TEST(ResponsesClosed, ADatabricksAgentsItemDoneClosesItsItemById) {
  auto delta = event(sse("", R"({"type":"response.output_text.delta","item_id":"abc-123","delta":"hi"})", false));
  ASSERT_EQ(delta.size(), 1u);
  auto closed = channels_closed(ApiShape::kResponses,
                                sse("", R"({"type":"response.output_item.done","item":{"type":"message","id":"abc-123",)"
                                        R"("role":"assistant","content":[{"type":"output_text","text":"hi"}]}})",
                                    false));
  EXPECT_FALSE(closed.all);
  EXPECT_TRUE(closed.closes(delta[0].channel));
  EXPECT_FALSE(closed.closes(hashed("other")));
}

TEST(ResponsesClosed, TheEndOfTheResponseOrAnErrorClosesAll) {
  for (const std::string& e : {
           sse("response.completed", R"({"type":"response.completed","response":{"output":[]}})"),
           sse("response.incomplete", R"({"type":"response.incomplete","response":{}})"),
           sse("response.failed", R"({"type":"response.failed","response":{"error":{"code":"x"}}})"),
           sse("error", R"({"type":"error","code":"c","message":"m"})"),
           sse("", R"({"sequence_number":3,"type":"response.completed","response":{}})", false),
           sse("", R"({"type":"error","message":"m"})", false),
       }) {
    EXPECT_TRUE(channels_closed(ApiShape::kResponses, e).all) << e;
  }
  // Deltas close nothing, even when their text is a closing event's name.
  for (const std::string& e : {
           sse("", R"({"type":"response.output_text.delta","output_index":0,"delta":"response.completed"})", false),
           sse("", R"({"type":"response.output_text.delta","output_index":0,"delta":"error"})", false),
           sse("", R"({"type":"response.output_text.delta","output_index":0,"delta":"x.done"})", false),
           sse("response.output_text.delta", R"({"type":"response.output_text.delta","delta":"response.completed"})"),
           sse("response.created", R"({"type":"response.created","response":{"error":null}})"),
       }) {
    auto closed = channels_closed(ApiShape::kResponses, e);
    EXPECT_FALSE(closed.all) << e;
    EXPECT_TRUE(closed.ranges.empty()) << e;
  }
}

// ---- Delta events that carry held text.

TEST(ResponsesDeltaEvent, ModelledOnTheDeltaItContinues) {
  const std::string like = sse("response.output_text.delta",
                               R"({"type":"response.output_text.delta","item_id":"msg_1","output_index":2,"content_index":1,)"
                               R"("delta":"jane@","logprobs":[{"token":"jane","logprob":-0.1}],"obfuscation":"xyz","sequence_number":7})");
  const std::string out = text_delta_event(ApiShape::kResponses, like, 2 * 64 + 1, "held \"text\"");
  EXPECT_EQ(out, "event: response.output_text.delta\ndata: "
                 R"({"type":"response.output_text.delta","item_id":"msg_1","output_index":2,"content_index":1,)"
                 R"("delta":"held \"text\"","logprobs":[],"sequence_number":7})"
                 "\n\n");
  auto again = event(out);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].channel, 2u * 64 + 1);
  EXPECT_EQ(again[0].text, "held \"text\"");
}

TEST(ResponsesDeltaEvent, KeepsTheDeltaTypeAndADatabricksAgentsDataOnlyForm) {
  const std::string args = sse("response.function_call_arguments.delta",
                               R"({"type":"response.function_call_arguments.delta","item_id":"fc","output_index":4,"delta":"{"})");
  std::string out = text_delta_event(ApiShape::kResponses, args, 4 * 64, "\"to\":1}");
  EXPECT_NE(out.find(R"("type":"response.function_call_arguments.delta")"), std::string::npos) << out;
  EXPECT_EQ(out.find("content_index"), std::string::npos) << out;
  EXPECT_EQ(out.find("logprobs"), std::string::npos) << out;

  const std::string agent = sse("", R"({"type":"response.output_text.delta","item_id":"abc","delta":"hi"})", false);
  out = text_delta_event(ApiShape::kResponses, agent, hashed("abc"), "there");
  EXPECT_EQ(out, "data: " R"({"type":"response.output_text.delta","item_id":"abc","delta":"there"})" "\n\n");
  auto again = event(out);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].channel, hashed("abc"));
}

// A `like` that does not parse whole (a value Boost.JSON refuses outside the text event_texts
// read): the event is written from the channel, never dropped.
TEST(ResponsesDeltaEvent, FromDefaultsWhenItsModelDoesNotParse) {
  const std::string odd =
      "event: response.reasoning_summary_text.delta\n"
      R"(data: {"type":"response.reasoning_summary_text.delta","output_index":1,"summary_index":2,"delta":"a","x":tru})"
      "\n\n";
  std::string out = text_delta_event(ApiShape::kResponses, odd, 64 + 48 + 2, "b");
  auto again = event(out);
  ASSERT_EQ(again.size(), 1u) << out;
  EXPECT_EQ(again[0].channel, 64u + 48 + 2) << out;
  out = text_delta_event(ApiShape::kResponses, "data: nonsense\n\n", 3 * 64 + 2, "c");
  again = event(out);
  ASSERT_EQ(again.size(), 1u) << out;
  EXPECT_EQ(again[0].channel, 3u * 64 + 2) << out;
  // Found by tests/fuzz/fuzz_events: another delta type's name as a value in the event gave the
  // written event that type, whose run is another (a call's arguments have no content_index).
  const std::string two = "event: e\n"
                          R"(data: {"type":"response.output_text.delta","output_index":1,"content_index":1,"delta":"a",)"
                          R"("x":"response.function_call_arguments.delta","n":s})"
                          "\n\n";
  ASSERT_EQ(event(two).size(), 1u);
  ASSERT_EQ(event(two)[0].channel, 64u + 1);
  again = event(text_delta_event(ApiShape::kResponses, two, 64 + 1, "b"));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].channel, 64u + 1);
  // An agent's item known by its id: the id is found in the event by a scan.
  const std::string agent = R"(data: {"type":"response.output_text.delta","item_id":"a\"b","delta":"x","y":tru})" "\n\n";
  ASSERT_EQ(event(agent).size(), 1u);
  ASSERT_EQ(event(agent)[0].channel, hashed("a\"b"));
  out = text_delta_event(ApiShape::kResponses, agent, hashed("a\"b"), "d");
  again = event(out);
  ASSERT_EQ(again.size(), 1u) << out;
  EXPECT_EQ(again[0].channel, hashed("a\"b")) << out;
}

// Found by tests/fuzz/fuzz_events: an event whose JSON is on its second data line (SSE joins
// them) was read by event_texts but not by text_delta_event, which then wrote the held text of
// an item known by its id without that id (another run for the client). Both read every line.
TEST(ResponsesDeltaEvent, EveryDataLineIsRead) {
  const std::string split = "event: response.output_text.delta\ndata:\ndata: "
                            R"({"type":"response.output_text.delta","item_id":"msg_1","delta":"now"})"
                            "\n\n";
  auto got = event(split);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].channel, hashed("msg_1"));
  const std::string out = text_delta_event(ApiShape::kResponses, split, got[0].channel, "held");
  auto again = event(out);
  ASSERT_EQ(again.size(), 1u) << out;
  EXPECT_EQ(again[0].channel, hashed("msg_1")) << out;
  const std::string done = "data: {\"type\":\ndata: \"response.output_item.done\",\"item\":{\"id\":\"msg_1\"}}\n\n";
  EXPECT_TRUE(channels_closed(ApiShape::kResponses, done).closes(hashed("msg_1")));
  // Lines that end with a lone CR (SSE allows it).
  const std::string cr = "x\rdata: {\"type\":\"response.output_text.delta\",\"item_id\":\"a2\",\"delta\":\"y\"}\r\r";
  got = event(cr);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].channel, hashed("a2"));
  again = event(text_delta_event(ApiShape::kResponses, cr, got[0].channel, "held"));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].channel, hashed("a2"));
}

// ---- Edits and hostile input.

TEST(ResponsesText, MaskingEveryPieceKeepsTheRequestDecodable) {
  std::string body = R"({"model":"gpt-5","stream":true,"instructions":"sys \u00e9",)"
                     R"("input":[{"role":"user","content":[{"type":"input_text","text":"mail jane@example.com"}]},)"
                     R"({"type":"function_call","call_id":"c","name":"f","arguments":"{\"to\":\"jane@example.com\"}"},)"
                     R"({"type":"function_call_output","call_id":"c","output":"ok"}]})";
  std::vector<TextEdit> edits;
  request_texts(ApiShape::kResponses, Operation::kResponses, body,
                [&](const TextPiece& p) { edits.push_back(TextEdit{p.offset, p.length, "<M \"\\\n>"}); });
  ASSERT_EQ(edits.size(), 4u);
  std::string out = apply_text_edits(body, edits);
  auto decoded = decode_request(ApiShape::kResponses, Operation::kResponses, out);
  ASSERT_TRUE(std::holds_alternative<CanonicalRequest>(decoded)) << std::get<Error>(decoded).message;
  EXPECT_EQ(std::get<CanonicalRequest>(decoded).model, "gpt-5");
  EXPECT_EQ(request(out), (Texts{"<M \"\\\n>", "<M \"\\\n>", "<M \"\\\n>", "<M \"\\\n>"}));
}

TEST(ResponsesText, EveryTruncationIsRefusedAndReportsNothing) {
  const std::string body = R"({"model":"m","instructions":"i","input":[{"role":"user","content":[{"type":"input_text",)"
                           R"("text":"hello \"there\""}]},{"type":"function_call","arguments":"{}"}]})";
  const std::string completed = R"({"type":"response.completed","response":{"output":[{"type":"message",)"
                                R"("content":[{"type":"output_text","text":"t"}]}]}})";
  for (std::size_t n = 0; n < body.size(); ++n) {
    int calls = 0;
    EXPECT_FALSE(request_texts(ApiShape::kResponses, Operation::kResponses, body.substr(0, n),
                               [&](const TextPiece&) { ++calls; }));
    EXPECT_FALSE(response_texts(ApiShape::kResponses, body.substr(0, n), [&](const TextPiece&) { ++calls; }));
    EXPECT_EQ(calls, 0);
  }
  for (std::size_t n = 1; n < completed.size(); ++n) {
    int calls = 0;
    EXPECT_FALSE(event_texts(ApiShape::kResponses, "data: " + completed.substr(0, n) + "\n\n",
                             [&](const TextPiece&) { ++calls; }));
    EXPECT_EQ(calls, 0);
  }
}

}  // namespace
}  // namespace gatehouse::api

TEST(EndsStream, TheLastEventOfEachShape) {
  using gatehouse::api::ends_stream;
  EXPECT_TRUE(ends_stream("data: {\"choices\":[]}\n\ndata: [DONE]\n\n"));
  EXPECT_TRUE(ends_stream("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
  EXPECT_TRUE(ends_stream("data: {\"type\":\"message_stop\"}\n\n"));
  EXPECT_TRUE(ends_stream("event: response.output_item.done\ndata: {}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\"}\n\n"));
  EXPECT_TRUE(ends_stream("event: response.incomplete\ndata: {}\n\n"));
  EXPECT_TRUE(ends_stream("data: {\"type\":\"response.failed\",\"response\":{}}\r\n\r\n"));
  // Not the last event: the batch ends with something else, or names a terminal event in its text.
  EXPECT_FALSE(ends_stream("data: [DONE]\n\ndata: {\"choices\":[]}\n\n"));
  EXPECT_FALSE(ends_stream("event: response.output_text.delta\ndata: {\"delta\":\"event: response.completed\"}\n\n"));
  EXPECT_FALSE(ends_stream("event: message_delta\ndata: {}\n\n"));
  EXPECT_FALSE(ends_stream(""));
}
