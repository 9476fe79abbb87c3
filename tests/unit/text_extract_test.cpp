// The text pieces of bodies, answers and stream events in every shape (api/text.h), and edits
// that replace them.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "api/request.h"
#include "api/text.h"

namespace gatehouse::api {
namespace {

struct Got {
  std::string text;
  std::size_t offset = 0;
  std::size_t length = 0;
  std::uint32_t channel = 0;
};

// What the JSON string token `token` says (a failure when it is not one).
std::string unquoted(std::string_view token) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(token, ec);
  EXPECT_FALSE(ec) << token;
  EXPECT_TRUE(v.is_string()) << token;
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

// Every piece: its token is a JSON string in `source` that says the piece's text.
TextFn collect(std::vector<Got>& out, std::string_view source) {
  return [&out, source](const TextPiece& p) {
    EXPECT_LE(p.offset + p.length, source.size());
    if (p.offset + p.length > source.size()) return;
    std::string_view token = source.substr(p.offset, p.length);
    EXPECT_TRUE(token.size() >= 2 && token.front() == '"' && token.back() == '"') << token;
    EXPECT_EQ(unquoted(token), p.text) << token;
    out.push_back(Got{std::string(p.text), p.offset, p.length, p.channel});
  };
}

std::vector<std::string> texts(const std::vector<Got>& got) {
  std::vector<std::string> out;
  for (const auto& g : got) out.push_back(g.text);
  return out;
}

std::vector<std::string> request(ApiShape shape, Operation op, std::string_view body,
                                 bool expect_ok = true) {
  std::vector<Got> got;
  EXPECT_EQ(request_texts(shape, op, body, collect(got, body)), expect_ok) << body;
  return texts(got);
}

std::vector<std::string> openai_chat(std::string_view body) {
  return request(ApiShape::kOpenAI, Operation::kChat, body);
}
std::vector<std::string> anthropic(std::string_view body) {
  return request(ApiShape::kAnthropic, Operation::kChat, body);
}

std::vector<Got> answer(ApiShape shape, std::string_view body, bool expect_ok = true) {
  std::vector<Got> got;
  EXPECT_EQ(response_texts(shape, body, collect(got, body)), expect_ok) << body;
  return got;
}

std::vector<Got> event(ApiShape shape, std::string_view e, bool expect_ok = true) {
  std::vector<Got> got;
  EXPECT_EQ(event_texts(shape, e, collect(got, e)), expect_ok) << e;
  return got;
}

using Texts = std::vector<std::string>;

// ---- OpenAI chat requests.

TEST(TextOpenAIRequest, StringContentsOfEveryRole) {
  std::string body = R"({"model":"gpt-4o-mini","messages":[)"
                     R"({"role":"system","content":"be brief"},)"
                     R"({"role":"developer","content":"dev rules","name":"dev-name"},)"
                     R"({"role":"user","content":"hello"},)"
                     R"({"role":"assistant","content":"hi there"},)"
                     R"({"role":"tool","tool_call_id":"call_1","content":"72F"}],)"
                     R"("user":"user-42","temperature":0.2})";
  EXPECT_EQ(openai_chat(body), (Texts{"be brief", "dev rules", "hello", "hi there", "72F"}));
}

TEST(TextOpenAIRequest, TextPartsButNotImagesAudioOrFiles) {
  std::string body =
      R"({"model":"m","messages":[{"role":"user","content":[)"
      R"({"type":"text","text":"describe this"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}},)"
      R"({"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},)"
      R"({"type":"file","file":{"file_data":"JVBERi0=","filename":"a.pdf"}},)"
      R"({"type":"text","text":"and this"}]},)"
      R"({"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"tool said"}]}]})";
  EXPECT_EQ(openai_chat(body), (Texts{"describe this", "and this", "tool said"}));
}

TEST(TextOpenAIRequest, ToolCallArgumentsLegacyFunctionCallAndRefusal) {
  std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"weather?"},)"
      R"({"role":"assistant","content":null,"refusal":"I can't","tool_calls":[)"
      R"({"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},)"
      R"({"id":"call_def","type":"custom","custom":{"name":"grep","input":"needle"}}]},)"
      R"({"role":"assistant","function_call":{"name":"legacy_fn","arguments":"{\"q\":1}"}}]})";
  EXPECT_EQ(openai_chat(body),
            (Texts{"weather?", "I can't", R"({"city":"Paris"})", "needle", R"({"q":1})"}));
}

TEST(TextOpenAIRequest, IgnoresToolDefinitionsAndOtherMembers) {
  std::string body =
      R"({"model":"secret-model","messages":[{"role":"user","content":"q"}],)"
      R"("tools":[{"type":"function","function":{"name":"f","description":"a tool description",)"
      R"("parameters":{"type":"object","properties":{"content":{"type":"string"}}}}}],)"
      R"("tool_choice":"auto","response_format":{"type":"json_schema","json_schema":{"name":"x"}},)"
      R"("stop":["content"],"metadata":{"content":"not a message"},"content":"top-level"})";
  EXPECT_EQ(openai_chat(body), (Texts{"q"}));
}

