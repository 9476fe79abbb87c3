#include "router.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace mockllm {
namespace {
namespace json = boost::json;
namespace http = boost::beast::http;

using Headers = std::initializer_list<std::pair<std::string_view, std::string_view>>;

Request request(http::verb method, std::string_view target, std::string body = {},
                Headers headers = {}) {
  Request req{method, target, 11};
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

Request post(std::string_view target, std::string body, Headers headers = {}) {
  return request(http::verb::post, target, std::move(body), headers);
}

std::string header(const Reply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

constexpr std::string_view kMessages =
    R"({"model":"claude","max_tokens":50,"messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view kChat = R"({"model":"gpt","messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view kInvoke = R"({"messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view kVersion = "2023-06-01";

struct Fixture : ::testing::Test {
  Settings settings;
  Stats stats;
  Defaults defaults;
  Fixture() { settings.defaults = &defaults; }
  Decision route(const Request& req) { return mockllm::route(req, "", settings, stats); }
};

using Router = Fixture;

TEST_F(Router, AnthropicPathWithAndWithoutV1) {
  for (auto path : {"/v1/messages", "/messages"}) {
    Decision d = route(post(path, std::string(kMessages), {{"anthropic-version", kVersion}}));
    EXPECT_EQ(d.reply.status, 200u) << path;
    EXPECT_EQ(json::parse(d.reply.body).at("type"), "message");
  }
}

// The Anthropic SDKs' beta namespace (and so Claude Code) posts /v1/messages?beta=true.
TEST_F(Router, AnthropicBetaQueryIsTheSamePath) {
  for (auto path : {"/v1/messages?beta=true", "/v1/messages/count_tokens?beta=true"}) {
    Decision d = route(post(path, std::string(kMessages),
                            {{"anthropic-version", kVersion}, {"anthropic-beta", "context-management-2025-06-27"}}));
    EXPECT_EQ(d.reply.status, 200u) << path << ": " << d.reply.body;
  }
}

TEST_F(Router, AnthropicNeedsItsVersionHeader) {
  Decision d = route(post("/v1/messages", std::string(kMessages)));
  EXPECT_EQ(d.reply.status, 400u);
  auto v = json::parse(d.reply.body);
  EXPECT_EQ(v.at("error").at("type"), "invalid_request_error");
  EXPECT_EQ(v.at("error").at("message"), "anthropic-version: header is required");
  EXPECT_TRUE(header(d.reply, "request-id").starts_with("req_"));
}

TEST_F(Router, AnthropicAuthTakesXApiKeyOrBearer) {
  settings.require_token = "sk-ant";
  Decision none =
      route(post("/v1/messages", std::string(kMessages), {{"anthropic-version", kVersion}}));
  EXPECT_EQ(none.reply.status, 401u);
  auto v = json::parse(none.reply.body);
  EXPECT_EQ(v.at("type"), "error");
  EXPECT_EQ(v.at("error").at("type"), "authentication_error");
  EXPECT_EQ(v.at("error").at("message"), "invalid x-api-key");
  EXPECT_TRUE(header(none.reply, "request-id").starts_with("req_"));
  EXPECT_EQ(route(post("/v1/messages", std::string(kMessages),
                       {{"anthropic-version", kVersion}, {"x-api-key", "wrong"}}))
                .reply.status,
            401u);
  EXPECT_EQ(route(post("/v1/messages", std::string(kMessages),
                       {{"anthropic-version", kVersion}, {"x-api-key", "sk-ant"}}))
                .reply.status,
            200u);
  EXPECT_EQ(route(post("/v1/messages", std::string(kMessages),
                       {{"anthropic-version", kVersion}, {"authorization", "Bearer sk-ant"}}))
                .reply.status,
            200u);
  // x-api-key is Anthropic's header only.
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat), {{"x-api-key", "sk-ant"}}))
                .reply.status,
            401u);
}

