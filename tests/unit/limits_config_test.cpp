#include <gtest/gtest.h>

#include <map>

#include "config/env.h"
#include "config/load.h"
#include "diagnostics_util.h"

namespace gatehouse::config {
namespace {

using test_util::no_env;

// Lines 1-10; what a test appends starts on line 11.
const std::string kBase = R"(providers:
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
  dbx: {kind: databricks, host: "https://adb-1.azuredatabricks.net", auth: {token: "t"}}
models:
  chat-small: {provider: local, upstream_model: gpt-x, price: {input_per_million: 1.5, output_per_million: 6, cached_input_per_million: 0.75}}
  dbx-llama: {provider: dbx, upstream_model: "databricks-meta-llama-3-3-70b-instruct"}
  dbx-own: {provider: dbx, upstream_model: "databricks-meta-llama-3-3-70b-instruct", price: {input_per_million: 9}}
  local-llama: {provider: local, upstream_model: "databricks-meta-llama-3-3-70b-instruct"}
keys:
  - {name: k1, sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
)";
const std::string kStore = "store: {sqlite: \"./g.db\"}\n";  // line 11 when appended first

LoadResult load(const std::string& extra) { return load_string(kBase + extra, "test.yaml", no_env()); }

using test_util::all;
using test_util::only;

// ---- What valid sections load to.

// The base file loads, and without limits/budgets sections there are none.
TEST(LimitsConfig, BaseLoadsWithoutLimits) {
  auto r = load("");
  ASSERT_TRUE(r.config) << all(r);
  EXPECT_TRUE(r.config->limits.empty());
  EXPECT_TRUE(r.config->budgets.empty());
}

// limits: every field, defaults (empty match) and several metrics in one rule.
TEST(LimitsConfig, LimitsParse) {
  auto r = load(R"(limits:
  - {scope: key, qpm: 60, tpm: 100000}
  - {scope: key, match: k1, qpm: 5, concurrency: 2}
  - {scope: user, match: alice, tpm: 1000}
  - {scope: group, match: data-science, qpm: 100}
  - {scope: model, match: chat-small, concurrency: 8}
  - {scope: project, match: p1, qpm: 7}
)");
  ASSERT_TRUE(r.config) << all(r);
  const auto& l = r.config->limits;
  ASSERT_EQ(l.size(), 6u);
  EXPECT_EQ(l[0].scope, LimitScope::kKey);
  EXPECT_EQ(l[0].match, "");
  EXPECT_EQ(l[0].qpm, 60);
  EXPECT_EQ(l[0].tpm, 100000);
  EXPECT_EQ(l[0].concurrency, 0);
  EXPECT_EQ(l[1].match, "k1");
  EXPECT_EQ(l[1].qpm, 5);
  EXPECT_EQ(l[1].concurrency, 2);
  EXPECT_EQ(l[2].scope, LimitScope::kUser);
  EXPECT_EQ(l[2].tpm, 1000);
  EXPECT_EQ(l[3].scope, LimitScope::kGroup);
  EXPECT_EQ(l[4].scope, LimitScope::kModel);
  EXPECT_EQ(l[4].concurrency, 8);
  EXPECT_EQ(l[5].scope, LimitScope::kProject);
  EXPECT_EQ(l[5].qpm, 7);
}

// Two rules for the same scope and match may set different metrics.
TEST(LimitsConfig, SameScopeAndMatchMaySplitMetrics) {
  auto r = load(R"(limits:
  - {scope: key, match: k1, qpm: 5}
  - {scope: key, match: k1, tpm: 500}
)");
  ASSERT_TRUE(r.config) << all(r);
  EXPECT_EQ(r.config->limits.size(), 2u);
}

// budgets: fields, the monthly default period, warn_at; records.flush_ms.
TEST(LimitsConfig, BudgetsAndRecordsParse) {
  auto r = load(kStore + R"(budgets:
  - {scope: key, usd: 10}
  - {scope: project, match: p1, usd: 250.5, period: weekly, warn_at: 0.8}
  - {scope: key, match: k1, usd: 1, period: daily}
  - {scope: key, match: k1, usd: 100, period: total}
records: {flush_ms: 50}
)");
  ASSERT_TRUE(r.config) << all(r);
  const auto& b = r.config->budgets;
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].scope, BudgetScope::kKey);
  EXPECT_EQ(b[0].match, "");
  EXPECT_DOUBLE_EQ(b[0].usd, 10);
  EXPECT_EQ(b[0].period, BudgetPeriod::kMonthly);
  EXPECT_EQ(b[0].warn_at, 0);
  EXPECT_EQ(b[1].scope, BudgetScope::kProject);
  EXPECT_EQ(b[1].match, "p1");
  EXPECT_DOUBLE_EQ(b[1].usd, 250.5);
  EXPECT_EQ(b[1].period, BudgetPeriod::kWeekly);
  EXPECT_DOUBLE_EQ(b[1].warn_at, 0.8);
  EXPECT_EQ(b[2].period, BudgetPeriod::kDaily);
  EXPECT_EQ(b[3].period, BudgetPeriod::kTotal);
  EXPECT_EQ(r.config->records.flush.count(), 50);
}

