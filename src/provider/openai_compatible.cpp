#include "provider/openai_compatible.h"

namespace gatehouse::provider {

namespace bhttp = boost::beast::http;

OpenAICompatibleAdapter::OpenAICompatibleAdapter(const config::ProviderConfig& config)
    : origin_(http::Origin::of(config)),
      timeouts_(http::CallTimeouts::of(config.timeouts)),
      base_path_(config.base_path) {
  bool default_port = (config.tls && config.port == "443") || (!config.tls && config.port == "80");
  std::string host = config.host.find(':') != std::string::npos ? "[" + config.host + "]" : config.host;
  host_header_ = default_port ? host : host + ":" + config.port;
  if (!config.token.empty()) authorization_ = "Bearer " + config.token;
}

void OpenAICompatibleAdapter::prepare(const api::CanonicalRequest& request,
                                      std::string_view client_body, std::string_view upstream_model,
                                      std::string_view request_id,
                                      http::UpstreamRequest& out) const {
  std::string_view path =
      request.op == api::Operation::kChatCompletions ? "/chat/completions" : "/embeddings";
  out.method(bhttp::verb::post);
  out.target(base_path_ + std::string(path));
  out.version(11);
  out.set(bhttp::field::host, host_header_);
  out.set(bhttp::field::content_type, "application/json");
  out.set(bhttp::field::accept, request.stream ? "text/event-stream" : "application/json");
  out.set(bhttp::field::user_agent, "gatehouse/" GATEHOUSE_VERSION);
  out.set("x-request-id", request_id);
  if (!authorization_.empty()) out.set(bhttp::field::authorization, authorization_);
  out.keep_alive(true);
  out.body() = api::rewrite_model(client_body, request, upstream_model);
  out.prepare_payload();
}

}  // namespace gatehouse::provider
