#include <gtest/gtest.h>

#include "pipeline/authenticate.h"

#include <chrono>
#include <memory>

#include "store/key_rules.h"
#include "store/key_store.h"
#include "store/key_watcher.h"
#include "temp_dir.h"

namespace gatehouse::pipeline {
namespace {

// The stage keeps a reference to the config: each test's config lives in this holder.
struct Holder {
  config::Config config;
  std::shared_ptr<const identity::JwtVerifier> jwt;
  std::shared_ptr<const store::KeyWatcher> stored_keys;
  std::unique_ptr<AuthenticateStage> stage;
  Decision on_request(RequestContext& ctx) const { return stage->on_request(ctx); }
};

Holder stage_with(std::string name, std::string key, std::string role = {}) {
  Holder h;
  config::KeyConfig k;
  k.name = std::move(name);
  k.sha256 = config::sha256(key);
  k.role = std::move(role);
  k.project = "p1";
  h.config.keys.push_back(k);
  h.config.roles_defined = true;
  h.config.roles["analyst"].name = "analyst";
  h.stage = std::make_unique<AuthenticateStage>(h.config, h.jwt, h.stored_keys);
  return h;
}

TEST(Authenticate, AcceptsAConfiguredKeyAndNamesTheCaller) {
  auto stage = stage_with("demo", "gh-secret-1");
  RequestContext ctx;
  ctx.ingress.authorization = "Bearer gh-secret-1";
  EXPECT_FALSE(stage.on_request(ctx));
  EXPECT_EQ(ctx.identity.key_name, "demo");
  ctx.ingress.authorization = "bearer   gh-secret-1 ";
  EXPECT_FALSE(stage.on_request(ctx));
}

TEST(Authenticate, RejectsMissingMalformedAndWrongKeysWithoutEchoingThem) {
  auto stage = stage_with("demo", "gh-secret-1");
  for (const char* header : {"", "gh-secret-1", "Basic Z2g6c2VjcmV0", "Bearer ", "Bearer gh-secret-2",
                             "Bearer gh-secret-1x"}) {
    RequestContext ctx;
    ctx.ingress.authorization = header;
    auto d = stage.on_request(ctx);
    ASSERT_TRUE(d) << header;
    EXPECT_EQ(d->status, 401);
    EXPECT_EQ(d->code, "invalid_api_key");
    EXPECT_EQ(d->message.find("gh-secret"), std::string::npos) << d->message;
    EXPECT_TRUE(ctx.identity.key_name.empty());
  }
}

TEST(Authenticate, NoConfiguredKeysMeansNobodyGetsIn) {
  config::Config empty;
  AuthenticateStage stage(empty, nullptr, nullptr);
  RequestContext ctx;
  ctx.ingress.authorization = "Bearer anything";
  EXPECT_TRUE(stage.on_request(ctx));
}

TEST(Authenticate, AKeyBringsItsRoleAndProject) {
  auto stage = stage_with("demo", "gh-secret-1", "analyst");
  RequestContext ctx;
  ctx.ingress.authorization = "Bearer gh-secret-1";
  ASSERT_FALSE(stage.on_request(ctx));
  ASSERT_EQ(ctx.identity.roles.size(), 1u);
  EXPECT_EQ(ctx.identity.roles[0]->name, "analyst");
  EXPECT_EQ(ctx.identity.role_names, "analyst");
  EXPECT_EQ(ctx.identity.project, "p1");
  EXPECT_FALSE(ctx.identity.jwt);
}

TEST(Authenticate, AnthropicClientsMaySendXApiKey) {
  auto stage = stage_with("demo", "gh-secret-1");
  RequestContext ctx;
  ctx.ingress.shape = ApiShape::kAnthropic;
  ctx.ingress.api_key = "gh-secret-1";
  EXPECT_FALSE(stage.on_request(ctx));
  EXPECT_EQ(ctx.identity.key_name, "demo");
  RequestContext none;
  none.ingress.shape = ApiShape::kAnthropic;
  auto d = stage.on_request(none);
  ASSERT_TRUE(d);
  EXPECT_NE(d->message.find("x-api-key"), std::string::npos);
}

// A stored key that expired is told so, and when: its holder knows to ask for a new one rather
// than check what they pasted. (Only the holder of that very key learns it: a digest match.)
TEST(Authenticate, AnExpiredStoredKeySaysItExpiredAndWhen) {
  test_util::TempDir dir;
  auto opened = store::open_sqlite(dir.file("keys.db"));
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<store::KeyStore>>(opened));
  std::shared_ptr<store::KeyStore> keys = std::move(std::get<std::unique_ptr<store::KeyStore>>(opened));
  const std::string secret = store::new_secret();
  store::StoredKey k;
  k.name = "old-bot";
  k.digest = config::sha256(secret);
  k.prefix = store::secret_prefix(secret);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  k.created_at = now - 7200;
  k.expires_at = now - 3600;
  ASSERT_TRUE(std::holds_alternative<store::StoredKey>(keys->create(k)));
  auto watcher = store::KeyWatcher::start(keys);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<store::KeyWatcher>>(watcher));
  Holder h;
  h.stored_keys = std::shared_ptr<const store::KeyWatcher>(std::move(std::get<std::unique_ptr<store::KeyWatcher>>(watcher)));
  h.stage = std::make_unique<AuthenticateStage>(h.config, h.jwt, h.stored_keys);
  RequestContext ctx;
  const std::string header = "Bearer " + secret;
  ctx.ingress.authorization = header;
  auto d = h.on_request(ctx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 401);
  EXPECT_NE(d->message.find("expired at " + store::format_utc(now - 3600)), std::string::npos) << d->message;
  EXPECT_EQ(d->message.find(secret.substr(0, 8)), std::string::npos) << "the key is never echoed";
  // Another key gets the usual answer.
  RequestContext other;
  const std::string wrong = "Bearer " + store::new_secret();
  other.ingress.authorization = wrong;
  auto e = h.on_request(other);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message.find("expired"), std::string::npos) << e->message;
}

}  // namespace
}  // namespace gatehouse::pipeline
