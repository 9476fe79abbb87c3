#pragma once

#include "config/config.h"
#include "provider/adapter.h"

namespace gatehouse::provider {

// Anthropic's Messages API: POST {base_url}/v1/messages with x-api-key and anthropic-version.
// Anthropic clients pass through natively (with their anthropic-version and anthropic-beta
// headers); OpenAI-shaped clients are translated (src/translate).
class AnthropicAdapter final : public Adapter {
 public:
  explicit AnthropicAdapter(const config::ProviderConfig& config);

  ApiShape shape() const override { return ApiShape::kAnthropic; }
  const http::Origin& origin() const override { return origin_; }
  http::CallTimeouts timeouts() const override { return timeouts_; }
  bool supports(api::Operation op) const override { return op != api::Operation::kEmbeddings; }
  void prepare(const Outgoing& call, http::UpstreamRequest& out) const override;

  int default_max_tokens() const { return default_max_tokens_; }

 private:
  http::Origin origin_;
  http::CallTimeouts timeouts_;
  std::string target_;  // base path + /v1/messages
  std::string api_key_;
  std::string version_;
  int default_max_tokens_;
};

}  // namespace gatehouse::provider
