#include "provider/openai_compatible.h"

namespace gatehouse::provider {

namespace bhttp = boost::beast::http;

OpenAICompatibleAdapter::OpenAICompatibleAdapter(const config::ProviderConfig& config)
    : origin_(http::Origin::of(config)),
      timeouts_(http::CallTimeouts::of(config.timeouts)),
      base_path_(config.base_path) {
  if (!config.token.empty()) authorization_ = "Bearer " + config.token;
}

void OpenAICompatibleAdapter::prepare(const Outgoing& call, http::UpstreamRequest& out) const {
  // A Responses request reaches this adapter untranslated only for `responses: native`.
  std::string_view path = call.request.op == api::Operation::kEmbeddings  ? "/embeddings"
                           : call.request.op == api::Operation::kResponses ? "/responses"
                                                                           : "/chat/completions";
  prepare_common(origin_, base_path_ + std::string(path), call.request.stream, call.request_id, out);
  if (!call.oauth_token.empty()) {
    out.set(bhttp::field::authorization, "Bearer " + std::string(call.oauth_token));
  } else if (!authorization_.empty()) {
    out.set(bhttp::field::authorization, authorization_);
  }
  out.body() = api::rewrite_model(call.body, call.request, call.upstream_model);
  out.prepare_payload();
}

}  // namespace gatehouse::provider