TEST(TextOpenAIRequest, OffsetsAreTheTokensInTheBody) {
  std::string body =
      "{ \"messages\" : [ { \"role\" : \"user\" , \"content\" :  \"a \\\"quoted\\\" word\"  } ] ,"
      " \"model\":\"m\" }";
  std::vector<Got> got;
  ASSERT_TRUE(request_texts(ApiShape::kOpenAI, Operation::kChat, body, collect(got, body)));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "a \"quoted\" word");
  EXPECT_EQ(body.substr(got[0].offset, got[0].length), "\"a \\\"quoted\\\" word\"");
  EXPECT_EQ(got[0].channel, 0u);
}

TEST(TextOpenAIRequest, EmptyStringsAndWrongTypesReportNothing) {
  EXPECT_EQ(openai_chat(R"({"model":"m","messages":[{"role":"user","content":""}]})"), Texts{});
  EXPECT_EQ(openai_chat(R"({"model":"m","messages":[{"role":"user","content":42}]})"), Texts{});
  EXPECT_EQ(openai_chat(R"({"model":"m","messages":[{"role":"user","content":{"text":"x"}}]})"),
            Texts{});
  EXPECT_EQ(openai_chat(R"({"model":"m","messages":"hello"})"), Texts{});
  EXPECT_EQ(openai_chat(R"({"model":"m","messages":[1,"two",null,[3]]})"), Texts{});
  EXPECT_EQ(
      openai_chat(R"({"model":"m","messages":[{"role":"assistant","tool_calls":{"a":"b"}}]})"),
      Texts{});
  EXPECT_EQ(openai_chat(R"({"model":"m","messages":[{"role":"assistant","tool_calls":[)"
                        R"({"function":{"arguments":{"x":"y"}}}]}]})"),
            Texts{});
}

TEST(TextOpenAIRequest, KeysAreReadUnescaped) {
  EXPECT_EQ(openai_chat(R"({"model":"m","messages":[{"role":"user","con\u0074ent":"sneaky"}]})"),
            (Texts{"sneaky"}));
  // A repeated member: a provider may read either, so both are text.
  EXPECT_EQ(
      openai_chat(R"({"model":"m","messages":[{"role":"user","content":"a","content":"b"}]})"),
      (Texts{"a", "b"}));
}

TEST(TextOpenAIRequest, PartTypeMayComeAfterItsText) {
  EXPECT_EQ(openai_chat(
                R"({"model":"m","messages":[{"role":"user","content":[)"
                R"({"text":"late type","type":"text"},{"text":"not text","type":"image_url"}]}]})"),
            (Texts{"late type"}));
}

// ---- Embeddings and Databricks.

TEST(TextEmbeddingsRequest, InputStringOrStringsNotTokens) {
  auto op = Operation::kEmbeddings;
  EXPECT_EQ(request(ApiShape::kOpenAI, op, R"({"model":"e","input":"one text"})"),
            (Texts{"one text"}));
  EXPECT_EQ(request(ApiShape::kOpenAI, op,
                    R"({"model":"e","input":["a","b"],"encoding_format":"base64"})"),
            (Texts{"a", "b"}));
  EXPECT_EQ(request(ApiShape::kOpenAI, op, R"({"model":"e","input":[1,2,3]})"), Texts{});
  EXPECT_EQ(request(ApiShape::kOpenAI, op, R"({"model":"e","input":[[1,2],[3]]})"), Texts{});
  // Chat members of an embeddings body are not its text.
  EXPECT_EQ(
      request(ApiShape::kOpenAI, op, R"({"model":"e","input":"x","messages":[{"content":"y"}]})"),
      (Texts{"x"}));
}

TEST(TextDatabricksRequest, ChatAndEmbeddingsInvocations) {
  EXPECT_EQ(request(ApiShape::kDatabricks, Operation::kChat,
                    R"({"messages":[{"role":"user","content":"hi dbx"}],"max_tokens":5,)"
                    R"("usage_context":{"project":"p1"},"client_request_id":"r1"})"),
            (Texts{"hi dbx"}));
  EXPECT_EQ(request(ApiShape::kDatabricks, Operation::kEmbeddings, R"({"input":["e1","e2"]})"),
            (Texts{"e1", "e2"}));
  // Not decoded yet: either payload.
  EXPECT_EQ(request(ApiShape::kDatabricks, Operation::kInvocations, R"({"input":"emb"})"),
            (Texts{"emb"}));
  EXPECT_EQ(
      request(ApiShape::kDatabricks, Operation::kInvocations, R"({"messages":[{"content":"c"}]})"),
      (Texts{"c"}));
}

// ---- Anthropic requests.

TEST(TextAnthropicRequest, SystemAsStringOrBlocks) {
  EXPECT_EQ(anthropic(R"({"model":"claude","max_tokens":10,"system":"sys prompt",)"
                      R"("messages":[{"role":"user","content":"hi"}]})"),
            (Texts{"sys prompt", "hi"}));
  EXPECT_EQ(anthropic(R"({"model":"claude","max_tokens":10,"system":[{"type":"text","text":"s1",)"
                      R"("cache_control":{"type":"ephemeral"}},{"type":"text","text":"s2"}],)"
                      R"("messages":[{"role":"user","content":"hi"}]})"),
            (Texts{"s1", "s2", "hi"}));
}