TEST_F(Router, EachSurfaceAnswersBadOptionsAndInjectedStatusInItsShape) {
  Decision a = route(post("/v1/messages", std::string(kMessages),
                          {{"anthropic-version", kVersion}, {"x-mock-tokenz", "3"}}));
  EXPECT_EQ(a.reply.status, 400u);
  EXPECT_EQ(json::parse(a.reply.body).at("error").at("type"), "invalid_request_error");
  EXPECT_EQ(json::parse(a.reply.body).at("type"), "error");

  Decision b = route(post(
      "/v1/messages", std::string(kMessages),
      {{"anthropic-version", kVersion}, {"x-mock-status", "429"}, {"x-mock-retry-after", "4"}}));
  EXPECT_EQ(b.reply.status, 429u);
  EXPECT_EQ(json::parse(b.reply.body).at("error").at("type"), "rate_limit_error");
  EXPECT_EQ(header(b.reply, "Retry-After"), "4");

  Decision c = route(
      post("/serving-endpoints/ep/invocations", std::string(kInvoke), {{"x-mock-status", "503"}}));
  EXPECT_EQ(c.reply.status, 503u);
  EXPECT_EQ(json::parse(c.reply.body).at("error_code"), "TEMPORARILY_UNAVAILABLE");

  Decision d = route(post("/serving-endpoints/ep/invocations", "{not json"));
  EXPECT_EQ(d.reply.status, 400u);
  EXPECT_EQ(json::parse(d.reply.body).at("error_code"), "BAD_REQUEST");

  Decision e = route(post("/v1/messages", "[1]", {{"anthropic-version", kVersion}}));
  EXPECT_EQ(e.reply.status, 400u);
  EXPECT_EQ(json::parse(e.reply.body).at("error").at("type"), "invalid_request_error");
}

TEST_F(Router, ControlOptionsReachTheAnthropicStream) {
  Decision d = route(
      post("/v1/messages",
           R"({"model":"m","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"x"}],
                              "mock":{"tokens":2,"inter_token_ms":5,"reset":"mid","stream_error_after":1}})",
           {{"anthropic-version", kVersion}}));
  EXPECT_TRUE(d.reply.stream);
  EXPECT_EQ(d.control.inter_token_ms, 5);
  EXPECT_EQ(d.control.reset, ResetMode::kMid);
  EXPECT_TRUE(d.reply.events.back().data.starts_with("event: error\n"));
}

TEST_F(Router, DatabricksInvocationsAndTheOpenAiSdkPaths) {
  Decision d = route(post("/serving-endpoints/llama/invocations", std::string(kInvoke)));
  EXPECT_EQ(d.reply.status, 200u);
  EXPECT_EQ(header(d.reply, "served-model-name"), "llama");
  EXPECT_EQ(json::parse(d.reply.body).at("model"), "llama");

  Decision chat = route(post("/serving-endpoints/chat/completions", std::string(kChat)));
  EXPECT_EQ(chat.reply.status, 200u);
  EXPECT_EQ(json::parse(chat.reply.body).at("model"), "gpt");
  Decision emb = route(post("/serving-endpoints/embeddings", R"({"model":"gte","input":"x"})"));
  EXPECT_EQ(emb.reply.status, 200u);
  EXPECT_EQ(json::parse(emb.reply.body).at("object"), "list");

  Decision missing = route(request(http::verb::get, "/serving-endpoints/llama"));
  EXPECT_EQ(missing.reply.status, 404u);
  EXPECT_EQ(json::parse(missing.reply.body).at("error_code"), "ENDPOINT_NOT_FOUND");
}

