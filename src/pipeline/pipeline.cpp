#include "pipeline/pipeline.h"

#include "pipeline/access_log.h"
#include "pipeline/authenticate.h"
#include "pipeline/authorize.h"
#include "pipeline/budget.h"
#include "pipeline/limit.h"
#include "pipeline/observe.h"
#include "pipeline/records.h"
#include "pipeline/usage_record.h"

namespace gatehouse::pipeline {

Pipeline Pipeline::build(const config::Config& config, const Services& services) {
  Pipeline p;
  // The order is code, not config. Each line says why it stands where it does.
  // 1. Records first, so their on_complete runs last and sees every outcome, rejections included;
  //    tracing's on_request first too, so that even a refused request is traced.
  if (config.log.access_log) p.stages_.push_back(std::make_unique<AccessLogStage>());
  if (config.metrics.enabled) p.stages_.push_back(std::make_unique<MetricsStage>(config, *services.metrics));
  if (services.tracer) p.stages_.push_back(std::make_unique<TracingStage>(*services.tracer));
  if (services.writer) p.stages_.push_back(std::make_unique<AuditStage>(*services.writer));
  // 2. Identity before anything that depends on who is calling (limits, roles, budgets).
  p.stages_.push_back(std::make_unique<AuthenticateStage>(config, services));
  // 3. Authorization needs the identity (2) and the decoded request; it runs in on_routed, before
  //    anything that spends (limits, budgets) so a denied request costs nothing.
  p.stages_.push_back(std::make_unique<AuthorizeStage>(config, *services.kills));
  // 4. Usage rows: its on_complete runs after the budget's and limit's (reverse order), once the
  //    cost is settled; placed before them so a request they refuse still gets its row.
  if (services.writer) p.stages_.push_back(std::make_unique<UsageRecordStage>(*services.writer));
  // 5. The inference log decides before budgets and limits, so that their refusals are logged too.
  if (services.writer && config.records.inference_log.enabled) {
    p.stages_.push_back(std::make_unique<InferenceLogStage>(config.records.inference_log, *services.writer));
  }
  // 6. Budgets before rate limits: a request a spent budget refuses must not use up a rate
  //    window; one the limits refuse gives its budget reservation back in on_complete.
  if (services.budgets) {
    p.stages_.push_back(std::make_unique<BudgetStage>(config, *services.budgets, services.metrics.get()));
  }
  // 7. Rate limits last before the provider: they charge what is about to be spent.
  if (!config.limits.empty()) p.stages_.push_back(std::make_unique<LimitStage>(config, *services.limiter));
  return p;
}

Decision Pipeline::on_request(RequestContext& ctx) const {
  for (const auto& stage : stages_) {
    if (auto d = stage->on_request(ctx)) return d;
  }
  return std::nullopt;
}

Decision Pipeline::on_routed(RequestContext& ctx) const {
  for (const auto& stage : stages_) {
    if (auto d = stage->on_routed(ctx)) return d;
  }
  return std::nullopt;
}

void Pipeline::on_settled(const RequestContext& ctx) const noexcept {
  for (auto it = stages_.rbegin(); it != stages_.rend(); ++it) (*it)->on_settled(ctx);
}

void Pipeline::on_complete(const RequestContext& ctx) const noexcept {
  for (auto it = stages_.rbegin(); it != stages_.rend(); ++it) (*it)->on_complete(ctx);
}

}  // namespace gatehouse::pipeline