TEST(TextAnthropicRequest, ContentBlocksOfEveryKind) {
  std::string body =
      R"({"model":"claude","max_tokens":10,"messages":[)"
      R"({"role":"user","content":[{"type":"text","text":"look"},)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},)"
      R"({"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}},)"
      R"({"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc text"},"title":"t"}]},)"
      R"({"role":"assistant","content":[)"
      R"({"type":"thinking","thinking":"my thoughts","signature":"sig=="},)"
      R"({"type":"redacted_thinking","data":"opaque"},)"
      R"({"type":"text","text":"calling"},)"
      R"({"type":"tool_use","id":"toolu_1","name":"search","input":{"query":"q1","opts":{"lang":"en",)"
      R"("tags":["t1",2,"t2"]},"n":3}}]},)"
      R"({"role":"user","content":[)"
      R"({"type":"tool_result","tool_use_id":"toolu_1","content":"result text"},)"
      R"({"type":"tool_result","tool_use_id":"toolu_2","is_error":true,"content":[{"type":"text","text":"rt1"},)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]}]})";
  // Thinking is not text in a request (see text.cpp).
  EXPECT_EQ(anthropic(body),
            (Texts{"look", "doc text", "calling", "q1", "en", "t1", "t2", "result text", "rt1"}));
}

TEST(TextAnthropicRequest, MoreBlockKinds) {
  std::string body =
      R"({"model":"claude","max_tokens":10,"messages":[{"role":"user","content":[)"
      R"({"type":"document","source":{"type":"content","content":[{"type":"text","text":"chunk"}]}},)"
      R"({"type":"search_result","source":"https://x","title":"T","content":[{"type":"text","text":"found"}]},)"
      R"({"type":"server_tool_use","id":"s","name":"web_search","input":{"query":"web q"}}]},)"
      R"({"role":"system","content":"mid-conversation system"}]})";
  EXPECT_EQ(anthropic(body), (Texts{"chunk", "found", "web q", "mid-conversation system"}));
}

TEST(TextAnthropicRequest, TypeAnywhereInTheBlock) {
  std::string body = R"({"model":"claude","max_tokens":10,"messages":[{"role":"user","content":[)"
                     R"({"text":"text first","type":"text"},)"
                     R"({"input":{"k":"tool input"},"name":"n","type":"tool_use"},)"
                     R"({"source":{"data":"AAAA","type":"base64"},"type":"image"},)"
                     R"({"source":{"data":"late doc","type":"text"},"type":"document"},)"
                     R"({"text":"no type"},)"
                     R"({"input":{"k":"not a tool"},"type":"text"}]}]})";
  EXPECT_EQ(anthropic(body), (Texts{"text first", "tool input", "late doc", "no type"}));
}

TEST(TextAnthropicRequest, ARepeatedTypeIsRefused) {
  std::string body =
      R"({"model":"claude","max_tokens":10,"messages":[{"role":"user","content":[)"
      R"({"type":"image","source":{"type":"text","data":"hidden"},"type":"document"}]}]})";
  EXPECT_EQ(request(ApiShape::kAnthropic, Operation::kChat, body, false), Texts{});
}

TEST(TextAnthropicRequest, CountTokensHasTheSameText) {
  std::string body =
      R"({"model":"claude","system":"s","messages":[{"role":"user","content":"count me"}]})";
  EXPECT_EQ(request(ApiShape::kAnthropic, Operation::kCountTokens, body), (Texts{"s", "count me"}));
}

TEST(TextAnthropicRequest, IgnoresToolsMetadataAndModel) {
  std::string body =
      R"({"model":"claude-sonnet","max_tokens":10,"metadata":{"user_id":"{\"session\":\"x\"}"},)"
      R"("tools":[{"name":"t","description":"desc","input_schema":{"type":"object"}}],)"
      R"("thinking":{"type":"adaptive"},"stop_sequences":["text"],)"
      R"("messages":[{"role":"user","content":"only this"}]})";
  EXPECT_EQ(anthropic(body), (Texts{"only this"}));
}

// ---- Escapes.

TEST(TextEscapes, UnescapedAsTheProviderReadsThem) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":)"
                     R"("line1\nline2 \"q\" back\\slash caf\u00e9 \ud83d\ude00 tab\t\/"}]})";
  EXPECT_EQ(openai_chat(body),
            (Texts{"line1\nline2 \"q\" back\\slash caf\xC3\xA9 \xF0\x9F\x98\x80 tab\t/"}));
}

TEST(TextEscapes, ALoneSurrogateInAnAnswerIsStillScanned) {
  // simdjson (and Boost.JSON) refuse it; a lenient client does not, so it is scanned all the same.
  std::string body =
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":"a\ud800b jane@example.com \udc00"}}]})";
  std::vector<Got> got;
  ASSERT_TRUE(response_texts(ApiShape::kOpenAI, body, [&](const TextPiece& p) {
    got.push_back(Got{std::string(p.text), p.offset, p.length, p.channel});
  }));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text,
            "a\xEF\xBF\xBD"
            "b jane@example.com \xEF\xBF\xBD");
  EXPECT_EQ(body.substr(got[0].offset, got[0].length), R"("a\ud800b jane@example.com \udc00")");
}

// ---- Whole answers.

