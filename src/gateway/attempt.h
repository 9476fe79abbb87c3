// One attempt at one target of a model request: the request in the provider's shape
// (translated through the hub when the shapes differ), the stages' on_attempt, the provider's
// credential (an OAuth token the provider refuses is refreshed and the call repeated once), the
// call through the relay — and, when the provider accepts, the answer to the client: a whole
// answer through on_response, or a stream event by event through on_event.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>

#include "api/request.h"
#include "core/error.h"
#include "http/server.h"
#include "pipeline/context.h"
#include "route/failover.h"
#include "route/router.h"
#include "runtime/snapshot.h"

namespace gatehouse::translate {
struct ResponsesAnswer;
}

namespace gatehouse::gateway {

// What every attempt of one model request shares.
struct LlmRequest {
  http::Exchange& ex;
  pipeline::RequestContext& ctx;
  const runtime::Snapshot& snapshot;
  const api::CanonicalRequest& canonical;  // its spans locate members of ctx.request.body
  // A Responses request: the id, model and settings a translated answer carries (null otherwise).
  const translate::ResponsesAnswer* responses = nullptr;
};

struct AttemptResult {
  enum Kind {
    kSkipped,  // the target cannot take this request (nothing was sent): `error` says why
    kFailed,   // it failed before anything reached the client: `error`, after `took`
    kDone,     // the client has its answer (or left); the outcome was reported to the failover
  } kind = kDone;
  std::optional<Error> error;
  std::chrono::microseconds took{0};
};

boost::asio::awaitable<AttemptResult> attempt(LlmRequest& r, const route::Target& target, route::Failover& failover);

}  // namespace gatehouse::gateway
