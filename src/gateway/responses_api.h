// The Responses API's stored responses, as the gateway serves them: GET and DELETE
// /v1/responses/{id} and GET /v1/responses/{id}/input_items (also under /serving-endpoints/, where
// the Databricks-provided OpenAI client points), and the conversation a request's
// previous_response_id names, rebuilt before the request is routed (docs/responses.md).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "api/request.h"
#include "core/error.h"
#include "http/server.h"
#include "pipeline/context.h"
#include "runtime/snapshot.h"

namespace gatehouse::gateway {

// Answers a request for a stored response (the caller's own only: another's is a 404).
boost::asio::awaitable<void> serve_stored_response(http::Exchange& ex, pipeline::RequestContext& ctx,
                                                   const runtime::Snapshot& snapshot);

// Replaces ctx.request.body with the whole conversation canonical.previous_response_id names
// (responses/conversation.h expand) and decodes it again into `canonical` (the model stays). A
// 400 when the gateway keeps no responses or the id is unknown to this caller.
boost::asio::awaitable<std::optional<Error>> expand_conversation(pipeline::RequestContext& ctx,
                                                                 const runtime::Snapshot& snapshot,
                                                                 api::CanonicalRequest& canonical);

}  // namespace gatehouse::gateway
