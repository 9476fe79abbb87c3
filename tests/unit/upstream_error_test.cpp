#include <gtest/gtest.h>

#include "api/openai.h"
#include "app/forward.h"

namespace gatehouse::app {
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
  EXPECT_NE(e.message.find("REQUEST_LIMIT_EXCEEDED: slow down"), std::string::npos);
  EXPECT_NE(api::encode_error(e).find(R"("code":"rate_limit_exceeded")"), std::string::npos);

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

}  // namespace
}  // namespace gatehouse::app
