#include "gateway/ops.h"

#include "admin/metrics_page.h"
#include "gateway/respond.h"
#include "pipeline/authorize.h"
#include "route/router.h"

namespace gatehouse::gateway {

namespace {
constexpr std::string_view kJson = "application/json";
}

boost::asio::awaitable<bool> serve_probe(http::Exchange& ex, pipeline::RequestContext& ctx,
                                         const runtime::Snapshot& snapshot, const Endpoint& endpoint,
                                         bool draining) {
  switch (endpoint.ops) {
    case Ops::kHealth:
      co_await respond(ex, ctx, 200, kJson, R"({"status":"ok"})");
      co_return true;
    case Ops::kReady:
      if (draining) {
        co_await respond(ex, ctx, 503, kJson, R"({"status":"draining"})");
      } else {
        co_await respond(ex, ctx, 200, kJson, R"({"status":"ready"})");
      }
      co_return true;
    case Ops::kMetrics:
      co_await respond(ex, ctx, 200, "text/plain; version=0.0.4; charset=utf-8", admin::render_metrics(snapshot));
      co_return true;
    default:
      co_return false;
  }
}

boost::asio::awaitable<void> serve_models(http::Exchange& ex, pipeline::RequestContext& ctx,
                                          const runtime::Snapshot& snapshot, const Endpoint& endpoint) {
  const bool roles = snapshot.config->roles_defined;
  if (endpoint.ops == Ops::kModels) {
    // With roles, a caller sees only the models it may use.
    // Named, not a conditional expression inside co_await: GCC 12 destroys a temporary made by
    // `a ? f() : copy` in a co_await argument twice (double free, seen under ASan).
    std::string body = roles ? snapshot.models_json_for(ctx.identity.roles) : snapshot.models_json;
    co_return co_await respond(ex, ctx, 200, kJson, std::move(body));
  }
  std::string_view path = ctx.ingress.path;
  std::string_view id = path.substr(path.find("/models/") + 8);
  const bool visible = !roles || pipeline::AuthorizeStage::allows(ctx.identity.roles, id);
  if (auto it = snapshot.model_json.find(id); visible && it != snapshot.model_json.end()) {
    co_return co_await respond(ex, ctx, 200, kJson, it->second);
  }
  // Not configured, or not the caller's to see: the same 404 model_not_found a completion
  // naming an unknown model gets (a hidden model's existence is not revealed).
  co_await respond_error(ex, ctx, route::model_not_found(id));
}

}  // namespace gatehouse::gateway
