#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "config/load.h"
#include "diagnostics_util.h"
#include "route/router.h"

namespace gatehouse::route {
namespace {

using std::chrono::microseconds;

using test_util::no_env;

const std::string kConfig = R"(providers:
  p1: {kind: openai-compatible, base_url: "http://127.0.0.1:9901/v1"}
  p2: {kind: openai-compatible, base_url: "http://127.0.0.1:9902/v1"}
  p3: {kind: openai-compatible, base_url: "http://127.0.0.1:9903/v1"}
models:
  a: {provider: p1, upstream_model: up-a}
  b: {provider: p2}
  c: {provider: p3}
  prio:
    route:
      targets:
        - {model: b, timeouts: {first_byte_ms: 1500, total_ms: 9000}}
        - {model: a}
        - {model: c, timeouts: {connect_ms: 250}}
  split:
    route: {strategy: weighted, targets: [{model: a, weight: 80}, {model: b, weight: 20}]}
  split41:
    route: {strategy: weighted, targets: [{model: a, weight: 4}, {model: b, weight: 1}]}
  three:
    route: {strategy: weighted, targets: [{model: a, weight: 5}, {model: b, weight: 3}, {model: c, weight: 2}]}
  spare:
    route: {strategy: weighted, targets: [{model: c, weight: 0}, {model: a, weight: 1}, {model: b, weight: 2}]}
  fast:
    route: {strategy: latency, targets: [{model: a}, {model: b}, {model: c}]}
  fast2:
    route: {strategy: latency, targets: [{model: a}, {model: b}]}
keys:
  - {name: k1, sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
)";

// The config, a health table and a router over them.
struct Fixture {
  std::int64_t now = 1'700'000'000'000;
  config::LoadResult loaded = config::load_string(kConfig, "test.yaml", no_env());
  TargetHealth health{[this] { return now; }};
  Router router{loaded.config ? *loaded.config : empty_config(), health};

  static const config::Config& empty_config() {
    static const config::Config empty;
    return empty;  // keeps the fixture sane when the config fails to load (ConfigLoads reports it)
  }

