// The Responses API's state: its decoder (api/decode*.cpp), the endpoint table's rows, the
// conversation a previous_response_id rebuilds (responses/conversation.cpp), the SQLite table of
// stored responses (store/sqlite_response_table.cpp) and the `responses:` settings.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "api/request.h"
#include "api/text_event.h"
#include "config/load.h"
#include "gateway/endpoints.h"
#include "responses/conversation.h"
#include "store/response_table.h"
#include "temp_dir.h"

namespace gatehouse {
namespace {

namespace json = boost::json;
using api::Operation;

std::variant<api::CanonicalRequest, Error> decode(ApiShape shape, Operation op, std::string body) {
  return api::decode_request(shape, op, body);
}

TEST(ResponsesDecode, ReadsWhatTheGatewayNeeds) {
  auto r = decode(ApiShape::kResponses, Operation::kResponses,
                  R"({"model":"m","input":[{"role":"user","content":"hi"}],"stream":true,"max_output_tokens":64,)"
                  R"("store":false,"previous_response_id":"resp_1","data_class":"internal"})");
  ASSERT_TRUE(std::holds_alternative<api::CanonicalRequest>(r)) << std::get<Error>(r).message;
  const auto& c = std::get<api::CanonicalRequest>(r);
  EXPECT_EQ(c.op, Operation::kResponses);
  EXPECT_EQ(c.model, "m");
  EXPECT_TRUE(c.stream);
  EXPECT_EQ(c.max_tokens, 64);
  EXPECT_FALSE(c.store);
  EXPECT_EQ(c.previous_response_id, "resp_1");
  EXPECT_TRUE(c.has_data_class);
  EXPECT_FALSE(c.include_usage);
}

TEST(ResponsesDecode, RefusesWhatTheApiRefuses) {
  auto error_of = [](std::string body) {
    auto r = decode(ApiShape::kResponses, Operation::kResponses, std::move(body));
    return std::holds_alternative<Error>(r) ? std::get<Error>(r) : Error{};
  };
  EXPECT_EQ(error_of(R"({"model":"m"})").param, "input");
  EXPECT_EQ(error_of(R"({"input":"hi"})").param, "model");
  EXPECT_EQ(error_of(R"({"model":"m","input":5})").param, "input");
  EXPECT_EQ(error_of(R"({"model":"m","input":"x","previous_response_id":""})").param, "previous_response_id");
  EXPECT_EQ(error_of(R"({"model":"m","input":"x","previous_response_id":7})").param, "previous_response_id");
  EXPECT_EQ(error_of(R"({"model":"m","input":"x","max_output_tokens":0})").param, "max_output_tokens");
  EXPECT_EQ(error_of(R"({"model":"m","input":"x","store":"no"})").param, "store");
  // max_tokens is chat's, not a Responses limit: not read (the provider says what it thinks).
  auto r = decode(ApiShape::kResponses, Operation::kResponses, R"({"model":"m","input":"x","max_tokens":5})");
  ASSERT_TRUE(std::holds_alternative<api::CanonicalRequest>(r));
  EXPECT_EQ(std::get<api::CanonicalRequest>(r).max_tokens, -1);
}

TEST(ResponsesDecode, ADatabricksInvocationWithItemsIsAnAgentsResponsesRequest) {
  auto agent = decode(ApiShape::kDatabricks, Operation::kInvocations,
                      R"({"custom_inputs":{"a":1},"input":[{"role":"user","content":"hi"}],"stream":true})");
  ASSERT_TRUE(std::holds_alternative<api::CanonicalRequest>(agent));
  EXPECT_EQ(std::get<api::CanonicalRequest>(agent).op, Operation::kResponses);
  EXPECT_TRUE(std::get<api::CanonicalRequest>(agent).stream);
  EXPECT_EQ(api::request_shape(ApiShape::kDatabricks, Operation::kResponses), ApiShape::kResponses);
  // Strings (and token arrays) stay embeddings; an OpenAI embeddings request never becomes one.
  auto embed = decode(ApiShape::kDatabricks, Operation::kInvocations, R"({"input":["a","b"]})");
  ASSERT_TRUE(std::holds_alternative<api::CanonicalRequest>(embed));
  EXPECT_EQ(std::get<api::CanonicalRequest>(embed).op, Operation::kEmbeddings);
  auto openai = decode(ApiShape::kOpenAI, Operation::kEmbeddings, R"({"model":"e","input":[{"x":1}]})");
  ASSERT_TRUE(std::holds_alternative<api::CanonicalRequest>(openai));
  EXPECT_EQ(std::get<api::CanonicalRequest>(openai).op, Operation::kEmbeddings);
}

TEST(ResponsesEndpoints, RowsForTheApiAndItsStoredResponses) {
  using gateway::Backend;
  for (std::string_view p : {"/v1/responses", "/responses", "/serving-endpoints/responses"}) {
    auto e = gateway::endpoint_of(p);
    EXPECT_EQ(e.backend, Backend::kLlm) << p;
    EXPECT_EQ(e.shape, ApiShape::kResponses) << p;
    EXPECT_EQ(e.op, Operation::kResponses) << p;
  }
  for (std::string_view p : {"/v1/responses/resp_1", "/v1/responses/resp_1/input_items", "/serving-endpoints/responses/resp_1"}) {
    EXPECT_EQ(gateway::endpoint_of(p).backend, Backend::kResponses) << p;
  }
  EXPECT_EQ(gateway::endpoint_of("/v1/responses/").backend, Backend::kUnknown);
  // An agent named "responses" is still reachable by its invocations path.
  EXPECT_EQ(gateway::endpoint_of("/serving-endpoints/responses/invocations").op, Operation::kInvocations);
  EXPECT_EQ(gateway::endpoint_of("/serving-endpoints/my-agent/invocations").op, Operation::kInvocations);
}

json::value parse(const std::string& s) { return json::parse(s); }

TEST(ResponsesConversation, OwnItemsAreTypedAndNamed) {
  auto items = parse(responses::own_input_items(R"({"model":"m","input":"hello"})")).as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].at("type"), "message");
  EXPECT_EQ(items[0].at("role"), "user");
  EXPECT_EQ(items[0].at("content").at(0).at("type"), "input_text");
  EXPECT_EQ(items[0].at("content").at(0).at("text"), "hello");
  EXPECT_TRUE(items[0].at("id").as_string().starts_with("msg_"));

