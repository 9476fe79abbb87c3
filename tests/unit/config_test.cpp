#include <gtest/gtest.h>

#include "config/env.h"
#include "config/load.h"
#include "diagnostics_util.h"
#include "temp_dir.h"

namespace gatehouse::config {
namespace {

using test_util::fake_env;

const char* kIssueExample = R"(server:
  listen: "127.0.0.1:8080"
providers:
  local:
    kind: openai-compatible
    base_url: "http://127.0.0.1:9911/v1"
    auth: {token: "${LOCAL_TOKEN}"}
models:
  chat-small: {provider: local, upstream_model: "gpt-x"}
  embed-small: {provider: local, upstream_model: "emb-x"}
keys:
  - {name: demo, sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
)";

TEST(ConfigLoad, AcceptsTheDocumentedExample) {
  auto r = load_string(kIssueExample, "g.yaml", fake_env({{"LOCAL_TOKEN", "sk-upstream"}}));
  ASSERT_TRUE(r.diagnostics.empty()) << r.diagnostics.front().to_string();
  const Config& c = *r.config;
  EXPECT_EQ(c.server.listen_host, "127.0.0.1");
  EXPECT_EQ(c.server.listen_port, "8080");
  const auto& p = c.providers.at("local");
  EXPECT_FALSE(p.tls);
  EXPECT_EQ(p.host, "127.0.0.1");
  EXPECT_EQ(p.port, "9911");
  EXPECT_EQ(p.base_path, "/v1");
  EXPECT_EQ(p.token, "sk-upstream");
  EXPECT_EQ(c.models.at("chat-small").upstream_model, "gpt-x");
  EXPECT_EQ(c.models.at("embed-small").provider, "local");
  ASSERT_EQ(c.keys.size(), 1u);
  EXPECT_EQ(c.keys[0].name, "demo");
  EXPECT_EQ(c.keys[0].sha256, sha256("foo"));
}

TEST(ConfigLoad, MissingEnvironmentVariableIsAnErrorWithItsPlace) {
  auto r = load_string(kIssueExample, "g.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].line, 7);
  EXPECT_EQ(r.diagnostics[0].column, 19);  // the opening quote of the value
  EXPECT_NE(r.diagnostics[0].message.find("LOCAL_TOKEN is not set"), std::string::npos);
  EXPECT_EQ(r.diagnostics[0].to_string().rfind("g.yaml:7:19: ", 0), 0u);
}

TEST(ConfigLoad, ReportsEveryProblemNotJustTheFirst) {
  const char* yaml = R"(server:
  listen: "nowhere"
  colour: blue
providers:
  p: {kind: carrier-pigeon, base_url: "ftp://x"}
models:
  m: {provider: nope}
keys:
  - {name: k, sha256: "abc"}
)";
  auto r = load_string(yaml, "bad.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  std::vector<std::string> lines;
  for (const auto& d : r.diagnostics) lines.push_back(d.to_string());
  auto has = [&](const std::string& needle) {
    for (const auto& l : lines) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("bad.yaml:2:11: server.listen must be HOST:PORT"));
  EXPECT_TRUE(has("bad.yaml:3:3: unknown key 'colour' in server"));
  EXPECT_TRUE(has("kind 'carrier-pigeon' is not supported"));
  EXPECT_TRUE(has("base_url must be an http:// or https:// URL"));
  EXPECT_TRUE(has("bad.yaml:7:17: models.m.provider 'nope' is not defined"));
  EXPECT_TRUE(has("keys[].sha256 must be 64 hex digits"));
  EXPECT_EQ(lines.size(), 6u);
}

TEST(ConfigLoad, YamlSyntaxErrorHasLineAndColumn) {
  auto r = load_string("server:\n  listen: [unclosed\n", "s.yaml", fake_env({}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_GT(r.diagnostics[0].line, 0);
}

TEST(ConfigLoad, HttpsBaseUrlDefaultsPort443AndKeepsPath) {
  auto r = load_string(R"(providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1/"}
)",
                       "x.yaml", fake_env({}));
  ASSERT_TRUE(r.config) << r.diagnostics.front().to_string();
  const auto& p = r.config->providers.at("openai");
  EXPECT_TRUE(p.tls);
  EXPECT_EQ(p.host, "api.openai.com");
  EXPECT_EQ(p.port, "443");
  EXPECT_EQ(p.base_path, "/v1");
}

TEST(ConfigLoad, TimeoutsAreConfigurablePerProvider) {
  auto r = load_string(R"(providers:
  p:
    kind: openai-compatible
    base_url: "http://h:1"
    timeouts: {connect_ms: 100, first_byte_ms: 200, idle_ms: 300, total_ms: 400}
)",
                       "x.yaml", fake_env({}));
  ASSERT_TRUE(r.config) << r.diagnostics.front().to_string();
  const auto& t = r.config->providers.at("p").timeouts;
  EXPECT_EQ(t.connect.count(), 100);
  EXPECT_EQ(t.first_byte.count(), 200);
  EXPECT_EQ(t.idle.count(), 300);
  EXPECT_EQ(t.total.count(), 400);
}

TEST(ConfigLoad, ReasoningEffortIsAModelSettingForChatShapedProviders) {
  const std::string providers = R"(providers:
  oai: {kind: openai-compatible, base_url: "http://h:1/v1"}
  dbx: {kind: databricks, host: "https://dbc.example", auth: {token: "dapi-x"}}
  anth: {kind: anthropic, base_url: "http://h:2"}
models:
)";
  auto r = load_string(providers + R"(  o3: {provider: oai, reasoning_effort: true}
  gpt-oss: {provider: dbx, reasoning_effort: true}
  gpt-4o: {provider: oai, reasoning_effort: false}
  llama: {provider: oai}
)",
                       "x.yaml", fake_env({}));
  ASSERT_TRUE(r.config) << r.diagnostics.front().to_string();
  EXPECT_TRUE(r.config->models.at("o3").reasoning_effort);
  EXPECT_TRUE(r.config->models.at("gpt-oss").reasoning_effort);
  EXPECT_FALSE(r.config->models.at("gpt-4o").reasoning_effort);
  EXPECT_FALSE(r.config->models.at("llama").reasoning_effort);