TEST(TextResponse, OpenAIChoicesMessagesToolCallsAndRefusals) {
  std::string body =
      R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt","choices":[)"
      R"({"index":0,"message":{"role":"assistant","content":"answer one","tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":\"b\"}"}}]},)"
      R"("finish_reason":"tool_calls","logprobs":null},)"
      R"({"index":1,"message":{"role":"assistant","content":null,"refusal":"no can do"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":1,"completion_tokens":2},"system_fingerprint":"fp"})";
  auto got = answer(ApiShape::kOpenAI, body);
  EXPECT_EQ(texts(got), (Texts{"answer one", R"({"a":"b"})", "no can do"}));
  for (const auto& g : got) EXPECT_EQ(g.channel, 0u);
  EXPECT_EQ(texts(answer(ApiShape::kDatabricks, body)), texts(got));
}

TEST(TextResponse, DatabricksReasoningPartsAreText) {
  std::string body =
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":[)"
      R"({"type":"reasoning","summary":[{"type":"summary_text","text":"I think","signature":"sig"}]},)"
      R"({"type":"text","text":"the answer"}]}}]})";
  EXPECT_EQ(texts(answer(ApiShape::kDatabricks, body)), (Texts{"I think", "the answer"}));
}

TEST(TextResponse, ReasoningContentIsTextInAnswersNotRequests) {
  EXPECT_EQ(
      texts(answer(ApiShape::kOpenAI,
                   R"({"choices":[{"message":{"reasoning_content":"why","content":"what"}}]})")),
      (Texts{"why", "what"}));
  EXPECT_EQ(openai_chat(
                R"({"model":"m","messages":[{"role":"assistant","reasoning_content":"why",)"
                R"("content":[{"type":"reasoning","summary":[{"type":"summary_text","text":"s"}]},)"
                R"({"type":"text","text":"what"}]}]})"),
            (Texts{"what"}));
}

TEST(TextResponse, AnthropicContentBlocks) {
  std::string body =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[)"
      R"({"type":"thinking","thinking":"pondering","signature":"c2ln"},)"
      R"({"type":"text","text":"hello","citations":null},)"
      R"({"type":"tool_use","id":"toolu_1","name":"get","input":{"city":"Paris","n":1}}],)"
      R"("stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})";
  auto got = answer(ApiShape::kAnthropic, body);
  EXPECT_EQ(texts(got), (Texts{"pondering", "hello", "Paris"}));
  for (const auto& g : got) EXPECT_EQ(g.channel, 0u);
}

TEST(TextResponse, EmbeddingsAndErrorsHaveNone) {
  EXPECT_TRUE(
      answer(ApiShape::kOpenAI, R"({"object":"list","data":[{"embedding":[0.1,0.2],"index":0}]})")
          .empty());
  EXPECT_TRUE(answer(ApiShape::kOpenAI, R"({"error":{"message":"bad","type":"x"}})").empty());
  EXPECT_TRUE(answer(ApiShape::kAnthropic, R"({"type":"error","error":{"type":"x","message":"m"}})")
                  .empty());
}

// ---- Stream events.

TEST(TextEvent, OpenAIContentDelta) {
  std::string e =
      "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"content\":\"jane.do\"},\"finish_reason\":null}]}\n\n";
  auto got = event(ApiShape::kOpenAI, e);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "jane.do");
  EXPECT_EQ(e.substr(got[0].offset, got[0].length), "\"jane.do\"");
  EXPECT_EQ(got[0].channel, 0u);
}

TEST(TextEvent, OpenAIToolCallArgumentsByIndex) {
  std::string e =
      R"(data: {"choices":[{"index":0,"delta":{"tool_calls":[)"
      R"({"function":{"arguments":"{\"ci"},"index":2},)"
      R"({"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"ty\""}}]}}]})"
      "\n\n";
  auto got = event(ApiShape::kOpenAI, e);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, "{\"ci");
  EXPECT_EQ(got[0].channel, 3u);  // 1 + tool index 2
  EXPECT_EQ(got[1].text, "ty\"");
  EXPECT_EQ(got[1].channel, 1u);
}

TEST(TextEvent, OpenAIMultiChoiceChunk) {
  std::string e = R"(data: {"choices":[{"delta":{"content":"c1"},"index":1},)"
                  R"({"index":0,"delta":{"content":"c0","refusal":"r0"}},)"
                  R"({"delta":{"content":"no index"}}]})"
                  "\n\n";
  auto got = event(ApiShape::kDatabricks, e);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].text, "c1");
  EXPECT_EQ(got[0].channel, 1024u);
  EXPECT_EQ(got[1].text, "c0");
  EXPECT_EQ(got[1].channel, 0u);
  EXPECT_EQ(got[2].text, "r0");
  EXPECT_EQ(got[2].channel, 1023u);
  EXPECT_EQ(got[3].text, "no index");
  EXPECT_EQ(got[3].channel, 2u * 1024u);  // its position
}