  const std::string body =
      R"({"input":[{"role":"user","content":"a"},{"type":"function_call_output","call_id":"c1","output":"x"},)"
      R"({"type":"message","id":"msg_keep","role":"user","content":[{"type":"input_text","text":"b"}]}]})";
  EXPECT_EQ(responses::count_input_items(body), 3u);
  auto last2 = parse(responses::own_input_items(body, 2)).as_array();
  ASSERT_EQ(last2.size(), 2u);
  EXPECT_EQ(last2[0].at("type"), "function_call_output");
  EXPECT_TRUE(last2[0].at("id").as_string().starts_with("fco_"));
  EXPECT_EQ(last2[1].at("id"), "msg_keep");
  EXPECT_EQ(responses::count_input_items(R"({"input":"x"})"), 1u);
}

TEST(ResponsesConversation, ExpandReplaysEveryTurnThenTheNewInput) {
  const std::string turn1_items = responses::own_input_items(R"({"input":"weather in Paris?"})");
  const std::string turn1_response =
      R"({"id":"resp_1","output":[{"type":"reasoning","id":"rs_1","summary":[]},)"
      R"({"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Let me check."}]},)"
      R"({"type":"function_call","id":"fc_1","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}","status":"completed"},)"
      R"({"type":"web_search_call","id":"ws_1","status":"completed"}]})";
  auto expanded = responses::expand(
      R"({"model":"m","previous_response_id":"resp_1","instructions":"be brief","input":[{"type":"function_call_output","call_id":"call_1","output":"sunny"}]})",
      {{turn1_items, turn1_response}});
  ASSERT_TRUE(std::holds_alternative<std::string>(expanded));
  auto body = parse(std::get<std::string>(expanded)).as_object();
  EXPECT_FALSE(body.contains("previous_response_id"));
  EXPECT_EQ(body.at("instructions"), "be brief");
  const auto& input = body.at("input").as_array();
  ASSERT_EQ(input.size(), 4u) << json::serialize(input);
  EXPECT_EQ(input[0].at("role"), "user");
  EXPECT_FALSE(input[0].as_object().contains("id"));
  EXPECT_EQ(input[1].at("role"), "assistant");
  EXPECT_EQ(input[1].at("content"), "Let me check.");
  EXPECT_EQ(input[2].at("type"), "function_call");
  EXPECT_EQ(input[2].at("call_id"), "call_1");
  EXPECT_EQ(input[2].at("arguments"), "{\"city\":\"Paris\"}");
  EXPECT_FALSE(input[2].as_object().contains("id"));
  EXPECT_EQ(input[3].at("type"), "function_call_output");
}