TEST_F(Router, ResponsesOnEveryOpenAiPathAndTheDatabricksOne) {
  constexpr std::string_view kResponses = R"({"model":"gpt-5","input":"hi"})";
  for (auto path : {"/v1/responses", "/responses", "/serving-endpoints/responses"}) {
    Decision d = route(post(path, std::string(kResponses)));
    EXPECT_EQ(d.reply.status, 200u) << path << ": " << d.reply.body;
    auto v = json::parse(d.reply.body);
    EXPECT_EQ(v.at("object"), "response");
    EXPECT_EQ(v.at("model"), "gpt-5");
  }
  // Databricks also takes its agents' fields (the SDK's extra_body); the OpenAI path does not.
  constexpr std::string_view kWithAgentFields =
      R"({"model":"agent","input":"hi","custom_inputs":{"k":1},
          "databricks_options":{"return_trace":true},"context":{"user_id":"u"}})";
  Decision served = route(post("/serving-endpoints/responses", std::string(kWithAgentFields)));
  EXPECT_EQ(served.reply.status, 200u) << served.reply.body;
  EXPECT_EQ(json::parse(served.reply.body).at("custom_outputs"), json::parse(R"({"k":1})"));
  Decision refused = route(post("/v1/responses", std::string(kWithAgentFields)));
  EXPECT_EQ(refused.reply.status, 400u);
  EXPECT_EQ(json::parse(refused.reply.body).at("error").at("param"), "custom_inputs");

  // The mock's own option object is not an unknown parameter; it steers the answer.
  Decision steered =
      route(post("/v1/responses", R"({"model":"m","input":"hi","mock":{"tokens":2}})"));
  EXPECT_EQ(json::parse(steered.reply.body).at("usage").at("output_tokens"), 2);

  Decision injected = route(post("/serving-endpoints/responses", std::string(kResponses),
                                 {{"x-mock-status", "429"}}));
  EXPECT_EQ(injected.reply.status, 429u);
  EXPECT_EQ(json::parse(injected.reply.body).at("error").at("type"), "rate_limit_exceeded");

  Decision garbled = route(post("/v1/responses", "{not json"));
  EXPECT_EQ(garbled.reply.status, 400u);
  EXPECT_TRUE(json::parse(garbled.reply.body).at("error").is_object());

  for (auto target : {"/v1/responses/resp_abc", "/v1/responses/resp_abc/input_items"}) {
    Decision stored = route(request(http::verb::get, target));
    EXPECT_EQ(stored.reply.status, 404u) << target;
    EXPECT_EQ(json::parse(stored.reply.body).at("error").at("message"),
              "Response with id 'resp_abc' not found.");
  }

  settings.require_token = "dapi-1";
  Decision unauthorized = route(post("/serving-endpoints/responses", std::string(kResponses)));
  EXPECT_EQ(unauthorized.reply.status, 401u);
  EXPECT_EQ(route(post("/serving-endpoints/responses", std::string(kResponses),
                       {{"authorization", "Bearer dapi-1"}}))
                .reply.status,
            200u);
}

TEST_F(Router, DatabricksAgentInvocationsAndRecording) {
  Decision d = route(post("/serving-endpoints/agent/invocations",
                          R"({"input":[{"role":"user","content":"hi"}],"custom_inputs":{"a":1}})"));
  EXPECT_EQ(d.reply.status, 200u) << d.reply.body;
  EXPECT_EQ(header(d.reply, "served-model-name"), "agent");
  auto v = json::parse(d.reply.body);
  EXPECT_EQ(v.at("object"), "response");
  EXPECT_EQ(v.at("custom_outputs"), json::parse(R"({"a":1})"));
  // What the gateway sent is kept verbatim for the test to read.
  auto recorded = json::parse(stats.requests_json(1)).as_array();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].at("path"), "/serving-endpoints/agent/invocations");
  EXPECT_EQ(json::parse(recorded[0].at("body").as_string()).at("custom_inputs"),
            json::parse(R"({"a":1})"));

  Decision bad =
      route(post("/serving-endpoints/agent/invocations", R"({"input":[{"role":"user"}]})"));
  EXPECT_EQ(bad.reply.status, 400u);
  EXPECT_EQ(json::parse(bad.reply.body).at("error_code"), "BAD_REQUEST");
}

