// Admission against counters several replicas share (state::SharedState, over Redis). With a
// shared store configured, the limit and budget stages do not decide in on_routed: they leave
// what a request needs here, and the LLM path makes one awaited admission for all of it — every
// rate limit and every budget checked and taken together, or nothing taken
// (docs/architecture.md, "Shared state across replicas"). Plain C++: no I/O.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "limit/budget.h"
#include "limit/limiter.h"

namespace gatehouse::limit {

struct PendingAdmission {
  // The limit stage's: every limit the request touches, and the tokens it is expected to use.
  std::vector<Requirement> limits;
  long long tokens = 0;
  // The budget stage's: the budgets that apply, the subjects charged (every key and project of
  // the request) and the estimated cost reserved on them until the request settles.
  std::vector<BudgetCheck> checks;
  std::vector<std::string> budget_subjects;
  double estimated_cost = 0;
};

// What a shared admission took, given back or corrected once, with the request's real tokens
// and cost (one write for the whole request: tokens, concurrency slots, budget reservations).
class SharedTicket {
 public:
  virtual ~SharedTicket() = default;
  virtual void settle(long long tokens, double cost_usd) noexcept = 0;
};

}  // namespace gatehouse::limit
