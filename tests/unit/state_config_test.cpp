// state.redis: the URL's parts, the password kept apart (never quoted back), and each mistake
// refused with its place.
#include <gtest/gtest.h>

#include "config/env.h"
#include "config/load.h"
#include "diagnostics_util.h"

namespace gatehouse::config {
namespace {

using test_util::fake_env;

LoadResult load_state(const std::string& state, std::map<std::string, std::string> env = {}) {
  return load_string("state:\n" + state, "s.yaml", fake_env(std::move(env)));
}

TEST(StateConfig, ReadsTheUrlAndTheSettings) {
  auto r = load_state(R"(  redis: {url: "redis://:${PW}@redis.internal:6380/2", timeout_ms: 20, on_error: deny, lease_ms: 5000}
)", {{"PW", "s3cret-pw"}});
  ASSERT_TRUE(r.config) << (r.diagnostics.empty() ? "" : r.diagnostics[0].to_string());
  const auto& rc = r.config->state.redis;
  EXPECT_TRUE(rc.enabled());
  EXPECT_EQ(rc.host, "redis.internal");
  EXPECT_EQ(rc.port, "6380");
  EXPECT_EQ(rc.db, 2);
  EXPECT_EQ(rc.password, "s3cret-pw");
  EXPECT_EQ(rc.timeout.count(), 20);
  EXPECT_TRUE(rc.deny_on_error);
  EXPECT_EQ(rc.lease.count(), 5000);
}

TEST(StateConfig, DefaultsAndAPasswordOfItsOwn) {
  auto r = load_state(R"(  redis: {url: "redis://127.0.0.1", password: "${PW}"}
)", {{"PW", "other"}});
  ASSERT_TRUE(r.config);
  const auto& rc = r.config->state.redis;
  EXPECT_EQ(rc.port, "6379");
  EXPECT_EQ(rc.db, 0);
  EXPECT_EQ(rc.password, "other");
  EXPECT_EQ(rc.timeout.count(), 50);
  EXPECT_FALSE(rc.deny_on_error);
  EXPECT_EQ(rc.lease.count(), 30000);
}

TEST(StateConfig, WithoutStateNothingIsShared) {
  auto r = load_string("server: {listen: \"127.0.0.1:0\"}\n", "s.yaml", fake_env({}));
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->state.redis.enabled());
}

TEST(StateConfig, MistakesAreRefusedWithTheirPlaceAndNoPassword) {
  struct Case {
    const char* yaml;
    const char* says;
  };
  for (const Case& c : {
           Case{"  redis: {url: \"http://:pw-leak-1@h:6379\"}\n", "must start with redis://"},
           Case{"  redis: {url: \"rediss://:pw-leak-1@h:6379\"}\n", "TLS) is not supported"},
           Case{"  redis: {url: \"redis://:pw-leak-1@h:6379/99\"}\n", "database number 0-15"},
           Case{"  redis: {url: \"redis://:pw-leak-1@h:0\"}\n", "port must be 1-65535"},
           Case{"  redis: {url: \"redis://h\", on_error: fail}\n", "on_error must be local"},
           Case{"  redis: {url: \"redis://h\", timeout_ms: 0}\n", "timeout_ms"},
           Case{"  redis: {url: \"redis://h\", lease_ms: 10}\n", "lease_ms"},
           Case{"  redis: {timeout_ms: 10}\n", "needs a url"},
           Case{"  redis: {url: \"redis://h\", colour: blue}\n", "unknown key 'colour'"},
       }) {
    auto r = load_state(c.yaml);
    ASSERT_FALSE(r.config) << c.yaml;
    ASSERT_FALSE(r.diagnostics.empty());
    const std::string text = r.diagnostics[0].to_string();
    EXPECT_NE(text.find(c.says), std::string::npos) << text;
    EXPECT_EQ(text.rfind("s.yaml:2:", 0), 0u) << text;
    EXPECT_EQ(text.find("pw-leak-1"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace gatehouse::config
