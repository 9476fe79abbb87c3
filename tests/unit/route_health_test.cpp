#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "route/health.h"

namespace gatehouse::route {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

constexpr int kThreshold = 3;
constexpr seconds kCooldown{300};
constexpr std::int64_t kStart = 1'700'000'000'000;  // unix ms

// A TargetHealth on a clock the test moves by hand.
struct Fixture {
  std::int64_t now = kStart;
  TargetHealth health{[this] { return now; }};

  // As a route with kThreshold and kCooldown asks.
  bool acquire(const std::string& model) {
    std::string why;
    return health.acquire(model, kThreshold, kCooldown, why);
  }
  std::string refusal(const std::string& model) {
    std::string why;
    EXPECT_FALSE(health.acquire(model, kThreshold, kCooldown, why)) << model << " was let through";
    return why;
  }
  void fail(const std::string& model, int retry_after_s = -1, std::string summary = "HTTP 503") {
    health.failure(model, retry_after_s, std::move(summary));
  }
  void fail_times(const std::string& model, int n) {
    for (int i = 0; i < n; ++i) fail(model);
  }
  // As the routes' `policies` judge it (default: one route with kThreshold and kCooldown).
  TargetState state(const std::string& model,
                    std::vector<Policy> policies = {Policy{kThreshold, kCooldown}}) {
    for (auto& s : health.states(Policies{{model, policies}})) {
      if (s.model == model) return s;
    }
    ADD_FAILURE() << "no state for " << model;
    return {};
  }
};

// ---- Healthy and counting failures.

// A target never seen is usable, has no latency, and is not listed until a verdict (acquire
// alone creates nothing: route-scoped keys are asked on every request).
TEST(RouteHealth, UnknownTargetIsHealthy) {
  Fixture f;
  EXPECT_TRUE(f.health.states().empty());
  EXPECT_EQ(f.health.latency_ms("a"), -1);
  EXPECT_TRUE(f.acquire("a"));
  EXPECT_TRUE(f.acquire("a"));  // healthy: any number of requests at once
  EXPECT_TRUE(f.health.states().empty());
  f.health.success("a", microseconds(1));
  auto s = f.state("a");
  EXPECT_EQ(s.state, "healthy");
  EXPECT_EQ(s.consecutive_failures, 0);
  EXPECT_EQ(s.cooldown_remaining_ms, 0);
}

// Fewer than `threshold` failures in a row keep the target usable; the threshold-th cools it.
TEST(RouteHealth, CoolsAfterThresholdConsecutiveFailures) {
  Fixture f;
  f.fail_times("a", kThreshold - 1);
  EXPECT_TRUE(f.acquire("a"));
  EXPECT_EQ(f.state("a").state, "healthy");
  EXPECT_EQ(f.state("a").consecutive_failures, kThreshold - 1);
  f.fail("a");
  auto s = f.state("a");
  EXPECT_EQ(s.state, "cooling");
  EXPECT_EQ(s.cooldown_remaining_ms, 300'000);
  EXPECT_EQ(s.failures, 3u);
  EXPECT_EQ(s.last_error, "HTTP 503");
  EXPECT_FALSE(f.acquire("a"));
}

// A success in between resets the count: failures must be consecutive.
TEST(RouteHealth, SuccessResetsTheConsecutiveCount) {
  Fixture f;
  f.fail_times("a", kThreshold - 1);
  f.health.success("a", microseconds(1000));
  EXPECT_EQ(f.state("a").consecutive_failures, 0);
  f.fail_times("a", kThreshold - 1);
  EXPECT_TRUE(f.acquire("a"));
  EXPECT_EQ(f.state("a").state, "healthy");
  f.fail("a");
  EXPECT_FALSE(f.acquire("a"));
}

// Targets are independent: one cooling does not touch another.
TEST(RouteHealth, TargetsAreIndependent) {
  Fixture f;
  f.fail_times("a", kThreshold);
  EXPECT_FALSE(f.acquire("a"));
  EXPECT_TRUE(f.acquire("b"));
}

// ---- Cooling down.

// While cooling, the refusal says how many seconds remain (rounded up) and the last error.
TEST(RouteHealth, CoolingRefusalNamesRemainingSeconds) {
  Fixture f;
  f.fail_times("a", kThreshold);
  EXPECT_NE(f.refusal("a").find("300 s"), std::string::npos) << f.refusal("a");
  f.now += 60'000;
  const std::string why = f.refusal("a");
  EXPECT_NE(why.find("cooling down for 240 s more"), std::string::npos) << why;
  EXPECT_NE(why.find("HTTP 503"), std::string::npos) << why;
  f.now += 500;  // 239.5 s left: rounded up
  EXPECT_NE(f.refusal("a").find("240 s"), std::string::npos);
  EXPECT_EQ(f.state("a").cooldown_remaining_ms, 239'500);
}

// One millisecond before the end of the cooldown it still refuses.
TEST(RouteHealth, StillCoolingUntilTheLastMillisecond) {
  Fixture f;
  f.fail_times("a", kThreshold);
  f.now += 300'000 - 1;
  EXPECT_NE(f.refusal("a").find("1 s more"), std::string::npos);
  f.now += 1;
  EXPECT_TRUE(f.acquire("a"));
}

// A provider's Retry-After cools at once, below the threshold, for exactly that long.
TEST(RouteHealth, RetryAfterCoolsAtOnceForThatLong) {
  Fixture f;
  f.fail("a", 30, "HTTP 429");
  auto s = f.state("a");
  EXPECT_EQ(s.state, "cooling");
  EXPECT_EQ(s.cooldown_remaining_ms, 30'000);
  EXPECT_EQ(s.consecutive_failures, 1);
  EXPECT_NE(f.refusal("a").find("30 s more after HTTP 429"), std::string::npos);
  f.now += 29'999;
  EXPECT_FALSE(f.acquire("a"));
  f.now += 1;
  EXPECT_TRUE(f.acquire("a"));  // the probe
}

// A Retry-After of 0 still cools (for a second): the provider said "not now".
TEST(RouteHealth, RetryAfterZeroCoolsForASecond) {
  Fixture f;
  f.fail("a", 0, "HTTP 429");
  EXPECT_FALSE(f.acquire("a"));
  f.now += 1000;
  EXPECT_TRUE(f.acquire("a"));
}

// A short Retry-After does not cut short a longer cooldown already running.
TEST(RouteHealth, RetryAfterDoesNotShortenACooldown) {
  Fixture f;
  f.fail_times("a", kThreshold);
  f.fail("a", 5, "HTTP 429");
  EXPECT_EQ(f.state("a").cooldown_remaining_ms, 300'000);
}

// ---- The single probe after a cooldown.

// After the cooldown exactly one request gets through; the others are told a probe is out.
TEST(RouteHealth, OneProbeAfterTheCooldown) {
  Fixture f;
  f.fail_times("a", kThreshold);
  f.now += 300'000;
  EXPECT_EQ(f.state("a").state, "probing");
  EXPECT_TRUE(f.acquire("a"));
  const std::string why = f.refusal("a");
  EXPECT_NE(why.find("a probe"), std::string::npos) << why;
  f.now += 3'600'000;  // however long the probe takes
  EXPECT_FALSE(f.acquire("a"));
}

// A successful probe makes the target healthy: count reset, no cooldown, open to all.
TEST(RouteHealth, ProbeSuccessMakesItHealthy) {
  Fixture f;
  f.fail_times("a", kThreshold);
  f.now += 300'000;
  ASSERT_TRUE(f.acquire("a"));
  f.health.success("a", microseconds(2000));
  auto s = f.state("a");
  EXPECT_EQ(s.state, "healthy");
  EXPECT_EQ(s.consecutive_failures, 0);
  EXPECT_EQ(s.cooldown_remaining_ms, 0);
  EXPECT_EQ(s.successes, 1u);
  EXPECT_EQ(s.failures, 3u);
  EXPECT_TRUE(f.acquire("a"));
  EXPECT_TRUE(f.acquire("a"));
  // And it takes the full threshold again to cool it.
  f.fail_times("a", kThreshold - 1);
  EXPECT_TRUE(f.acquire("a"));
}

// A failed probe cools the target again for the full cooldown, at once (no threshold).
TEST(RouteHealth, ProbeFailureCoolsAgainForTheFullCooldown) {
  Fixture f;
  f.fail_times("a", kThreshold);
  f.now += 300'000;
  ASSERT_TRUE(f.acquire("a"));
  f.now += 10'000;  // the probe took 10 s
  f.health.failure("a", -1, "timeout", /*probe=*/true);
  auto s = f.state("a");
  EXPECT_EQ(s.state, "cooling");
  EXPECT_EQ(s.cooldown_remaining_ms, 300'000);
  EXPECT_EQ(s.last_error, "timeout");
  f.now += 299'999;
  EXPECT_FALSE(f.acquire("a"));
  f.now += 1;
  EXPECT_TRUE(f.acquire("a"));  // the next probe
  EXPECT_FALSE(f.acquire("a"));
}

// A probe that fails even when the threshold could not be reached (threshold 1000) still cools.
TEST(RouteHealth, ProbeFailureCoolsWhateverTheThreshold) {
  Fixture f;
  f.fail("a", 1, "HTTP 429");
  f.now += 1000;
  std::string why;
  ASSERT_TRUE(f.health.acquire("a", 1000, seconds(60), why).probe);
  f.health.failure("a", -1, "HTTP 500", /*probe=*/true);
  EXPECT_EQ(f.state("a", {Policy{1000, seconds(60)}}).state, "cooling");
  EXPECT_EQ(f.state("a", {Policy{1000, seconds(60)}}).cooldown_remaining_ms, 60'000);
  EXPECT_FALSE(f.health.acquire("a", 1000, seconds(60), why));
}

// A probe that ends without a verdict is handed back: the next request probes instead.
TEST(RouteHealth, ReleaseHandsTheProbeBack) {
  Fixture f;
  f.fail_times("a", kThreshold);
  f.now += 300'000;
  ASSERT_TRUE(f.acquire("a"));
  EXPECT_FALSE(f.acquire("a"));
  f.health.release("a", true);
  EXPECT_TRUE(f.acquire("a"));
  EXPECT_FALSE(f.acquire("a"));
  EXPECT_EQ(f.state("a").failures, 3u);  // release is no failure
  EXPECT_EQ(f.state("a").successes, 0u);
}

// Releasing a target never seen, or a healthy one, changes nothing.
TEST(RouteHealth, ReleaseWithoutAProbeIsHarmless) {
  Fixture f;
  f.health.release("nobody", true);
  EXPECT_TRUE(f.health.states().empty());
  f.health.success("a", microseconds(1));
  EXPECT_TRUE(f.acquire("a"));
  f.health.release("a", true);
  EXPECT_TRUE(f.acquire("a"));
  EXPECT_EQ(f.state("a").state, "healthy");
}

// A request let in while the target was healthy, ending without a verdict while another request
// holds the probe, must not hand back that other request's probe (dispatch.cpp calls release()
// for every route attempt the client abandons, probe or not).
TEST(RouteHealth, ReleaseByANonProbeRequestKeepsTheProbeTaken) {
  Fixture f;
  ASSERT_TRUE(f.acquire("a"));  // request A: a long stream, started while healthy
  f.fail_times("a", kThreshold);
  f.now += 300'000;
  ASSERT_TRUE(f.acquire("a"));  // request B: the probe
  f.health.release("a", false); // A's client leaves (A holds no probe)
  EXPECT_FALSE(f.acquire("a")) << "a second probe was let through while B's is in flight";
}

// ---- Latency.

// The first sample is the latency; later ones move it by 30 % (EWMA), in milliseconds.
TEST(RouteHealth, LatencyIsAnEwmaInMilliseconds) {
  Fixture f;
  EXPECT_EQ(f.health.latency_ms("a"), -1);
  f.health.success("a", microseconds(100'000));
  EXPECT_DOUBLE_EQ(f.health.latency_ms("a"), 100.0);
  f.health.success("a", microseconds(200'000));
  EXPECT_DOUBLE_EQ(f.health.latency_ms("a"), 0.7 * 100 + 0.3 * 200);
  f.health.success("a", microseconds(1500));
  EXPECT_DOUBLE_EQ(f.health.latency_ms("a"), 0.7 * (0.7 * 100 + 0.3 * 200) + 0.3 * 1.5);
  EXPECT_DOUBLE_EQ(f.state("a").latency_ms, f.health.latency_ms("a"));
  EXPECT_EQ(f.health.latency_ms("b"), -1);
}

// Failures and acquires do not create a latency sample.
TEST(RouteHealth, FailuresDoNotFeedLatency) {
  Fixture f;
  f.fail("a");
  EXPECT_TRUE(f.acquire("a"));
  EXPECT_EQ(f.health.latency_ms("a"), -1);
  EXPECT_EQ(f.state("a").latency_ms, -1);
}

// ---- states() for the admin API.

// Every target seen, sorted by name, with its counters and state.
TEST(RouteHealth, StatesAreSortedWithCounters) {
  Fixture f;
  f.health.success("zeta", microseconds(1000));
  f.health.success("zeta", microseconds(1000));
  f.fail_times("alpha", kThreshold);
  f.fail("mid");  // one failure: below the threshold
  EXPECT_TRUE(f.acquire("mid"));
  const std::vector<Policy> one{Policy{kThreshold, kCooldown}};
  auto all = f.health.states(Policies{{"alpha", one}, {"mid", one}, {"zeta", one}});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].model, "alpha");
  EXPECT_EQ(all[1].model, "mid");
  EXPECT_EQ(all[2].model, "zeta");
  EXPECT_EQ(all[0].state, "cooling");
  EXPECT_EQ(all[0].failures, 3u);
  EXPECT_EQ(all[0].successes, 0u);
  EXPECT_EQ(all[0].consecutive_failures, 3);
  EXPECT_EQ(all[0].last_error, "HTTP 503");
  EXPECT_EQ(all[1].state, "healthy");
  EXPECT_EQ(all[1].failures, 1u);
  EXPECT_EQ(all[1].consecutive_failures, 1);
  EXPECT_EQ(all[2].state, "healthy");
  EXPECT_EQ(all[2].successes, 2u);
  EXPECT_TRUE(all[2].last_error.empty());
}

// The remaining cooldown counts down with the clock and the state moves cooling -> probing ->
// healthy.
TEST(RouteHealth, StatesFollowTheClock) {
  Fixture f;
  f.fail_times("a", kThreshold);
  f.now += 100'000;
  EXPECT_EQ(f.state("a").cooldown_remaining_ms, 200'000);
  f.now += 200'000;
  EXPECT_EQ(f.state("a").state, "probing");
  EXPECT_EQ(f.state("a").cooldown_remaining_ms, 0);
  ASSERT_TRUE(f.acquire("a"));
  EXPECT_EQ(f.state("a").state, "probing");
  f.health.success("a", microseconds(1));
  EXPECT_EQ(f.state("a").state, "healthy");
}

// ---- Shared by routes, each with its own thresholds.

// One target's failures are seen by every route; each judges them by its own threshold and
// cooldown. A route with threshold 1 passes it over after one failure while a route with 3 still
// tries it; its cooldown over, the strict route takes the single probe (the other needs none), and
// a failed probe restarts every route's cooldown, each for its own length.
TEST(RouteHealth, SharedHealthEachRouteItsOwnThresholds) {
  Fixture f;
  const Policy strict{1, seconds(60)}, lenient{kThreshold, kCooldown};
  std::string why;
  f.fail("a");
  EXPECT_FALSE(f.health.acquire("a", strict.threshold, strict.cooldown, why));
  EXPECT_NE(why.find("cooling down for 60 s more after HTTP 503"), std::string::npos) << why;
  auto pass = f.health.acquire("a", lenient.threshold, lenient.cooldown, why);
  EXPECT_TRUE(pass);
  EXPECT_FALSE(pass.probe) << "a route below its threshold needs no probe";
  EXPECT_EQ(f.state("a", {strict}).state, "cooling");
  EXPECT_EQ(f.state("a", {lenient}).state, "healthy");
  // Judged by both (the admin API): cooling for at least one route.
  EXPECT_EQ(f.state("a", {lenient, strict}).state, "cooling");
  EXPECT_EQ(f.state("a", {lenient, strict}).cooldown_remaining_ms, 60'000);

  f.now += 60'000;
  auto probe = f.health.acquire("a", strict.threshold, strict.cooldown, why);
  ASSERT_TRUE(probe.probe);
  EXPECT_FALSE(f.health.acquire("a", strict.threshold, strict.cooldown, why)) << "a second probe";
  EXPECT_TRUE(f.health.acquire("a", lenient.threshold, lenient.cooldown, why)) << why;
  f.health.failure("a", -1, "HTTP 500", /*probe=*/true);
  // The failed probe restarts every route's cooldown, the lenient route's too (below its
  // threshold).
  EXPECT_FALSE(f.health.acquire("a", lenient.threshold, lenient.cooldown, why));
  EXPECT_EQ(f.state("a", {lenient}).cooldown_remaining_ms, 300'000);
  EXPECT_EQ(f.state("a", {strict}).cooldown_remaining_ms, 60'000);
  f.now += 60'000;
  ASSERT_TRUE(f.health.acquire("a", strict.threshold, strict.cooldown, why).probe);
  f.health.success("a", microseconds(1));
  EXPECT_TRUE(f.health.acquire("a", lenient.threshold, lenient.cooldown, why));
  EXPECT_EQ(f.state("a", {lenient, strict}).state, "healthy");
}

// A Retry-After holds off every route, whatever its threshold.
TEST(RouteHealth, RetryAfterHoldsOffEveryRoute) {
  Fixture f;
  std::string why;
  f.fail("a", 10, "HTTP 429");
  EXPECT_FALSE(f.health.acquire("a", 1000, seconds(1), why));
  EXPECT_FALSE(f.health.acquire("a", 1, seconds(1), why));
  f.now += 10'000;
  EXPECT_TRUE(f.health.acquire("a", 1000, seconds(1), why).probe);
}

// A route-scoped key is an entry like any other, and clear() forgets it.
TEST(RouteHealth, ScopedKeysAreSeparateAndCleared) {
  Fixture f;
  const std::string scoped = scoped_key("a", "fast");
  EXPECT_EQ(scoped, "a@fast");
  f.fail_times(scoped, kThreshold);
  EXPECT_FALSE(f.acquire(scoped));
  EXPECT_TRUE(f.acquire("a"));
  const std::vector<Policy> one{Policy{kThreshold, kCooldown}};
  auto all = f.health.states(Policies{{"a", one}, {scoped, one}});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].target, "a");
  EXPECT_EQ(all[0].route, "fast");
  EXPECT_EQ(all[0].state, "cooling");
  f.health.clear(scoped);
  EXPECT_TRUE(f.acquire(scoped));
  EXPECT_TRUE(f.health.states().empty());
}

// Shared with other replicas: every failure and every recovery is told to the observer; a plain
// success is not; another replica's events are applied without being told again.
TEST(RouteHealth, ObserverHearsFailuresAndRecoveriesAndApplyIsSilent) {
  Fixture f;
  std::vector<HealthEvent> heard;
  f.health.set_observer([&](const HealthEvent& e) { heard.push_back(e); });
  f.health.success("a", microseconds(10));
  EXPECT_TRUE(heard.empty()) << "a success without failures before it is no news";
  f.health.failure("a", 7, "HTTP 503");
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_TRUE(heard[0].failure);
  EXPECT_EQ(heard[0].key, "a");
  EXPECT_EQ(heard[0].retry_after_s, 7);
  EXPECT_EQ(heard[0].summary, "HTTP 503");
  f.health.success("a", microseconds(20));
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_FALSE(heard[1].failure);
  EXPECT_EQ(heard[1].latency_us, 20);

  // Another replica's failures cool the target here, and nothing is announced.
  f.health.apply(HealthEvent{true, "b", -1, "HTTP 500", 0});
  f.health.apply(HealthEvent{true, "b", -1, "HTTP 500", 0});
  f.health.apply(HealthEvent{true, "b", -1, "HTTP 500", 0});
  EXPECT_EQ(heard.size(), 2u);
  EXPECT_EQ(f.state("b").state, "cooling");
  EXPECT_FALSE(f.acquire("b"));
  f.health.apply(HealthEvent{false, "b", -1, "", 5});
  EXPECT_EQ(f.state("b").state, "healthy");
  EXPECT_EQ(heard.size(), 2u);
}

}  // namespace
}  // namespace gatehouse::route
