#pragma once

#include "config/config.h"
#include "pipeline/kill_switch.h"
#include "pipeline/stage.h"

namespace gatehouse::pipeline {

// What the caller may do with the model it asked for (on_routed): the kill switch (503), the
// role's model globs (403 permission_denied), its max_tokens_per_request (400) and data classes
// (403), and the model's max_data_class (403). Without `roles` in the config only the kill switch
// and the models' data classes apply. And what each target may be sent (on_attempt; a refusal
// skips that target): a route's target switched off, a target whose max_data_class is below the
// request's, a provider that acts on behalf of its caller (auth passthrough) reached without the
// caller's own JWT.
class AuthorizeStage final : public Stage {
 public:
  AuthorizeStage(const config::Config& config, const KillSwitch& kills)
      : config_(config), kills_(kills) {}
  std::string_view name() const override { return "authorize"; }
  Decision on_routed(RequestContext& ctx) const override;
  Decision on_attempt(RequestContext& ctx) const override;

  // Whether any of `roles` lets its holder use `model` (a glob match).
  static bool allows(const std::vector<const config::RoleConfig*>& roles, std::string_view model);

 private:
  const config::Config& config_;
  const KillSwitch& kills_;
};

}  // namespace gatehouse::pipeline
