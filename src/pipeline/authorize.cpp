#include "pipeline/authorize.h"

#include <algorithm>

#include "core/encoding.h"

namespace gatehouse::pipeline {

namespace {

bool role_allows(const config::RoleConfig& role, std::string_view model) {
  return std::any_of(role.models.begin(), role.models.end(),
                     [&](const std::string& g) { return glob_match(g, model); });
}

bool role_has_class(const config::RoleConfig& role, config::DataClass c) {
  return !role.data_classes_set ||
         std::find(role.data_classes.begin(), role.data_classes.end(), c) != role.data_classes.end();
}

std::string who(const RequestContext& ctx) {
  if (!ctx.identity.key_name.empty()) return "key '" + ctx.identity.key_name + "'";
  if (!ctx.identity.user.empty()) return "user '" + ctx.identity.user + "'";
  return "the caller";
}

}  // namespace

bool AuthorizeStage::allows(const std::vector<const config::RoleConfig*>& roles, std::string_view model) {
  return std::any_of(roles.begin(), roles.end(), [&](const auto* r) { return role_allows(*r, model); });
}

Decision AuthorizeStage::on_routed(RequestContext& ctx) const {
  if (auto kill = kills_.match(ctx.request.model, ctx.upstream.provider, ctx.identity.project, ctx.identity.key_name)) return kill_error(*kill);

  if (config_.roles_defined) {
    // The roles that let this caller use this model; the request must fit one of them.
    std::vector<const config::RoleConfig*> fitting;
    for (const auto* r : ctx.identity.roles) {
      if (role_allows(*r, ctx.request.model)) fitting.push_back(r);
    }
    if (fitting.empty()) {
      std::string msg = ctx.identity.roles.empty()
                            ? who(ctx) + " has no role, and model '" + ctx.request.model +
                                  "' is only for roles that allow it"
                            : "role '" + ctx.identity.role_names + "' may not use model '" + ctx.request.model + "'";
      return Error::forbidden(msg, "permission_denied");
    }
    if (ctx.request.max_tokens > 0) {
      long long limit = 0;  // the most generous fitting role wins; 0 = no limit
      bool unlimited = false;
      for (const auto* r : fitting) {
        if (r->max_tokens_per_request == 0) unlimited = true;
        limit = std::max(limit, r->max_tokens_per_request);
      }
      if (!unlimited && ctx.request.max_tokens > limit) {
        return Error::bad_request("max_tokens " + std::to_string(ctx.request.max_tokens) + " exceeds the limit of " +
                                      std::to_string(limit) + " tokens per request for role '" +
                                      ctx.identity.role_names + "'",
                                  "max_tokens");
      }
    }
    if (ctx.request.data_class &&
        std::none_of(fitting.begin(), fitting.end(), [&](const auto* r) { return role_has_class(*r, *ctx.request.data_class); })) {
      return Error::forbidden("role '" + ctx.identity.role_names + "' may not send " +
                                  std::string(config::to_string(*ctx.request.data_class)) + " data to model '" +
                                  ctx.request.model + "'",
                              "permission_denied");
    }
  }

  if (ctx.request.data_class && ctx.request.model_config && ctx.request.model_config->max_data_class &&
      *ctx.request.data_class > *ctx.request.model_config->max_data_class) {
    return Error::forbidden("model '" + ctx.request.model + "' accepts data up to " +
                                std::string(config::to_string(*ctx.request.model_config->max_data_class)) +
                                "; this request is " + std::string(config::to_string(*ctx.request.data_class)),
                            "permission_denied");
  }
  return std::nullopt;
}

Decision AuthorizeStage::on_attempt(RequestContext& ctx) const {
  const auto& target = *ctx.upstream.current.model;
  const auto& provider = *ctx.upstream.current.provider;
  // A plain model was checked in on_routed; a route's targets are checked one by one.
  if (ctx.request.model_config && ctx.request.model_config->route) {
    if (auto kill = kills_.match(target.name, provider.name, {}, {})) return kill_error(*kill);
  }
  if (provider.auth_passthrough && !ctx.identity.jwt) {
    return Error::forbidden("model '" + target.name + "' is served on behalf of its caller (provider '" + provider.name +
                                "' forwards the caller's own token): call it with a token from your identity "
                                "provider, not a gateway key",
                            "permission_denied");
  }
  const auto& data_class = ctx.request.data_class;
  if (data_class && target.max_data_class && *data_class > *target.max_data_class) {
    return Error::forbidden("data class '" + std::string(config::to_string(*data_class)) + "' may not be sent to model '" +
                                target.name + "' (at most '" + std::string(config::to_string(*target.max_data_class)) + "')",
                            "permission_denied");
  }
  return std::nullopt;
}

}  // namespace gatehouse::pipeline