  auto bad = load_string(providers + R"(  claude: {provider: anth, reasoning_effort: true}
  virtual: {route: {targets: [{model: o3}]}, reasoning_effort: true}
  o3: {provider: oai, reasoning_effort: "yes"}
)",
                         "x.yaml", fake_env({}));
  ASSERT_FALSE(bad.config);
  std::string all;
  for (const auto& d : bad.diagnostics) all += d.to_string() + "\n";
  EXPECT_EQ(bad.diagnostics.size(), 3u) << all;
  EXPECT_NE(all.find("x.yaml:6:46: models.claude.reasoning_effort is for models of openai-compatible or databricks"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("models.virtual.reasoning_effort belongs on the route's target models"), std::string::npos) << all;
  EXPECT_NE(all.find("models.o3.reasoning_effort must be true or false"), std::string::npos) << all;
}

TEST(ConfigLoad, MissingFileIsReported) {
  auto r = load_file("/nonexistent/gatehouse.yaml");
  ASSERT_FALSE(r.config);
  EXPECT_NE(r.diagnostics[0].to_string().find("cannot read"), std::string::npos);
}

TEST(ConfigLoad, QuickstartExampleIsValid) {
  auto r = load_file(GATEHOUSE_EXAMPLES_DIR "/quickstart.yaml", fake_env({}));
  ASSERT_TRUE(r.config) << r.diagnostics.front().to_string();
  EXPECT_FALSE(r.config->models.empty());
  EXPECT_FALSE(r.config->keys.empty());
}

TEST(EnvExpansion, ExpandsAndEscapes) {
  std::string err;
  auto env = fake_env({{"A", "1"}, {"B_2", "two"}});
  EXPECT_EQ(expand_env("x${A}y${B_2}", env, err).value(), "x1ytwo");
  EXPECT_EQ(expand_env("$${A} and $5", env, err).value(), "${A} and $5");
  EXPECT_FALSE(expand_env("${A", env, err));
  EXPECT_NE(err.find("unterminated"), std::string::npos);
  EXPECT_FALSE(expand_env("${}", env, err));
  EXPECT_FALSE(expand_env("${NOPE}", env, err));
  EXPECT_EQ(err, "environment variable NOPE is not set");
}

// A relative store path is the config file's neighbour, whatever folder the command runs from
// (the CLI run elsewhere must not create a new, empty database).
TEST(ConfigLoad, ARelativeStorePathIsResolvedAgainstTheConfigFilesFolder) {
  test_util::TempDir dir;
  std::filesystem::create_directories(dir.file("conf/data"));
  const std::string yaml = std::string(kIssueExample) + "store: {sqlite: \"./data/gatehouse.db\"}\n";
  auto r = load_string(yaml, dir.file("conf/gatehouse.yaml"), fake_env({{"LOCAL_TOKEN", "t"}}));
  ASSERT_TRUE(r.diagnostics.empty()) << r.diagnostics.front().to_string();
  EXPECT_EQ(r.config->store.sqlite_path, dir.file("conf/data/gatehouse.db"));
  // An absolute path stays as it is.
  auto abs = load_string(std::string(kIssueExample) + "store: {sqlite: \"" + dir.file("g.db") + "\"}\n",
                         dir.file("conf/gatehouse.yaml"), fake_env({{"LOCAL_TOKEN", "t"}}));
  ASSERT_TRUE(abs.diagnostics.empty()) << abs.diagnostics.front().to_string();
  EXPECT_EQ(abs.config->store.sqlite_path, dir.file("g.db"));
}

// A store in a folder that does not exist is a config error at its line, not a failure at serve.
TEST(ConfigLoad, AStoreInAMissingFolderIsAnError) {
  test_util::TempDir dir;
  const std::string yaml = std::string(kIssueExample) + "store: {sqlite: \"./nowhere/gatehouse.db\"}\n";
  auto r = load_string(yaml, dir.file("gatehouse.yaml"), fake_env({{"LOCAL_TOKEN", "t"}}));
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].line, 13);
  EXPECT_NE(r.diagnostics[0].message.find("nowhere' does not exist"), std::string::npos) << r.diagnostics[0].message;
}

}  // namespace
}  // namespace gatehouse::config