// A model's own price; a databricks model without one gets the list price; others get none.
TEST(LimitsConfig, PricesAndTheDatabricksListPrice) {
  auto r = load("");
  ASSERT_TRUE(r.config) << all(r);
  const auto& own = r.config->models.at("chat-small").price;
  EXPECT_TRUE(own.set);
  EXPECT_DOUBLE_EQ(own.input_per_million, 1.5);
  EXPECT_DOUBLE_EQ(own.output_per_million, 6);
  EXPECT_DOUBLE_EQ(own.cached_input_per_million, 0.75);
  const auto& list = r.config->models.at("dbx-llama").price;
  EXPECT_TRUE(list.set);
  EXPECT_DOUBLE_EQ(list.input_per_million, 0.54);
  EXPECT_DOUBLE_EQ(list.output_per_million, 0.54);
  EXPECT_LT(list.cached_input_per_million, 0);
  const auto& given = r.config->models.at("dbx-own").price;  // its own price wins
  EXPECT_TRUE(given.set);
  EXPECT_DOUBLE_EQ(given.input_per_million, 9);
  EXPECT_DOUBLE_EQ(given.output_per_million, 0);
  // The list is for databricks providers only: the same name elsewhere has no price.
  EXPECT_FALSE(r.config->models.at("local-llama").price.set);
}

// ---- Validation: each problem with its place.

// An unknown scope names the scope value.
TEST(LimitsConfigErrors, UnknownScope) {
  auto r = load("limits:\n  - {scope: team, qpm: 1}\n");
  ASSERT_FALSE(r.config);
  auto d = only(r, "limits[].scope 'team' is not one of model, key, user, group, project");
  EXPECT_EQ(d.line, 12);
  EXPECT_EQ(d.column, 13);
  EXPECT_EQ(d.to_string().rfind("test.yaml:12:13: ", 0), 0u) << d.to_string();
}

// A rule that limits nothing, and one without a scope.
TEST(LimitsConfigErrors, RuleWithoutMetricOrScope) {
  auto r = load("limits:\n  - {scope: key, match: k1}\n  - {qpm: 3}\n");
  ASSERT_FALSE(r.config);
  auto d = only(r, "limits[key k1] limits nothing: give qpm, tpm or concurrency");
  EXPECT_EQ(d.line, 12);
  EXPECT_EQ(d.column, 5);
  EXPECT_EQ(only(r, "limits[].scope is required").line, 13);
}

// The same metric set twice for one scope and match: the second is at fault.
TEST(LimitsConfigErrors, DuplicateMetricForTheSameScopeAndMatch) {
  auto r = load("limits:\n  - {scope: key, match: k1, qpm: 5}\n  - {scope: key, match: k1, qpm: 9}\n"
                "  - {scope: key, qpm: 9}\n");
  ASSERT_FALSE(r.config);
  auto d = only(r, "limits[key k1].qpm is set by an earlier rule for the same scope and match");
  EXPECT_EQ(d.line, 13);
  EXPECT_EQ(d.column, 34);
}

