#include "oauth.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace mockllm::oauth {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kForm = "application/x-www-form-urlencoded";
constexpr std::string_view kBody = "grant_type=client_credentials&scope=all-apis";
// base64("client-1:p@ss:word")
constexpr std::string_view kBasic = "Basic Y2xpZW50LTE6cEBzczp3b3Jk";

std::string header(const Reply& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

TEST(OAuthForm, DecodesValues) {
  EXPECT_EQ(form_decode("a+b%20c%3A%2f%zz%4"), "a b c:/%zz%4");
  EXPECT_EQ(form_value("grant_type=client_credentials&scope=all-apis", "scope"), "all-apis");
  EXPECT_EQ(form_value("scope=all-apis+offline_access&x=1", "scope"), "all-apis offline_access");
  EXPECT_EQ(form_value("a=1&empty=&flag", "empty"), "");
  EXPECT_EQ(form_value("a=1&flag", "flag"), "");
  EXPECT_EQ(form_value("a=1", "b"), std::nullopt);
  EXPECT_EQ(form_value("client%5Fid=x", "client_id"), "x");
}

TEST(OAuthForm, ParsesBasicCredentials) {
  auto c = basic_credentials(kBasic);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first, "client-1");
  EXPECT_EQ(c->second, "p@ss:word");  // the secret may hold ':'
  EXPECT_TRUE(basic_credentials("basic Y2xpZW50LTE6cEBzczp3b3Jk"));
  EXPECT_EQ(basic_credentials("Bearer abc"), std::nullopt);
  EXPECT_EQ(basic_credentials("Basic !!!"), std::nullopt);
  EXPECT_EQ(basic_credentials("Basic bm9jb2xvbg"), std::nullopt);  // "nocolon", unpadded
  auto unpadded = basic_credentials("Basic YTpi");                 // "a:b"
  ASSERT_TRUE(unpadded);
  EXPECT_EQ(unpadded->second, "b");
}

TEST(OAuthToken, IssuesATokenForBasicCredentials) {
  Issuer issuer("client-1", "p@ss:word");
  const auto now = Clock::now();
  TokenAnswer a = issuer.token(kForm, kBasic, "scope=all-apis&grant_type=client_credentials", now);
  ASSERT_EQ(a.reply.status, 200u) << a.reply.body;
  EXPECT_TRUE(a.issued);
  EXPECT_EQ(a.latency_ms, 0);
  EXPECT_EQ(header(a.reply, "Cache-Control"), "no-store");
  auto v = json::parse(a.reply.body);
  EXPECT_EQ(v.at("token_type"), "Bearer");
  EXPECT_EQ(v.at("expires_in"), 3600);
  EXPECT_EQ(v.at("scope"), "all-apis");
  const std::string token(v.at("access_token").as_string());
  EXPECT_TRUE(token.starts_with("eyJ"));
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2);
  EXPECT_TRUE(issuer.valid(token, now));
  EXPECT_TRUE(issuer.valid(token, now + 3599s));
  EXPECT_FALSE(issuer.valid(token, now + 3600s));
  EXPECT_FALSE(issuer.valid(token + "x", now));
  EXPECT_FALSE(issuer.valid("", now));
  // Each fetch is a new token.
  auto b = json::parse(issuer.token(kForm, kBasic, kBody, now).reply.body);
  EXPECT_NE(b.at("access_token"), v.at("access_token"));
}

TEST(OAuthToken, AcceptsFormCredentialsAndCharsetParameter) {
  Issuer issuer("client-1", "p@ss:word");
  TokenAnswer a =
      issuer.token("application/x-www-form-urlencoded; charset=UTF-8", "",
                   "grant_type=client_credentials&client_id=client-1&client_secret=p%40ss%3Aword"
                   "&scope=all-apis",
                   Clock::now());
  EXPECT_EQ(a.reply.status, 200u) << a.reply.body;
  // RFC 6749 form-encodes id and secret inside Basic; that spelling matches too.
  TokenAnswer b = issuer.token(kForm, "Basic Y2xpZW50LTE6cCU0MHNzJTNBd29yZA==", kBody,
                               Clock::now());  // client-1:p%40ss%3Aword
  EXPECT_EQ(b.reply.status, 200u) << b.reply.body;
}

