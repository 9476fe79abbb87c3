// The `reply`, `reply_chunk` and `reply_chunks` options and the classifier stand-in, in every
// wire shape, whole and streamed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "anthropic.h"
#include "control.h"
#include "databricks.h"
#include "openai.h"
#include "router.h"
#include "shape_common.h"

namespace mockllm {
namespace {
namespace json = boost::json;
namespace http = boost::beast::http;

Control with(std::string_view options) {
  Control c;
  auto err = apply_body_options(c, json::parse(options).as_object());
  EXPECT_EQ(err, std::nullopt) << *err;
  return c;
}

Reply chat(std::string_view request, const Control& control = {}) {
  return openai::chat_completions(json::parse(request).as_object(), control);
}

Reply messages(std::string_view request, const Control& control = {}) {
  return anthropic::messages(json::parse(request).as_object(), control);
}

Reply invoke(std::string_view endpoint, std::string_view request, const Control& control = {}) {
  return databricks::invocations(endpoint, json::parse(request).as_object(), control);
}

// The JSON of an OpenAI (or Databricks) stream's "data:" events, [DONE] left out.
std::vector<json::value> chunks(const Reply& r) {
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.events.back().data, "data: [DONE]\n\n");
  std::vector<json::value> out;
  for (std::size_t i = 0; i + 1 < r.events.size(); ++i) {
    out.push_back(json::parse(r.events[i].data.substr(6)));
  }
  return out;
}

// The content deltas of choice `index`, in order (the role chunk's "" left out).
std::vector<std::string> openai_deltas(const Reply& r, int index = 0) {
  std::vector<std::string> out;
  for (const auto& c : chunks(r)) {
    const auto& choices = c.at("choices").as_array();
    if (choices.empty() || choices[0].at("index") != index) continue;
    const auto* content = choices[0].at("delta").as_object().if_contains("content");
    if (content && content->is_string() && !content->as_string().empty()) {
      out.emplace_back(content->as_string());
    }
  }
  return out;
}

// The text_delta texts of an Anthropic stream.
std::vector<std::string> anthropic_deltas(const Reply& r) {
  EXPECT_TRUE(r.stream);
  std::vector<std::string> out;
  for (const auto& e : r.events) {
    if (!e.data.starts_with("event: content_block_delta\n")) continue;
    auto data = json::parse(e.data.substr(e.data.find("data: ") + 6));
    out.emplace_back(data.at("delta").at("text").as_string());
  }
  return out;
}

std::string joined(const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += p;
  return out;
}

constexpr std::string_view kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view kChatStream =
    R"({"model":"m","stream":true,"stream_options":{"include_usage":true},
        "messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view kMessages =
    R"({"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view kMessagesStream =
    R"({"model":"claude","max_tokens":100,"stream":true,
        "messages":[{"role":"user","content":"hi"}]})";

TEST(ReplyOption, ParsesFromBodyAndHeaders) {
  Control c = with(R"({"reply":"Mail jane@example.com now","reply_chunk":4})");
  EXPECT_EQ(c.reply, "Mail jane@example.com now");
  EXPECT_EQ(c.reply_chunk, 4);
  EXPECT_TRUE(c.reply_chunks.empty());

  Control h;
  EXPECT_EQ(apply_header_option(h, "reply", "hello there"), std::nullopt);
  EXPECT_EQ(apply_header_option(h, "reply-chunk", "3"), std::nullopt);
  EXPECT_EQ(h.reply, "hello there");
  EXPECT_EQ(h.reply_chunk, 3);
  // A header value that reads as a number is still the reply's text.
  EXPECT_EQ(apply_header_option(h, "reply", "42"), std::nullopt);
  EXPECT_EQ(h.reply, "42");

  Control chunked = with(R"({"reply_chunks":["Mail jane.do","e@exam","ple.com now"]})");
  EXPECT_EQ(chunked.reply, "Mail jane.doe@example.com now");
  EXPECT_EQ(chunked.reply_chunks,
            (std::vector<std::string>{"Mail jane.do", "e@exam", "ple.com now"}));
  // `reply` after `reply_chunks` (e.g. a request's over a sticky default) replaces both.
  EXPECT_EQ(apply_body_options(chunked, json::parse(R"({"reply":"x"})").as_object()), std::nullopt);
  EXPECT_EQ(chunked.reply, "x");
  EXPECT_TRUE(chunked.reply_chunks.empty());
}

