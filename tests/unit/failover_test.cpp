#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/load.h"
#include "diagnostics_util.h"
#include "route/failover.h"
#include "route/router.h"

namespace gatehouse::route {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

using test_util::no_env;

const std::string kConfig = R"(providers:
  p1: {kind: openai-compatible, base_url: "http://127.0.0.1:9901/v1"}
  p2: {kind: openai-compatible, base_url: "http://127.0.0.1:9902/v1"}
  p3: {kind: openai-compatible, base_url: "http://127.0.0.1:9903/v1"}
models:
  a: {provider: p1}
  b: {provider: p2}
  c: {provider: p3}
  prio:
    route: {targets: [{model: a}, {model: b}]}
  retry:
    route: {targets: [{model: a}, {model: b}], retries: {attempts: 2, backoff_ms: 100}}
  only5xx:
    route: {targets: [{model: a}, {model: b}], fallback_on: [5xx], retries: {attempts: 2}}
  once:
    route: {targets: [{model: a}, {model: b}], cooldown: {after_failures: 1, seconds: 60}}
  strict:
    route:
      targets: [{model: a, timeouts: {first_byte_ms: 100}}, {model: b}]
      cooldown: {after_failures: 1, seconds: 60}
  patient:
    route: {targets: [{model: a}, {model: b}], cooldown: {after_failures: 5, seconds: 600}}
keys:
  - {name: k1, sha256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
)";

// An upstream's error status as app::upstream_status_error builds it: retryable for a 429, a 5xx
// and a refused credential (401/403, shown as 502).
Error http_error(int status, const std::string& provider, int retry_after_s = -1) {
  const bool auth = status == 401 || status == 403;
  Error e;
  e.kind = status == 429 ? ErrorKind::kRateLimited : ErrorKind::kUpstreamStatus;
  e.source = ErrorSource::kUpstream;
  e.retryable = status == 429 || status >= 500 || auth;
  e.status = auth ? 502 : status;
  e.upstream_status = status;
  e.retry_after_s = retry_after_s;
  e.code = auth ? "upstream_auth_failed" : status == 429 ? "rate_limit_exceeded" : "upstream_error";
  e.message = "provider '" + provider + "' answered HTTP " + std::to_string(status);
  return e;
}

// The summary a route keeps of http_error(status, provider).
std::string summary(const std::string& target, int status, const std::string& provider) {
  return target + ": upstream_error (HTTP " + std::to_string(status) + "): provider '" + provider +
         "' answered HTTP " + std::to_string(status);
}

double fixed_jitter() { return 1.0; }

// The config, a health table on a clock the test moves by hand, and a router over them.
struct Fixture {
  std::int64_t now = 1'700'000'000'000;
  config::LoadResult loaded = config::load_string(kConfig, "test.yaml", no_env());
  TargetHealth health{[this] { return now; }};
  Router router{loaded.config ? *loaded.config : empty_config(), health};

  static const config::Config& empty_config() {
    static const config::Config empty;
    return empty;
  }
  Plan plan(std::string_view model) {
    if (loaded.config && loaded.config->models.contains(std::string(model)) &&
        loaded.config->models.at(std::string(model)).route) {
      judged_by = std::string(model);
    }
    auto r = router.resolve(model);
    if (auto* e = std::get_if<Error>(&r)) {
      ADD_FAILURE() << "resolve(" << model << "): " << e->message;
      return {};
    }
    return std::get<Plan>(std::move(r));
  }
  std::unique_ptr<Failover> failover(const Plan& p, Failover::Jitter jitter = &fixed_jitter) {
    return std::make_unique<Failover>(p, health, "req-1", std::move(jitter));
  }
  // The policies of route `route` alone (by its targets and their scoped keys).
  Policies policies(const std::string& route) {
    Policies out;
    if (!loaded.config) return out;
    for (auto& [key, list] : policies_of(*loaded.config)) {
      for (const auto& t : loaded.config->models.at(route).route->targets) {
        if (key == t.model || key == scoped_key(t.model, route)) {
          const auto& r = *loaded.config->models.at(route).route;
          out[key].push_back(Policy{r.cooldown_failures, r.cooldown});
        }
      }
    }
    return out;
  }
  // The health of `model` (a target, or a scoped key) as the route last planned judges it; a
  // failure when health never heard of it.
  TargetState state(const std::string& model, std::string route = "") {
    if (route.empty()) route = judged_by;
    for (auto& s : health.states(route.empty() ? Policies{} : policies(route))) {
      if (s.model == model) return s;
    }
    ADD_FAILURE() << "no state for " << model;
    return {};
  }
  bool known(const std::string& model) {
    for (auto& s : health.states()) {
      if (s.model == model) return true;
    }
    return false;
  }
  // Puts `model` in cooldown (a 429 with Retry-After `seconds` cools any target at once).
  void cool(const std::string& model, int seconds) { health.failure(model, seconds, "x"); }

