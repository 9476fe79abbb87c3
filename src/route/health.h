// What the gateway knows about each route target's recent behaviour, shared by every worker and
// kept across reloads (it lives in pipeline::Services, keyed by the target's model name):
// consecutive failures, the time of the last one, a provider's Retry-After deadline, the one probe
// after a cooldown, and recent latency.
//
// A target's health is the endpoint's, shared by every route that uses it; each route applies its
// own thresholds when it asks (acquire). For a route with threshold T and cooldown C:
//
//   healthy --(T failures in a row, or a 429 with Retry-After)--> cooling (for this route)
//   cooling --(C since the last failure, and the Retry-After deadline, have passed)--> probing
//   probing --success--> healthy (for every route)
//   probing --failure--> cooling again, for every route, each for its own full cooldown
//
// The probe is one per target, whichever route's request takes it. A failure that only one route
// would see (its own stricter timeout) is recorded under a route-scoped key, scoped_key(), that
// only that route consults besides the shared one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "limit/clock.h"

namespace gatehouse::route {

// The key under which failures that count for route `route` alone are kept for target `model`.
inline std::string scoped_key(std::string_view model, std::string_view route) {
  std::string key(model);
  key += '@';
  key += route;
  return key;
}

// One route's thresholds for a target: `threshold` failures in a row cool it for `cooldown`.
struct Policy {
  int threshold = 3;
  std::chrono::seconds cooldown{300};
};
// The policies of every route, by the key they consult (a target's model name, or a scoped_key).
using Policies = std::map<std::string, std::vector<Policy>, std::less<>>;

// A failure or a recovery, as another replica learns of it (state/shared_state.h).
struct HealthEvent {
  bool failure = false;  // else a recovery (a success after failures)
  std::string key;
  int retry_after_s = -1;
  std::string summary;
  std::int64_t latency_us = 0;
};

struct TargetState {
  std::string model;  // the key: a target's model name, or a scoped_key()
  std::string target,
      route;  // a scoped entry's target and route; target == model, route empty otherwise
  // "cooling": for at least one route that uses it (or under a provider's Retry-After);
  // "probing": cooled down, waiting for (or holding) the probe that decides; "healthy" otherwise.
  std::string state;
  int consecutive_failures = 0;
  std::int64_t cooldown_remaining_ms = 0;  // the longest any route still waits
  double latency_ms = -1;         // recent latency (EWMA); -1: none measured yet
  std::uint64_t successes = 0, failures = 0;
  std::string last_error;         // the last failure's summary (never a secret)
};

class TargetHealth {
 public:
  explicit TargetHealth(limit::Clock clock = limit::system_clock()) : clock_(std::move(clock)) {}

  // May a request try a target? `probe`: it holds the single probe after a cooldown (and must
  // hand it back: success, failure(probe = true) or release(probe = true)).
  struct Pass {
    bool ok = false;
    bool probe = false;
    operator bool() const { return ok; }
  };
  // Whether a request of a route with `threshold` and `cooldown` may try `key` now. Refused while
  // a provider's Retry-After deadline has not passed, or while the failures in a row reach
  // `threshold` (or a probe failed) and less than `cooldown` has passed since the last failure;
  // after that, this request takes the single probe (refused while another holds it). `why` says
  // why not ("cooling down for 240 s more after ...", "a probe is in flight"). A key never failed
  // is let through and not created.
  Pass acquire(const std::string& key, int threshold, std::chrono::seconds cooldown,
               std::string& why);
  // The attempt worked: the target is healthy again for every route; `latency` feeds the EWMA.
  void success(const std::string& key, std::chrono::microseconds latency);
  // A route-scoped entry is no longer needed (its target answered that route): forgotten.
  void clear(const std::string& key);
  // The attempt failed in a way routes count: one more failure in a row, now the last failure
  // (which restarts every route's cooldown). `retry_after_s` >= 0: the provider said how long not
  // to come back; no route tries it before then. A failed probe (`probe`: the attempt held it)
  // puts the target back in cooldown for every route, whatever its threshold.
  void failure(const std::string& key, int retry_after_s, std::string summary, bool probe = false);
  // The attempt ended without a verdict (the client left): the probe it held (`probe`) is handed
  // back; an attempt that held none changes nothing.
  void release(const std::string& key, bool probe);

  // Told of every failure and of every recovery (a success that ended failures), outside the
  // lock; may be set while requests run (a reload).
  void set_observer(std::function<void(const HealthEvent&)> observer);
  // Another replica's event: applied here as if it were this one's, and not announced.
  void apply(const HealthEvent& event);

  // Recent latency in ms, or -1 when none was measured.
  double latency_ms(const std::string& key);
  // Every key seen, by name (admin API, metrics), judged by the `policies` of the routes that
  // consult it (a key without any is judged only by its Retry-After and a failed probe).
  std::vector<TargetState> states(const Policies& policies = {});

 private:
  struct Entry {
    int consecutive_failures = 0;
    std::int64_t last_failure_ms = 0;
    std::int64_t retry_after_until_ms = 0;  // 0: none; stays set (past) until a success
    bool probe_failed = false;              // the last probe failed: down for every route
    bool probing = false;                   // the probe after a cooldown is out
    double latency_ms = -1;
    std::uint64_t successes = 0, failures = 0;
    std::string last_error;
  };
  // How long `e` still cools for a route with `p` (0: not cooling), and whether that route would
  // need a probe to try it.
  static std::int64_t cooling_ms(const Entry& e, const Policy& p, std::int64_t now,
                                 bool& needs_probe);

  void announce(const HealthEvent& event) const;
  // Without announcing: what success() and failure() do; success returns whether it was a recovery.
  bool record_success(const std::string& key, std::chrono::microseconds latency);
  void record_failure(const std::string& key, int retry_after_s, std::string summary, bool probe);

  limit::Clock clock_;
  std::atomic<std::shared_ptr<const std::function<void(const HealthEvent&)>>> observer_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace gatehouse::route
