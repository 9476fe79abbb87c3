#pragma once

#include <array>
#include <map>
#include <string>
#include <utility>

#include "config/config.h"
#include "limit/limiter.h"
#include "limit/shared.h"
#include "pipeline/stage.h"

namespace gatehouse::pipeline {

// Rate limits (`limits:`): requests per minute, tokens per minute and requests in flight, per
// model, key, user, group and project. In on_routed it turns the rules into the request's
// requirements — per metric, the most specific rule wins: a key's (or user's) own rule, then its
// groups' rules, then the scope's default — and asks the limiter, which admits the request and
// charges its estimate, or refuses (429 with Retry-After) charging nothing. Every answer carries
// OpenAI's x-ratelimit-* headers for the tightest limit. When the answer is settled (on_settled,
// else on_complete) the estimate is replaced by the tokens the provider reported.
//
// `shared` (state.redis): the requirements are left in ctx.accounting.pending_admission for the
// LLM path's one admission against Redis (apply_limit_admission turns its answer into the same
// headers and refusals).
class LimitStage final : public Stage {
 public:
  LimitStage(const config::Config& config, limit::Limiter& limiter, bool shared = false);
  std::string_view name() const override { return "limit"; }
  Decision on_routed(RequestContext& ctx) const override;
  void on_settled(RequestContext& ctx) const noexcept override;
  void on_complete(RequestContext& ctx) const noexcept override { on_settled(ctx); }

 private:
  // Per (scope, match): the limit of each metric (requests, tokens, concurrency; 0: none).
  using Limits = std::array<long long, 3>;
  const long long* find(config::LimitScope scope, const std::string& match, std::size_t metric) const;

  limit::Limiter& limiter_;
  const bool shared_;
  std::map<std::pair<config::LimitScope, std::string>, Limits> rules_;
};

// A limiter's decision on the request's `requirements` (`tokens` reserved): the x-ratelimit-*
// headers, the records' decision, the ticket to settle, or the 429 that refuses it.
Decision apply_limit_admission(RequestContext& ctx, limit::Admission admission, std::size_t requirements, long long tokens);
// The tokens a request is settled with: what the provider reported, its estimate when it said
// nothing but may bill, nothing when no provider accepted it.
long long settled_tokens(const RequestContext& ctx);

}  // namespace gatehouse::pipeline