TEST(TextEvent, OpenAIEventsWithoutText) {
  EXPECT_TRUE(event(ApiShape::kOpenAI, "data: [DONE]\n\n").empty());
  EXPECT_TRUE(event(ApiShape::kOpenAI, "data:[DONE]\r\n\r\n").empty());
  EXPECT_TRUE(
      event(ApiShape::kOpenAI,
            "data: "
            "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n")
          .empty());
  EXPECT_TRUE(
      event(ApiShape::kOpenAI,
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n")
          .empty());
  EXPECT_TRUE(event(ApiShape::kOpenAI, ": keep-alive comment\n\n").empty());
  EXPECT_TRUE(
      event(ApiShape::kOpenAI, "data: {\"error\":{\"message\":\"overloaded\"}}\n\n").empty());
}

TEST(TextEvent, DatabricksReasoningDeltaHasItsOwnChannel) {
  std::string e = R"(data: {"choices":[{"index":0,"delta":{"content":[)"
                  R"({"type":"reasoning","summary":[{"type":"summary_text","text":"hmm"}]},)"
                  R"({"type":"text","text":"out"}]}}]})"
                  "\n\n";
  auto got = event(ApiShape::kDatabricks, e);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, "hmm");
  EXPECT_EQ(got[0].channel, 1022u);
  EXPECT_EQ(got[1].text, "out");
  EXPECT_EQ(got[1].channel, 0u);
}

TEST(TextEvent, OpenAIReasoningLegacyCallsAndHugeIndexes) {
  auto got = event(ApiShape::kOpenAI,
                   R"(data: {"choices":[{"index":0,"delta":{"reasoning_content":"think",)"
                   R"("function_call":{"arguments":"{\"a\""}}}]})"
                   "\n\n");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].channel, 1022u);
  EXPECT_EQ(got[1].channel, 1u);
  // Indexes past what channels can tell apart share the last channels, text still reported.
  auto huge = event(
      ApiShape::kOpenAI,
      R"(data: {"choices":[{"index":99999999999,"delta":{"tool_calls":[)"
      R"({"index":5000,"function":{"arguments":"x"}}]}},{"index":-1,"delta":{"content":"y"}}]})"
      "\n\n");
  ASSERT_EQ(huge.size(), 2u);
  EXPECT_EQ(huge[0].channel, 4194302u * 1024u + 1021u);
  EXPECT_EQ(huge[1].channel, 1024u);  // not an index: its position
}

TEST(TextEvent, AnthropicDeltas) {
  auto text = event(ApiShape::kAnthropic,
                    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                    "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"e@exam\"}}\n\n");
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(text[0].text, "e@exam");
  EXPECT_EQ(text[0].channel, 0u);

  auto json = event(
      ApiShape::kAnthropic,
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,"
      "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Par\"}}\n\n");
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0].text, "{\"city\": \"Par");
  EXPECT_EQ(json[0].channel, 2u);

  auto thinking = event(ApiShape::kAnthropic,
                        "event: content_block_delta\ndata: "
                        "{\"delta\":{\"thinking\":\"mull\",\"type\":\"thinking_delta\"},"
                        "\"type\":\"content_block_delta\",\"index\":1}\n\n");
  ASSERT_EQ(thinking.size(), 1u);
  EXPECT_EQ(thinking[0].text, "mull");
  EXPECT_EQ(thinking[0].channel, 1u);

  EXPECT_TRUE(
      event(ApiShape::kAnthropic,
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
            "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n")
          .empty());
}

TEST(TextEvent, AnthropicBlockStartWithText) {
  auto got =
      event(ApiShape::kAnthropic,
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":3,"
            "\"content_block\":{\"type\":\"text\",\"text\":\"opening\"}}\n\n");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "opening");
  EXPECT_EQ(got[0].channel, 3u);
  EXPECT_TRUE(event(ApiShape::kAnthropic,
                    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                    "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
                  .empty());
  EXPECT_TRUE(
      event(ApiShape::kAnthropic,
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
            "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get\","
            "\"input\":{}}}\n\n")
          .empty());
}

TEST(TextEvent, AnthropicEventsWithoutText) {
  EXPECT_TRUE(
      event(ApiShape::kAnthropic,
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
            "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\","
            "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n")
          .empty());
  EXPECT_TRUE(event(ApiShape::kAnthropic, "event: ping\ndata: {\"type\": \"ping\"}\n\n").empty());
  EXPECT_TRUE(
      event(ApiShape::kAnthropic, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
          .empty());
  EXPECT_TRUE(
      event(ApiShape::kAnthropic,
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
            "\"end_turn\",\"text\":\"not a block\"},\"usage\":{\"output_tokens\":15}}\n\n")
          .empty());
  EXPECT_TRUE(
      event(ApiShape::kAnthropic,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
            "\"message\":\"Overloaded\"}}\n\n")
          .empty());
}

TEST(TextEvent, EventLineAndCrLf) {
  std::string e =
      "event: content_block_delta\r\nid: 7\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"crlf text\"}}\r\n\r\n";
  auto got = event(ApiShape::kAnthropic, e);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "crlf text");
  std::string openai = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cr\"}}]}\r\r";
  auto got2 = event(ApiShape::kOpenAI, openai);
  ASSERT_EQ(got2.size(), 1u);
  EXPECT_EQ(got2[0].text, "cr");
}

