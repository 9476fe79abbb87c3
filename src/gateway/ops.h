// The gateway's own endpoints: GET /healthz, /readyz, /metrics (when metrics are on), /v1/models
// and /v1/models/{id} (only the models the caller's roles allow).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "gateway/endpoints.h"
#include "http/server.h"
#include "pipeline/context.h"
#include "runtime/snapshot.h"

namespace gatehouse::gateway {

// Answers the operational endpoints that need no caller (health, readiness, metrics); false when
// `endpoint` is not one of them (the caller then runs on_request and serve_models).
boost::asio::awaitable<bool> serve_probe(http::Exchange& ex, pipeline::RequestContext& ctx,
                                         const runtime::Snapshot& snapshot, const Endpoint& endpoint,
                                         bool draining);

// GET /v1/models and /v1/models/{id} for an authenticated caller.
boost::asio::awaitable<void> serve_models(http::Exchange& ex, pipeline::RequestContext& ctx,
                                          const runtime::Snapshot& snapshot, const Endpoint& endpoint);

}  // namespace gatehouse::gateway
