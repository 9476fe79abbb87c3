#pragma once

#include "config/config.h"
#include "provider/adapter.h"

namespace gatehouse::provider {

// Any server that speaks OpenAI's API (OpenAI itself, vLLM, TGI, Ollama, LiteLLM...): the body
// passes through with only `model` replaced; the credential is a bearer token.
class OpenAICompatibleAdapter final : public Adapter {
 public:
  explicit OpenAICompatibleAdapter(const config::ProviderConfig& config);

  ApiShape shape() const override { return ApiShape::kOpenAI; }
  const http::Origin& origin() const override { return origin_; }
  http::CallTimeouts timeouts() const override { return timeouts_; }
  bool supports(api::Operation op) const override { return op != api::Operation::kCountTokens; }
  void prepare(const Outgoing& call, http::UpstreamRequest& out) const override;

 private:
  http::Origin origin_;
  http::CallTimeouts timeouts_;
  std::string base_path_;
  std::string authorization_;  // "Bearer <token>", or empty
};

}  // namespace gatehouse::provider