// Out-of-range numbers, unknown keys, an empty match.
TEST(LimitsConfigErrors, BadValuesAndUnknownKeys) {
  auto r = load("limits:\n  - {scope: key, qpm: 0}\n  - {scope: key, match: k1, rpm: 5, tpm: lots}\n"
                "  - {scope: user, match: \"\", qpm: 1}\n");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(only(r, "limits[key].qpm must be between 1 and").line, 12);
  EXPECT_EQ(only(r, "unknown key 'rpm' in limits[]").line, 13);
  EXPECT_EQ(only(r, "limits[key k1].tpm must be an integer, got 'lots'").line, 13);
  EXPECT_EQ(only(r, "limits[].match must not be empty").line, 14);
}

// A model-scope rule must name a configured model; its match is at fault.
TEST(LimitsConfigErrors, UnknownModelInAModelScopeMatch) {
  auto r = load("limits:\n  - {scope: model, match: chat-small, qpm: 1}\n  - {scope: model, match: nope, qpm: 1}\n");
  ASSERT_FALSE(r.config);
  auto d = only(r, "limits[model nope]: model 'nope' is not defined under models");
  EXPECT_EQ(d.line, 13);
  EXPECT_EQ(d.column, 27);
  EXPECT_EQ(r.diagnostics.size(), 1u) << all(r);
}

// The unknown-model check still points at the right rule when an earlier rule was rejected.
TEST(LimitsConfigErrors, UnknownModelPlaceAfterARejectedRule) {
  auto r = load("limits:\n  - {scope: key}\n  - {scope: model, match: nope, qpm: 1}\n");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(only(r, "limits[key] limits nothing").line, 12);
  auto d = only(r, "model 'nope' is not defined under models");
  EXPECT_EQ(d.line, 13) << all(r);
  EXPECT_EQ(d.column, 27) << all(r);
  EXPECT_EQ(r.diagnostics.size(), 2u) << all(r);
  // With a valid model rule in between, the error must not land on that rule's line (13).
  auto shifted = load("limits:\n  - {scope: key}\n  - {scope: model, match: chat-small, qpm: 1}\n"
                      "  - {scope: model, match: nope, qpm: 1}\n");
  EXPECT_EQ(only(shifted, "model 'nope' is not defined under models").line, 14) << all(shifted);
}

// Budgets need the SQLite store (spend survives restarts); the budgets key is at fault.
TEST(LimitsConfigErrors, BudgetsWithoutStore) {
  auto r = load("budgets:\n  - {scope: key, usd: 10}\n");
  ASSERT_FALSE(r.config);
  auto d = only(r, "budgets need a store");
  EXPECT_EQ(d.line, 12);
  EXPECT_EQ(d.column, 3);
}

// Budget fields: scope, period, warn_at and usd are checked, each at its value.
TEST(LimitsConfigErrors, BudgetFields) {
  auto r = load(kStore + "budgets:\n"
                         "  - {scope: key, usd: 10, period: yearly}\n"              // 13
                         "  - {scope: project, match: p1, usd: 10, warn_at: 1.5}\n"  // 14
                         "  - {scope: user, usd: 1}\n"                               // 15
                         "  - {scope: key, match: k1}\n"                             // 16
                         "  - {scope: key, usd: 0}\n"                                // 17
                         "  - {scope: key, usd: 5, warn_at: 0}\n");                  // 18
  ASSERT_FALSE(r.config);
  auto period = only(r, "budgets[key].period 'yearly' is not one of daily, weekly, monthly, total");
  EXPECT_EQ(period.line, 13);
  EXPECT_EQ(period.column, 35);
  auto warn = only(r, "budgets[project p1].warn_at must be between");
  EXPECT_EQ(warn.line, 14);
  EXPECT_EQ(warn.column, 51);
  EXPECT_EQ(only(r, "budgets[].scope 'user' is not one of key, project").line, 15);
  EXPECT_EQ(only(r, "budgets[key k1].usd is required").line, 16);
  EXPECT_EQ(only(r, "budgets[key].usd must be between").line, 17);
  EXPECT_EQ(only(r, "budgets[key].warn_at must be between").line, 18);
}

// Two budgets with the same scope, match and period.
TEST(LimitsConfigErrors, DuplicateBudget) {
  auto r = load(kStore + "budgets:\n  - {scope: key, usd: 10}\n  - {scope: key, usd: 20, period: monthly}\n"
                         "  - {scope: key, usd: 20, period: daily}\n");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(only(r, "an earlier budget has the same scope, match and period").line, 14);
}