TEST(OAuthToken, RejectsBadClientsGrantsScopesAndBodies) {
  Issuer issuer("client-1", "p@ss:word");
  const auto now = Clock::now();
  struct Case {
    std::string_view content_type, authorization, body;
    unsigned status;
    std::string_view error;
  };
  const Case cases[] = {
      {kForm, "Basic Y2xpZW50LTE6d3Jvbmc=", kBody, 401, "invalid_client"},  // client-1:wrong
      {kForm, "", kBody, 401, "invalid_client"},
      {kForm, "", "grant_type=client_credentials&scope=all-apis&client_id=client-1", 401,
       "invalid_client"},
      {kForm, kBasic, "grant_type=password&scope=all-apis", 400, "unsupported_grant_type"},
      {kForm, kBasic, "scope=all-apis", 400, "invalid_request"},
      {kForm, kBasic, "grant_type=client_credentials", 400, "invalid_scope"},
      {kForm, kBasic, "grant_type=client_credentials&scope=sql", 400, "invalid_scope"},
      {"application/json", kBasic, R"({"grant_type":"client_credentials"})", 400,
       "invalid_request"},
      {"", kBasic, kBody, 400, "invalid_request"},
  };
  for (const auto& c : cases) {
    TokenAnswer a = issuer.token(c.content_type, c.authorization, c.body, now);
    EXPECT_EQ(a.reply.status, c.status) << c.body;
    EXPECT_FALSE(a.issued);
    auto v = json::parse(a.reply.body);
    EXPECT_EQ(v.at("error").as_string(), c.error) << c.body;
    EXPECT_TRUE(v.at("error_description").is_string());
  }
  auto v = json::parse(issuer.token(kForm, "", kBody, now).reply.body);
  EXPECT_EQ(v.at("error_description"), "Client authentication failed");
}

TEST(OAuthBehaviour, ConfigureChangesTtlLatencyAndFailures) {
  Issuer issuer("id", "secret");
  const std::string basic = "Basic aWQ6c2VjcmV0";  // id:secret
  ASSERT_EQ(issuer.configure(json::parse(R"({"ttl_s":2,"latency_ms":250})").as_object()),
            std::nullopt);
  const auto now = Clock::now();
  TokenAnswer a = issuer.token(kForm, basic, kBody, now);
  EXPECT_EQ(a.latency_ms, 250);
  auto v = json::parse(a.reply.body);
  EXPECT_EQ(v.at("expires_in"), 2);
  const std::string token(v.at("access_token").as_string());
  // The lifetime starts when the delayed answer arrives.
  EXPECT_TRUE(issuer.valid(token, now + 2200ms));
  EXPECT_FALSE(issuer.valid(token, now + 2250ms));

  ASSERT_EQ(issuer.configure(json::parse(R"({"fail_status":503})").as_object()), std::nullopt);
  a = issuer.token(kForm, basic, kBody, now);
  EXPECT_EQ(a.reply.status, 503u);
  EXPECT_FALSE(a.issued);
  EXPECT_EQ(json::parse(a.reply.body).at("error"), "temporarily_unavailable");
  EXPECT_EQ(a.latency_ms, 250);  // a failure is delayed too

  // Reset restores the defaults and keeps issued tokens.
  issuer.reset_behaviour();
  EXPECT_EQ(issuer.behaviour().ttl_s, 3600);
  EXPECT_EQ(issuer.behaviour().latency_ms, 0);
  EXPECT_EQ(issuer.behaviour().fail_status, 0);
  EXPECT_TRUE(issuer.valid(token, now));
  EXPECT_EQ(json::parse(issuer.state_json(now)).at("live_tokens"), 1);

  ASSERT_EQ(issuer.configure(json::parse(R"({"revoke_all":true})").as_object()), std::nullopt);
  EXPECT_FALSE(issuer.valid(token, now));
  EXPECT_EQ(json::parse(issuer.state_json(now)).at("live_tokens"), 0);
  a = issuer.token(kForm, basic, kBody, now);
  EXPECT_TRUE(issuer.valid(json::parse(a.reply.body).at("access_token").as_string(), now));
}

TEST(OAuthBehaviour, RejectsBadOptionsWithoutApplyingAny) {
  Issuer issuer("id", "secret");
  for (auto body :
       {R"({"ttl":5})", R"({"ttl_s":-1})", R"({"latency_ms":"5"})", R"({"fail_status":200})",
        R"({"revoke_all":1})", R"({"ttl_s":5,"fail_status":42})"}) {
    EXPECT_NE(issuer.configure(json::parse(body).as_object()), std::nullopt) << body;
  }
  EXPECT_EQ(issuer.behaviour().ttl_s, 3600);
  EXPECT_EQ(issuer.configure(json::parse(R"({"fail_status":0})").as_object()), std::nullopt);
}

}  // namespace
}  // namespace mockllm::oauth