TEST(TextEvent, DataOnSeveralLinesMapsBackToEachLine) {
  std::string e =
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n"
      "data:  \"index\":0,\n"
      "data: \"delta\":{\"type\":\"text_delta\",\n"
      "data:\"text\":\"second line\"}}\n\n";
  auto got = event(ApiShape::kAnthropic, e);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "second line");
  EXPECT_EQ(e.substr(got[0].offset, got[0].length), "\"second line\"");
}

TEST(TextEvent, NotJsonIsRefused) {
  event(ApiShape::kOpenAI, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}\n\n", false);
  event(ApiShape::kOpenAI, "data: hello\n\n", false);
  event(ApiShape::kAnthropic, "event: x\ndata: [1,2]\n\n", false);
  // Two events in one: their data lines join into something that is not one JSON object.
  event(ApiShape::kOpenAI,
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: "
        "{\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n",
        false);
}

// ---- Edits.

// Replaces every piece of `body` with `mask(text)`; checks that the rest stayed byte for byte.
std::string mask_all(ApiShape shape, Operation op, const std::string& body,
                     const std::function<std::string(const std::string&)>& mask) {
  std::vector<Got> got;
  EXPECT_TRUE(request_texts(shape, op, body, collect(got, body)));
  std::vector<TextEdit> edits;
  for (auto it = got.rbegin(); it != got.rend(); ++it)
    edits.push_back(TextEdit{it->offset, it->length, mask(it->text)});
  std::string out = apply_text_edits(body, edits);
  std::vector<Got> again;
  EXPECT_TRUE(request_texts(shape, op, out, collect(again, out))) << out;
  EXPECT_EQ(again.size(), got.size());
  if (again.size() != got.size()) return out;
  std::size_t before = 0, after = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(again[i].text, mask(got[i].text));
    EXPECT_EQ(body.substr(before, got[i].offset - before),
              out.substr(after, again[i].offset - after));
    before = got[i].offset + got[i].length;
    after = again[i].offset + again[i].length;
  }
  EXPECT_EQ(body.substr(before), out.substr(after));
  return out;
}

std::string tricky_mask(const std::string& text) {
  return "<M \"" + std::to_string(text.size()) + "\" \\ \n\t\x01\x1f/ é>";
}

TEST(TextEdits, MaskingEveryOpenAIPieceKeepsTheBodyDecodable) {
  std::string body =
      R"({"model":"gpt","messages":[{"role":"system","content":"sys"},)"
      R"({"role":"user","content":[{"type":"text","text":"mail jane@example.com"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},)"
      R"({"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f",)"
      R"("arguments":"{\"to\":\"jane@example.com\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"c1","content":"sent \u00e9 \ud83d\ude00"}],"stream":true})";
  std::string out = mask_all(ApiShape::kOpenAI, Operation::kChat, body, tricky_mask);
  EXPECT_NE(out, body);
  auto decoded = decode_request(ApiShape::kOpenAI, Operation::kChat, out);
  ASSERT_TRUE(std::holds_alternative<CanonicalRequest>(decoded))
      << std::get<Error>(decoded).message;
  EXPECT_EQ(std::get<CanonicalRequest>(decoded).model, "gpt");
  EXPECT_TRUE(std::get<CanonicalRequest>(decoded).stream);
}

TEST(TextEdits, MaskingEveryAnthropicPieceKeepsTheBodyDecodable) {
  std::string body =
      R"({"model":"claude","max_tokens":64,"system":[{"type":"text","text":"you are"}],)"
      R"("messages":[{"role":"user","content":"my ssn is 078-05-1120"},)"
      R"({"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":{"a":{"b":["x","y"]}}}]},)"
      R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}]})";
  std::string out = mask_all(ApiShape::kAnthropic, Operation::kChat, body,
                             [](const std::string& t) { return "<" + t + ">"; });
  auto decoded = decode_request(ApiShape::kAnthropic, Operation::kChat, out);
  ASSERT_TRUE(std::holds_alternative<CanonicalRequest>(decoded))
      << std::get<Error>(decoded).message;
  EXPECT_NE(out.find("\"<my ssn is 078-05-1120>\""), std::string::npos);
}

TEST(TextEdits, EmbeddingsAndDatabricksBodies) {
  mask_all(ApiShape::kOpenAI, Operation::kEmbeddings, R"({"model":"e","input":["a@b.co","x"]})",
           tricky_mask);
  mask_all(ApiShape::kDatabricks, Operation::kChat,
           R"({"messages":[{"role":"user","content":"dbx"}]})", tricky_mask);
}

TEST(TextEdits, ReEncodesQuotesBackslashesAndControls) {
  std::string body = R"({"a":"x","b":"y"})";
  std::string out =
      apply_text_edits(body, {TextEdit{5, 3, std::string("q\"b\\n\nt\tc\x01 \x7f", 12)}});
  boost::json::value v = boost::json::parse(out);
  EXPECT_EQ(std::string(v.at("a").as_string()), std::string("q\"b\\n\nt\tc\x01 \x7f", 12));
  EXPECT_EQ(std::string(v.at("b").as_string()), "y");
  EXPECT_EQ(out.find('\n'), std::string::npos);  // stays on its line (stream events)
}

