// The admin API's reads of the records (docs/admin-api.md, "Usage" and "Logs"): usage series and
// groups (CSV too), budgets, the inference log, MCP tool calls, the audit chain and its check.
// Store reads run on the store executor's thread; every answer is bounded (keyset pages, capped
// series and exports).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string_view>
#include <variant>

#include "admin/admin.h"

namespace gatehouse::admin {

// Whether `path` is one of the endpoints below (/admin/v1/usage/..., /budgets, /logs[/id],
// /mcp/calls, /audit[/verify]).
bool is_records_path(std::string_view path);

// Answers one of them (the caller is an admin: handle_admin checked).
boost::asio::awaitable<std::variant<AdminAnswer, Error>> records_api(const http::Request& request,
                                                                     std::string_view path,
                                                                     const pipeline::RequestContext& ctx,
                                                                     const runtime::Snapshot& snapshot);

}  // namespace gatehouse::admin
