// The console (/ui/) and its sessions: the files compiled into the binary (console/assets.h) with
// a strict Content-Security-Policy, sign-in and sign-out at /admin/v1/session, and the session
// cookie turned back into the credential it carries for every other /admin/v1/ request
// (docs/console.md).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "admin/session.h"
#include "core/error.h"
#include "http/server.h"
#include "pipeline/context.h"
#include "runtime/snapshot.h"

namespace gatehouse::gateway {

inline constexpr std::string_view kSessionPath = "/admin/v1/session";

// GET/HEAD /ui and /ui/...: a file of the bundle, or index.html for the console's own routes.
boost::asio::awaitable<void> serve_console(http::Exchange& ex, pipeline::RequestContext& ctx,
                                           const runtime::Snapshot& snapshot);

// An admin request without Authorization or x-api-key: when it carries the session cookie,
// `authorization` becomes "Bearer <the session's credential>" (the caller then authenticates as
// any other), after the CSRF token is checked for anything but GET/HEAD. An error for a cookie
// that no longer opens, a missing or wrong X-CSRF-Token, or a cross-site Origin. Nothing is done
// without the cookie.
std::optional<Error> open_console_session(const http::Request& request, const admin::ConsoleSessions& sessions,
                                          std::string& authorization);

// /admin/v1/session: POST signs in ({"key": ...}), GET says who is signed in, DELETE signs out.
boost::asio::awaitable<void> serve_session(http::Exchange& ex, pipeline::RequestContext& ctx,
                                           const runtime::Snapshot& snapshot, admin::ConsoleSessions& sessions,
                                           std::string& authorization);

}  // namespace gatehouse::gateway
