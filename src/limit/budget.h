// Budgets: US dollars a key or a project may spend per day, week, month or in total. The ledger
// knows every key's and project's spend in each current period (loaded from the usage records at
// start, then kept up to date as requests settle), so a budget added by a reload sees what was
// already spent. Requests in flight reserve their estimated cost: a burst of concurrent requests
// cannot all slip in under the same remaining dollars.
//
// Like the limiter, the ledger lives in pipeline::Services and outlives reloads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "limit/clock.h"

namespace gatehouse::limit {

enum class Period { kDaily, kWeekly, kMonthly, kTotal };
constexpr std::size_t kPeriods = 4;
std::string_view to_string(Period p);

// When the period holding `now_ms` began and when it ends (unix ms, UTC; weeks start on Monday).
// kTotal: from 0, never ending (end = -1).
std::int64_t period_start_ms(Period p, std::int64_t now_ms);
std::int64_t period_end_ms(Period p, std::int64_t now_ms);

// One budget that applies to a request.
struct BudgetCheck {
  std::string subject;  // "key:ci-bot", "project:p1"
  Period period = Period::kMonthly;
  double usd = 0;
  double warn_at = 0;   // a fraction of usd; 0: no warning
  std::string label;    // "key 'ci-bot'"
};

struct BudgetTicket {
  std::vector<std::string> subjects;  // charged on settle (every key and project of the request)
  std::vector<BudgetCheck> checks;    // the budgets that applied (for warnings)
  double reserved = 0;
  bool settled = false;
};

struct BudgetAdmission {
  bool admitted = false;
  // Refused: the budget that is spent.
  BudgetCheck spent_budget;
  double spent = 0;
  std::int64_t resets_in_s = -1;  // -1: never (a total budget)
  std::shared_ptr<BudgetTicket> ticket;  // admitted
};

// A budget whose warn_at threshold a settlement crossed (reported once per period).
struct BudgetWarning {
  BudgetCheck budget;
  double spent = 0;
};

// Where spend is kept. BudgetLedger keeps it in this process; an implementation over a shared
// store (Redis) would let several replicas share budgets. Thread-safe; no I/O on admit/settle.
class Budgets {
 public:
  virtual ~Budgets() = default;
  // What `subject` had spent in the period of `p` starting at `start_ms` before this process
  // started (from the usage records). Call before serving.
  virtual void load(const std::string& subject, Period p, std::int64_t start_ms, double spent) = 0;
  // Admits a request when none of `checks` is spent (spend plus the estimates of requests in
  // flight below the budget), reserving `estimated_cost` on every one of `subjects`.
  virtual BudgetAdmission admit(std::span<const BudgetCheck> checks, std::vector<std::string> subjects,
                                double estimated_cost) = 0;
  // Replaces the reservation with `actual_cost`. Once per ticket. Returns the warnings crossed.
  virtual std::vector<BudgetWarning> settle(BudgetTicket& ticket, double actual_cost) = 0;
  // What `subject` has spent in the current period of `p` (tests, admin).
  virtual double spent(const std::string& subject, Period p) = 0;
};

class BudgetLedger final : public Budgets {
 public:
  explicit BudgetLedger(Clock clock = system_clock()) : clock_(std::move(clock)) {}

  void load(const std::string& subject, Period p, std::int64_t start_ms, double spent) override;
  BudgetAdmission admit(std::span<const BudgetCheck> checks, std::vector<std::string> subjects,
                        double estimated_cost) override;
  std::vector<BudgetWarning> settle(BudgetTicket& ticket, double actual_cost) override;
  double spent(const std::string& subject, Period p) override;

 private:
  struct Entry {
    std::array<std::int64_t, kPeriods> start{};  // the period each total is for
    std::array<double, kPeriods> spent{};
    std::array<bool, kPeriods> warned{};
    double reserved = 0;
  };
  Entry& entry(const std::string& subject, std::int64_t now_ms);  // rolled to now's periods

  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace gatehouse::limit
