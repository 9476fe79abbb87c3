#include <gtest/gtest.h>

#include "config/env.h"
#include "config/load.h"
#include "diagnostics_util.h"

namespace gatehouse::config {
namespace {

using test_util::no_env;

// Lines 1-8; what a test appends (more entries under models, indented two spaces) starts on line 9.
const std::string kBase = R"(providers:
  local: {kind: openai-compatible, base_url: "http://127.0.0.1:9911/v1"}
  other: {kind: openai-compatible, base_url: "http://127.0.0.1:9912/v1"}
keys:
  - {name: k1, sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
models:
  a: {provider: local}
  b: {provider: other, upstream_model: b-up}
)";

LoadResult load(const std::string& models) { return load_string(kBase + models, "test.yaml", no_env()); }

using test_util::all;
using test_util::only;

// Expects exactly one diagnostic, containing `needle`, at LINE:COL.
void expect_one_error(const LoadResult& r, const std::string& needle, int line, int column) {
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.diagnostics.size(), 1u) << all(r);
  auto d = only(r, needle);
  EXPECT_EQ(d.line, line) << d.to_string();
  EXPECT_EQ(d.column, column) << d.to_string();
  EXPECT_EQ(d.to_string().rfind("test.yaml:" + std::to_string(line) + ":" + std::to_string(column) + ": ", 0), 0u)
      << d.to_string();
}

constexpr unsigned kAllFailures = kFail5xx | kFail429 | kFailTimeout | kFailConnect;

// ---- What valid routes load to.

// A route with only targets: priority, weight 1, fallback on everything, no retries, 3 x / 300 s.
TEST(RouteConfig, Defaults) {
  auto r = load("  v: {route: {targets: [{model: a}, {model: b}]}}\n");
  ASSERT_TRUE(r.config) << all(r);
  const auto& m = r.config->models.at("v");
  EXPECT_TRUE(m.provider.empty());
  EXPECT_TRUE(m.upstream_model.empty());
  ASSERT_TRUE(m.route);
  const auto& rt = *m.route;
  EXPECT_EQ(rt.strategy, RouteStrategy::kPriority);
  ASSERT_EQ(rt.targets.size(), 2u);
  EXPECT_EQ(rt.targets[0].model, "a");
  EXPECT_EQ(rt.targets[1].model, "b");
  for (const auto& t : rt.targets) {
    EXPECT_EQ(t.weight, 1);
    EXPECT_FALSE(t.connect);
    EXPECT_FALSE(t.first_byte);
    EXPECT_FALSE(t.idle);
    EXPECT_FALSE(t.total);
  }
  EXPECT_EQ(rt.fallback_on, kAllFailures);
  EXPECT_EQ(rt.retries, 0);
  EXPECT_EQ(rt.backoff, Millis(100));
  EXPECT_EQ(rt.cooldown_failures, 3);
  EXPECT_EQ(rt.cooldown, std::chrono::seconds(300));
  // The targets stay plain models.
  EXPECT_FALSE(r.config->models.at("a").route);
  EXPECT_EQ(r.config->models.at("b").upstream_model, "b-up");
}

// Every field: strategy, weights, per-target timeouts, fallback_on, retries, cooldown.
TEST(RouteConfig, EveryField) {
  auto r = load(R"(  v:
    route:
      strategy: weighted
      targets:
        - {model: a, weight: 80, timeouts: {connect_ms: 200, first_byte_ms: 1500, idle_ms: 700, total_ms: 9000}}
        - {model: b, weight: 0, timeouts: {first_byte_ms: 2500}}
      fallback_on: [5xx, timeout]
      retries: {attempts: 2, backoff_ms: 250}
      cooldown: {after_failures: 5, seconds: 60}
)");
  ASSERT_TRUE(r.config) << all(r);
  const auto& rt = *r.config->models.at("v").route;
  EXPECT_EQ(rt.strategy, RouteStrategy::kWeighted);
  ASSERT_EQ(rt.targets.size(), 2u);
  const auto& t0 = rt.targets[0];
  EXPECT_EQ(t0.weight, 80);
  EXPECT_EQ(t0.connect, Millis(200));
  EXPECT_EQ(t0.first_byte, Millis(1500));
  EXPECT_EQ(t0.idle, Millis(700));
  EXPECT_EQ(t0.total, Millis(9000));
  const auto& t1 = rt.targets[1];
  EXPECT_EQ(t1.weight, 0);
  EXPECT_EQ(t1.first_byte, Millis(2500));
  EXPECT_FALSE(t1.connect);
  EXPECT_FALSE(t1.idle);
  EXPECT_FALSE(t1.total);
  EXPECT_EQ(rt.fallback_on, unsigned(kFail5xx | kFailTimeout));
  EXPECT_EQ(rt.retries, 2);
  EXPECT_EQ(rt.backoff, Millis(250));
  EXPECT_EQ(rt.cooldown_failures, 5);
  EXPECT_EQ(rt.cooldown, std::chrono::seconds(60));
}

// Each strategy name maps to its value.
TEST(RouteConfig, Strategies) {
  auto r = load("  p: {route: {strategy: priority, targets: [{model: a}]}}\n"
                "  w: {route: {strategy: weighted, targets: [{model: a, weight: 3}]}}\n"
                "  l: {route: {strategy: latency, targets: [{model: a}, {model: b}]}}\n");
  ASSERT_TRUE(r.config) << all(r);
  EXPECT_EQ(r.config->models.at("p").route->strategy, RouteStrategy::kPriority);
  EXPECT_EQ(r.config->models.at("w").route->strategy, RouteStrategy::kWeighted);
  EXPECT_EQ(r.config->models.at("l").route->strategy, RouteStrategy::kLatency);
  EXPECT_EQ(to_string(RouteStrategy::kWeighted), "weighted");
}

// Each fallback_on item sets its own bit; a given list replaces the default; [] falls back on nothing.
TEST(RouteConfig, FallbackOnBits) {
  auto r = load("  f1: {route: {targets: [{model: a}], fallback_on: [5xx]}}\n"
                "  f2: {route: {targets: [{model: a}], fallback_on: [429]}}\n"
                "  f3: {route: {targets: [{model: a}], fallback_on: [timeout]}}\n"
                "  f4: {route: {targets: [{model: a}], fallback_on: [connect_error]}}\n"
                "  f5: {route: {targets: [{model: a}], fallback_on: [connect_error, 429, 5xx, timeout]}}\n"
                "  f6: {route: {targets: [{model: a}], fallback_on: []}}\n");
  ASSERT_TRUE(r.config) << all(r);
  EXPECT_EQ(r.config->models.at("f1").route->fallback_on, unsigned(kFail5xx));
  EXPECT_EQ(r.config->models.at("f2").route->fallback_on, unsigned(kFail429));
  EXPECT_EQ(r.config->models.at("f3").route->fallback_on, unsigned(kFailTimeout));
  EXPECT_EQ(r.config->models.at("f4").route->fallback_on, unsigned(kFailConnect));
  EXPECT_EQ(r.config->models.at("f5").route->fallback_on, kAllFailures);
  EXPECT_EQ(r.config->models.at("f6").route->fallback_on, 0u);
}

// A route may carry a price of its own.
TEST(RouteConfig, RouteWithPrice) {
  auto r = load("  v: {price: {input_per_million: 2}, route: {targets: [{model: a}, {model: b}]}}\n");
  ASSERT_TRUE(r.config) << all(r);
  EXPECT_TRUE(r.config->models.at("v").price.set);
  EXPECT_DOUBLE_EQ(r.config->models.at("v").price.input_per_million, 2);
}

// ---- Validation: each problem with its place.

// An unknown strategy names itself, at its value.
TEST(RouteConfigErrors, UnknownStrategy) {
  auto r = load("  v:\n    route:\n      strategy: random\n      targets: [{model: a}]\n");
  expect_one_error(r, "models.v.route.strategy 'random' is not one of priority, weighted, latency", 11, 17);
}

// An empty target list is at fault at the list; a missing one at the route.
TEST(RouteConfigErrors, EmptyOrMissingTargets) {
  expect_one_error(load("  v: {route: {targets: []}}\n"), "models.v.route.targets must be a non-empty list", 9, 24);
  expect_one_error(load("  v:\n    route: {strategy: priority}\n"), "models.v.route.targets must be a non-empty list",
                   10, 12);
  expect_one_error(load("  v: {route: {targets: {model: a}}}\n"), "models.v.route.targets must be a non-empty list",
                   9, 24);
}

// A target naming no defined model is at fault at its model name.
TEST(RouteConfigErrors, UnknownTargetModel) {
  auto r = load("  v:\n    route:\n      targets:\n        - {model: a}\n        - {model: zz}\n");
  expect_one_error(r, "models.v.route: target 'zz' is not defined under models", 13, 19);
}

// A target that is itself a route is refused (no nesting), at its model name.
TEST(RouteConfigErrors, TargetIsARoute) {
  auto r = load("  inner: {route: {targets: [{model: a}]}}\n"
                "  outer:\n    route:\n      targets:\n        - {model: inner}\n");
  expect_one_error(r, "models.outer.route: target 'inner' is itself a route; targets must be models with a provider",
                   13, 19);
}

// A model has a provider or a route, never both (upstream_model counts as a provider setting).
TEST(RouteConfigErrors, ProviderAndRoute) {
  auto r = load("  v:\n    provider: local\n    route: {targets: [{model: a}]}\n");
  expect_one_error(r, "models.v: a model has either a provider (and upstream_model) or a route, not both", 11, 12);
  auto u = load("  v:\n    upstream_model: x\n    route: {targets: [{model: a}]}\n");
  expect_one_error(u, "models.v: a model has either a provider (and upstream_model) or a route, not both", 11, 12);
}

// A model with neither provider nor route says which to add.
TEST(RouteConfigErrors, NeitherProviderNorRoute) {
  auto r = load("  v: {upstream_model: x}\n");
  expect_one_error(r, "models.v.provider is required (or a route: {targets: [...]})", 9, 6);
}

// An unknown fallback_on item names itself, at the item; a scalar instead of a list is refused.
TEST(RouteConfigErrors, BadFallbackOn) {
  auto r = load("  v: {route: {targets: [{model: a}], fallback_on: [5xx, 502]}}\n");
  expect_one_error(r, "models.v.route.fallback_on: '502' is not one of 5xx, 429, timeout, connect_error", 9, 57);
  auto s = load("  v: {route: {targets: [{model: a}], fallback_on: 5xx}}\n");
  expect_one_error(s, "models.v.route.fallback_on must be a list of 5xx, 429, timeout, connect_error", 9, 51);
}

// A weighted route whose weights are all 0 could never pick a target: at the target list.
TEST(RouteConfigErrors, WeightedAllZero) {
  auto r = load("  v:\n    route:\n      strategy: weighted\n      targets: [{model: a, weight: 0}, {model: b, weight: 0}]\n");
  expect_one_error(r, "models.v.route: a weighted route needs a target with weight > 0", 12, 16);
  // Weight 0 everywhere is fine for other strategies (weights are ignored there).
  EXPECT_TRUE(load("  v: {route: {targets: [{model: a, weight: 0}]}}\n").config);
}

// Unknown keys in the route, a target and its timeouts are each reported at the key.
TEST(RouteConfigErrors, UnknownKeys) {
  expect_one_error(load("  v:\n    route:\n      targets: [{model: a}]\n      retry: 2\n"),
                   "unknown key 'retry' in models.v.route", 12, 7);
  expect_one_error(load("  v:\n    route:\n      targets:\n        - {model: a, weigth: 2}\n"),
                   "unknown key 'weigth' in models.v.route.targets[]", 12, 22);
  expect_one_error(load("  v:\n    route:\n      targets:\n        - {model: a, timeouts: {connect: 5}}\n"),
                   "unknown key 'connect' in models.v.route.targets[].timeouts", 12, 33);
  expect_one_error(load("  v: {route: {targets: [{model: a}], retries: {count: 1}}}\n"),
                   "unknown key 'count' in models.v.route.retries", 9, 48);
  expect_one_error(load("  v: {route: {targets: [{model: a}], cooldown: {after: 1}}}\n"),
                   "unknown key 'after' in models.v.route.cooldown", 9, 49);
}

// A target without a model says so, at the target.
TEST(RouteConfigErrors, TargetWithoutModel) {
  auto r = load("  v:\n    route:\n      targets:\n        - {weight: 2}\n");
  expect_one_error(r, "models.v.route.targets[].model is required", 12, 11);
}

// A target without a model followed by one naming an unknown model: both are reported, each at
// its own place (check_routes must not look up the YAML of the wrong target).
TEST(RouteConfigErrors, MissingModelThenUnknownModel) {
  auto r = load("  v:\n    route:\n      targets:\n        - {weight: 2}\n        - {model: zz}\n");
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.diagnostics.size(), 2u) << all(r);
  EXPECT_EQ(only(r, "models.v.route.targets[].model is required").line, 12);
  auto d = only(r, "target 'zz' is not defined under models");
  EXPECT_EQ(d.line, 13) << d.to_string();
  EXPECT_EQ(d.column, 19) << d.to_string();
}

