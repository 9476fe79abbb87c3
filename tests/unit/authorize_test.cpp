#include <gtest/gtest.h>

#include "pipeline/authorize.h"

namespace gatehouse::pipeline {
namespace {

struct Fixture {
  config::Config config;
  KillSwitch kills;
  Fixture() {
    config.roles_defined = true;
    auto& analyst = config.roles["analyst"];
    analyst.name = "analyst";
    analyst.models = {"chat-*", "dbx-llama"};
    analyst.max_tokens_per_request = 100;
    analyst.data_classes = {config::DataClass::kPublic, config::DataClass::kInternal};
    analyst.data_classes_set = true;
    auto& ops = config.roles["ops"];
    ops.name = "ops";
    ops.models = {"*"};
    auto& m = config.models["chat-small"];
    m.name = "chat-small";
    m.max_data_class = config::DataClass::kInternal;
  }
  RequestContext ctx(std::string model, std::vector<std::string> roles) {
    RequestContext c;
    c.request.model = std::move(model);
    c.upstream.provider = "local";
    c.identity.key_name = "k1";
    c.identity.project = "p1";
    if (auto it = config.models.find(c.request.model); it != config.models.end()) c.request.model_config = &it->second;
    for (const auto& r : roles) {
      c.identity.roles.push_back(&config.roles.at(r));
      c.identity.role_names += (c.identity.role_names.empty() ? "" : ", ") + r;
    }
    return c;
  }
};

TEST(Authorize, ModelsAreDeniedUnlessARoleGlobMatches) {
  Fixture f;
  AuthorizeStage stage(f.config, f.kills);
  auto ok = f.ctx("chat-small", {"analyst"});
  EXPECT_FALSE(stage.on_routed(ok));
  auto exact = f.ctx("dbx-llama", {"analyst"});
  EXPECT_FALSE(stage.on_routed(exact));
  auto denied = f.ctx("secret-model", {"analyst"});
  auto d = stage.on_routed(denied);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 403);
  EXPECT_EQ(d->code, "permission_denied");
  EXPECT_EQ(d->message, "role 'analyst' may not use model 'secret-model'");
  auto none = f.ctx("chat-small", {});
  auto n = stage.on_routed(none);
  ASSERT_TRUE(n);
  EXPECT_NE(n->message.find("key 'k1' has no role"), std::string::npos);
  // Several roles: any one allowing the model is enough.
  auto both = f.ctx("secret-model", {"analyst", "ops"});
  EXPECT_FALSE(stage.on_routed(both));
}

TEST(Authorize, MaxTokensAboveTheRoleLimitIsA400NamingIt) {
  Fixture f;
  AuthorizeStage stage(f.config, f.kills);
  auto c = f.ctx("chat-x", {"analyst"});
  c.request.max_tokens = 100;
  EXPECT_FALSE(stage.on_routed(c));
  c.request.max_tokens = 101;
  auto d = stage.on_routed(c);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 400);
  EXPECT_EQ(d->param, "max_tokens");
  EXPECT_NE(d->message.find("limit of 100"), std::string::npos);
  // ops allows everything without a limit: the most generous fitting role wins.
  auto both = f.ctx("chat-x", {"analyst", "ops"});
  both.request.max_tokens = 5000;
  EXPECT_FALSE(stage.on_routed(both));
}

TEST(Authorize, DataClassesOfRolesAndModels) {
  Fixture f;
  AuthorizeStage stage(f.config, f.kills);
  auto c = f.ctx("chat-x", {"analyst"});
  c.request.data_class = config::DataClass::kInternal;
  EXPECT_FALSE(stage.on_routed(c));
  c.request.data_class = config::DataClass::kConfidential;
  auto d = stage.on_routed(c);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 403);
  EXPECT_NE(d->message.find("may not send confidential data"), std::string::npos);
  // The model's ceiling holds for every role.
  auto m = f.ctx("chat-small", {"ops"});
  m.request.data_class = config::DataClass::kConfidential;
  auto e = stage.on_routed(m);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("accepts data up to internal"), std::string::npos);
  m.request.data_class = config::DataClass::kPublic;
  EXPECT_FALSE(stage.on_routed(m));
}

TEST(Authorize, KillSwitchScopesAnswer503WithTheReasonUntilLifted) {
  Fixture f;
  AuthorizeStage stage(f.config, f.kills);
  for (auto [scope, value] : std::vector<std::pair<std::string, std::string>>{
           {"model", "chat-small"}, {"provider", "local"}, {"project", "p1"}, {"key", "k1"}}) {
    auto k = f.kills.add(scope, value, "incident 42", "ops");
    auto c = f.ctx("chat-small", {"ops"});
    auto d = stage.on_routed(c);
    ASSERT_TRUE(d) << scope;
    EXPECT_EQ(d->status, 503);
    EXPECT_EQ(d->code, "kill_switch");
    EXPECT_NE(d->message.find("incident 42"), std::string::npos);
    EXPECT_EQ(f.kills.list().size(), 1u);
    EXPECT_TRUE(f.kills.lift(k.id));
    EXPECT_FALSE(f.kills.lift(k.id));
    EXPECT_FALSE(stage.on_routed(c)) << scope;
  }
  // Another model is untouched by a model kill.
  f.kills.add("model", "other", "", "ops");
  auto c = f.ctx("chat-small", {"ops"});
  EXPECT_FALSE(stage.on_routed(c));
}

}  // namespace
}  // namespace gatehouse::pipeline