// A price needs an input or an output price; its fields are checked.
TEST(LimitsConfigErrors, PriceNeedsInputOrOutput) {
  const std::string yaml = R"(providers:
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
models:
  a: {provider: local, price: {cached_input_per_million: 1}}
  b: {provider: local, price: {input_per_million: -1}}
  c: {provider: local, price: {input_per_million: 1, per_token: 2}}
  d: {provider: local, price: 3}
)";
  auto r = load_string(yaml, "test.yaml", no_env());
  ASSERT_FALSE(r.config);
  auto d = only(r, "models.a.price needs input_per_million and/or output_per_million");
  EXPECT_EQ(d.line, 4);
  EXPECT_EQ(d.column, 31);
  EXPECT_EQ(only(r, "models.b.price.input_per_million must be between").line, 5);
  EXPECT_EQ(only(r, "unknown key 'per_token' in models.c.price").line, 6);
  EXPECT_EQ(only(r, "models.d.price must be a mapping").line, 7);
}

// limits and budgets must be lists; records.flush_ms has a range.
TEST(LimitsConfigErrors, SectionShapes) {
  auto r = load(kStore + "limits: {scope: key}\nbudgets: 5\nrecords: {flush_ms: 1}\n");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(only(r, "limits must be a list").line, 12);
  EXPECT_EQ(only(r, "budgets must be a list").line, 13);
  EXPECT_EQ(only(r, "records.flush_ms must be between 10 and 10000").line, 14);
}

}  // namespace
}  // namespace gatehouse::config

namespace gatehouse::config {
namespace {

// ---- tracing:

TEST(TracingConfig, LoadsHttpsWithHeaders) {
  auto r = load(R"(tracing:
  otlp_endpoint: "https://otel.example.com/v1/traces"
  headers: {Authorization: "Bearer k", X-Scope: t1}
)");
  ASSERT_TRUE(r.config) << all(r);
  EXPECT_EQ(r.config->tracing.otlp_endpoint, "https://otel.example.com/v1/traces");
  const std::map<std::string, std::string> want = {{"authorization", "Bearer k"}, {"x-scope", "t1"}};
  EXPECT_EQ(r.config->tracing.headers, want);
}

// An endpoint the exporter could not use is an error at load, not spans dropped for ever.
TEST(TracingConfig, AnUnusableEndpointIsAnError) {
  const std::pair<const char*, const char*> cases[] = {
      {"ftp://h/v1/traces", "tracing.otlp_endpoint must be an http:// or https:// URL"},
      {"http://", "tracing.otlp_endpoint has no host"},
      {"http://:4318/v1/traces", "tracing.otlp_endpoint has no host"},
      {"http://h:abc/v1/traces", "tracing.otlp_endpoint has a port that is not a number from 1 to 65535"},
      {"http://h:/v1/traces", "tracing.otlp_endpoint has a port that is not a number from 1 to 65535"},
      {"http://h:0/v1/traces", "tracing.otlp_endpoint has a port that is not a number from 1 to 65535"},
      {"https://user:secret@h/v1/traces", "tracing.otlp_endpoint must not carry user:password@"},
      {"https://h/v1/traces?api-key=secret", "tracing.otlp_endpoint must not have a ?query"},
      {"https://h/v1/traces#x", "tracing.otlp_endpoint must not have a #fragment"},
  };
  for (const auto& [url, message] : cases) {
    auto r = load(std::string("tracing: {otlp_endpoint: \"") + url + "\"}\n");
    EXPECT_FALSE(r.config) << url;
    auto d = only(r, message);
    EXPECT_EQ(d.line, 11) << url;
    EXPECT_EQ(all(r).find("secret"), std::string::npos) << "the URL's secret is not repeated: " << all(r);
  }
}

TEST(TracingConfig, ReservedAndRepeatedHeadersAreErrors) {
  auto r = load(R"(tracing:
  otlp_endpoint: "http://127.0.0.1:4318/v1/traces"
  headers: {Expect: 100-continue, connection: close, X-Key: a, x-key: b}
)");
  EXPECT_FALSE(r.config);
  only(r, "tracing.headers: Expect is set by the gateway");
  only(r, "tracing.headers: connection is set by the gateway");
  only(r, "tracing.headers: x-key is given twice (header names ignore case)");
}

}  // namespace
}  // namespace gatehouse::config
