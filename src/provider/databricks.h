#pragma once

#include <memory>

#include "config/config.h"
#include "provider/adapter.h"
#include "provider/oauth.h"

namespace gatehouse::provider {

// Databricks Model Serving (Foundation Model APIs, external models, custom endpoints):
// POST {host}/serving-endpoints/{upstream_model}/invocations with an OpenAI-shaped body (no
// model member: the endpoint names it). Auth is a personal access token or a service
// principal's OAuth M2M token.
class DatabricksAdapter final : public Adapter {
 public:
  // `oauth` gives a service principal's token source (shared across reloads).
  DatabricksAdapter(const config::ProviderConfig& config, OAuthSources& oauth);

  ApiShape shape() const override { return ApiShape::kDatabricks; }
  const http::Origin& origin() const override { return origin_; }
  http::CallTimeouts timeouts() const override { return timeouts_; }
  bool supports(api::Operation op) const override { return op != api::Operation::kCountTokens; }
  OAuthTokenSource* oauth() const override { return oauth_.get(); }
  void prepare(const Outgoing& call, http::UpstreamRequest& out) const override;

 private:
  http::Origin origin_;
  http::CallTimeouts timeouts_;
  std::string base_path_;
  std::string authorization_;  // "Bearer <PAT>", or empty with OAuth
  std::shared_ptr<OAuthTokenSource> oauth_;
};

}  // namespace gatehouse::provider
