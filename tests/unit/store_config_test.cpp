// store: {postgres: URL} beside store: {sqlite: PATH} — exactly one of them, errors at their
// place — and the redaction that keeps a PostgreSQL URL's password out of every message.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config/load.h"
#include "diagnostics_util.h"
#include "temp_dir.h"

namespace gatehouse::config {
namespace {

using test_util::fake_env;

constexpr const char* kBase = R"(providers:
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:9/v1"}
models:
  m: {provider: local}
)";

LoadResult load_store(const std::string& store, std::map<std::string, std::string> env = {}) {
  return load_string(std::string(kBase) + store, "g.yaml", fake_env(std::move(env)));
}

std::string all(const LoadResult& r) {
  std::string s;
  for (const auto& d : r.diagnostics) s += d.to_string() + "\n";
  return s;
}

TEST(StoreConfig, PostgresUrlIsReadWithItsPasswordFromTheEnvironment) {
  auto r = load_store(
      "store: {postgres: \"postgresql://gh:${PGPASSWORD}@db.internal:5432/gatehouse\"}\n",
      {{"PGPASSWORD", "s3cret-pw"}});
  ASSERT_TRUE(r.config) << all(r);
  EXPECT_EQ(r.config->store.postgres_url, "postgresql://gh:s3cret-pw@db.internal:5432/gatehouse");
  EXPECT_TRUE(r.config->store.sqlite_path.empty());
  EXPECT_TRUE(r.config->store.configured());
  EXPECT_EQ(r.config->store.field(), "store.postgres");
  EXPECT_EQ(r.config->store.shown(), "postgresql://gh:***@db.internal:5432/gatehouse");
  // The source keeps the password: a reload with another password is another store.
  EXPECT_EQ(r.config->store.source(), r.config->store.postgres_url);
}

TEST(StoreConfig, SqliteAndPostgresTogetherIsAnErrorAtPostgres) {
  auto r = load_store(
      "store:\n  sqlite: \"./g.db\"\n  postgres: \"postgresql://gh:pw-in-file@db/gh\"\n");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "g.yaml:7:13: store: name either sqlite or postgres, not both");
  EXPECT_EQ(all(r).find("pw-in-file"), std::string::npos);
}

TEST(StoreConfig, APostgresValueThatIsNotAUrlIsAnErrorThatDoesNotEchoIt) {
  auto r = load_store("store: {postgres: \"host=db password=hunter2\"}\n");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.diagnostics.size(), 1u) << all(r);
  EXPECT_EQ(r.diagnostics[0].line, 5);
  EXPECT_EQ(r.diagnostics[0].column, 19);
  EXPECT_NE(r.diagnostics[0].message.find("store.postgres must be a URL"), std::string::npos);
  EXPECT_EQ(all(r).find("hunter2"), std::string::npos);

  auto unknown = load_store("store: {mysql: \"x\"}\n");
  ASSERT_FALSE(unknown.config);
  EXPECT_NE(all(unknown).find("mysql"), std::string::npos) << all(unknown);
}

TEST(StoreConfig, StoresOfEitherKindSatisfyWhatNeedsAStore) {
  const std::string budgets = "budgets:\n  - {scope: key, usd: 10}\n";
  EXPECT_TRUE(load_store("store: {postgres: \"postgresql://gh@db/gh\"}\n" + budgets).config);
  auto none = load_store(budgets);
  ASSERT_FALSE(none.config);
  EXPECT_NE(all(none).find("budgets need a store"), std::string::npos) << all(none);
  EXPECT_NE(all(none).find("postgres"), std::string::npos) << all(none);
}

TEST(RedactUrlPassword, HidesTheUserInfoPassword) {
  EXPECT_EQ(redact_url_password("postgresql://gh:s3cret@db:5432/gatehouse"),
            "postgresql://gh:***@db:5432/gatehouse");
  EXPECT_EQ(redact_url_password("postgres://gh:s3cret@db/gh?sslmode=require"),
            "postgres://gh:***@db/gh?sslmode=require");
  // A password with an unencoded '@' or ':' (as ${ENV} expansion may leave it) is hidden whole.
  EXPECT_EQ(redact_url_password("postgresql://gh:p@ss:w@rd@db/gh"), "postgresql://gh:***@db/gh");
  // Percent-encoded.
  EXPECT_EQ(redact_url_password("postgresql://gh:a%40b@db/gh"), "postgresql://gh:***@db/gh");
}

TEST(RedactUrlPassword, HidesAPasswordParameter) {
  EXPECT_EQ(redact_url_password("postgresql://db/gh?user=gh&password=s3cret&sslmode=require"),
            "postgresql://db/gh?user=gh&password=***&sslmode=require");
  EXPECT_EQ(redact_url_password("postgresql://gh@db/gh?password=s3cret"),
            "postgresql://gh@db/gh?password=***");
  EXPECT_EQ(redact_url_password("host=db password=s3cret dbname=gh"),
            "host=db password=*** dbname=gh");
}

TEST(RedactUrlPassword, LeavesAUrlWithoutAPasswordAsItIs) {
  for (const char* url :
       {"postgresql://gh@db:5432/gh", "postgresql://db/gh", "postgresql:///gh?host=/tmp",
        "postgresql://[::1]:5432/gh", "postgresql://gh@db/gh?application_name=x"}) {
    EXPECT_EQ(redact_url_password(url), url);
  }
}

}  // namespace
}  // namespace gatehouse::config