TEST(ReplyOption, RejectsBadValues) {
  Control c;
  for (auto bad : {R"({"reply":5})", R"({"reply":null})", R"({"reply_chunk":-1})",
                   R"({"reply_chunk":"3"})", R"({"reply_chunks":"abc"})", R"({"reply_chunks":[]})",
                   R"({"reply_chunks":["a",1]})", R"({"reply":"a","reply_chunks":["a"]})"}) {
    EXPECT_NE(apply_body_options(c, json::parse(bad).as_object()), std::nullopt) << bad;
  }
  EXPECT_NE(apply_header_option(c, "reply-chunk", "many"), std::nullopt);
  // Arrays have no header form; the message says where to put them.
  auto err = apply_header_option(c, "reply_chunks", R"(["a","b"])");
  ASSERT_NE(err, std::nullopt);
  EXPECT_NE(err->find("body"), std::string::npos);
  EXPECT_NE(apply_body_options(c, json::parse(R"({"replies":"x"})").as_object())->find("reply"),
            std::string::npos);  // the list of known options names the new ones
}

TEST(ReplyOption, StickyDefaultsTakeItAndARequestOverridesIt) {
  Defaults d;
  EXPECT_EQ(d.set(json::parse(R"({"reply_chunks":["a","b"]})").as_object()), std::nullopt);
  Control c = d.control();
  EXPECT_EQ(c.reply, "ab");
  EXPECT_EQ(c.reply_chunks.size(), 2u);
  EXPECT_EQ(apply_header_option(c, "reply", "own"), std::nullopt);
  EXPECT_EQ(c.reply, "own");
  EXPECT_TRUE(c.reply_chunks.empty());
  EXPECT_NE(d.set(json::parse(R"({"reply_chunks":[]})").as_object()), std::nullopt);
  EXPECT_EQ(d.control().reply, "ab");  // unchanged
}

TEST(AnswerText, SplitsOnWordsBytesOrGivenChunks) {
  auto deltas = [](const shape::AnswerText& a) {
    std::vector<std::string> out;
    for (int i = 0; i < a.tokens(); ++i) out.emplace_back(a.delta(i));
    return out;
  };
  // Words with the whitespace after them; leading whitespace goes with the first word.
  auto words = shape::answer_text(with(R"({"reply":"  Hello  big\nworld\t"})"), nullptr, {});
  EXPECT_EQ(deltas(words), (std::vector<std::string>{"  Hello  ", "big\n", "world\t"}));
  EXPECT_EQ(words.text, "  Hello  big\nworld\t");
  EXPECT_FALSE(words.cut);
  EXPECT_EQ(deltas(shape::answer_text(with(R"({"reply":"   "})"), nullptr, {})),
            (std::vector<std::string>{"   "}));
  EXPECT_EQ(shape::answer_text(with(R"({"reply":""})"), nullptr, {}).tokens(), 0);

  // Bytes, never splitting a UTF-8 sequence: "é" is 2 bytes, "€" 3.
  auto bytes = shape::answer_text(with(R"({"reply":"abé€d","reply_chunk":2})"), nullptr, {});
  EXPECT_EQ(deltas(bytes), (std::vector<std::string>{"ab", "é", "€", "d"}));
  auto ones = shape::answer_text(with(R"({"reply":"a€b","reply_chunk":1})"), nullptr, {});
  EXPECT_EQ(deltas(ones), (std::vector<std::string>{"a", "€", "b"}));
  auto fours = shape::answer_text(with(R"({"reply":"abc€de","reply_chunk":4})"), nullptr, {});
  EXPECT_EQ(deltas(fours), (std::vector<std::string>{"abc", "€d", "e"}));

  auto given = shape::answer_text(with(R"({"reply_chunks":["Mail jane.do","e@exam","ple.com"],
                                           "reply_chunk":2})"),
                                  nullptr, {});
  EXPECT_EQ(deltas(given), (std::vector<std::string>{"Mail jane.do", "e@exam", "ple.com"}));

  // max_tokens keeps the first N deltas.
  auto cut = shape::answer_text(with(R"({"reply":"one two three"})"), nullptr, 2);
  EXPECT_EQ(deltas(cut), (std::vector<std::string>{"one ", "two "}));
  EXPECT_EQ(cut.text, "one two ");
  EXPECT_TRUE(cut.cut);
  EXPECT_FALSE(shape::answer_text(with(R"({"reply":"one two"})"), nullptr, 2).cut);

  // Without a reply: the generated words, as before.
  Control three;
  three.tokens = 3;
  EXPECT_EQ(deltas(shape::answer_text(three, nullptr, {})),
            (std::vector<std::string>{"alpha ", "bravo ", "charlie"}));
  EXPECT_EQ(shape::answer_text(three, nullptr, 2).text, "alpha bravo");
}

