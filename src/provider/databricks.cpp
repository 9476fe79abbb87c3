#include "provider/databricks.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace gatehouse::provider {

namespace bhttp = boost::beast::http;


DatabricksAdapter::DatabricksAdapter(const config::ProviderConfig& config, OAuthSources& oauth)
    : origin_(http::Origin::of(config)),
      timeouts_(http::CallTimeouts::of(config.timeouts)),
      base_path_(config.base_path) {
  if (!config.client_id.empty()) {
    oauth_ = oauth.get(config);
  } else if (!config.token.empty()) {
    authorization_ = "Bearer " + config.token;
  }
}

void DatabricksAdapter::prepare(const Outgoing& call, http::UpstreamRequest& out) const {
  prepare_common(origin_, base_path_ + "/serving-endpoints/" +
                     boost::urls::encode(call.upstream_model, boost::urls::unreserved_chars) + "/invocations",
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
