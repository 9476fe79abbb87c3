// The decisions of serving one request from a plan, apart from its I/O: which target to try next,
// whether to retry it and after how long, when to fall back, what each attempt tells the target's
// health, and the error the client gets when no target answered. No sockets, no timers: the
// gateway drives it, sleeps the delays it asks for and makes the attempts.
//
//   route::Failover failover(plan, health, request_id);
//   while (auto step = failover.next()) {
//     if (step->delay.count() > 0) co_await sleep(step->delay);
//     // the stages' per-attempt checks, then the attempt at *step->target; then exactly one of
//     // skipped / failed / succeeded / broke / abandoned
//   }
//   if (!failover.answered()) respond_error(failover.error());
//
// A plain model (plan.route == null) is one target tried once, and health is never consulted.
// A route tries its targets in plan order: each must pass TargetHealth::acquire with the route's
// thresholds, for the target's shared health and for its route-scoped entry (a cooling target is
// skipped and counts as a failure), is tried 1 + retries times on the failures the route falls
// back on (never twice after a 429), and then the next target is tried. Every failed attempt
// counts against the target; a timeout where the route's entry sets its own timeouts counts for
// this route alone (route/health.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "route/health.h"
#include "route/router.h"

namespace gatehouse::route {

// Which of a route's failure classes (config::kFail5xx / kFail429 / kFailTimeout / kFailConnect)
// an attempt's error is. 0 when no other attempt would do better: the error is not retryable
// (Error::retryable, read first: the request itself is wrong, a 4xx) or is not the upstream's (a
// gateway limit). The one place a route decides whether to retry or fall back.
unsigned failure_class(const Error& e);

class Failover {
 public:
  // A factor for a retry's backoff, in [0.5, 1.5): spreads the retries of many requests apart.
  using Jitter = std::function<double()>;

  // One attempt to make: at `target`, after waiting `delay` (a retry's backoff; 0 on a target's
  // first try). `attempt` counts the tries at this target, from 1.
  struct Step {
    const Target* target = nullptr;
    std::chrono::milliseconds delay{0};
    int attempt = 1;
  };

  // `plan` and `health` must outlive the Failover; `request_id` prefixes its log lines. `jitter`
  // defaults to a per-thread generator (tests pass a fixed one).
  Failover(const Plan& plan, TargetHealth& health, std::string request_id, Jitter jitter = {});
  // A probe still held (the loop was left mid-attempt or mid-backoff: an exception, a cancelled
  // sleep) is handed back: a target must never stay "probing" for ever.
  ~Failover();
  Failover(const Failover&) = delete;
  Failover& operator=(const Failover&) = delete;

  // Called at the top of the loop, first and after each outcome: the attempt to make next, or
  // nothing when the loop is over (answered(), or error() is the client's answer). A route's
  // next target is acquired from health here; targets it refuses are passed over and remembered
  // for the 503. Must not be called again before the step's outcome is reported.
  std::optional<Step> next();

  // The step's target cannot take this request and nothing was sent to it: a stage refused it
  // (kill switch, data class) or its provider lacks the operation. Its probe goes back and the
  // next target is tried (no retry). When no target ever took the request, `error` is the
  // client's answer as it is.
  void skipped(Error error);
  // The attempt failed before anything reached the client; `took` is how long it ran. Decides
  // from failure_class(error) and the route: retry this target (next() returns it again, with a
  // backoff), fall back (next() moves on), or end with
  // `error` as it is (a plain model; a failure no other target would fix, which counts as the
  // target's success; a class this route does not fall back on). Every failure of a class the
  // route knows counts against the target's health, retried or not.
  void failed(Error error, std::chrono::microseconds took);
  // The answer is complete (or, for a stream, whole from the provider): the target is healthy,
  // `latency` (a stream's time to first byte, else the whole exchange) feeds its EWMA. Ends the
  // loop.
  void succeeded(std::chrono::microseconds latency);
  // A stream that had started failed later (`code`: the error code the client was sent): too late
  // to fall back, not too late to count against the target. Ends the loop (the client has had its
  // answer).
  void broke(std::string_view code);
  // The client left: no verdict on the target, whose probe goes back. Ends the loop. May be called
  // at any time, with or without a step in progress.
  void abandoned();

  // Whether the client needs no error from the gateway: an answer went out (complete, or a stream
  // that broke after it started) or the client left. False while the loop runs.
  bool answered() const { return state_ == State::kAnswered; }
  // The client's answer once next() returned nothing and !answered(): the last target's error as
  // it is, or — when some target was tried and failed or was skipped as unhealthy — a 503
  // all_targets_failed listing every target's fate.
  const Error& error() const { return error_; }
  // The target of the latest step (the one being tried, or the last one tried); null before the
  // first step.
  const Target* target() const { return target_; }
  // Steps handed out so far (retries included; targets health refused are not counted).
  int attempts() const { return attempts_; }

 private:
  enum class State { kChoosing, kAttempting, kRetrying, kAnswered, kEnded };

  std::chrono::milliseconds backoff_for(int retry);
  Step step(std::chrono::milliseconds delay);
  void move_on(std::string summary, bool upstream_failed);
  void end_with(Error error);
  void finish();
  void count_failure(const Error& error, int retry_after_s, const std::string& summary);
  void count_success(std::chrono::microseconds latency);
  void release_probes();
  const std::string& name() const { return target_->model->name; }

  const Plan& plan_;
  TargetHealth& health_;
  std::string request_id_;
  Jitter jitter_;
  State state_ = State::kChoosing;
  std::size_t next_index_ = 0;         // the next target of plan_.targets to consider
  const Target* target_ = nullptr;
  TargetHealth::Pass pass_;            // the current target's: whether this request holds its probe
  std::string scoped_key_;             // the current target's scoped_key() for this route
  TargetHealth::Pass scoped_pass_;     // whether this request holds the scoped entry's probe
  int tries_ = 0;                      // at the current target so far
  int attempts_ = 0;
  std::optional<Error> last_error_;
  std::vector<std::string> summaries_;  // a route's failures, one per target tried or skipped
  bool failed_upstream_ = false;        // some target was tried and failed, or skipped as unhealthy
  Error error_;
};

}  // namespace gatehouse::route
