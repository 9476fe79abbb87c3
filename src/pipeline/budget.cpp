#include "pipeline/budget.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <vector>

#include "limit/price.h"
#include "record/metrics.h"

namespace gatehouse::pipeline {

namespace {

constexpr config::BudgetPeriod kPeriods[] = {config::BudgetPeriod::kDaily, config::BudgetPeriod::kWeekly,
                                             config::BudgetPeriod::kMonthly, config::BudgetPeriod::kTotal};

// Dollars with the precision that means something: cents from a dollar up ($12.50), below that
// up to a millionth, trailing zeros dropped ($0.05, $0.000684), never a spend rounded to $0.0000.
std::string dollars(double usd) {
  char buf[48];
  if (usd >= 1 || usd == 0) {
    std::snprintf(buf, sizeof buf, "$%.2f", usd);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "$%.6f", usd);
  std::string s(buf);
  while (s.back() == '0' && s.size() > s.find('.') + 3) s.pop_back();
  return s;
}

std::string duration(std::int64_t s) {
  if (s >= 86400) return std::to_string(s / 86400) + "d " + std::to_string(s % 86400 / 3600) + "h";
  if (s >= 3600) return std::to_string(s / 3600) + "h " + std::to_string(s % 3600 / 60) + "m";
  if (s >= 60) return std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  return std::to_string(s) + "s";
}

}  // namespace

BudgetStage::BudgetStage(const config::Config& config, limit::Budgets& ledger, record::Metrics* metrics, bool shared)
    : ledger_(ledger), metrics_(metrics), shared_(shared) {
  for (const auto& r : config.budgets) rules_[{r.scope, r.match, r.period}] = &r;
}

Decision BudgetStage::on_routed(RequestContext& ctx) const {
  if (!ctx.request.model_request) return std::nullopt;
  std::vector<limit::BudgetCheck> checks;
  std::vector<std::string> subjects;
  auto scope = [&](config::BudgetScope s, const std::string& value) {
    if (value.empty()) return;
    const std::string subject = std::string(config::to_string(s)) + ":" + value;
    subjects.push_back(subject);
    for (auto p : kPeriods) {
      auto it = rules_.find({s, value, p});
      if (it == rules_.end()) it = rules_.find({s, std::string(), p});
      if (it == rules_.end()) continue;
      const auto& r = *it->second;
      checks.push_back({subject, limit::Period(int(p)), r.usd, r.warn_at,
                        std::string(config::to_string(s)) + " '" + value + "'"});
    }
  };
  scope(config::BudgetScope::kKey, ctx.identity.key_name);
  scope(config::BudgetScope::kProject, ctx.identity.project);
  if (subjects.empty()) return std::nullopt;

  Usage estimate;
  estimate.input_tokens = ctx.request.estimated_input_tokens;
  estimate.output_tokens = ctx.request.estimated_output_tokens;
  // Priced as the model that will serve it (a route's first target; the gateway sets it before
  // on_routed): a virtual model has no price of its own.
  const config::ModelConfig* priced = ctx.upstream.served_model ? ctx.upstream.served_model : ctx.request.model_config;
  const double estimated_cost = priced ? limit::cost_usd(priced->price, estimate) : 0;
  if (shared_) {
    if (!ctx.accounting.pending_admission) ctx.accounting.pending_admission = std::make_shared<limit::PendingAdmission>();
    auto& pending = *ctx.accounting.pending_admission;
    pending.checks = std::move(checks);
    pending.budget_subjects = std::move(subjects);
    pending.estimated_cost = estimated_cost;
    return std::nullopt;
  }
  const std::size_t n = checks.size();
  return apply_budget_admission(ctx, ledger_.admit(checks, std::move(subjects), estimated_cost), n);
}

Decision apply_budget_admission(RequestContext& ctx, limit::BudgetAdmission a, std::size_t checks) {
  if (a.admitted) {
    if (checks > 0) ctx.accounting.budget_decision = "admitted (" + std::to_string(checks) + " budgets)";
    ctx.accounting.budget_ticket = std::move(a.ticket);
    return std::nullopt;
  }
  const auto& b = a.spent_budget;
  Error e;
  e.kind = ErrorKind::kRateLimited;
  e.source = ErrorSource::kGateway;
  e.status = 429;
  e.code = "budget_exceeded";
  e.type = "insufficient_quota";
  e.message = b.label + " has spent its " + std::string(limit::to_string(b.period)) + " budget (" +
              dollars(a.spent) + " of " + dollars(b.usd) + ")" +
              (a.resets_in_s >= 0 ? "; it resets in " + duration(a.resets_in_s)
                                  : "; it is a total budget and does not reset: ask the gateway operator to raise it");
  if (a.resets_in_s >= 0) e.retry_after_s = int(std::min<std::int64_t>(a.resets_in_s, 1 << 30));
  // The SDKs retry 429s by default: waiting out a budget takes hours, not seconds.
  ctx.response_headers.emplace_back("x-should-retry", "false");
  ctx.accounting.refused_by = b.subject.starts_with("key:") ? "budget:key" : "budget:project";
  ctx.accounting.budget_decision = "refused: " + e.message;
  return e;
}

void BudgetStage::on_settled(RequestContext& ctx) const noexcept {
  if (!ctx.accounting.budget_ticket) return;
  try {
    for (const auto& w : ledger_.settle(*ctx.accounting.budget_ticket, ctx.accounting.cost_usd)) {
      report_budget_warning(w, metrics_);
    }
  } catch (...) {
    // Accounting must never take a request down.
  }
}

void report_budget_warning(const limit::BudgetWarning& w, record::Metrics* metrics) {
  if (metrics) metrics->budget_warning(w.budget.subject.starts_with("key:") ? "key" : "project");
  spdlog::warn("budget: {} has spent {} of its {} {} budget ({}%, warn_at {})", w.budget.label, dollars(w.spent),
               std::string(limit::to_string(w.budget.period)), dollars(w.budget.usd),
               int(w.spent * 100 / w.budget.usd), w.budget.warn_at);
}

}  // namespace gatehouse::pipeline
