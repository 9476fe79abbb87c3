// Writing answers to the client in its own shape, for every backend: errors (a refusal, a
// failure), the gateway's own JSON, a stage's or a provider's whole answer. Each shows what it
// writes to the stages (on_sent); an error answer settles the request first (what it reserved is
// given back before the client can send its next request); a provider's answer is settled by
// the LLM path before it calls respond().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "core/error.h"
#include "http/server.h"
#include "pipeline/context.h"

namespace gatehouse::gateway {

// The request's answer is decided: the pipeline's on_settled runs (metering first).
void settle(pipeline::RequestContext& ctx);

// Sets ctx.response_headers (x-ratelimit-*, x-gatehouse-*, ...) on an answer's head, and
// Anthropic's `request-id` for a client of that shape.
template <class Fields>
void add_context_headers(const pipeline::RequestContext& ctx, Fields& fields) {
  for (const auto& [name, value] : ctx.response_headers) {
    if (!value.empty()) fields.set(name, value);  // an empty value: a header withdrawn
  }
  if (traits(ctx.ingress.shape).request_id_header) fields.set("request-id", ctx.ingress.request_id);
}

// `error` in the client's shape (status, Retry-After, Allow for a 405, x-request-id); records
// the status and error code.
boost::asio::awaitable<void> respond_error(http::Exchange& ex, pipeline::RequestContext& ctx, const Error& error);

// A whole answer: `content_type` and `body` as given (the gateway's own JSON, a stage's answer, a
// provider's answer in the client's shape).
boost::asio::awaitable<void> respond(http::Exchange& ex, pipeline::RequestContext& ctx, int status,
                                     std::string_view content_type, std::string body);

}  // namespace gatehouse::gateway
