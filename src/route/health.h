// What the gateway knows about each route target's recent behaviour, shared by every worker and
// kept across reloads (it lives in pipeline::Services, keyed by the target's model name):
// consecutive failures, cooldown, the one probe after a cooldown, and recent latency.
//
//   healthy --(cooldown_failures in a row, or a 429 with Retry-After)--> cooling
//   cooling --(the cooldown has passed; one request takes the probe)--> probing
//   probing --success--> healthy      probing --failure--> cooling (again, for the full cooldown)
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "limit/clock.h"

namespace gatehouse::route {

struct TargetState {
  std::string model;
  std::string state;              // "healthy", "cooling", "probing"
  int consecutive_failures = 0;
  std::int64_t cooldown_remaining_ms = 0;
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
  // Whether a request may try `model` now: healthy, or cooled down and this request takes the
  // single probe. `why` says why not ("cooling down for 240 s more", "a probe is in flight").
  Pass acquire(const std::string& model, std::string& why);
  // The attempt worked: the target is healthy again; `latency` feeds the EWMA.
  void success(const std::string& model, std::chrono::microseconds latency);
  // The attempt failed in a way routes count. After `threshold` in a row (or at once with
  // `retry_after_s` >= 0: the provider said how long) the target cools for `cooldown` (or
  // retry_after_s). A failed probe (`probe`: the attempt held it) cools it again at once.
  void failure(const std::string& model, int threshold, std::chrono::seconds cooldown, int retry_after_s,
               std::string summary, bool probe = false);
  // The attempt ended without a verdict (the client left): the probe it held (`probe`) is handed
  // back; an attempt that held none changes nothing.
  void release(const std::string& model, bool probe);

  // Recent latency in ms, or -1 when none was measured.
  double latency_ms(const std::string& model);
  // Every target seen, by name (admin API, metrics).
  std::vector<TargetState> states();

 private:
  struct Entry {
    int consecutive_failures = 0;
    std::int64_t cooling_until_ms = 0;  // 0: not cooling
    bool probing = false;               // the probe after a cooldown is out
    double latency_ms = -1;
    std::uint64_t successes = 0, failures = 0;
    std::string last_error;
  };

  limit::Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace gatehouse::route
