#pragma once

#include <map>
#include <string>
#include <tuple>

#include "config/config.h"
#include "limit/budget.h"
#include "limit/shared.h"
#include "pipeline/stage.h"

namespace gatehouse::record {
class Metrics;
}

namespace gatehouse::pipeline {

// Budgets (`budgets:`): US dollars per key and per project over a day, a week, a month or in
// total. In on_routed a request whose key or project has spent a budget (counting the estimated
// cost of requests in flight) is refused with 429 budget_exceeded until the period resets; an
// admitted request reserves its estimated cost. When the answer is settled (on_settled, else
// on_complete) the reservation becomes the real cost, and a budget whose warn_at a request
// crossed is logged (once per period) and counted.
// Every key's and project's spend is followed even without a budget, so that a budget added by a
// reload knows what was already spent.
//
// `shared` (state.redis): the checks are left in ctx.accounting.pending_admission for the LLM
// path's one admission against Redis (apply_budget_admission: the same refusal).
class BudgetStage final : public Stage {
 public:
  // `metrics` (may be null) counts the warnings.
  BudgetStage(const config::Config& config, limit::Budgets& ledger, record::Metrics* metrics, bool shared = false);
  std::string_view name() const override { return "budget"; }
  Decision on_routed(RequestContext& ctx) const override;
  void on_settled(RequestContext& ctx) const noexcept override;
  void on_complete(RequestContext& ctx) const noexcept override { on_settled(ctx); }

 private:
  limit::Budgets& ledger_;
  record::Metrics* metrics_;
  const bool shared_;
  std::map<std::tuple<config::BudgetScope, std::string, config::BudgetPeriod>, const config::BudgetRule*> rules_;
};

// A ledger's decision on the request's `checks`: the records' decision, the ticket to settle, or
// the 429 budget_exceeded that refuses it.
Decision apply_budget_admission(RequestContext& ctx, limit::BudgetAdmission admission, std::size_t checks);
// A budget's warn_at crossed: logged and counted (`metrics` may be null).
void report_budget_warning(const limit::BudgetWarning& warning, record::Metrics* metrics);

}  // namespace gatehouse::pipeline
