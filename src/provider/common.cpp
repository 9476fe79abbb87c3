#include "provider/adapter.h"

namespace gatehouse::provider {

namespace bhttp = boost::beast::http;

void prepare_common(const http::Origin& origin, std::string target, bool stream,
                    std::string_view request_id, http::UpstreamRequest& out) {
  out.method(bhttp::verb::post);
  out.target(std::move(target));
  out.version(11);
  out.set(bhttp::field::host, origin.host_header);
  out.set(bhttp::field::content_type, "application/json");
  out.set(bhttp::field::accept, stream ? "text/event-stream" : "application/json");
  out.set(bhttp::field::user_agent, "gatehouse/" GATEHOUSE_VERSION);
  out.set("x-request-id", request_id);
  out.keep_alive(true);
}

}  // namespace gatehouse::provider
