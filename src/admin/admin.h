// The admin API, /admin/v1/...: the kill switch, stored keys, health, guardrail tests, held MCP
// calls (approvals) and pinned MCP tool definitions. For callers whose role has
// `admin: true`; JSON in and out, errors in OpenAI's shape.
#pragma once

#include <boost/asio/awaitable.hpp>
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
  // (A constructor, not an aggregate: AdminAnswer{200, body} must not warn about the rest.)
  AdminAnswer(int status_ = 200, std::string body_ = {}, std::string content_type_ = "application/json",
              std::vector<std::pair<std::string, std::string>> headers_ = {})
      : status(status_), body(std::move(body_)), content_type(std::move(content_type_)), headers(std::move(headers_)) {}
  int status = 200;
  std::string body;  // JSON unless content_type says otherwise
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // more response headers (name, value)
};

// Answers one admin request (the caller is already authenticated; this checks it is an admin).
boost::asio::awaitable<std::variant<AdminAnswer, Error>> handle_admin(const http::Request& request,
                                                                      std::string_view path,
                                                                      const pipeline::RequestContext& ctx,
                                                                      const runtime::Snapshot& snapshot);

}  // namespace gatehouse::admin