  Plan plan(std::string_view model) {
    auto r = router.resolve(model);
    if (auto* e = std::get_if<Error>(&r)) {
      ADD_FAILURE() << "resolve(" << model << "): " << e->message;
      return {};
    }
    return std::get<Plan>(std::move(r));
  }
  // The target names of a plan, in order.
  std::vector<std::string> order(std::string_view model) {
    std::vector<std::string> names;
    for (const auto& t : plan(model).targets) names.push_back(t.model->name);
    return names;
  }
  std::string first(std::string_view model) {
    auto names = order(model);
    return names.empty() ? "" : names.front();
  }
};

using Names = std::vector<std::string>;

// The test config itself must load, or every other test here means nothing.
TEST(Router, ConfigLoads) {
  Fixture f;
  std::string diags;
  for (const auto& d : f.loaded.diagnostics) diags += d.to_string() + "\n";
  ASSERT_TRUE(f.loaded.config) << diags;
}

// ---- Unknown and plain models.

// An unknown model is a 404 model_not_found naming it, from the client's side.
TEST(Router, UnknownModelIsNotFound) {
  Fixture f;
  auto r = f.router.resolve("gpt-nope");
  ASSERT_TRUE(std::holds_alternative<Error>(r));
  const auto& e = std::get<Error>(r);
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "model_not_found");
  EXPECT_EQ(e.kind, ErrorKind::kNotFound);
  EXPECT_EQ(e.source, ErrorSource::kClient);
  EXPECT_NE(e.message.find("'gpt-nope'"), std::string::npos) << e.message;
}

// The name echoed back is cut short and has its control characters replaced.
TEST(Router, NotFoundMessageIsSanitised) {
  auto e = model_not_found(std::string("bad\r\nname\x01") + std::string(500, 'x'));
  EXPECT_EQ(e.message.find_first_of("\r\n\x01"), std::string::npos);
  EXPECT_NE(e.message.find("'bad??name?xxx"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find(std::string(200, 'x')), std::string::npos);  // 200 chars in all, 190 x's
  EXPECT_NE(e.message.find(std::string(190, 'x') + "'"), std::string::npos);
}

// A plain model is one target: itself, with its provider, no route and no per-target settings.
TEST(Router, PlainModelIsOneTarget) {
  Fixture f;
  auto p = f.plan("a");
  EXPECT_EQ(p.route, nullptr);
  ASSERT_NE(p.model, nullptr);
  EXPECT_EQ(p.model->name, "a");
  ASSERT_EQ(p.targets.size(), 1u);
  EXPECT_EQ(p.targets[0].model, p.model);
  EXPECT_EQ(p.targets[0].provider->name, "p1");
  EXPECT_EQ(p.targets[0].model->upstream_model, "up-a");
  EXPECT_EQ(p.targets[0].settings, nullptr);
}

// ---- Priority.

// A priority route lists its targets in config order, each with its provider and its route entry.
TEST(Router, PriorityKeepsConfigOrderWithSettings) {
  Fixture f;
  auto p = f.plan("prio");
  ASSERT_NE(p.route, nullptr);
  EXPECT_EQ(p.route->strategy, config::RouteStrategy::kPriority);
  EXPECT_EQ(p.model->name, "prio");
  ASSERT_EQ(p.targets.size(), 3u);
  EXPECT_EQ(p.targets[0].model->name, "b");
  EXPECT_EQ(p.targets[0].provider->name, "p2");
  EXPECT_EQ(p.targets[1].model->name, "a");
  EXPECT_EQ(p.targets[1].provider->name, "p1");
  EXPECT_EQ(p.targets[2].model->name, "c");
  EXPECT_EQ(p.targets[2].provider->name, "p3");
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(p.targets[i].settings, &p.route->targets[i]) << i;
  EXPECT_EQ(p.targets[0].settings->first_byte, std::chrono::milliseconds(1500));
  EXPECT_EQ(p.targets[0].settings->total, std::chrono::milliseconds(9000));
  EXPECT_FALSE(p.targets[0].settings->connect);
  EXPECT_FALSE(p.targets[1].settings->first_byte);
  EXPECT_EQ(p.targets[2].settings->connect, std::chrono::milliseconds(250));
}

// Priority never rotates, and health does not reorder it (the caller skips cooling targets).
TEST(Router, PriorityIsStable) {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.health.failure("b", -1, "x");
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.order("prio"), (Names{"b", "a", "c"})) << i;
}

// ---- Weighted (smooth weighted round robin).

// 80/20 over 100 requests: exactly 80 and 20 first, and the other target always second.
TEST(Router, WeightedGivesExactShares) {
  Fixture f;
  std::map<std::string, int> firsts;
  for (int i = 0; i < 100; ++i) {
    auto names = f.order("split");
    ASSERT_EQ(names.size(), 2u);
    EXPECT_NE(names[0], names[1]);
    ++firsts[names[0]];
  }
  EXPECT_EQ(firsts["a"], 80);
  EXPECT_EQ(firsts["b"], 20);
}

// Smooth: 4:1 interleaves — every window of 5 consecutive picks has exactly one light pick, and
// the heavy target never runs more than 4 in a row.
TEST(Router, WeightedInterleaves) {
  Fixture f;
  std::vector<std::string> picks;
  for (int i = 0; i < 50; ++i) picks.push_back(f.first("split41"));
  for (std::size_t i = 0; i + 5 <= picks.size(); ++i) {
    int light = 0;
    for (std::size_t j = i; j < i + 5; ++j) light += picks[j] == "b";
    EXPECT_EQ(light, 1) << "window at " << i;
  }
  // The same smoothness at 80/20 (scale does not matter).
  Fixture g;
  int run = 0, longest = 0;
  for (int i = 0; i < 100; ++i) {
    run = g.first("split") == "a" ? run + 1 : 0;
    longest = std::max(longest, run);
    EXPECT_LE(longest, 4) << "at pick " << i;
  }
}

// 5:3:2 over 10 picks (and over 100): exact shares, each target once per plan, the rest by weight.
TEST(Router, WeightedThreeWayExactShares) {
  Fixture f;
  for (int cycle = 0; cycle < 10; ++cycle) {
    std::map<std::string, int> firsts;
    for (int i = 0; i < 10; ++i) {
      auto names = f.order("three");
      ASSERT_EQ(names.size(), 3u);
      ++firsts[names[0]];
      // After the pick, the fallbacks follow by descending weight.
      const Names rest(names.begin() + 1, names.end());
      Names want;
      if (names[0] == "a") {
        want = Names{"b", "c"};
      } else if (names[0] == "b") {
        want = Names{"a", "c"};
      } else {
        want = Names{"a", "b"};
      }
      EXPECT_EQ(rest, want) << "first " << names[0];
    }
    EXPECT_EQ(firsts["a"], 5) << "cycle " << cycle;
    EXPECT_EQ(firsts["b"], 3) << "cycle " << cycle;
    EXPECT_EQ(firsts["c"], 2) << "cycle " << cycle;
  }
}

// A weight-0 target is never first but stays in every plan, last, as the fallback.
TEST(Router, WeightZeroIsOnlyAFallback) {
  Fixture f;
  std::map<std::string, int> firsts;
  for (int i = 0; i < 30; ++i) {
    auto names = f.order("spare");
    ASSERT_EQ(names.size(), 3u);
    EXPECT_EQ(names.back(), "c") << i;
    ++firsts[names[0]];
  }
  EXPECT_EQ(firsts["c"], 0);
  EXPECT_EQ(firsts["a"], 10);
  EXPECT_EQ(firsts["b"], 20);
}

// Each route keeps its own rotation: resolving one does not move another.
TEST(Router, RotationsArePerRoute) {
  Fixture f, g;
  std::vector<std::string> alone, interleaved;
  for (int i = 0; i < 10; ++i) alone.push_back(f.first("split41"));
  for (int i = 0; i < 10; ++i) {
    g.first("three");
    interleaved.push_back(g.first("split41"));
  }
  EXPECT_EQ(alone, interleaved);
}

// The rotation is shared by threads: 4 threads x 250 resolves keep the exact 80/20 split.
TEST(Router, WeightedSharesHoldAcrossThreads) {
  Fixture f;
  std::vector<int> a_first(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        auto r = f.router.resolve("split");
        if (std::get<Plan>(r).targets[0].model->name == "a") ++a_first[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(a_first[0] + a_first[1] + a_first[2] + a_first[3], 800);
}

// ---- Latency (fastest first, exploring one request in 20).

// Targets never measured come first (in config order) so they get measured.
TEST(Router, LatencyUnmeasuredFirst) {
  Fixture f;
  EXPECT_EQ(f.order("fast"), (Names{"a", "b", "c"}));
  f.health.success("a", microseconds(5'000));
  EXPECT_EQ(f.order("fast"), (Names{"b", "c", "a"}));
  f.health.success("c", microseconds(9'000));
  EXPECT_EQ(f.order("fast"), (Names{"b", "a", "c"}));
}

// Measured targets go fastest first, and the order follows the EWMA as latencies change.
TEST(Router, LatencyAscending) {
  Fixture f;
  f.health.success("a", microseconds(300'000));
  f.health.success("b", microseconds(100'000));
  f.health.success("c", microseconds(200'000));
  EXPECT_EQ(f.order("fast"), (Names{"b", "c", "a"}));
  // b slows down: 0.7*100 + 0.3*900 = 340 ms, now the slowest.
  f.health.success("b", microseconds(900'000));
  EXPECT_EQ(f.order("fast"), (Names{"c", "a", "b"}));
}

// Every 20th request (n % 20 == 19) puts another target first, in turn among the others; the
// remaining order is kept.
TEST(Router, LatencyExploresEveryTwentiethRequest) {
  Fixture f;
  f.health.success("a", microseconds(10'000));
  f.health.success("b", microseconds(20'000));
  f.health.success("c", microseconds(30'000));
  std::vector<Names> explored;
  for (int n = 0; n < 80; ++n) {
    auto names = f.order("fast");
    if (n % 20 == 19) {
      explored.push_back(names);
    } else {
      EXPECT_EQ(names, (Names{"a", "b", "c"})) << "request " << n;
    }
  }
  ASSERT_EQ(explored.size(), 4u);
  EXPECT_EQ(explored[0], (Names{"b", "a", "c"}));
  EXPECT_EQ(explored[1], (Names{"c", "a", "b"}));
  EXPECT_EQ(explored[2], (Names{"b", "a", "c"}));
  EXPECT_EQ(explored[3], (Names{"c", "a", "b"}));
}

// With two targets the exploration always picks the slower one.
TEST(Router, LatencyExploresTheOtherOfTwo) {
  Fixture f;
  f.health.success("a", microseconds(50'000));
  f.health.success("b", microseconds(10'000));
  for (int n = 0; n < 40; ++n) {
    EXPECT_EQ(f.first("fast2"), n % 20 == 19 ? "a" : "b") << "request " << n;
  }
}

// Per-target settings follow their target through the reordering.
TEST(Router, SettingsFollowTheirTarget) {
  Fixture f;
  f.health.success("a", microseconds(9'000));
  auto p = f.plan("fast");
  ASSERT_EQ(p.targets.size(), 3u);
  for (const auto& t : p.targets) {
    ASSERT_NE(t.settings, nullptr);
    EXPECT_EQ(t.settings->model, t.model->name);
    EXPECT_EQ(t.provider->name, t.model->provider);
  }
  for (int i = 0; i < 5; ++i) {
    for (const auto& t : f.plan("three").targets) EXPECT_EQ(t.settings->model, t.model->name);
  }
}

}  // namespace
}  // namespace gatehouse::route
