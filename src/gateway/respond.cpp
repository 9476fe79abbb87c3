#include "gateway/respond.h"

#include "api/errors.h"
#include "gateway/endpoints.h"
#include "pipeline/pipeline.h"

namespace gatehouse::gateway {

namespace bhttp = boost::beast::http;

void settle(pipeline::RequestContext& ctx) {
  if (ctx.pipeline) ctx.pipeline->on_settled(ctx);
}

boost::asio::awaitable<void> respond_error(http::Exchange& ex, pipeline::RequestContext& ctx, const Error& error) {
  ctx.outcome.status = error.status;
  ctx.outcome.error_code = error.code.empty() ? std::string(to_string(error.kind)) : error.code;
  settle(ctx);  // a refusal or a failure frees its reservations before the client hears of it
  http::Response res{static_cast<bhttp::status>(error.status), 11};
  add_context_headers(ctx, res);
  res.set(bhttp::field::content_type, "application/json");
  res.set("x-request-id", ex.request_id());
  if (error.retry_after_s >= 0) res.set(bhttp::field::retry_after, std::to_string(error.retry_after_s));
  res.body() = api::encode_error(ctx.ingress.shape, error);
  if (ctx.pipeline) ctx.pipeline->on_sent(ctx, res.body());
  if (error.kind == ErrorKind::kMethodNotAllowed) {
    // An endpoint whose methods vary by route sets its own Allow (a context header).
    if (auto allow = endpoint_of(ctx.ingress.path).allow; !allow.empty()) res.set(bhttp::field::allow, allow);
  }
  co_await ex.respond(res);
}

boost::asio::awaitable<void> respond(http::Exchange& ex, pipeline::RequestContext& ctx, int status,
                                     std::string_view content_type, std::string body) {
  ctx.outcome.status = status;
  http::Response res{static_cast<bhttp::status>(status), 11};
  add_context_headers(ctx, res);
  res.set(bhttp::field::content_type, content_type);
  res.body() = std::move(body);
  if (ctx.pipeline) ctx.pipeline->on_sent(ctx, res.body());
  co_await ex.respond(res);
}

}  // namespace gatehouse::gateway
