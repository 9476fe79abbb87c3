#pragma once

#include "config/config.h"
#include "provider/adapter.h"

namespace gatehouse::provider {

// Any server that speaks OpenAI's API (OpenAI itself, vLLM, TGI, Ollama, LiteLLM...): the body
// passes through with only `model` replaced; the credential is a bearer token.
class OpenAICompatibleAdapter final : public Adapter {
 public:
  explicit OpenAICompatibleAdapter(const config::ProviderConfig& config);

  const http::Origin& origin() const override { return origin_; }
  http::CallTimeouts timeouts() const override { return timeouts_; }
  void prepare(const api::CanonicalRequest& request, std::string_view client_body,
               std::string_view upstream_model, std::string_view request_id,
               http::UpstreamRequest& out) const override;

 private:
  http::Origin origin_;
  http::CallTimeouts timeouts_;
  std::string host_header_;
  std::string base_path_;
  std::string authorization_;  // "Bearer <token>", or empty
};

}  // namespace gatehouse::provider
