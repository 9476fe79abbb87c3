#pragma once

#include <array>
#include <map>
#include <string>
#include <utility>

#include "config/config.h"
#include "limit/limiter.h"
#include "pipeline/stage.h"

namespace gatehouse::pipeline {

// Rate limits (`limits:`): requests per minute, tokens per minute and requests in flight, per
// model, key, user, group and project. In on_routed it turns the rules into the request's
// requirements — per metric, the most specific rule wins: a key's (or user's) own rule, then its
// groups' rules, then the scope's default — and asks the limiter, which admits the request and
// charges its estimate, or refuses (429 with Retry-After) charging nothing. Every answer carries
// OpenAI's x-ratelimit-* headers for the tightest limit. When the answer is settled (on_settled,
// else on_complete) the estimate is replaced by the tokens the provider reported.
class LimitStage final : public Stage {
 public:
  LimitStage(const config::Config& config, limit::Limiter& limiter);
  std::string_view name() const override { return "limit"; }
  Decision on_routed(RequestContext& ctx) const override;
  void on_settled(RequestContext& ctx) const noexcept override;
  void on_complete(RequestContext& ctx) const noexcept override { on_settled(ctx); }

 private:
  // Per (scope, match): the limit of each metric (requests, tokens, concurrency; 0: none).
  using Limits = std::array<long long, 3>;
  const long long* find(config::LimitScope scope, const std::string& match, std::size_t metric) const;

  limit::Limiter& limiter_;
  std::map<std::pair<config::LimitScope, std::string>, Limits> rules_;
};

}  // namespace gatehouse::pipeline
