// "Nothing accepted silently": duplicate keys, empty credentials, rules that match nothing.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "cli/check_config.h"
#include "config/load.h"
#include "diagnostics_util.h"
#include "temp_dir.h"

namespace gatehouse::config {
namespace {

using test_util::fake_env;

std::string all(const std::vector<Diagnostic>& ds) {
  std::string s;
  for (const auto& d : ds) s += d.to_string() + "\n";
  return s;
}

// --- duplicate keys -------------------------------------------------------------------------

TEST(ConfigRefusals, ASecondListenUnderServerIsAnErrorAtBothPlaces) {
  const char* yaml = R"(server:
  listen: "127.0.0.1:8080"
  listen: "0.0.0.0:9090"
providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "g.yaml:3:3: duplicate key 'listen' (first at g.yaml:2:3)");
}

TEST(ConfigRefusals, ASecondModelOfTheSameNameIsAnError) {
  const char* yaml = R"(providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
models:
  chat-small: {provider: p, upstream_model: a}
  embed: {provider: p}
  other: {provider: p}
  chat-small: {provider: p, upstream_model: b}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "g.yaml:7:3: duplicate key 'chat-small' (first at g.yaml:4:3)");
}

TEST(ConfigRefusals, ARoleDefinedTwiceIsAnErrorNotASilentAdmin) {
  const char* yaml = R"(providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
models:
  m: {provider: p}
roles:
  user: {models: [m]}
  user: {models: ["*"], admin: true}
keys:
  - {name: k, sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", role: user}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].to_string(), "g.yaml:7:3: duplicate key 'user' (first at g.yaml:6:3)");
}

TEST(ConfigRefusals, ADuplicateInsideAFlowMappingIsAnError) {
  const char* yaml = R"(providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1", kind: anthropic}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "g.yaml:2:67: duplicate key 'kind' (first at g.yaml:2:7)");
}

TEST(ConfigRefusals, ADuplicateInAListsMappingIsAnError) {
  const char* yaml = R"(providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
keys:
  - name: k
    sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
    name: admin
)";
  auto r = load_string(yaml, "g.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].to_string(), "g.yaml:6:5: duplicate key 'name' (first at g.yaml:4:5)");
}

TEST(ConfigRefusals, TwoKeysWithTheSameDigestAreAnError) {
  const char* yaml = R"(providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
keys:
  - {name: a, sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
  - {name: b, sha256: "2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE"}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].line, 5);
  EXPECT_NE(r.diagnostics[0].message.find(
                "keys[b].sha256 is the same key as keys[a] (first at g.yaml:4:23)"),
            std::string::npos)
      << all(r.diagnostics);
}

// --- empty environment variables --------------------------------------------------------------

TEST(ConfigRefusals, AnEmptyVariableAsATokenIsAnErrorNamingIt) {
  const char* yaml = R"(providers:
  p:
    kind: openai-compatible
    base_url: "http://127.0.0.1:1/v1"
    auth: {token: "${TOK}"}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({{"TOK", ""}}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "g.yaml:5:19: providers.p.auth.token: environment variable TOK is set but empty");
}

TEST(ConfigRefusals, AnEmptyVariableInsideAHeaderValueIsAnError) {
  const char* yaml = R"(tracing:
  otlp_endpoint: "http://127.0.0.1:4318/v1/traces"
  headers: {authorization: "Bearer ${OTLP_TOKEN}"}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({{"OTLP_TOKEN", ""}}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_NE(r.diagnostics[0].message.find("environment variable OTLP_TOKEN is set but empty"),
            std::string::npos);
}

TEST(ConfigRefusals, AnEmptyVariableAsAUrlIsAnErrorNamingIt) {
  const char* yaml = R"(providers:
  p: {kind: openai-compatible, base_url: "${BASE}"}
  d: {kind: databricks, host: "${DATABRICKS_HOST}", auth: {client_id: "${ID}", client_secret: "${SECRET}"}}
)";
  auto r =
      load_string(yaml, "g.yaml",
                  fake_env({{"BASE", ""}, {"DATABRICKS_HOST", ""}, {"ID", "x"}, {"SECRET", ""}}));
  ASSERT_FALSE(r.config);
  const std::string s = all(r.diagnostics);
  EXPECT_EQ(r.diagnostics.size(), 3u) << s;
  EXPECT_NE(s.find("g.yaml:2:42: providers.p.base_url: environment variable BASE is set but empty"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("providers.d.host: environment variable DATABRICKS_HOST is set but empty"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("providers.d.auth.client_secret: environment variable SECRET is set but empty"),
            std::string::npos)
      << s;
}

TEST(ConfigRefusals, AnEmptyVariableInAuthJwtIsOneErrorNamingIt) {
  const char* yaml = R"(auth:
  jwt: {issuer: "${ISS}", audience: gatehouse, jwks_url: "${JWKS}"}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({{"ISS", ""}, {"JWKS", ""}}));
  ASSERT_FALSE(r.config);
  const std::string s = all(r.diagnostics);
  ASSERT_EQ(r.diagnostics.size(), 2u) << s;
  EXPECT_NE(s.find("auth.jwt.issuer: environment variable ISS is set but empty"), std::string::npos)
      << s;
  EXPECT_NE(s.find("auth.jwt.jwks_url: environment variable JWKS is set but empty"),
            std::string::npos)
      << s;
}

TEST(ConfigRefusals, AnEmptyVariableWhereAnyTextWillDoIsAccepted) {
  const char* yaml = R"(providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
models:
  m: {provider: p}
keys:
  - {name: "k${SUFFIX}", sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({{"SUFFIX", ""}}));
  ASSERT_TRUE(r.config) << all(r.diagnostics);
}

TEST(ConfigRefusals, AnAnthropicProviderWithoutAnyKeyIsRefused) {
  const char* yaml = R"(providers:
  claude: {kind: anthropic}
)";
  for (const auto& env : {fake_env({}), fake_env({{"ANTHROPIC_API_KEY", ""}})}) {
    auto r = load_string(yaml, "g.yaml", env);
    ASSERT_FALSE(r.config);
    ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
    EXPECT_EQ(r.diagnostics[0].line, 2);
    EXPECT_NE(r.diagnostics[0].message.find("providers.claude.auth is required"), std::string::npos)
        << all(r.diagnostics);
    EXPECT_NE(r.diagnostics[0].message.find("ANTHROPIC_API_KEY"), std::string::npos);
  }
  auto ok = load_string(yaml, "g.yaml", fake_env({{"ANTHROPIC_API_KEY", "sk-ant"}}));
  ASSERT_TRUE(ok.config) << all(ok.diagnostics);
  EXPECT_EQ(ok.config->providers.at("claude").token, "sk-ant");
}