  std::string judged_by;  // the route state() judges health by: the last one planned
  void advance_s(int seconds) { now += std::int64_t(seconds) * 1000; }
};

// The next step, which must be at `model`, try `attempt`, after `delay` (none on a first try).
void expect_step(Failover& f, const std::string& model, int attempt = 1,
                 std::optional<milliseconds> delay = std::nullopt) {
  auto s = f.next();
  ASSERT_TRUE(s) << "no step; expected one at " << model;
  ASSERT_EQ(s->target->model->name, model);
  ASSERT_EQ(s->attempt, attempt) << model;
  ASSERT_EQ(s->delay, delay ? *delay : milliseconds(0)) << model << " try " << attempt;
}
// The test stops at a wrong step: reporting an outcome without one is a programming error that
// Failover asserts on, which would end the whole binary.
#define STEP(fo, ...) ASSERT_NO_FATAL_FAILURE(expect_step(fo, __VA_ARGS__))

TEST(Failover, ConfigLoads) {
  Fixture f;
  ASSERT_TRUE(f.loaded.config) << test_util::all(f.loaded);
}

// ---- Plain models.

// A plain model is one target, tried once; its success ends the loop and health never hears of it.
TEST(Failover, PlainModelSucceedsWithoutHealth) {
  Fixture f;
  auto p = f.plan("a");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  EXPECT_EQ(fo->target(), &p.targets[0]);
  fo->succeeded(microseconds(5000));
  EXPECT_FALSE(fo->next());
  EXPECT_TRUE(fo->answered());
  EXPECT_EQ(fo->attempts(), 1);
  EXPECT_TRUE(f.health.states().empty());
}

// A plain model's failure, even a retryable one, ends the loop with that error as it is.
TEST(Failover, PlainModelFailureIsTheAnswerAsItIs) {
  Fixture f;
  auto p = f.plan("a");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(http_error(503, "p1"), microseconds(1000));
  EXPECT_FALSE(fo->next());
  EXPECT_FALSE(fo->answered());
  EXPECT_EQ(fo->error().status, 503);
  EXPECT_EQ(fo->error().code, "upstream_error");
  EXPECT_EQ(fo->error().message, "provider 'p1' answered HTTP 503");
  EXPECT_EQ(fo->attempts(), 1);
  EXPECT_TRUE(f.health.states().empty());
}

// ---- Fallback and retries.

// A 5xx falls back to the next target in priority order; each target's health hears its verdict.
TEST(Failover, PriorityRouteFallsBackOn5xx) {
  Fixture f;
  auto p = f.plan("prio");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(http_error(503, "p1"), microseconds(1000));
  EXPECT_FALSE(fo->answered());
  STEP(*fo, "b");
  EXPECT_EQ(fo->target()->model->name, "b");
  fo->succeeded(microseconds(20'000));
  EXPECT_FALSE(fo->next());
  EXPECT_TRUE(fo->answered());
  EXPECT_EQ(fo->attempts(), 2);
  EXPECT_EQ(f.state("a").failures, 1u);
  EXPECT_EQ(f.state("a").last_error, "upstream_error (HTTP 503): provider 'p1' answered HTTP 503");
  EXPECT_EQ(f.state("b").successes, 1u);
  EXPECT_DOUBLE_EQ(f.state("b").latency_ms, 20.0);
}

// Every connect, reset, timeout and protocol failure falls back too (the classes a route names).
TEST(Failover, TransportFailuresFallBack) {
  for (auto e : {Error::upstream_connect("x"), Error::upstream_reset("x"), Error::upstream_timeout("x"),
                 Error::upstream_protocol("x")}) {
    Fixture f;
    auto p = f.plan("prio");
    auto fo = f.failover(p);
    STEP(*fo, "a");
    fo->failed(e, microseconds(1000));
    STEP(*fo, "b");
    fo->succeeded(microseconds(1000));
    EXPECT_EQ(f.state("a").failures, 1u) << to_string(e.kind);
  }
}

// Retries stay on the target with backoff * 2^(retry-1) times the jitter; the target's health
// hears every failed try, the retries' too.
TEST(Failover, RetriesWithExponentialBackoff) {
  Fixture f;
  auto p = f.plan("retry");  // 2 retries, 100 ms
  std::vector<double> factors{0.5, 1.25, 1.0};
  std::size_t i = 0;
  auto fo = f.failover(p, [&] { return factors.at(i++); });
  STEP(*fo, "a");
  fo->failed(http_error(502, "p1"), microseconds(1000));
  STEP(*fo, "a", 2, milliseconds(50));  // 100 * 1 * 0.5
  EXPECT_EQ(f.state("a").failures, 1u) << "the first failed try counts at once";
  fo->failed(Error::upstream_timeout("slow"), microseconds(1000));
  STEP(*fo, "a", 3, milliseconds(250));  // 100 * 2 * 1.25
  fo->failed(http_error(500, "p1"), microseconds(1000));
  EXPECT_EQ(f.state("a").failures, 3u);
  EXPECT_EQ(f.state("a").consecutive_failures, 3);
  STEP(*fo, "b");
  EXPECT_EQ(fo->attempts(), 4);
  fo->failed(http_error(503, "p2"), microseconds(1000));
  STEP(*fo, "b", 2, milliseconds(100));  // each target starts over at 2^0
  fo->succeeded(microseconds(1000));
  EXPECT_FALSE(fo->next());
  EXPECT_EQ(fo->attempts(), 5);
  EXPECT_EQ(f.state("a").state, "cooling")
      << "three failed tries in one request reach the threshold of 3";
  EXPECT_EQ(f.state("b").failures, 1u);
}

// Every failed attempt counts: one request whose three tries at a target fail puts it in cooldown
// (threshold 3), so the next request passes it over. Counting a request's tries as one failure
// would leave it healthy.
TEST(Failover, EveryFailedAttemptCounts) {
  Fixture f;
  auto p = f.plan("retry");  // 2 retries; cools after 3 failures in a row
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(Error::upstream_connect("refused"), microseconds(1));
  STEP(*fo, "a", 2, milliseconds(100));
  fo->failed(Error::upstream_connect("refused"), microseconds(1));
  STEP(*fo, "a", 3, milliseconds(200));
  fo->failed(Error::upstream_connect("refused"), microseconds(1));
  STEP(*fo, "b");
  fo->succeeded(microseconds(1));
  EXPECT_EQ(f.state("a").consecutive_failures, 3);
  auto fo2 = f.failover(p);
  STEP(*fo2, "b");  // a is cooling
  fo2->succeeded(microseconds(1));

  // A 429 with Retry-After, never retried, is recorded once.
  Fixture g;
  auto q = g.plan("retry");
  auto fo3 = g.failover(q);
  STEP(*fo3, "a");
  fo3->failed(http_error(429, "p1", 5), microseconds(1));
  STEP(*fo3, "b");
  fo3->succeeded(microseconds(1));
  EXPECT_EQ(g.state("a").failures, 1u);
}

// The default jitter keeps each delay within [0.5, 1.5) of its base.
TEST(Failover, DefaultJitterStaysInBounds) {
  Fixture f;
  auto p = f.plan("retry");
  bool varied = false;
  std::optional<milliseconds> first;
  for (int n = 0; n < 200; ++n) {
    Failover fo(p, f.health, "req", {});
    STEP(fo, "a");
    fo.failed(http_error(503, "p1"), microseconds(1));
    auto s1 = fo.next();
    ASSERT_TRUE(s1);
    EXPECT_GE(s1->delay, milliseconds(50));
    EXPECT_LT(s1->delay, milliseconds(150));
    fo.failed(http_error(503, "p1"), microseconds(1));
    auto s2 = fo.next();
    ASSERT_TRUE(s2);
    EXPECT_GE(s2->delay, milliseconds(100));
    EXPECT_LT(s2->delay, milliseconds(300));
    if (first && *first != s1->delay) varied = true;
    first = s1->delay;
    fo.succeeded(microseconds(1));  // keeps a healthy for the next round
  }
  EXPECT_TRUE(varied) << "every delay was the same: no jitter";
}

// The backoff's exponent stops growing at 10 (a route built by hand: configs allow 10 retries).
TEST(Failover, BackoffExponentIsCapped) {
  Fixture f;
  auto base = f.plan("a");
  config::RouteConfig route;
  route.retries = 12;
  route.backoff = milliseconds(1);
  Plan p{base.model, &route, base.targets};
  Failover fo(p, f.health, "req", &fixed_jitter);
  STEP(fo, "a");
  const std::vector<long long> delays{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024};
  for (int t = 2; t <= 13; ++t) {
    fo.failed(Error::upstream_connect("refused"), microseconds(1));
    STEP(fo, "a", t, milliseconds(delays[t - 2]));
  }
}

// A 429 is not retried on the same target, however many retries the route has: the next target is
// tried, and the first cools for the provider's Retry-After.
TEST(Failover, RateLimitIsNotRetriedAndCoolsForRetryAfter) {
  Fixture f;
  auto p = f.plan("retry");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(http_error(429, "p1", 30), microseconds(1000));
  STEP(*fo, "b");
  fo->succeeded(microseconds(1000));
  EXPECT_EQ(f.state("a").state, "cooling");
  EXPECT_EQ(f.state("a").cooldown_remaining_ms, 30'000);

  // The next request passes over a while it cools, and takes its probe after.
  auto fo2 = f.failover(p);
  STEP(*fo2, "b");
  fo2->succeeded(microseconds(1000));
  f.advance_s(30);
  auto fo3 = f.failover(p);
  STEP(*fo3, "a");
  fo3->succeeded(microseconds(1000));
  EXPECT_EQ(f.state("a").state, "healthy");
}

// A 429 without Retry-After counts one failure like any other (three in a row cool it).
TEST(Failover, RateLimitWithoutRetryAfterCountsOneFailure) {
  Fixture f;
  auto p = f.plan("prio");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(http_error(429, "p1"), microseconds(1000));
  STEP(*fo, "b");
  EXPECT_EQ(f.state("a").state, "healthy");
  EXPECT_EQ(f.state("a").consecutive_failures, 1);
}

// ---- Failures no other target would fix.

// A 4xx ends the route at once with the error as it is, and the target that answered is healthy.
TEST(Failover, ClientErrorEndsAtOnceAndCountsAsSuccess) {
  Fixture f;
  auto p = f.plan("retry");
  f.cool("a", 5);
  f.advance_s(5);  // a is due its probe: a 4xx brings it back
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(http_error(400, "p1"), microseconds(7000));
  EXPECT_FALSE(fo->next());
  EXPECT_FALSE(fo->answered());
  EXPECT_EQ(fo->error().status, 400);
  EXPECT_EQ(fo->error().message, "provider 'p1' answered HTTP 400");
  EXPECT_EQ(fo->attempts(), 1);
  EXPECT_EQ(f.state("a").state, "healthy");
  EXPECT_EQ(f.state("a").successes, 1u);
  EXPECT_DOUBLE_EQ(f.state("a").latency_ms, 7.0);
  EXPECT_FALSE(f.known("b"));
}

// A failure the route does not fall back on ends it with the error as it is, counted against the
// target, and is not retried either.
TEST(Failover, ClassTheRouteDoesNotFallBackOnEndsIt) {
  Fixture f;
  auto p = f.plan("only5xx");  // 2 retries, but only on 5xx
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(Error::upstream_timeout("the upstream sent nothing"), microseconds(1000));
  EXPECT_FALSE(fo->next());
  EXPECT_FALSE(fo->answered());
  EXPECT_EQ(fo->error().code, "upstream_timeout");
  EXPECT_EQ(fo->error().status, 504);
  EXPECT_EQ(fo->attempts(), 1);
  EXPECT_EQ(f.state("a").failures, 1u);
  EXPECT_EQ(f.state("a").last_error, "upstream_timeout: the upstream sent nothing");
  EXPECT_FALSE(f.known("b"));

  // A 5xx on the same route is still retried, then falls back.
  auto fo2 = f.failover(p);
  STEP(*fo2, "a");
  fo2->failed(http_error(503, "p1"), microseconds(1000));
  STEP(*fo2, "a", 2, milliseconds(100));
}

// Retryable is read first: an upstream failure marked not retryable is never retried or fallen
// back on, whatever its kind; a refused credential (401/403 as 502) that is retryable falls back.
TEST(Failover, NonRetryableUpstreamErrorsAreNeverRetried) {
  for (auto e : {Error::upstream_connect("x"), Error::upstream_reset("x"), http_error(503, "p1"),
                 http_error(429, "p1"), http_error(401, "p1")}) {
    e.retryable = false;
    Fixture f;
    auto p = f.plan("retry");
    auto fo = f.failover(p);
    STEP(*fo, "a");
    fo->failed(e, microseconds(1000));
    EXPECT_FALSE(fo->next()) << e.message;
    EXPECT_EQ(fo->error().status, e.status);
    EXPECT_EQ(f.state("a").failures, 0u);
    EXPECT_FALSE(f.known("b"));
  }
  Fixture f;
  auto p = f.plan("prio");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(http_error(403, "p1"), microseconds(1000));
  STEP(*fo, "b");
}

// The classes, and the constructors' retryable that feeds them.
TEST(Failover, FailureClassReadsRetryableFirst) {
  EXPECT_EQ(failure_class(Error::upstream_timeout("x")), unsigned(config::kFailTimeout));
  EXPECT_EQ(failure_class(Error::upstream_connect("x")), unsigned(config::kFailConnect));
  EXPECT_EQ(failure_class(Error::upstream_reset("x")), unsigned(config::kFailConnect));
  EXPECT_EQ(failure_class(Error::upstream_protocol("x")), unsigned(config::kFail5xx));
  EXPECT_EQ(failure_class(http_error(500, "p")), unsigned(config::kFail5xx));
  EXPECT_EQ(failure_class(http_error(401, "p")), unsigned(config::kFail5xx));
  EXPECT_EQ(failure_class(http_error(429, "p")), unsigned(config::kFail429));
  EXPECT_EQ(failure_class(http_error(404, "p")), 0u);
  EXPECT_EQ(failure_class(Error::bad_request("x")), 0u);
  EXPECT_EQ(failure_class(Error::internal("x")), 0u);
  Error limited;  // the gateway's own rate limit, retryable later: nothing to do with the target
  limited.kind = ErrorKind::kRateLimited;
  limited.source = ErrorSource::kGateway;
  limited.retryable = true;
  limited.status = 429;
  EXPECT_EQ(failure_class(limited), 0u);
  Error reset = Error::upstream_reset("x");
  reset.retryable = false;
  EXPECT_EQ(failure_class(reset), 0u);
}

// ---- Skipped targets.

// Targets that cannot take the request are passed over without a verdict; when none could, the
// last one's reason is the answer as it is (not a 503).
TEST(Failover, SkippedTargetsAndNoTargetCouldTakeIt) {
  Fixture f;
  auto p = f.plan("retry");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->skipped(Error::forbidden("data class 'secret' may not be sent to model 'a'", "permission_denied"));
  STEP(*fo, "b");  // no retry of a
  fo->skipped(Error::bad_request("model 'b' is served by provider 'p2', which does not serve this operation", "model"));
  EXPECT_FALSE(fo->next());
  EXPECT_FALSE(fo->answered());
  EXPECT_EQ(fo->error().status, 400);
  EXPECT_EQ(fo->error().message, "model 'b' is served by provider 'p2', which does not serve this operation");
  EXPECT_FALSE(f.known("a")) << "a skip is no verdict";
  EXPECT_FALSE(f.known("b")) << "a skip is no verdict";
}

// A skip among failures is listed in the 503 by its message, cut to 160 characters.
TEST(Failover, SkipsAreListedInThe503) {
  Fixture f;
  auto p = f.plan("prio");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(http_error(500, "p1"), microseconds(1000));
  STEP(*fo, "b");
  fo->skipped(Error::forbidden(std::string(200, 'k'), "killed"));
  EXPECT_FALSE(fo->next());
  EXPECT_EQ(fo->error().status, 503);
  EXPECT_EQ(fo->error().message,
            "every target of model 'prio' failed: " + summary("a", 500, "p1") + "; b: " + std::string(160, 'k'));
}

// ---- Cooling targets and the 503.

// Every target failing ends in a 503 listing them; the next request passes over the cooling ones
// with their summaries, and makes no attempt at all.
TEST(Failover, CoolingTargetsArePassedOverWithTheirSummaries) {
  Fixture f;
  auto p = f.plan("once");  // cools after 1 failure, for 60 s
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->failed(http_error(503, "p1"), microseconds(1000));
  STEP(*fo, "b");
  fo->failed(http_error(502, "p2"), microseconds(1000));
  EXPECT_FALSE(fo->next());
  EXPECT_FALSE(fo->answered());
  const Error& e = fo->error();
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(e.kind, ErrorKind::kUnavailable);
  EXPECT_EQ(e.source, ErrorSource::kGateway);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.code, "all_targets_failed");
  EXPECT_EQ(e.message, "every target of model 'once' failed: " + summary("a", 503, "p1") + "; " +
                           summary("b", 502, "p2"));

  f.advance_s(1);
  auto fo2 = f.failover(p);
  EXPECT_FALSE(fo2->next());
  EXPECT_EQ(fo2->attempts(), 0);
  EXPECT_EQ(fo2->target(), nullptr);
  EXPECT_EQ(fo2->error().code, "all_targets_failed");
  EXPECT_EQ(fo2->error().message,
            "every target of model 'once' failed: a: cooling down for 59 s more after upstream_error (HTTP 503): "
            "provider 'p1' answered HTTP 503; b: cooling down for 59 s more after upstream_error (HTTP 502): "
            "provider 'p2' answered HTTP 502");
}

// A cooling first target is passed over and named in the 503 when the rest fail too.
TEST(Failover, CoolingTargetCountsAsAFailure) {
  Fixture f;
  auto p = f.plan("prio");
  f.cool("a", 10);
  auto fo = f.failover(p);
  STEP(*fo, "b");
  fo->skipped(Error::forbidden("switched off", "killed"));
  EXPECT_FALSE(fo->next());
  EXPECT_EQ(fo->error().status, 503);  // a was unhealthy: a failure, not "nothing could take it"
  EXPECT_EQ(fo->error().message, "every target of model 'prio' failed: a: cooling down for 10 s more after x; "
                                 "b: switched off");
}

// ---- Probes.

// A failed probe cools the target again for the whole cooldown, not its Retry-After.
TEST(Failover, FailedProbeCoolsAgain) {
  Fixture f;
  auto p = f.plan("prio");
  f.cool("a", 10);
  f.advance_s(10);
  auto fo = f.failover(p);
  STEP(*fo, "a");  // the probe
  fo->failed(http_error(503, "p1"), microseconds(1000));
  STEP(*fo, "b");
  EXPECT_EQ(f.state("a").cooldown_remaining_ms, 300'000);
}

// The probe a Failover holds goes back when it is destroyed mid-attempt or mid-backoff.
TEST(Failover, ProbeGoesBackWhenDestroyedMidLoop) {
  Fixture f;
  auto p = f.plan("retry");
  f.cool("a", 10);
  f.advance_s(10);
  auto fo = f.failover(p);
  STEP(*fo, "a");  // holds the probe
  {
    auto other = f.failover(p);
    STEP(*other, "b");  // a's probe is out
    other->succeeded(microseconds(1000));
  }
  fo.reset();  // mid-attempt
  auto again = f.failover(p);
  STEP(*again, "a");  // the probe is free again
  again->failed(http_error(503, "p1"), microseconds(1000));
  again.reset();  // mid-backoff: the retry was never made
  // The failed try was counted at once (every attempt counts): the probe was spent on it and the
  // target cools again; after that cooldown the next probe is free, not stuck.
  std::string why;
  EXPECT_FALSE(f.health.acquire("a", 3, std::chrono::seconds(300), why));
  f.advance_s(300);
  EXPECT_TRUE(f.health.acquire("a", 3, std::chrono::seconds(300), why).probe) << why;
}

// The client leaving ends the loop with no verdict: the probe goes back, nothing is counted.
TEST(Failover, AbandonedHandsTheProbeBack) {
  Fixture f;
  auto p = f.plan("prio");
  f.cool("a", 10);
  f.advance_s(10);
  const auto before = f.state("a");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->abandoned();
  EXPECT_TRUE(fo->answered());  // nothing to send
  EXPECT_FALSE(fo->next());
  EXPECT_EQ(f.state("a").failures, before.failures);
  EXPECT_EQ(f.state("a").successes, before.successes);
  auto next = f.failover(p);
  STEP(*next, "a");  // the probe, again
}

// A probe that succeeds brings its target back.
TEST(Failover, SuccessfulProbeBringsTheTargetBack) {
  Fixture f;
  auto p = f.plan("prio");
  f.cool("a", 10);
  f.advance_s(10);
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->succeeded(microseconds(3000));
  fo.reset();
  EXPECT_EQ(f.state("a").state, "healthy");
  EXPECT_EQ(f.state("a").consecutive_failures, 0);
}

// ---- Streams.

// A stream that broke after it started counts against its target (and ends the loop: the client
// has its answer, so there is no error to send).
TEST(Failover, BrokenStreamCountsAFailure) {
  Fixture f;
  auto p = f.plan("once");
  auto fo = f.failover(p);
  STEP(*fo, "a");
  fo->broke("upstream_stream_error");
  EXPECT_TRUE(fo->answered());
  EXPECT_FALSE(fo->next());
  EXPECT_EQ(f.state("a").failures, 1u);
  EXPECT_EQ(f.state("a").state, "cooling");
  EXPECT_EQ(f.state("a").last_error, "the stream broke after it started (upstream_stream_error)");
  EXPECT_FALSE(f.known("b"));

  // A plain model's broken stream touches no health.
  Fixture g;
  auto plain = g.plan("a");
  auto fo2 = g.failover(plain);
  STEP(*fo2, "a");
  fo2->broke("x");
  EXPECT_TRUE(fo2->answered());
  EXPECT_TRUE(g.health.states().empty());
}

// ---- Health shared by routes, each with its own thresholds.

// One failure at a is seen by every route that uses it: "once" (threshold 1) passes it over,
// "patient" (threshold 5) still tries it, and patient's success makes it healthy for "once" too.
TEST(Failover, HealthIsSharedAndEachRouteAppliesItsThresholds) {
  Fixture f;
  auto once = f.plan("once");
  auto patient = f.plan("patient");
  auto fo = f.failover(once);
  STEP(*fo, "a");
  fo->failed(http_error(503, "p1"), microseconds(1));
  STEP(*fo, "b");
  fo->succeeded(microseconds(1));

  auto fo2 = f.failover(once);
  STEP(*fo2, "b");  // a cools for "once"
  fo2->succeeded(microseconds(1));
  EXPECT_EQ(f.state("a", "once").state, "cooling");
  EXPECT_EQ(f.state("a", "patient").state, "healthy");
  EXPECT_EQ(f.state("a", "patient").consecutive_failures, 1) << "patient sees once's failure";

  auto fo3 = f.failover(patient);
  STEP(*fo3, "a");  // one failure is far from patient's 5
  fo3->succeeded(microseconds(1));
  auto fo4 = f.failover(once);
  STEP(*fo4, "a");  // the endpoint answered: healthy for every route
  fo4->succeeded(microseconds(1));

  // Failures from both routes add up: four via patient and once's failed probe reach patient's 5.
  for (int i = 0; i < 4; ++i) {
    auto r = f.failover(patient);
    STEP(*r, "a");
    r->failed(http_error(500, "p1"), microseconds(1));
    STEP(*r, "b");
    r->succeeded(microseconds(1));
  }
  auto last = f.failover(once);
  STEP(*last, "b");  // cooling for once since the first of them
  last->succeeded(microseconds(1));
  EXPECT_EQ(f.state("a", "patient").state, "healthy");
  f.advance_s(60);
  auto probe = f.failover(once);  // once's cooldown is over: it takes the probe
  STEP(*probe, "a");
  probe->failed(http_error(500, "p1"), microseconds(1));
  STEP(*probe, "b");
  probe->succeeded(microseconds(1));
  EXPECT_EQ(f.state("a", "patient").consecutive_failures, 5);
  EXPECT_EQ(f.state("a", "patient").state, "cooling");
  auto p2 = f.failover(patient);
  STEP(*p2, "b");  // 5 in a row: cooling for patient as well, for its own 600 s
  p2->succeeded(microseconds(1));
  EXPECT_EQ(f.state("a", "patient").cooldown_remaining_ms, 600'000);
  EXPECT_EQ(f.state("a", "once").cooldown_remaining_ms, 60'000)
      << "the failed probe restarts once's cooldown";
}

// A timeout at a target whose route entry sets its own timeouts counts for that route alone:
// "strict" (first_byte_ms 100, threshold 1) passes a over afterwards, "once" (same threshold,
// the provider's timeouts) still tries it; a success via strict forgets it.
TEST(Failover, StricterTimeoutCountsForItsRouteAlone) {
  Fixture f;
  auto strict = f.plan("strict");
  auto once = f.plan("once");
  auto fo = f.failover(strict);
  STEP(*fo, "a");
  fo->failed(Error::upstream_timeout("no first byte in 100 ms"), microseconds(1));
  STEP(*fo, "b");
  fo->succeeded(microseconds(1));
  EXPECT_FALSE(f.known("a") && f.state("a").failures > 0)
      << "the shared health counted strict's timeout";
  EXPECT_EQ(f.state("a@strict", "strict").state, "cooling");

  auto fo2 = f.failover(strict);
  STEP(*fo2, "b");
  fo2->failed(http_error(500, "p2"), microseconds(1));
  EXPECT_FALSE(fo2->next());
  EXPECT_NE(fo2->error().message.find("a: for this route, cooling down for 60 s more"),
            std::string::npos)
      << fo2->error().message;

  auto fo3 = f.failover(once);
  STEP(*fo3, "a");  // once never saw it
  fo3->succeeded(microseconds(1));

  // Other failures at a via strict are the endpoint's, shared.
  f.advance_s(60);
  auto fo4 = f.failover(strict);
  STEP(*fo4, "a");  // strict's probe
  fo4->failed(http_error(503, "p1"), microseconds(1));
  STEP(*fo4, "b");
  fo4->succeeded(microseconds(1));
  EXPECT_EQ(f.state("a", "once").failures, 1u);
  EXPECT_EQ(f.state("a", "once").state, "cooling");

  // A success via strict clears what strict held against a.
  f.advance_s(60);
  auto fo5 = f.failover(strict);
  STEP(*fo5, "a");
  fo5->succeeded(microseconds(1));
  EXPECT_FALSE(f.known("a@strict"));
  EXPECT_EQ(f.state("a", "once").state, "healthy");

  // A timeout via a route that does not override the provider's timeouts is the endpoint's.
  auto fo6 = f.failover(once);
  STEP(*fo6, "a");
  fo6->failed(Error::upstream_timeout("slow"), microseconds(1));
  STEP(*fo6, "b");
  fo6->succeeded(microseconds(1));
  EXPECT_EQ(f.state("a", "strict").state, "cooling");
  EXPECT_FALSE(f.known("a@once"));
}

}  // namespace
}  // namespace gatehouse::route
