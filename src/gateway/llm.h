// The LLM path: a model request from its body to the last byte. Decodes the body in the client's
// shape (api/), resolves the model to a plan of targets (route/), runs the stages' on_routed,
// then tries the plan's targets under the failover loop (route/failover.h), one attempt each
// (gateway/attempt.h), until one answers.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "gateway/endpoints.h"
#include "http/server.h"
#include "pipeline/context.h"
#include "runtime/snapshot.h"

namespace gatehouse::gateway {

boost::asio::awaitable<void> serve_llm(http::Exchange& ex, pipeline::RequestContext& ctx,
                                       const runtime::Snapshot& snapshot, const Endpoint& endpoint);

}  // namespace gatehouse::gateway
