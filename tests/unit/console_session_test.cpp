// The console's sealed sessions (admin/session.h) and the console's config.
#include <gtest/gtest.h>

#include "admin/session.h"
#include "config/load.h"
#include "diagnostics_util.h"

namespace gatehouse {
namespace {

using admin::ConsoleSessions;
using test_util::fake_env;

constexpr std::string_view kSecret = "a-console-secret-of-at-least-32-characters";

TEST(ConsoleSessions, SealedSessionsOpenWithTheSameSecretOnly) {
  ConsoleSessions a(kSecret), b(kSecret), other("another-console-secret-of-32-characters!!");
  auto s = a.start("gh-admin-key", 2000);
  std::string cookie = a.seal(s);
  EXPECT_EQ(cookie.find("gh-admin-key"), std::string::npos) << "the credential is encrypted";
  auto opened = b.open(cookie, 1000);  // another replica with the same secret
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->credential, "gh-admin-key");
  EXPECT_EQ(opened->csrf, s.csrf);
  EXPECT_EQ(opened->id, s.id);
  EXPECT_EQ(opened->expires_at, 2000);
  EXPECT_FALSE(other.open(cookie, 1000));
  EXPECT_NE(a.seal(s), cookie) << "a fresh nonce each time";
}

TEST(ConsoleSessions, RandomKeysAreNotShared) {
  ConsoleSessions a(""), b("");
  std::string cookie = a.seal(a.start("k", 2000));
  EXPECT_TRUE(a.open(cookie, 1000));
  EXPECT_FALSE(b.open(cookie, 1000));
  EXPECT_TRUE(a.made_from(""));
  EXPECT_FALSE(a.made_from(kSecret));
  EXPECT_TRUE(ConsoleSessions(kSecret).made_from(kSecret));
}

TEST(ConsoleSessions, ExpiredAlteredTruncatedAndEndedSessionsDoNotOpen) {
  ConsoleSessions a(kSecret);
  auto s = a.start("gh-admin-key", 2000);
  std::string cookie = a.seal(s);
  EXPECT_FALSE(a.open(cookie, 2000)) << "expired at its expiry";
  for (std::size_t i = 0; i < cookie.size(); i += 7) {
    std::string bad = cookie;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(a.open(bad, 1000)) << "altered at " << i;
  }
  EXPECT_FALSE(a.open(cookie.substr(0, cookie.size() - 3), 1000));
  EXPECT_FALSE(a.open("", 1000));
  EXPECT_FALSE(a.open("not base64url!", 1000));
  EXPECT_FALSE(a.open(std::string(20000, 'A'), 1000));
  a.end(s, 1000);
  EXPECT_FALSE(a.open(cookie, 1000)) << "signed out here";
  auto s2 = a.start("gh-admin-key", 3000);
  EXPECT_TRUE(a.open(a.seal(s2), 1000)) << "other sessions go on";
}

TEST(ConsoleSessions, CookieValueFindsTheNamedCookie) {
  EXPECT_EQ(admin::cookie_value("a=1; gh_console=xyz; b=2", "gh_console"), "xyz");
  EXPECT_EQ(admin::cookie_value("gh_console=xyz", "gh_console"), "xyz");
  EXPECT_EQ(admin::cookie_value("x_gh_console=1; gh_console=2", "gh_console"), "2");
  EXPECT_EQ(admin::cookie_value("a=1", "gh_console"), "");
  EXPECT_EQ(admin::cookie_value("", "gh_console"), "");
}

TEST(ConsoleConfig, LoadsAndRefusesMistakes) {
  const std::string base = "providers: {p: {kind: openai-compatible, base_url: \"http://127.0.0.1:1/v1\"}}\n"
                           "models: {m: {provider: p}}\n";
  auto ok = config::load_string(base + "server: {admin_listen: \"127.0.0.1:8081\"}\n"
                                       "console: {session_secret: \"${S}\", session_ttl_s: 600}\n",
                                "c.yaml", fake_env({{"S", std::string(kSecret)}}));
  ASSERT_TRUE(ok.config) << ok.diagnostics.front().to_string();
  EXPECT_EQ(ok.config->server.admin_host, "127.0.0.1");
  EXPECT_EQ(ok.config->server.admin_port, "8081");
  EXPECT_EQ(ok.config->console.session_secret, kSecret);
  EXPECT_EQ(ok.config->console.session_ttl.count(), 600);
  EXPECT_TRUE(ok.config->console.enabled);

  auto check = [&](const std::string& yaml, std::string_view want) {
    auto r = config::load_string(base + yaml, "c.yaml", fake_env({}));
    ASSERT_FALSE(r.config) << yaml;
    bool found = false;
    for (const auto& d : r.diagnostics) found = found || d.to_string().find(want) != std::string::npos;
    EXPECT_TRUE(found) << yaml << " → " << r.diagnostics.front().to_string();
  };
  check("console: {session_secret: short}\n", "at least 32 characters");
  check("console: {session_ttl_s: 5}\n", "session_ttl_s");
  check("console: {sesion_secret: x}\n", "sesion_secret");
  check("server: {admin_listen: nope}\n", "server.admin_listen must be HOST:PORT");
}

}  // namespace
}  // namespace gatehouse
