#include "pipeline/limit.h"

#include <vector>

namespace gatehouse::pipeline {

namespace {

using limit::Metric;
constexpr Metric kMetrics[] = {Metric::kRequests, Metric::kTokens, Metric::kConcurrency};

std::string label(config::LimitScope scope, const std::string& value) {
  return std::string(config::to_string(scope)) + " '" + value + "'";
}

std::string subject(config::LimitScope scope, const std::string& value) {
  return std::string(config::to_string(scope)) + ":" + value;
}

Error rejection(const limit::Admission& a) {
  Error e;
  e.kind = ErrorKind::kRateLimited;
  e.source = ErrorSource::kGateway;
  e.retryable = a.retry_after_s >= 0;
  e.status = 429;
  if (a.retry_after_s > 0) e.retry_after_s = int(a.retry_after_s);
  const std::string retry = a.retry_after_s > 0 ? "; retry in " + limit::format_reset(a.retry_after_s) : "";
  switch (a.metric) {
    case Metric::kRequests:
      e.type = "requests";
      e.code = "rate_limit_exceeded";
      e.message = "Rate limit reached for " + a.label + ": " + std::to_string(a.limit) +
                  " requests per minute" + retry;
      break;
    case Metric::kTokens:
      e.type = "tokens";
      e.code = "rate_limit_exceeded";
      if (a.retry_after_s < 0) {
        e.message = "This request needs about " + std::to_string(a.needed) + " tokens, more than " +
                    a.label + " may use in a minute (" + std::to_string(a.limit) +
                    "): send a shorter prompt or a lower max_tokens";
      } else {
        e.message = "Rate limit reached for " + a.label + ": " + std::to_string(a.limit) +
                    " tokens per minute (this request needs about " + std::to_string(a.needed) + ")" + retry;
      }
      break;
    case Metric::kConcurrency:
      e.type = "requests";
      e.code = "concurrency_limit_exceeded";
      e.message = "Too many requests in flight for " + a.label + ": at most " + std::to_string(a.limit) +
                  " at once; retry when one has finished";
      e.retry_after_s = 1;
      break;
  }
  return e;
}

}  // namespace

LimitStage::LimitStage(const config::Config& config, limit::Limiter& limiter, bool shared)
    : limiter_(limiter), shared_(shared) {
  for (const auto& r : config.limits) {
    Limits& l = rules_[{r.scope, r.match}];
    if (r.qpm) l[0] = r.qpm;
    if (r.tpm) l[1] = r.tpm;
    if (r.concurrency) l[2] = r.concurrency;
  }
}

const long long* LimitStage::find(config::LimitScope scope, const std::string& match,
                                  std::size_t metric) const {
  auto it = rules_.find({scope, match});
  if (it == rules_.end() || it->second[metric] == 0) return nullptr;
  return &it->second[metric];
}

Decision LimitStage::on_routed(RequestContext& ctx) const {
  if (rules_.empty()) return std::nullopt;
  if (!ctx.request.model_request) return std::nullopt;
  using config::LimitScope;
  std::vector<limit::Requirement> reqs;
  static const std::string kDefault;
  for (std::size_t m = 0; m < 3; ++m) {
    const Metric metric = kMetrics[m];
    // One scope, one subject: its own rule, else the scope's default.
    auto single = [&](LimitScope scope, const std::string& value) {
      const long long* l = find(scope, value, m);
      if (!l) l = find(scope, kDefault, m);
      if (l) reqs.push_back({metric, {{subject(scope, value), *l, label(scope, value)}}});
    };
    single(LimitScope::kModel, ctx.request.model);
    if (!ctx.identity.project.empty()) single(LimitScope::kProject, ctx.identity.project);
    if (!ctx.identity.key_name.empty()) {
      single(LimitScope::kKey, ctx.identity.key_name);
    } else if (!ctx.identity.user.empty()) {
      // Databricks' precedence: the user's own limit, else its groups' (shared by each group's
      // members; refused only when every one is spent), else the default per-user limit.
      if (const long long* own = find(LimitScope::kUser, ctx.identity.user, m)) {
        reqs.push_back({metric, {{subject(LimitScope::kUser, ctx.identity.user), *own, label(LimitScope::kUser, ctx.identity.user)}}});
        continue;
      }
      limit::Requirement groups{metric, {}};
      for (const auto& g : ctx.identity.groups) {
        const long long* l = find(LimitScope::kGroup, g, m);
        if (!l) l = find(LimitScope::kGroup, kDefault, m);
        if (l) groups.options.push_back({subject(LimitScope::kGroup, g), *l, label(LimitScope::kGroup, g)});
      }
      if (!groups.options.empty()) {
        reqs.push_back(std::move(groups));
      } else if (const long long* l = find(LimitScope::kUser, kDefault, m)) {
        reqs.push_back({metric, {{subject(LimitScope::kUser, ctx.identity.user), *l, label(LimitScope::kUser, ctx.identity.user)}}});
      }
    }
  }
  if (reqs.empty()) return std::nullopt;

  const long long tokens = ctx.request.estimated_input_tokens + ctx.request.estimated_output_tokens;
  if (shared_) {
    if (!ctx.accounting.pending_admission) ctx.accounting.pending_admission = std::make_shared<limit::PendingAdmission>();
    ctx.accounting.pending_admission->limits = std::move(reqs);
    ctx.accounting.pending_admission->tokens = tokens;
    return std::nullopt;
  }
  const std::size_t n = reqs.size();
  return apply_limit_admission(ctx, limiter_.admit(reqs, tokens), n, tokens);
}

Decision apply_limit_admission(RequestContext& ctx, limit::Admission a, std::size_t requirements, long long tokens) {
  auto header = [&](const char* what, const limit::HeaderView& v) {
    if (!v.set) return;
    const std::string w(what);
    ctx.response_headers.emplace_back("x-ratelimit-limit-" + w, std::to_string(v.limit));
    ctx.response_headers.emplace_back("x-ratelimit-remaining-" + w, std::to_string(v.remaining));
    ctx.response_headers.emplace_back("x-ratelimit-reset-" + w, limit::format_reset(v.reset_s));
  };
  header("requests", a.requests);
  header("tokens", a.tokens);
  if (!a.admitted) {
    if (a.retry_after_s < 0) ctx.response_headers.emplace_back("x-should-retry", "false");
    Error e = rejection(a);
    ctx.accounting.refused_by = a.metric == Metric::kRequests ? "requests" : a.metric == Metric::kTokens ? "tokens" : "concurrency";
    ctx.accounting.limit_decision = "refused: " + e.message;
    return e;
  }
  ctx.accounting.limit_ticket = std::move(a.ticket);
  ctx.accounting.limit_decision = "admitted (" + std::to_string(requirements) + " limits, " + std::to_string(tokens) +
                       " tokens reserved)";
  return std::nullopt;
}

long long settled_tokens(const RequestContext& ctx) {
  return ctx.accounting.usage.known || ctx.accounting.usage.estimated ? ctx.accounting.usage.total() : 0;
}

void LimitStage::on_settled(RequestContext& ctx) const noexcept {
  if (!ctx.accounting.limit_ticket) return;
  limiter_.settle(*ctx.accounting.limit_ticket, settled_tokens(ctx));
}

}  // namespace gatehouse::pipeline
