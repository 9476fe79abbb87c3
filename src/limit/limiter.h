// Rate limits: queries per minute, tokens per minute and requests in flight, counted per subject
// ("key:ci-bot", "model:chat-small", "group:data-science", ...). The limit stage (pipeline/limit.h)
// turns the configured rules into Requirements for each request; the Limiter decides, atomically
// for all of them, and remembers what it charged in a Ticket that the request settles once it
// knows its real token usage.
//
// Counters outlive config reloads (the limiter lives in pipeline::Services): a reload never
// resets a window. InProcessLimiter keeps them in this process; a Redis limiter (for several
// replicas) implements the same interface.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "limit/clock.h"
#include "limit/window.h"

namespace gatehouse::limit {

enum class Metric { kRequests, kTokens, kConcurrency };

// One limit a request must meet: at least one option must have room. Several options stand for a
// caller's groups (Databricks' rule: a user in several limited groups is refused only when every
// one of them is spent); the first with room is charged.
struct Requirement {
  struct Option {
    std::string subject;  // the counter: "key:ci-bot"
    long long limit = 0;  // per minute (requests, tokens) or at once (concurrency)
    std::string label;    // for messages: "key 'ci-bot'"
  };
  Metric metric = Metric::kRequests;
  std::vector<Option> options;
};

// What a request was charged, to be settled exactly once (the limit stage's on_complete).
struct Ticket {
  struct Charge {
    std::shared_ptr<struct Counter> counter;
    Metric metric;
    long long amount;
    std::int64_t at_s;
  };
  std::vector<Charge> charges;
  long long reserved_tokens = 0;
  bool settled = false;
};

// The x-ratelimit-* view of one metric after the decision: the tightest applicable limit.
struct HeaderView {
  bool set = false;
  long long limit = 0, remaining = 0;
  std::int64_t reset_s = 0;
};

struct Admission {
  bool admitted = false;
  // Rejected: the limit that said no.
  Metric metric = Metric::kRequests;
  std::string label;        // "key 'ci-bot'"
  long long limit = 0;
  std::int64_t retry_after_s = 0;  // -1: never (the request alone is bigger than the limit)
  long long needed = 0;     // tokens the request needed (token limits)
  // Both ways: what the response's x-ratelimit-* headers say.
  HeaderView requests, tokens;
  std::shared_ptr<Ticket> ticket;  // admitted: what to settle
};

// The per-subject state. Internal to limiters; in this header for Ticket.
struct Counter {
  Window requests, tokens;
  long long in_flight = 0;
};

class Limiter {
 public:
  virtual ~Limiter() = default;
  // Decides `requirements` for a request expected to use `tokens` tokens: either every one is
  // met and all are charged, or none is charged. Runs on a worker: no I/O, no waiting.
  virtual Admission admit(std::span<const Requirement> requirements, long long tokens) = 0;
  // Replaces the token estimate with `actual_tokens` and ends the request's concurrency. Once per
  // ticket (later calls do nothing). Runs on a worker.
  virtual void settle(Ticket& ticket, long long actual_tokens) = 0;
};

// Counters in this process, behind one mutex (each decision is a few dozen instructions; the
// lock also makes a multi-counter decision atomic). Idle counters are swept so memory does not
// grow with the number of distinct users ever seen.
class InProcessLimiter final : public Limiter {
 public:
  explicit InProcessLimiter(Clock clock = system_clock()) : clock_(std::move(clock)) {}
  Admission admit(std::span<const Requirement> requirements, long long tokens) override;
  void settle(Ticket& ticket, long long actual_tokens) override;

  std::size_t subjects() const;  // counters held (tests)

 private:
  std::shared_ptr<Counter> counter(const std::string& subject);
  void sweep(std::int64_t now_s);

  Clock clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Counter>> counters_;
  std::int64_t last_sweep_s_ = 0;
};

// "1s", "59s", "1m0s", "1m30s": OpenAI's x-ratelimit-reset-* format.
std::string format_reset(std::int64_t seconds);

}  // namespace gatehouse::limit