TEST(OpenAiReply, WholeAnswerWithNAndUsage) {
  auto v = json::parse(chat(R"({"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]})",
                            with(R"({"reply":"Reach me at jane@example.com today","tokens":50})"))
                           .body);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(v.at("choices").at(i).at("message").at("content"),
              "Reach me at jane@example.com today");
    EXPECT_EQ(v.at("choices").at(i).at("finish_reason"), "stop");
  }
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 10);  // 5 words x 2 choices: tokens ignored
  EXPECT_EQ(v.at("usage").at("total_tokens"), 11);

  auto chunked = json::parse(chat(kChat, with(R"({"reply":"abcdefgh","reply_chunk":3})")).body);
  EXPECT_EQ(chunked.at("usage").at("completion_tokens"), 3);  // abc def gh
}

TEST(OpenAiReply, MaxTokensCutsTheReply) {
  auto v = json::parse(chat(R"({"model":"m","max_completion_tokens":9,"max_tokens":2,
                                "messages":[{"role":"user","content":"hi"}]})",
                            with(R"({"reply":"one two three four"})"))
                           .body);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "one two ");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 2);

  auto stream = chat(R"({"model":"m","stream":true,"max_tokens":1,
                        "messages":[{"role":"user","content":"hi"}]})",
                     with(R"({"reply_chunks":["Mail jane.do","e@exam","ple.com now"]})"));
  EXPECT_EQ(openai_deltas(stream), (std::vector<std::string>{"Mail jane.do"}));
  EXPECT_EQ(chunks(stream).back().at("choices").at(0).at("finish_reason"), "length");
}

TEST(OpenAiReply, StreamSendsTheChunksInOrderForEveryChoice) {
  const Control c = with(R"({"reply_chunks":["Mail jane.do","e@exam","ple.com now"]})");
  Reply r = chat(R"({"model":"m","n":2,"stream":true,"stream_options":{"include_usage":true},
                     "messages":[{"role":"user","content":"hi"}]})",
                 c);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(openai_deltas(r, i),
              (std::vector<std::string>{"Mail jane.do", "e@exam", "ple.com now"}));
  }
  auto all = chunks(r);
  EXPECT_EQ(all.back().at("usage").at("completion_tokens"), 6);
  // Content deltas are paced; role and finish chunks are not.
  EXPECT_FALSE(r.events.front().paced);
  EXPECT_TRUE(r.events[2].paced);

  // The default split: a word (with its space) per delta.
  Reply words = chat(kChatStream, with(R"({"reply":"Reach me at jane@example.com"})"));
  EXPECT_EQ(openai_deltas(words),
            (std::vector<std::string>{"Reach ", "me ", "at ", "jane@example.com"}));
  EXPECT_EQ(chunks(words).back().at("usage").at("completion_tokens"), 4);

  // Byte chunks.
  Reply bytes = chat(kChatStream, with(R"({"reply":"jane@example.com","reply_chunk":5})"));
  EXPECT_EQ(openai_deltas(bytes), (std::vector<std::string>{"jane@", "examp", "le.co", "m"}));

  // stream_error_after counts the reply's deltas.
  Reply failing = chat(kChatStream, with(R"({"reply":"a b c d","stream_error_after":2})"));
  ASSERT_FALSE(failing.events.empty());
  EXPECT_NE(failing.events.back().data.find("server_error"), std::string::npos);
  std::size_t content = 0;
  for (const auto& e : failing.events)
    content += e.data.find("\"content\":\"") != std::string::npos;
  EXPECT_EQ(content, 3u);  // the role chunk's "" and two deltas
}

TEST(OpenAiReply, ToolCallsStillWin) {
  auto v = json::parse(chat(R"({"model":"m","messages":[{"role":"user","content":"secret dapi0"}],
      "tools":[{"type":"function","function":{"name":"lookup"}}]})",
                            with(R"({"reply":"ignored for a tool call"})"))
                           .body);
  const auto& choice = v.at("choices").at(0);
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_TRUE(choice.at("message").at("content").is_null());
  EXPECT_EQ(
      json::parse(
          choice.at("message").at("tool_calls").at(0).at("function").at("arguments").as_string()),
      json::parse(R"({"echo":"secret dapi0"})"));
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 8);
  // After the tool's result the reply is the answer.
  auto answered = json::parse(chat(R"({"model":"m","messages":[{"role":"user","content":"x"},
          {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function",
           "function":{"name":"lookup","arguments":"{}"}}]},
          {"role":"tool","tool_call_id":"c","content":"result"}],
          "tools":[{"type":"function","function":{"name":"lookup"}}]})",
                                   with(R"({"reply":"done now"})"))
                                  .body);
  EXPECT_EQ(answered.at("choices").at(0).at("message").at("content"), "done now");
}

