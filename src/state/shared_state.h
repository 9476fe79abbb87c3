// State several replicas share, in Redis (state.redis; docs/scale-out.md):
//
// * admission: every rate limit (requests and tokens per minute, concurrency) and every budget a
//   request touches, checked and taken in one Lua script — all or nothing, one round trip — with
//   Redis's clock, so no two replicas can both take the last slot or the last dollar;
//   concurrency slots and budget reservations are leases that this replica renews while its
//   requests run, so a replica that dies gives them back within state.redis.lease_ms;
// * settlement: one more script (fire and forget) with the real tokens and cost;
// * spend: each budget's spend per period, seeded once from the store (SET NX: never added up
//   by several replicas) and then only incremented;
// * switches and health: kills are kept in a Redis hash and announced on a channel, target
//   failures and recoveries announced on it too; every replica applies them to its own
//   KillSwitch / TargetHealth (read from memory on the request path).
//
// Redis trouble never holds a request past state.redis.timeout_ms. on_error: local admits
// against this replica's own counters (logged once per outage, counted in
// gatehouse_shared_state_fallbacks_total) and tries Redis again after kRetryAfterFailure;
// on_error: deny refuses with 503 shared_state_unavailable.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "limit/shared.h"

namespace gatehouse::pipeline {
class KillSwitch;
}
namespace gatehouse::route {
class TargetHealth;
}
namespace gatehouse::state {

class RedisClient;
struct RedisReply;

struct SharedDecision {
  enum Source { kShared, kLocal, kUnavailable } source = kShared;
  limit::Admission limits;          // admitted when nothing limited the request
  limit::BudgetAdmission budgets;   // admitted when nothing was spent
  std::shared_ptr<limit::SharedTicket> ticket;  // kShared and admitted: what to settle
  std::string why;                  // kUnavailable / kLocal: what went wrong with Redis
};

// A budget's spend in one period, from the store (services' load_spend).
struct SpendSeed {
  std::string subject;
  limit::Period period;
  std::int64_t start_ms;
  double usd;
};

class SharedState : public std::enable_shared_from_this<SharedState> {
 public:
  static constexpr std::chrono::milliseconds kRetryAfterFailure{1'000};

  // `limiter` and `budgets` (null without a store) are this replica's own, for on_error: local.
  static std::shared_ptr<SharedState> start(config::RedisConfig config, std::shared_ptr<limit::Limiter> limiter,
                                            std::shared_ptr<limit::Budgets> budgets);
  ~SharedState();

  const config::RedisConfig& config() const { return config_; }
  // Admits `pending` (see the file comment). Never waits longer than timeout_ms on Redis.
  boost::asio::awaitable<SharedDecision> admit(std::shared_ptr<const limit::PendingAdmission> pending);
  // Seeds budgets' spend (only where Redis has none for that period yet). `source` gives them
  // again when Redis has lost its data (read on the client's thread; may be empty).
  void seed(std::vector<SpendSeed> spend);
  void seeds_from(std::function<std::vector<SpendSeed>()> source) { seeds_ = std::move(source); }
  // Fails what waits on Redis and stops the clients' threads (before the workers go). Idempotent.
  void stop();
  // What a subject has spent in the current period of `p` according to Redis (tests, admin;
  // blocking, at most timeout_ms; nullopt when Redis cannot say).
  std::optional<double> spent(const std::string& subject, limit::Period p);

  // Kills and target health: this replica's changes go to the others, theirs come here.
  void attach(std::shared_ptr<pipeline::KillSwitch> kills, std::shared_ptr<route::TargetHealth> health);

  // A settlement crossed a budget's warn_at (reported by one replica only); runs on the Redis
  // client's thread. Set before serving.
  void on_budget_warning(std::function<void(const limit::BudgetWarning&)> fn) { on_budget_warning_ = std::move(fn); }

  // gatehouse_shared_state_up, gatehouse_shared_state_fallbacks_total (a metrics Collector).
  void render_metrics(std::string& out) const;

 private:
  SharedState(config::RedisConfig config, std::shared_ptr<limit::Limiter> limiter,
              std::shared_ptr<limit::Budgets> budgets);
  class Ticket;
  class OwedTicket;
  friend class Ticket;
  friend class OwedTicket;
  // What one admission sent: its id, its budget member, the requirements sent (indices into
  // PendingAdmission::limits), whether budgets were, and when.
  struct Sent {
    std::string id, member;
    std::vector<std::size_t> indices;
    bool budgets = false;
    std::int64_t now_ms = 0;
  };
  SharedDecision decide(const limit::PendingAdmission& pending, const Sent& sent, const RedisReply& reply);
  SharedDecision local(const limit::PendingAdmission& pending, std::string why);
  void connected();
  void push_kill_change(std::vector<std::string> change);
  void owe(const std::vector<std::string>& subjects, double cost_usd, std::int64_t now_ms);
  void mirror_spend(const std::vector<std::string>& subjects, double cost_usd, std::int64_t now_ms);
  void note_failure(const std::string& why);
  void start_renewal();
  void arm_renewal();
  void renew_leases();
  void forget_leases(const std::string& ticket_id);
  void on_event(std::string_view message);
  void reload_kills();

  config::RedisConfig config_;
  std::shared_ptr<limit::Limiter> limiter_;
  std::shared_ptr<limit::Budgets> budgets_;
  std::unique_ptr<RedisClient> redis_, events_;
  std::shared_ptr<pipeline::KillSwitch> kills_;
  std::shared_ptr<route::TargetHealth> health_;
  std::string replica_;  // this process's id in announcements (its own are ignored)
  std::atomic<std::int64_t> skip_until_ms_{0};  // after a failure, Redis is left alone until then
  std::atomic<bool> degraded_{false};
  std::atomic<bool> attached_{false};
  std::atomic<bool> settle_warned_{false};  // a failed settlement was logged (this outage)  // kills_ and health_ are set (the client threads read them)            // logged once per outage
  std::atomic<std::uint64_t> fallbacks_{0}, denials_{0};
  // Leases held by this replica's running requests (key, member), renewed every lease / 3.
  struct Lease {
    std::string key, member;
  };
  std::mutex leases_mu_;
  std::unordered_multimap<std::string, Lease> leases_;  // by ticket id
  std::unique_ptr<boost::asio::steady_timer> renewal_;  // on the client's io_context
  std::function<std::vector<SpendSeed>()> seeds_;
  std::string epoch_;  // Redis's gh:epoch as last seen (client thread)
  std::mutex owed_mu_;
  std::vector<std::vector<std::string>> unsynced_kills_;              // kill changes Redis has not had
  std::map<std::string, std::pair<double, std::int64_t>> owed_;       // spend key -> (usd, ttl s)
  std::function<void(const limit::BudgetWarning&)> on_budget_warning_;
};

}  // namespace gatehouse::state
