#include "provider/databricks.h"

namespace gatehouse::provider {

namespace bhttp = boost::beast::http;

namespace {
// An endpoint name as one path segment (names are letters, digits, '-' and '_' in practice).
std::string path_segment(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}
}  // namespace

DatabricksAdapter::DatabricksAdapter(const config::ProviderConfig& config)
    : origin_(http::Origin::of(config)),
      timeouts_(http::CallTimeouts::of(config.timeouts)),
      base_path_(config.base_path) {
  if (!config.client_id.empty()) {
    oauth_ = OAuthTokenSource::shared_for(config);
  } else if (!config.token.empty()) {
    authorization_ = "Bearer " + config.token;
  }
}

void DatabricksAdapter::prepare(const Outgoing& call, http::UpstreamRequest& out) const {
  prepare_common(origin_, base_path_ + "/serving-endpoints/" + path_segment(call.upstream_model) + "/invocations",
                 call.request.stream, call.request_id, out);
  if (!call.oauth_token.empty()) {
    out.set(bhttp::field::authorization, "Bearer " + std::string(call.oauth_token));
  } else if (!authorization_.empty()) {
    out.set(bhttp::field::authorization, authorization_);
  }
  out.body() = api::remove_model(call.body, call.request);
  out.prepare_payload();
}

}  // namespace gatehouse::provider