TEST(AnthropicReply, WholeAndStreamed) {
  auto v = json::parse(messages(kMessages, with(R"({"reply":"Call +1 415 555 0100 now"})")).body);
  EXPECT_EQ(v.at("content").at(0).at("text"), "Call +1 415 555 0100 now");
  EXPECT_EQ(v.at("stop_reason"), "end_turn");
  EXPECT_EQ(v.at("usage").at("output_tokens"), 6);

  Reply s = messages(kMessagesStream,
                     with(R"({"reply_chunks":["Mail jane.do","e@exam","ple.com now"]})"));
  EXPECT_EQ(anthropic_deltas(s),
            (std::vector<std::string>{"Mail jane.do", "e@exam", "ple.com now"}));
  const std::string& delta = s.events[s.events.size() - 2].data;  // message_delta
  EXPECT_NE(delta.find("\"output_tokens\":3"), std::string::npos) << delta;

  auto cut = json::parse(messages(R"({"model":"c","max_tokens":2,
      "messages":[{"role":"user","content":"hi"}]})",
                                  with(R"({"reply":"one two three"})"))
                             .body);
  EXPECT_EQ(cut.at("content").at(0).at("text"), "one two ");
  EXPECT_EQ(cut.at("stop_reason"), "max_tokens");
  EXPECT_EQ(cut.at("usage").at("output_tokens"), 2);

  Reply bytes = messages(kMessagesStream, with(R"({"reply":"añb","reply_chunk":2})"));
  EXPECT_EQ(anthropic_deltas(bytes), (std::vector<std::string>{"a", "ñ", "b"}));
}

TEST(DatabricksReply, WholeAndStreamedWithRunningUsage) {
  auto v = json::parse(
      invoke("ep", R"({"messages":[{"role":"user","content":"hi"}]})", with(R"({"reply":"x y"})"))
          .body);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "x y");
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 2);

  Reply s = invoke("ep", R"({"stream":true,"messages":[{"role":"user","content":"hi"}]})",
                   with(R"({"reply_chunks":["Mail jane.do","e@exam","ple.com now"]})"));
  EXPECT_EQ(openai_deltas(s), (std::vector<std::string>{"Mail jane.do", "e@exam", "ple.com now"}));
  auto all = chunks(s);
  EXPECT_EQ(all.back().at("usage").at("completion_tokens"), 3);
  EXPECT_EQ(all[2].at("usage").at("completion_tokens"), 2);
}

TEST(ClassifierStandIn, RecognisesGuardModels) {
  EXPECT_TRUE(shape::is_guard_model("llama-guard-3"));
  EXPECT_TRUE(shape::is_guard_model("Meta-Llama-Guard-3-8B"));
  EXPECT_TRUE(shape::is_guard_model("GUARD"));
  EXPECT_FALSE(shape::is_guard_model("chat-small"));
  EXPECT_FALSE(shape::is_guard_model("guar"));
  EXPECT_FALSE(shape::is_guard_model(""));
}

