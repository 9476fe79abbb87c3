#include "provider/anthropic.h"

namespace gatehouse::provider {

AnthropicAdapter::AnthropicAdapter(const config::ProviderConfig& config)
    : origin_(http::Origin::of(config)),
      timeouts_(http::CallTimeouts::of(config.timeouts)),
      api_key_(config.token),
      version_(config.anthropic_version),
      default_max_tokens_(config.default_max_tokens) {
  // Anthropic's SDKs take the base URL without /v1 ("https://api.anthropic.com"); OpenAI-style
  // configs often add it. Both work.
  target_ = config.base_path;
  if (!target_.ends_with("/v1")) target_ += "/v1";
  target_ += "/messages";
}

void AnthropicAdapter::prepare(const Outgoing& call, http::UpstreamRequest& out) const {
  std::string target = call.request.op == api::Operation::kCountTokens ? target_ + "/count_tokens" : target_;
  if (call.native_client) {
    // The SDKs' beta namespace adds "?beta=true": a native client's query goes along.
    std::string_view t = call.native_client->target();
    if (auto q = t.find('?'); q != std::string_view::npos) target.append(t.substr(q));
  }
  prepare_common(origin_, std::move(target), call.request.stream, call.request_id, out);
  if (!api_key_.empty()) out.set("x-api-key", api_key_);
  std::string_view version = version_;
  if (call.native_client) {
    // A native client chose its API version and beta features; keep them.
    if (auto v = (*call.native_client)["anthropic-version"]; !v.empty()) version = v;
    if (auto beta = (*call.native_client)["anthropic-beta"]; !beta.empty()) out.set("anthropic-beta", beta);
  }
  out.set("anthropic-version", version);
  out.body() = api::rewrite_model(call.body, call.request, call.upstream_model);
  out.prepare_payload();
}

}  // namespace gatehouse::provider