TEST(ResponsesConversation, ReplaysOnlyWhatAnyProviderTakes) {
  // An earlier turn's reasoning item and item reference need the provider that made them; a cut
  // function call's arguments are not JSON.
  const std::string items =
      R"([{"type":"reasoning","id":"rs_1","summary":[]},{"type":"item_reference","id":"msg_9"},)"
      R"({"type":"message","id":"msg_1","role":"user","content":[{"type":"input_text","text":"go"}]}])";
  const std::string response =
      R"({"status":"incomplete","output":[{"type":"function_call","call_id":"c","name":"f","arguments":"{"a","status":"incomplete"}]})";
  auto expanded = responses::expand(R"({"input":"next"})", {{items, response}});
  ASSERT_TRUE(std::holds_alternative<std::string>(expanded));
  const auto input = parse(std::get<std::string>(expanded)).at("input").as_array();
  ASSERT_EQ(input.size(), 2u) << json::serialize(input);
  EXPECT_EQ(input[0].at("type"), "message");
  EXPECT_EQ(input[1].at("content"), "next");
}

TEST(ResponsesConversation, ListsInputItemsNewestFirstWithPaging) {
  const std::string items =
      R"([{"id":"a","type":"message"},{"id":"b","type":"message"},{"id":"c","type":"message"}])";
  auto desc = parse(responses::list_input_items(items, false, "", 2)).as_object();
  EXPECT_EQ(desc.at("object"), "list");
  EXPECT_EQ(desc.at("data").as_array().size(), 2u);
  EXPECT_EQ(desc.at("first_id"), "c");
  EXPECT_EQ(desc.at("last_id"), "b");
  EXPECT_EQ(desc.at("has_more"), true);
  auto rest = parse(responses::list_input_items(items, false, "b", 2)).as_object();
  EXPECT_EQ(rest.at("data").as_array().size(), 1u);
  EXPECT_EQ(rest.at("first_id"), "a");
  EXPECT_EQ(rest.at("has_more"), false);
  auto asc = parse(responses::list_input_items(items, true, "", 20)).as_object();
  EXPECT_EQ(asc.at("first_id"), "a");
  auto none = parse(responses::list_input_items("[]", false, "", 20)).as_object();
  EXPECT_TRUE(none.at("first_id").is_null());
}

TEST(ResponsesConversation, IdsAreUniqueAndShaped) {
  const std::string a = responses::new_response_id(), b = responses::new_response_id();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 5u + 32u);
  EXPECT_TRUE(a.starts_with("resp_"));
  EXPECT_EQ(responses::response_id(R"({"id":"resp_x","object":"response"})"), "resp_x");
  EXPECT_EQ(responses::response_id("not json"), "");
}

