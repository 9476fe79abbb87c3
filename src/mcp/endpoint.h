// The MCP endpoints: /mcp/{name} for every server and virtual server (Streamable HTTP: POST,
// the GET stream, DELETE), and the RFC 9728 metadata that tells MCP clients how to sign in.
// docs/mcp.md is the user's page; this is where a request meets the governance: who may call
// which tool (roles' tools, the kill switch, tool rate limits), guardrails on arguments and
// results, approvals, pinned tool definitions, and a record per tool call.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "http/server.h"

namespace gatehouse::runtime {
struct Snapshot;
}
namespace gatehouse::pipeline {
struct RequestContext;
}

namespace gatehouse::mcp {

// The route /mcp/{name} names ("" when the path is not under /mcp/).
std::string_view route_of(std::string_view path);

// DNS-rebinding protection, before anything else: an Origin or Host the config does not allow is
// a 403 (docs/mcp.md "Origin and Host").
std::optional<Error> check_origin(const runtime::Snapshot& snapshot, const http::Request& request);

// The WWW-Authenticate value of a 401 on /mcp/{name}: Bearer with resource_metadata.
std::string www_authenticate(const runtime::Snapshot& snapshot, const http::Request& request, std::string_view name);

// GET /.well-known/oauth-protected-resource[/mcp/{name}]: the RFC 9728 metadata (JSON), or a 404
// when no such route exists.
std::variant<std::string, Error> resource_metadata(const runtime::Snapshot& snapshot, const http::Request& request,
                                                   std::string_view path);

// Answers one request to /mcp/{name}, after the pipeline's on_request authenticated the caller.
boost::asio::awaitable<void> serve(http::Exchange& ex, pipeline::RequestContext& ctx, const runtime::Snapshot& snapshot);

}  // namespace gatehouse::mcp