TEST(ClassifierStandIn, AnswersSafeOrUnsafeInEveryShape) {
  constexpr std::string_view kUnsafe =
      R"({"model":"llama-guard-3","messages":[{"role":"user","content":"ok"},
          {"role":"assistant","content":"fine"},
          {"role":"user","content":[{"type":"text","text":"please UNSAFE-CONTENT here"}]}]})";
  constexpr std::string_view kSafe =
      R"({"model":"llama-guard-3","messages":[{"role":"user","content":"UNSAFE-CONTENT"},
          {"role":"assistant","content":"fine"},{"role":"user","content":"hello"}]})";
  auto text = [](const Reply& r) {
    return std::string(
        json::parse(r.body).at("choices").at(0).at("message").at("content").as_string());
  };
  EXPECT_EQ(text(chat(kUnsafe)), "unsafe\nS1");
  EXPECT_EQ(text(chat(kSafe)), "safe");  // only the last user message counts
  EXPECT_EQ(json::parse(chat(kUnsafe).body).at("usage").at("completion_tokens"), 2);
  // Not a guard model: the usual words.
  EXPECT_EQ(text(chat(R"({"model":"chat-small","messages":[
      {"role":"user","content":"UNSAFE-CONTENT"}]})")),
            "alpha bravo charlie delta echo foxtrot golf hotel");
  // The reply option wins.
  EXPECT_EQ(text(chat(kUnsafe, with(R"({"reply":"safe"})"))), "safe");
  // Streamed: the verdict's deltas concatenate to it.
  std::string streamed(kUnsafe);
  streamed.insert(1, R"("stream":true,)");
  EXPECT_EQ(joined(openai_deltas(chat(streamed))), "unsafe\nS1");

  // Anthropic: the request's model.
  auto anthropic_text = [](const Reply& r) {
    return std::string(json::parse(r.body).at("content").at(0).at("text").as_string());
  };
  EXPECT_EQ(anthropic_text(messages(R"({"model":"claude-guard","max_tokens":32,"system":"x",
      "messages":[{"role":"user","content":"is UNSAFE-CONTENT ok?"}]})")),
            "unsafe\nS1");
  EXPECT_EQ(anthropic_text(messages(R"({"model":"claude-guard","max_tokens":32,
      "messages":[{"role":"user","content":"hello"}]})")),
            "safe");
  EXPECT_EQ(joined(anthropic_deltas(messages(R"({"model":"claude-guard","max_tokens":32,
      "stream":true,"messages":[{"role":"user","content":"UNSAFE-CONTENT"}]})"))),
            "unsafe\nS1");

  // Databricks: the endpoint's name is the model.
  EXPECT_EQ(
      text(invoke("llama-guard-3", R"({"messages":[{"role":"user","content":"UNSAFE-CONTENT"}]})")),
      "unsafe\nS1");
  EXPECT_EQ(text(invoke("llama-guard-3", R"({"messages":[{"role":"user","content":"hi"}]})")),
            "safe");
  EXPECT_EQ(text(invoke("chat", R"({"model":"llama-guard-3",
      "messages":[{"role":"user","content":"UNSAFE-CONTENT"}]})")),
            "alpha bravo charlie delta echo foxtrot golf hotel");
}

// Through the router: body, headers and sticky defaults reach every surface.
TEST(ReplyRouting, OptionsReachEverySurface) {
  Settings settings;
  Stats stats;
  Defaults defaults;
  settings.defaults = &defaults;
  auto post = [&](std::string_view target, std::string body,
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request req{http::verb::post, target, 11};
    for (const auto& [n, v] : headers) req.set(n, v);
    req.body() = std::move(body);
    req.prepare_payload();
    return route(req, "", settings, stats);
  };
  auto content = [](const Decision& d) {
    return std::string(
        json::parse(d.reply.body).at("choices").at(0).at("message").at("content").as_string());
  };

  EXPECT_EQ(content(post("/v1/chat/completions",
                         R"({"model":"m","messages":[{"role":"user","content":"hi"}],
                             "mock":{"reply_chunks":["a","b"]}})")),
            "ab");
  EXPECT_EQ(
      content(post("/v1/chat/completions", std::string(kChat), {{"x-mock-reply", "via header"}})),
      "via header");
  Decision bad = post("/v1/chat/completions", std::string(kChat), {{"x-mock-reply-chunks", "[]"}});
  EXPECT_EQ(bad.reply.status, 400u);

  ASSERT_EQ(post("/__mock/defaults", R"({"reply_chunks":["Mail jane.do","e@exam","ple.com"]})")
                .reply.status,
            200u);
  Decision msg =
      post("/v1/messages", std::string(kMessagesStream), {{"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(anthropic_deltas(msg.reply),
            (std::vector<std::string>{"Mail jane.do", "e@exam", "ple.com"}));
  Decision inv = post("/serving-endpoints/ep/invocations",
                      R"({"stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(openai_deltas(inv.reply),
            (std::vector<std::string>{"Mail jane.do", "e@exam", "ple.com"}));
  // A sticky reply wins over the classifier too; clearing brings the verdict back.
  constexpr std::string_view kGuard =
      R"({"model":"llama-guard-3","messages":[{"role":"user","content":"UNSAFE-CONTENT"}]})";
  EXPECT_EQ(content(post("/v1/chat/completions", std::string(kGuard))),
            "Mail jane.doe@example.com");
  post("/__mock/defaults", "{}");
  EXPECT_EQ(content(post("/v1/chat/completions", std::string(kGuard))), "unsafe\nS1");
}

}  // namespace
}  // namespace mockllm