TEST(TextEdits, AnyOrderAndNoEdits) {
  std::string body = R"({"a":"one","b":"two"})";
  EXPECT_EQ(apply_text_edits(body, {}), body);
  EXPECT_EQ(apply_text_edits(body, {TextEdit{15, 5, "2"}, TextEdit{5, 5, "1"}}),
            R"({"a":"1","b":"2"})");
}

TEST(TextEdits, InvalidUtf8InAMaskBecomesReplacementCharacters) {
  std::string body = R"({"a":"x"})";
  std::string out = apply_text_edits(body, {TextEdit{5, 3, "ok \xC3 cut \xF0\x9F\x98 end \xFF"}});
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(out, ec);
  ASSERT_FALSE(ec) << out;
  EXPECT_EQ(std::string(v.at("a").as_string()),
            "ok \xEF\xBF\xBD cut \xEF\xBF\xBD end \xEF\xBF\xBD");
  // And simdjson takes it (it validates UTF-8).
  std::vector<Got> got;
  std::string wrapped = R"({"model":"m","messages":[{"role":"user","content":)" +
                        out.substr(5, out.size() - 6) + "}]}";
  EXPECT_TRUE(request_texts(ApiShape::kOpenAI, Operation::kChat, wrapped, collect(got, wrapped)));
}

TEST(TextEdits, AnEditedEventIsStillAValidEvent) {
  std::string e =
      "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"call 555-0100\"}}\r\n\r\n";
  auto got = event(ApiShape::kAnthropic, e);
  ASSERT_EQ(got.size(), 1u);
  std::string out = apply_text_edits(e, {TextEdit{got[0].offset, got[0].length, "call <PHONE>\n"}});
  EXPECT_TRUE(out.starts_with("event: content_block_delta\r\ndata: {"));
  EXPECT_TRUE(out.ends_with("}}\r\n\r\n"));
  auto again = event(ApiShape::kAnthropic, out);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].text, "call <PHONE>\n");
}

// ---- Hostile input.

TEST(TextHostile, EveryTruncationIsRefusedAndReportsNothing) {
  const std::string bodies[] = {
      R"({"model":"m","messages":[{"role":"user","content":"hello \"there\" \u00e9"},)"
      R"({"role":"assistant","tool_calls":[{"function":{"arguments":"{}x"}}]}]})",
      R"({"model":"c","max_tokens":1,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user",)"
      R"("content":[{"type":"tool_use","input":{"a":["b",{"c":"d"}]}},{"type":"text","text":"t"}]}]})",
  };
  for (const std::string& body : bodies) {
    for (std::size_t n = 0; n < body.size(); ++n) {
      std::string cut = body.substr(0, n);
      int calls = 0;
      for (ApiShape shape : {ApiShape::kOpenAI, ApiShape::kAnthropic}) {
        EXPECT_FALSE(request_texts(shape, Operation::kChat, cut, [&](const TextPiece&) {
          ++calls;
        })) << cut;
        EXPECT_FALSE(response_texts(shape, cut, [&](const TextPiece&) { ++calls; })) << cut;
      }
      EXPECT_EQ(calls, 0) << cut;
    }
  }
}

TEST(TextHostile, NotAnObject) {
  for (std::string_view body :
       {"", " ", "[]", "\"str\"", "42", "null", "{", "}", "{}{}", "{\"a\":1} x"}) {
    int calls = 0;
    auto count = [&](const TextPiece&) { ++calls; };
    EXPECT_FALSE(request_texts(ApiShape::kOpenAI, Operation::kChat, body, count)) << body;
    EXPECT_FALSE(request_texts(ApiShape::kAnthropic, Operation::kChat, body, count)) << body;
    EXPECT_FALSE(response_texts(ApiShape::kOpenAI, body, count)) << body;
    EXPECT_EQ(calls, 0);
  }
  EXPECT_TRUE(request_texts(ApiShape::kOpenAI, Operation::kChat, "{}", [](const TextPiece&) {}));
}

TEST(TextHostile, DeepNesting) {
  // Deep where the walk reads: tool_use input past the depth cap.
  std::string deep_input =
      R"({"model":"c","messages":[{"role":"user","content":[{"type":"tool_use","input":)";
  for (int i = 0; i < 200; ++i) deep_input += "{\"k\":";
  deep_input += "\"leaf\"";
  for (int i = 0; i < 200; ++i) deep_input += "}";
  deep_input += "}]}]}";
  request(ApiShape::kAnthropic, Operation::kChat, deep_input, false);
  // Tool results inside tool results.
  std::string nested = R"({"model":"c","messages":[{"role":"user","content":)";
  for (int i = 0; i < 200; ++i) nested += R"([{"type":"tool_result","content":)";
  nested += "\"x\"";
  for (int i = 0; i < 200; ++i) nested += "}]";
  nested += "}]}";
  request(ApiShape::kAnthropic, Operation::kChat, nested, false);
  // Within the cap: found.
  std::string shallow =
      R"({"model":"c","messages":[{"role":"user","content":[{"type":"tool_use","input":)";
  for (int i = 0; i < 50; ++i) shallow += "[";
  shallow += "\"leaf\"";
  for (int i = 0; i < 50; ++i) shallow += "]";
  shallow += "}]}]}";
  EXPECT_EQ(anthropic(shallow), (Texts{"leaf"}));
  // Deep where the walk does not read: skipped or refused, never a crash.
  for (int depth : {1000, 5000, 100000}) {
    std::string skipped = R"({"model":"m","metadata":)" + std::string(depth, '[') +
                          std::string(depth, ']') +
                          R"(,"messages":[{"role":"user","content":"after"}]})";
    std::vector<Got> got;
    bool ok = request_texts(ApiShape::kOpenAI, Operation::kChat, skipped, collect(got, skipped));
    if (ok) {
      EXPECT_EQ(texts(got), (Texts{"after"}));
    }
    std::string unclosed = R"({"messages":[{"content":)" + std::string(depth, '[');
    EXPECT_FALSE(
        request_texts(ApiShape::kOpenAI, Operation::kChat, unclosed, [](const TextPiece&) {}));
  }
}