TEST_F(Router, AnthropicCountTokens) {
  Decision d = route(post("/v1/messages/count_tokens",
                          R"({"model":"claude","messages":[{"role":"user","content":"0123456789abcdef"}]})",
                          {{"anthropic-version", kVersion}}));
  EXPECT_EQ(d.reply.status, 200u);
  EXPECT_EQ(json::parse(d.reply.body), json::parse(R"({"input_tokens":4})"));
  EXPECT_TRUE(header(d.reply, "request-id").starts_with("req_"));
  EXPECT_EQ(route(post("/messages/count_tokens", std::string(kMessages),
                       {{"anthropic-version", kVersion}}))
                .reply.status,
            200u);
  // Anthropic's surface: its auth, version header, error shape and injected statuses.
  Decision bad = route(post("/v1/messages/count_tokens", R"({"model":"claude"})",
                            {{"anthropic-version", kVersion}}));
  EXPECT_EQ(bad.reply.status, 400u);
  EXPECT_EQ(json::parse(bad.reply.body).at("error").at("type"), "invalid_request_error");
  EXPECT_EQ(route(post("/v1/messages/count_tokens", std::string(kMessages))).reply.status, 400u);
  Decision limited = route(post("/v1/messages/count_tokens", std::string(kMessages),
                                {{"anthropic-version", kVersion}, {"x-mock-status", "429"}}));
  EXPECT_EQ(limited.reply.status, 429u);
  EXPECT_EQ(json::parse(limited.reply.body).at("error").at("type"), "rate_limit_error");
  settings.require_token = "sk-ant";
  EXPECT_EQ(route(post("/v1/messages/count_tokens", std::string(kMessages),
                       {{"anthropic-version", kVersion}}))
                .reply.status,
            401u);
  EXPECT_EQ(route(post("/v1/messages/count_tokens", std::string(kMessages),
                       {{"anthropic-version", kVersion}, {"x-api-key", "sk-ant"}}))
                .reply.status,
            200u);
}

