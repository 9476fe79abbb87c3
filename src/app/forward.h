// One upstream attempt and the relay of its answer to the client: whole JSON bodies, or SSE
// streams event by event. Cancels the upstream exchange when the client goes away.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>

#include "api/usage.h"
#include "core/error.h"
#include "http/server.h"
#include "http/upstream.h"
#include "pipeline/context.h"
#include "translate/translate.h"

namespace gatehouse::app {

// How forward reads what the provider says the request used (into ctx.usage).
struct Metering {
  api::UsageWire wire = api::UsageWire::kOpenAI;  // the provider's answer shape
  // The gateway asked the provider for a stream's usage the client did not ask for: the usage-only
  // chunk is read, and not relayed.
  bool strip_usage_chunk = false;
  // Runs once the provider's answer is complete and settled, before its last bytes are written
  // (the route's verdict on the target: later requests must see it).
  const std::function<void()>* answered = nullptr;
};

// The request's usage and cost, once the provider's answer is over (ctx.usage, ctx.cost_usd):
// the provider's report; the estimate when it accepted the request but reported nothing (it may
// bill it); nothing when no provider did. May run more than once: the result is the same.
void meter(pipeline::RequestContext& ctx);

// The request's answer is decided (the provider's is complete, or an error is about to be
// written): meter it and run the pipeline's on_settled, so that what it used is charged before
// the client has the answer and can send its next request.
void settle(pipeline::RequestContext& ctx);

// Sends `request` through `pool` and answers the client, in the client's shape (ctx.shape):
// the provider's answer passes through as it is, or through `translator` when the provider
// speaks another shape. Returns an error only when nothing was sent to the client yet (the
// caller answers it, or may try another target); once an answer started, failures are
// reported inside it (an error event for a stream).
boost::asio::awaitable<std::optional<Error>> forward(http::Exchange& ex,
                                                     pipeline::RequestContext& ctx,
                                                     http::UpstreamPool& pool,
                                                     http::CallTimeouts timeouts,
                                                     http::UpstreamRequest& request,
                                                     translate::ResponseTranslator* translator,
                                                     const Metering& metering);

// Keeps `bytes` of the answer for the inference log when the request's payloads are captured
// (up to ctx.capture_limit; the rest is cut and marked).
void capture_response(pipeline::RequestContext& ctx, std::string_view bytes);

// Sets ctx.response_headers (x-ratelimit-*, ...) on an answer's head.
template <class Fields>
void add_context_headers(const pipeline::RequestContext& ctx, Fields& fields) {
  for (const auto& [name, value] : ctx.response_headers) fields.set(name, value);
}

// Maps an upstream error answer (status >= 400) to the error the client gets, with the
// upstream's status: the provider's own message and code (an error body in OpenAI's, Anthropic's
// or Databricks' shape is read, and relayed as it is to a client of the same shape); anything
// else is wrapped. A 401/403 means the gateway's provider credential was refused, which is not
// the client's fault: 502.
Error upstream_status_error(unsigned status, std::string_view body, std::string_view retry_after,
                            std::string_view provider);

}  // namespace gatehouse::app
