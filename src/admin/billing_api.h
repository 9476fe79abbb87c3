// The admin API's Databricks billing (docs/admin-api.md#databricks-billing):
//   GET  /admin/v1/billing?from=&to=   DBU cost per project and day beside model spend
//   POST /admin/v1/billing/import      imports now (audited)
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string_view>
#include <variant>

#include "admin/admin.h"

namespace gatehouse::admin {

// Whether `path` is one of the billing endpoints.
bool is_billing_path(std::string_view path);

// Answers a billing request (the caller is an admin: handle_admin checked).
boost::asio::awaitable<std::variant<AdminAnswer, Error>> handle_billing(const http::Request& request,
                                                                        std::string_view path,
                                                                        const pipeline::RequestContext& ctx,
                                                                        const runtime::Snapshot& snapshot);

}  // namespace gatehouse::admin