TEST_F(Router, StickyDefaultsApplyToEveryApiRequestUntilCleared) {
  Decision set = route(post("/__mock/defaults", R"({"status":429,"retry_after":7})"));
  EXPECT_EQ(set.reply.status, 200u);
  EXPECT_EQ(json::parse(set.reply.body),
            json::parse(R"({"defaults":{"status":429,"retry_after":7}})"));
  EXPECT_EQ(json::parse(route(request(http::verb::get, "/__mock/defaults")).reply.body),
            json::parse(set.reply.body));

  // Every surface, each in its own shape.
  Decision chat = route(post("/v1/chat/completions", std::string(kChat)));
  EXPECT_EQ(chat.reply.status, 429u);
  EXPECT_EQ(header(chat.reply, "Retry-After"), "7");
  Decision msg =
      route(post("/v1/messages", std::string(kMessages), {{"anthropic-version", kVersion}}));
  EXPECT_EQ(msg.reply.status, 429u);
  EXPECT_EQ(json::parse(msg.reply.body).at("error").at("type"), "rate_limit_error");
  Decision inv = route(post("/serving-endpoints/ep/invocations", std::string(kInvoke)));
  EXPECT_EQ(inv.reply.status, 429u);
  EXPECT_EQ(json::parse(inv.reply.body).at("error_code"), "REQUEST_LIMIT_EXCEEDED");

  // A request's own options win: body, then headers.
  Decision body_wins = route(post(
      "/v1/chat/completions",
      R"({"model":"gpt","messages":[{"role":"user","content":"hi"}],"mock":{"status":503}})"));
  EXPECT_EQ(body_wins.reply.status, 503u);
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat), {{"x-mock-status", "500"}}))
                .reply.status,
            500u);

  // Inspection is not affected.
  EXPECT_EQ(route(request(http::verb::get, "/__mock/stats")).reply.status, 200u);

  // Other options reach the answer and its delivery.
  EXPECT_EQ(route(post("/__mock/defaults", R"({"tokens":2,"latency_ms":3,"cache_read_tokens":9})"))
                .reply.status,
            200u);
  Decision shaped =
      route(post("/v1/messages", std::string(kMessages), {{"anthropic-version", kVersion}}));
  EXPECT_EQ(shaped.reply.status, 200u);
  EXPECT_EQ(shaped.control.latency_ms, 3);
  auto v = json::parse(shaped.reply.body);
  EXPECT_EQ(v.at("usage").at("output_tokens"), 2);
  EXPECT_EQ(v.at("usage").at("cache_read_input_tokens"), 9);

  // A bad option is refused and changes nothing.
  Decision typo = route(post("/__mock/defaults", R"({"tokenz":1})"));
  EXPECT_EQ(typo.reply.status, 400u);
  EXPECT_NE(json::parse(typo.reply.body).at("error").at("message").as_string().find("tokenz"),
            std::string::npos);
  EXPECT_EQ(route(post("/__mock/defaults", "[1]")).reply.status, 400u);
  EXPECT_EQ(json::parse(route(request(http::verb::get, "/__mock/defaults")).reply.body),
            json::parse(R"({"defaults":{"tokens":2,"latency_ms":3,"cache_read_tokens":9}})"));

  // {} clears; so does /__mock/reset.
  EXPECT_EQ(json::parse(route(post("/__mock/defaults", "{}")).reply.body),
            json::parse(R"({"defaults":{}})"));
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat))).control.latency_ms, 0);
  route(post("/__mock/defaults", R"({"status":500})"));
  EXPECT_EQ(route(post("/__mock/reset", "")).reply.status, 200u);
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat))).reply.status, 200u);
  EXPECT_EQ(json::parse(route(request(http::verb::get, "/__mock/defaults")).reply.body),
            json::parse(R"({"defaults":{}})"));
}

TEST_F(Router, DatabricksUnauthenticatedShape) {
  settings.require_token = "dapi-1";
  Decision d = route(post("/serving-endpoints/llama/invocations", std::string(kInvoke)));
  EXPECT_EQ(d.reply.status, 401u);
  EXPECT_EQ(json::parse(d.reply.body),
            json::parse(R"({"error_code":"UNAUTHENTICATED","message":"Invalid access token."})"));
  EXPECT_EQ(route(post("/serving-endpoints/llama/invocations", std::string(kInvoke),
                       {{"authorization", "Bearer dapi-1"}}))
                .reply.status,
            200u);
}

constexpr std::string_view kTokenBody = "grant_type=client_credentials&scope=all-apis";
constexpr std::string_view kForm = "application/x-www-form-urlencoded";
constexpr std::string_view kBasic = "Basic aWQ6c2VjcmV0";  // id:secret

struct OAuthRouter : Fixture {
  oauth::Issuer issuer{"id", "secret"};
  OAuthRouter() { settings.oauth = &issuer; }

  std::string fetch_token() {
    Decision d = route(post("/oidc/v1/token", std::string(kTokenBody),
                            {{"content-type", kForm}, {"authorization", kBasic}}));
    EXPECT_EQ(d.reply.status, 200u) << d.reply.body;
    return std::string(json::parse(d.reply.body).at("access_token").as_string());
  }
};

TEST_F(OAuthRouter, IssuedTokensOpenEverySurface) {
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat))).reply.status, 401u);
  const std::string bearer = "Bearer " + fetch_token();
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat), {{"authorization", bearer}}))
                .reply.status,
            200u);
  EXPECT_EQ(route(post("/serving-endpoints/e/invocations", std::string(kInvoke),
                       {{"authorization", bearer}}))
                .reply.status,
            200u);
  EXPECT_EQ(route(post("/v1/messages", std::string(kMessages),
                       {{"authorization", bearer}, {"anthropic-version", kVersion}}))
                .reply.status,
            200u);
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat),
                       {{"authorization", "Bearer not-issued"}}))
                .reply.status,
            401u);
}