TEST(TextHostile, InvalidUtf8AndBadEscapesAreRefused) {
  request(ApiShape::kOpenAI, Operation::kChat,
          "{\"model\":\"m\",\"messages\":[{\"content\":\"a\xff\"}]}", false);
  request(ApiShape::kOpenAI, Operation::kChat,
          "{\"model\":\"\xc3\",\"messages\":[{\"content\":\"a\"}]}", false);
  request(ApiShape::kOpenAI, Operation::kChat, R"({"messages":[{"content":"bad \q escape"}]})",
          false);
  request(ApiShape::kOpenAI, Operation::kChat, "{\"messages\":[{\"content\":\"raw\ttab\"}]}",
          false);
  event(ApiShape::kOpenAI, "data: {\"choices\":[{\"delta\":{\"content\":\"\xed\xa0\x80\"}}]}\n\n",
        false);
}

TEST(TextHostile, HugeStrings) {
  std::string big(20u << 20, 'a');  // above what a thread keeps between calls
  big[12345] = 'Z';
  std::string body = R"({"model":"m","messages":[{"role":"user","content":")" + big + R"("}]})";
  std::size_t length = 0;
  ASSERT_TRUE(request_texts(ApiShape::kOpenAI, Operation::kChat, body, [&](const TextPiece& p) {
    length = p.text.size();
    EXPECT_EQ(p.text[12345], 'Z');
  }));
  EXPECT_EQ(length, big.size());
  // And the next call on this thread still works.
  EXPECT_EQ(openai_chat(R"({"model":"m","messages":[{"content":"small"}]})"), (Texts{"small"}));
}

// Bodies with one byte changed (a deterministic sweep): never a crash, and every piece reported
// is a string token inside the input.
TEST(TextHostile, MutatedBodies) {
  const std::string seeds[] = {
      R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a\"b\u00e9"}]},)"
      R"({"role":"assistant","tool_calls":[{"index":0,"function":{"arguments":"{\"x\":1}"}}]}]})",
      R"({"model":"c","system":"s","messages":[{"role":"user","content":[{"type":"tool_use","input":{"a":["b"]}},)"
      R"({"type":"document","source":{"type":"text","data":"d"}},{"type":"tool_result","content":"r"}]}]})",
      "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
      "\"delta\":{\"type\":\"text_delta\",\"text\":\"t\\n\"}}\r\n\r\n",
      "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"c\",\"tool_calls\":[{\"index\":0,"
      "\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n",
  };
  const char replacements[] = {'"', '\\', '{', '}', '[',  ']',  ',',    ':',
                               'u', 'd',  '8', ' ', '\n', '\r', '\xff', '\0'};
  auto check = [](std::string_view input) {
    return [input](const TextPiece& p) {
      ASSERT_LE(p.offset + p.length, input.size());
      ASSERT_GE(p.length, 2u);
      EXPECT_EQ(input[p.offset], '"');
      EXPECT_EQ(input[p.offset + p.length - 1], '"');
    };
  };
  std::size_t trials = 0;
  for (const std::string& seed : seeds) {
    for (std::size_t at = 0; at < seed.size(); ++at) {
      for (char c : replacements) {
        std::string body = seed;
        body[at] = c;
        for (ApiShape shape : {ApiShape::kOpenAI, ApiShape::kAnthropic, ApiShape::kDatabricks}) {
          request_texts(shape, Operation::kChat, body, check(body));
          request_texts(shape, Operation::kEmbeddings, body, check(body));
          response_texts(shape, body, check(body));
          event_texts(shape, body, check(body));
        }
        ++trials;
      }
    }
  }
  EXPECT_GT(trials, 1000u);
}

TEST(TextHostile, ACallbackMayWalkAnotherBody) {
  std::string outer = R"({"model":"m","messages":[{"content":"outer"}]})";
  std::string inner = R"({"model":"m","messages":[{"content":"inner"}]})";
  std::vector<std::string> seen;
  ASSERT_TRUE(request_texts(ApiShape::kOpenAI, Operation::kChat, outer, [&](const TextPiece& p) {
    std::string before(p.text);
    EXPECT_TRUE(request_texts(ApiShape::kOpenAI, Operation::kChat, inner,
                              [&](const TextPiece& q) { seen.emplace_back(q.text); }));
    EXPECT_EQ(p.text, before);  // the outer piece is untouched by the inner walk
    seen.push_back(before);
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"inner", "outer"}));
}

}  // namespace
}  // namespace gatehouse::api
