#include <gtest/gtest.h>

#include "api/errors.h"
#include "api/openai.h"
#include "http/wire.h"

namespace gatehouse::api {
namespace {

TEST(UpstreamStatusError, RelaysOpenAIShapedErrorsAsTheyAre) {
  std::string body = R"({"error":{"message":"context too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}})";
  Error e = upstream_status_error(400, body, "", "local");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.upstream_body, body);
  EXPECT_FALSE(e.retryable);
}

TEST(UpstreamStatusError, WrapsOtherBodiesKeepingStatusAndRetryAfter) {
  Error e = upstream_status_error(
      429, R"({"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"})", "7", "dbx");
  EXPECT_EQ(e.status, 429);
  EXPECT_EQ(e.retry_after_s, 7);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.kind, ErrorKind::kRateLimited);
  // A Databricks error body is read: its message and code reach a client of any shape, and a
  // Databricks-shaped client gets the body as it was.
  EXPECT_EQ(e.message, "slow down");
  EXPECT_EQ(e.upstream_status, 429);
  EXPECT_EQ(api::encode_error(ApiShape::kOpenAI, e),
            R"({"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"REQUEST_LIMIT_EXCEEDED"}})");
  EXPECT_EQ(api::encode_error(ApiShape::kAnthropic, e),
            R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})");
  EXPECT_EQ(api::encode_error(ApiShape::kDatabricks, e),
            R"({"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"})");

  Error h = upstream_status_error(503, "<html>Service Unavailable</html>", "", "p");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.message, "provider 'p' answered HTTP 503");
  EXPECT_EQ(h.upstream_body, "");
}

TEST(UpstreamStatusError, ProviderCredentialRefusalIsTheGatewaysProblem) {
  Error e = upstream_status_error(
      401, R"({"error":{"message":"Incorrect API key provided: sk-abc***","type":"x"}})", "", "openai");
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.code, "upstream_auth_failed");
  EXPECT_TRUE(e.upstream_body.empty());  // never relay a message that may quote the credential
  EXPECT_EQ(e.message.find("sk-abc"), std::string::npos);
}

TEST(UpstreamStatusError, AnthropicErrorsReachOpenAIClientsInTheirShape) {
  std::string body = R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})";
  Error e = upstream_status_error(529, body, "", "anth");
  EXPECT_EQ(e.status, 529);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(api::encode_error(ApiShape::kAnthropic, e), body);  // relayed as it is
  EXPECT_EQ(api::encode_error(ApiShape::kOpenAI, e),
            R"({"error":{"message":"Overloaded","type":"upstream_error","param":null,"code":"overloaded_error"}})");
  EXPECT_EQ(api::encode_error(ApiShape::kDatabricks, e),
            R"({"error_code":"INTERNAL_ERROR","message":"Overloaded"})");
}

TEST(UpstreamStatusError, OpenAIErrorsReachAnthropicClientsInTheirShape) {
  std::string body = R"({"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}})";
  Error e = upstream_status_error(400, body, "", "local");
  EXPECT_EQ(api::encode_error(ApiShape::kOpenAI, e), body);
  EXPECT_EQ(api::encode_error(ApiShape::kAnthropic, e),
            R"({"type":"error","error":{"type":"invalid_request_error","message":"bad temperature"}})");
  EXPECT_EQ(api::stream_error_event(ApiShape::kAnthropic, e),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"bad temperature\"}}\n\n");
}

// An Anthropic client is told its provider is overloaded for a 503 as for a 529 (docs/errors.md).
TEST(UpstreamStatusError, A503OrA529IsOverloadedForAnAnthropicClient) {
  for (unsigned status : {503u, 529u}) {
    Error e = upstream_status_error(status, "<html>busy</html>", "", "p");
    EXPECT_EQ(anthropic_error_type(e), "overloaded_error") << status;
  }
  EXPECT_EQ(anthropic_error_type(upstream_status_error(500, "oops", "", "p")), "api_error");
}

// Every status the gateway may relay gets a reason phrase on its status line: 529 (Anthropic's
// "overloaded") is not in RFC 9110's list, and "<unknown-status>" is not a reason phrase.
TEST(ResponseHead, EveryStatusHasAValidReasonPhrase) {
  boost::beast::http::fields none;
  EXPECT_EQ(http::response_head(11, 529, none).substr(0, 25), "HTTP/1.1 529 Overloaded\r\n");
  EXPECT_EQ(http::response_head(11, 503, none).substr(0, 34), "HTTP/1.1 503 Service Unavailable\r\n");
  for (unsigned status = 100; status < 600; ++status) {
    EXPECT_NE(http::reason_phrase(status), "<unknown-status>") << status;
    EXPECT_FALSE(http::reason_phrase(status).empty()) << status;
  }
}

}  // namespace
}  // namespace gatehouse::api