// Out-of-range numbers: weight, timeouts, retries, backoff, cooldown.
TEST(RouteConfigErrors, OutOfRangeNumbers) {
  auto r = load(R"(  v:
    route:
      targets:
        - {model: a, weight: -1}
        - {model: b, timeouts: {connect_ms: 0}}
      retries: {attempts: 11, backoff_ms: 0}
      cooldown: {after_failures: 0, seconds: 86401}
)");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(only(r, "models.v.route.targets[].weight must be between 0 and").line, 12);
  EXPECT_EQ(only(r, "models.v.route.targets[].timeouts.connect_ms must be between 1 and").line, 13);
  EXPECT_EQ(only(r, "models.v.route.retries.attempts must be between 0 and 10").line, 14);
  EXPECT_EQ(only(r, "models.v.route.retries.backoff_ms must be between 1 and").line, 14);
  EXPECT_EQ(only(r, "models.v.route.cooldown.after_failures must be between 1 and").line, 15);
  EXPECT_EQ(only(r, "models.v.route.cooldown.seconds must be between 1 and 86400").line, 15);
  EXPECT_EQ(r.diagnostics.size(), 6u) << all(r);
}

// Several broken routes: every problem is listed, not just the first.
TEST(RouteConfigErrors, AllProblemsAreListed) {
  auto r = load("  v1: {route: {strategy: fastest, targets: [{model: a}]}}\n"
                "  v2: {route: {targets: [{model: nope}]}}\n"
                "  v3: {route: {targets: [{model: a}], fallback_on: [4xx]}}\n");
  ASSERT_FALSE(r.config);
  EXPECT_EQ(r.diagnostics.size(), 3u) << all(r);
  EXPECT_EQ(only(r, "'fastest' is not one of").line, 9);
  EXPECT_EQ(only(r, "target 'nope' is not defined").line, 10);
  EXPECT_EQ(only(r, "'4xx' is not one of").line, 11);
}

}  // namespace
}  // namespace gatehouse::config
