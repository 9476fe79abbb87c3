#include "pipeline/authorize.h"

#include <fnmatch.h>

#include <algorithm>

namespace gatehouse::pipeline {

namespace {

bool glob_match(const std::string& pattern, std::string_view name) {
  std::string n(name);
  return ::fnmatch(pattern.c_str(), n.c_str(), 0) == 0;
}

bool role_allows(const config::RoleConfig& role, std::string_view model) {
  return std::any_of(role.models.begin(), role.models.end(),
                     [&](const std::string& g) { return glob_match(g, model); });
}

bool role_has_class(const config::RoleConfig& role, config::DataClass c) {
  return !role.data_classes_set ||
         std::find(role.data_classes.begin(), role.data_classes.end(), c) != role.data_classes.end();
}

std::string who(const RequestContext& ctx) {
  if (!ctx.key_name.empty()) return "key '" + ctx.key_name + "'";
  if (!ctx.user.empty()) return "user '" + ctx.user + "'";
  return "the caller";
}

}  // namespace

bool AuthorizeStage::allows(const std::vector<const config::RoleConfig*>& roles, std::string_view model) {
  return std::any_of(roles.begin(), roles.end(), [&](const auto* r) { return role_allows(*r, model); });
}

Decision AuthorizeStage::on_routed(RequestContext& ctx) const {
  if (auto kill = kills_.match(ctx.model, ctx.provider, ctx.project, ctx.key_name)) return kill_error(*kill);

  if (config_.roles_defined) {
    // The roles that let this caller use this model; the request must fit one of them.
    std::vector<const config::RoleConfig*> fitting;
    for (const auto* r : ctx.roles) {
      if (role_allows(*r, ctx.model)) fitting.push_back(r);
    }
    if (fitting.empty()) {
      std::string msg = ctx.roles.empty()
                            ? who(ctx) + " has no role, and model '" + ctx.model +
                                  "' is only for roles that allow it"
                            : "role '" + ctx.role_names + "' may not use model '" + ctx.model + "'";
      return Error::forbidden(msg, "permission_denied");
    }
    if (ctx.max_tokens > 0) {
      long long limit = 0;  // the most generous fitting role wins; 0 = no limit
      bool unlimited = false;
      for (const auto* r : fitting) {
        if (r->max_tokens_per_request == 0) unlimited = true;
        limit = std::max(limit, r->max_tokens_per_request);
      }
      if (!unlimited && ctx.max_tokens > limit) {
        return Error::bad_request("max_tokens " + std::to_string(ctx.max_tokens) + " exceeds the limit of " +
                                      std::to_string(limit) + " tokens per request for role '" +
                                      ctx.role_names + "'",
                                  "max_tokens");
      }
    }
    if (ctx.data_class &&
        std::none_of(fitting.begin(), fitting.end(), [&](const auto* r) { return role_has_class(*r, *ctx.data_class); })) {
      return Error::forbidden("role '" + ctx.role_names + "' may not send " +
                                  std::string(config::to_string(*ctx.data_class)) + " data to model '" +
                                  ctx.model + "'",
                              "permission_denied");
    }
  }

  if (ctx.data_class && ctx.model_config && ctx.model_config->max_data_class &&
      *ctx.data_class > *ctx.model_config->max_data_class) {
    return Error::forbidden("model '" + ctx.model + "' accepts data up to " +
                                std::string(config::to_string(*ctx.model_config->max_data_class)) +
                                "; this request is " + std::string(config::to_string(*ctx.data_class)),
                            "permission_denied");
  }
  return std::nullopt;
}

}  // namespace gatehouse::pipeline