TEST(ResponseTable, StoresReadsExpiresAndDeletes) {
  test_util::TempDir dir;
  auto opened = store::open_sqlite_responses(dir.file("g.db"));
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<store::ResponseTable>>(opened)) << std::get<std::string>(opened);
  auto& table = *std::get<std::unique_ptr<store::ResponseTable>>(opened);
  store::ResponseRow row{"resp_1", "key:a", 1000, 5000, "m", "", "[]", R"({"id":"resp_1"})"};
  ASSERT_FALSE(table.put(row));
  auto got = table.get("resp_1", 2000);
  ASSERT_TRUE(std::holds_alternative<std::optional<store::ResponseRow>>(got));
  ASSERT_TRUE(std::get<std::optional<store::ResponseRow>>(got).has_value());
  EXPECT_EQ(std::get<std::optional<store::ResponseRow>>(got)->owner, "key:a");
  // Past its expiry it is gone for readers, and swept by expire().
  EXPECT_FALSE(std::get<std::optional<store::ResponseRow>>(table.get("resp_1", 6000)).has_value());
  ASSERT_FALSE(table.put(store::ResponseRow{"resp_2", "key:a", 1000, 90000, "m", "resp_1", "[]", "{}"}));
  EXPECT_EQ(std::get<std::int64_t>(table.expire(6000)), 1);
  // An id stored already keeps its row (a provider that reuses ids takes nobody's response).
  EXPECT_TRUE(table.put(store::ResponseRow{"resp_2", "key:b", 1000, 90000, "m", "", "[]", "{}"}).has_value());
  EXPECT_EQ(std::get<std::optional<store::ResponseRow>>(table.get("resp_2", 2000))->owner, "key:a");
  EXPECT_EQ(std::get<bool>(table.remove("resp_2")), true);
  EXPECT_EQ(std::get<bool>(table.remove("resp_2")), false);
  // A second opener of the same file finds the schema in place.
  auto again = store::open_sqlite_responses(dir.file("g.db"));
  EXPECT_TRUE(std::holds_alternative<std::unique_ptr<store::ResponseTable>>(again));
}

TEST(ResponsesConfig, ReadsTheSectionAndTheNativeSwitch) {
  auto r = config::load_string(R"(
providers:
  oai: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1", responses: native}
  dbx: {kind: databricks, host: "http://127.0.0.1:1", auth: {token: t}}
models:
  a: {provider: oai}
  agent: {provider: dbx, responses: native}
  fm: {provider: dbx, responses: translate}
responses: {retention_days: 7, max_chain: 50, store: true}
)",
                               "t.yaml", [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  ASSERT_TRUE(r.config) << (r.diagnostics.empty() ? "" : r.diagnostics[0].message);
  EXPECT_TRUE(r.config->providers.at("oai").responses_native);
  EXPECT_FALSE(r.config->providers.at("dbx").responses_native);
  EXPECT_EQ(r.config->models.at("agent").responses_native, std::optional<bool>(true));
  EXPECT_EQ(r.config->models.at("fm").responses_native, std::optional<bool>(false));
  EXPECT_FALSE(r.config->models.at("a").responses_native.has_value());
  EXPECT_EQ(r.config->responses.retention_days, 7);
  EXPECT_EQ(r.config->responses.max_chain, 50);

  auto bad = config::load_string(R"(
providers:
  anth: {kind: anthropic, base_url: "http://127.0.0.1:1", auth: {token: x}, responses: native}
  oai: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1", responses: yes}
responses: {retention_days: 0}
)",
                                 "t.yaml", [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  EXPECT_FALSE(bad.config);
  std::string all;
  for (const auto& d : bad.diagnostics) all += d.message + "\n";
  EXPECT_NE(all.find("providers.anth.responses is for openai-compatible and databricks"), std::string::npos) << all;
  EXPECT_NE(all.find("providers.oai.responses must be native"), std::string::npos) << all;
  EXPECT_NE(all.find("responses.retention_days"), std::string::npos) << all;
}

}  // namespace
}  // namespace gatehouse

namespace gatehouse {
namespace {

TEST(ResponsesStream, EventsAreNumberedAgain) {
  const std::string e = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"a\",\"sequence_number\":6}\n\n";
  EXPECT_EQ(api::with_sequence_number(e, 7),
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"a\",\"sequence_number\":7}\n\n");
  const std::string spaced = "data: {\"sequence_number\": 12, \"delta\":\"\\\"sequence_number\\\":3\"}\n\n";
  EXPECT_EQ(api::with_sequence_number(spaced, 100), "data: {\"sequence_number\": 100, \"delta\":\"\\\"sequence_number\\\":3\"}\n\n");
  EXPECT_EQ(api::with_sequence_number("data: {\"delta\":\"x\"}\n\n", 1), "data: {\"delta\":\"x\"}\n\n");
}

}  // namespace
}  // namespace gatehouse