TEST_F(OAuthRouter, RequireTokenStillWorksAlongsideOAuth) {
  settings.require_token = "static";
  EXPECT_EQ(
      route(post("/v1/chat/completions", std::string(kChat), {{"authorization", "Bearer static"}}))
          .reply.status,
      200u);
}

TEST_F(OAuthRouter, TokenRequestsAreCountedRecordedAndSteeredByTheControlEndpoint) {
  const std::string token = fetch_token();
  Decision bad = route(post("/oidc/v1/token", std::string(kTokenBody),
                            {{"content-type", kForm}, {"authorization", "Basic eDp5"}}));
  EXPECT_EQ(bad.reply.status, 401u);
  EXPECT_EQ(json::parse(bad.reply.body).at("error"), "invalid_client");

  auto counters = json::parse(stats.counters_json());
  EXPECT_EQ(counters.at("oauth_token_requests"), 2);
  EXPECT_EQ(counters.at("oauth_tokens_issued"), 1);
  EXPECT_EQ(counters.at("requests"), 0);  // API requests only

  auto recorded =
      json::parse(route(request(http::verb::get, "/__mock/requests?limit=5")).reply.body);
  ASSERT_EQ(recorded.as_array().size(), 2u);
  EXPECT_EQ(recorded.at(0).at("seq"), 1);
  EXPECT_EQ(recorded.at(1).at("seq"), 2);
  EXPECT_EQ(recorded.at(0).at("path"), "/oidc/v1/token");
  EXPECT_EQ(recorded.at(0).at("body").as_string(), kTokenBody);
  EXPECT_EQ(recorded.at(0).at("headers").at("authorization").as_string(), kBasic);

  Decision control =
      route(post("/__mock/oauth", R"({"latency_ms":300,"ttl_s":60,"revoke_all":true})"));
  EXPECT_EQ(control.reply.status, 200u);
  EXPECT_EQ(json::parse(control.reply.body).at("ttl_s"), 60);
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat),
                       {{"authorization", "Bearer " + token}}))
                .reply.status,
            401u);  // revoked
  Decision slow = route(post("/oidc/v1/token", std::string(kTokenBody),
                             {{"content-type", kForm}, {"authorization", kBasic}}));
  EXPECT_EQ(slow.control.latency_ms, 300);  // delivered later by the server, without blocking
  EXPECT_EQ(json::parse(slow.reply.body).at("expires_in"), 60);
  const std::string fresh(json::parse(slow.reply.body).at("access_token").as_string());

  EXPECT_EQ(route(post("/__mock/oauth", R"({"nope":1})")).reply.status, 400u);

  EXPECT_EQ(route(post("/__mock/reset", "")).reply.status, 200u);
  counters = json::parse(stats.counters_json());
  EXPECT_EQ(counters.at("oauth_token_requests"), 0);
  EXPECT_EQ(counters.at("oauth_tokens_issued"), 0);
  EXPECT_EQ(issuer.behaviour().latency_ms, 0);
  EXPECT_EQ(issuer.behaviour().ttl_s, 3600);
  EXPECT_EQ(route(post("/v1/chat/completions", std::string(kChat),
                       {{"authorization", "Bearer " + fresh}}))
                .reply.status,
            200u);  // reset keeps issued tokens
}

TEST_F(Router, TokenEndpointAndOAuthControlNeedTheFlags) {
  EXPECT_EQ(route(post("/oidc/v1/token", std::string(kTokenBody), {{"content-type", kForm}}))
                .reply.status,
            404u);
  EXPECT_EQ(route(post("/__mock/oauth", "{}")).reply.status, 400u);
}

}  // namespace
}  // namespace mockllm
