#include <gtest/gtest.h>

#include "pipeline/authenticate.h"

namespace gatehouse::pipeline {
namespace {

AuthenticateStage stage_with(std::string name, std::string key) {
  config::KeyConfig k;
  k.name = std::move(name);
  k.sha256 = config::sha256(key);
  return AuthenticateStage({k});
}

TEST(Authenticate, AcceptsAConfiguredKeyAndNamesTheCaller) {
  auto stage = stage_with("demo", "gh-secret-1");
  RequestContext ctx;
  ctx.authorization = "Bearer gh-secret-1";
  EXPECT_FALSE(stage.on_request(ctx));
  EXPECT_EQ(ctx.key_name, "demo");
  ctx.authorization = "bearer   gh-secret-1 ";
  EXPECT_FALSE(stage.on_request(ctx));
}

TEST(Authenticate, RejectsMissingMalformedAndWrongKeysWithoutEchoingThem) {
  auto stage = stage_with("demo", "gh-secret-1");
  for (const char* header : {"", "gh-secret-1", "Basic Z2g6c2VjcmV0", "Bearer ", "Bearer gh-secret-2",
                             "Bearer gh-secret-1x"}) {
    RequestContext ctx;
    ctx.authorization = header;
    auto d = stage.on_request(ctx);
    ASSERT_TRUE(d) << header;
    EXPECT_EQ(d->status, 401);
    EXPECT_EQ(d->code, "invalid_api_key");
    EXPECT_EQ(d->message.find("gh-secret"), std::string::npos) << d->message;
    EXPECT_TRUE(ctx.key_name.empty());
  }
}

TEST(Authenticate, NoConfiguredKeysMeansNobodyGetsIn) {
  AuthenticateStage stage({});
  RequestContext ctx;
  ctx.authorization = "Bearer anything";
  EXPECT_TRUE(stage.on_request(ctx));
}

}  // namespace
}  // namespace gatehouse::pipeline