// Anthropic's own API named by its URL, with no auth: no key would be sent (the environment's is
// used only without a base_url) and every request would be refused upstream.
TEST(ConfigRefusals, AnthropicsOwnApiWithoutAuthIsRefused) {
  const char* yaml = R"(providers:
  claude: {kind: anthropic, base_url: "https://api.anthropic.com"}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({{"ANTHROPIC_API_KEY", "sk-ant"}}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].line, 2);
  EXPECT_NE(r.diagnostics[0].message.find("providers.claude.auth is required"), std::string::npos) << all(r.diagnostics);
  // Another host (a local fake, a proxy that adds the key) may take requests without one.
  auto local = load_string("providers:\n  claude: {kind: anthropic, base_url: \"http://127.0.0.1:9911\"}\n", "g.yaml",
                           fake_env({}));
  EXPECT_TRUE(local.config) << all(local.diagnostics);
}

// --- rules that match nothing configured: warnings ------------------------------------------

const char* kWithKeys = R"(providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
models:
  m: {provider: p}
keys:
  - {name: alice, sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", project: apollo}
store: {sqlite: "gh.db"}
)";

TEST(ConfigRefusals, ALimitOrBudgetMatchingNoConfiguredKeyOrProjectIsAWarning) {
  test_util::TempDir dir;
  std::string yaml = std::string(kWithKeys) + R"(limits:
  - {scope: key, match: alicee, qpm: 5}
  - {scope: project, match: apollo, qpm: 5}
  - {scope: key, match: alice, tpm: 5}
budgets:
  - {scope: project, match: apolo, usd: 10}
  - {scope: key, match: alice, usd: 10}
)";
  auto r = load_string(yaml, dir.file("g.yaml"), fake_env({}));
  ASSERT_TRUE(r.config) << all(r.diagnostics);
  ASSERT_EQ(r.warnings.size(), 2u) << all(r.warnings);
  EXPECT_EQ(r.warnings[0].line, 9);
  EXPECT_EQ(r.warnings[0].column, 25);
  EXPECT_NE(r.warnings[0].message.find("limits[key alicee]: no key 'alicee' is configured"),
            std::string::npos)
      << all(r.warnings);
  EXPECT_NE(r.warnings[0].to_string().find(": warning: "), std::string::npos) << all(r.warnings);
  EXPECT_EQ(r.warnings[1].line, 13);
  EXPECT_NE(r.warnings[1].message.find("budgets[project apolo]: no project 'apolo' is configured"),
            std::string::npos)
      << all(r.warnings);
}

TEST(ConfigRefusals, CheckConfigPrintsTheWarnings) {
  test_util::TempDir dir;
  const std::string path = dir.file("g.yaml");
  {
    std::ofstream out(path);
    out << kWithKeys << "limits:\n  - {scope: project, match: gemini, qpm: 5}\n";
  }
  std::ostringstream out;
  EXPECT_EQ(cli::check_config(path, out), 0);
  EXPECT_NE(out.str().find(
                path + ":9:29: warning: limits[project gemini]: no project 'gemini' is configured"),
            std::string::npos)
      << out.str();
}

// --- one problem, one error -----------------------------------------------------------------

TEST(ConfigRefusals, AModelWithAProviderAndARouteGetsOneError) {
  const char* yaml = R"(providers:
  p: {kind: openai-compatible, base_url: "http://127.0.0.1:1/v1"}
models:
  a: {provider: p}
  v: {provider: nope, upstream_model: x, route: {targets: [{model: a}]}}
)";
  auto r = load_string(yaml, "g.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r.diagnostics);
  EXPECT_NE(
      r.diagnostics[0].message.find("either a provider (and upstream_model) or a route, not both"),
      std::string::npos);
}

}  // namespace
}  // namespace gatehouse::config
