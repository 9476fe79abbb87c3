// The admin API, /admin/v1/...: the kill switch, stored keys, health, guardrail tests, held MCP
// calls (approvals) and pinned MCP tool definitions. For callers whose role has
// `admin: true`; JSON in and out, errors in OpenAI's shape.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <variant>

#include "runtime/snapshot.h"
#include "core/error.h"
#include "http/server.h"
#include "pipeline/context.h"

namespace gatehouse::admin {

struct AdminAnswer {
  AdminAnswer() = default;
  AdminAnswer(int status, std::string body) : status(status), body(std::move(body)) {}
  int status = 200;
  std::string body;  // JSON unless content_type says otherwise
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // more response headers (name, value)
};

// Appends an admin action to the audit chain (when there is a store): never dropped; under a
// full record queue the caller waits (back-pressure).
void audit(const runtime::Snapshot& snapshot, const pipeline::RequestContext& ctx, std::string kind,
           std::string subject, boost::json::object detail);

// A 403 unless one of the caller's roles has admin: true.
std::optional<Error> require_admin(const pipeline::RequestContext& ctx);

// The 405 for an admin endpoint that takes only `allowed` ("GET, POST").
Error not_allowed(std::string_view allowed);

// Answers one admin request (the caller is already authenticated; this checks it is an admin).
boost::asio::awaitable<std::variant<AdminAnswer, Error>> handle_admin(const http::Request& request,
                                                                      std::string_view path,
                                                                      const pipeline::RequestContext& ctx,
                                                                      const runtime::Snapshot& snapshot);

}  // namespace gatehouse::admin
