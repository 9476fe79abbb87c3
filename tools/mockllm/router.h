// From a request to what to answer: inspection endpoints, recording, auth, per-request
// control, and the wire shape that answers.
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "control.h"
#include "oauth.h"
#include "reply.h"
#include "sql_statements.h"
#include "stats.h"

namespace mockllm {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct Settings {
  // Non-empty: API requests must carry `Authorization: Bearer <it>` (or, on the Anthropic
  // path, `x-api-key: <it>`).
  std::string require_token;
  bool record = true;  // keep the recent requests for GET /__mock/requests
  // Set: serve POST /oidc/v1/token, and API requests must carry require_token (when set) or a
  // token this issuer issued and has not expired. Shared, mutable, thread-safe.
  oauth::Issuer* oauth = nullptr;
  // Set: POST /__mock/defaults sets options every API request starts from. Shared, mutable,
  // thread-safe.
  Defaults* defaults = nullptr;
  // Set: serve the SQL Statement Execution API (/api/2.0/sql/statements) over this fake
  // warehouse, configured with POST /__mock/sql. Shared, mutable, thread-safe.
  sql::Warehouse* sql = nullptr;
};

struct Decision {
  Control control;  // how to deliver the reply: latency, pacing, resets
  Reply reply;
};

// Decides the answer to one request. Called on the worker thread that read it; does no I/O and
// takes no lock but the request ring's. `sni` is the TLS server name the client sent, if any.
Decision route(const Request& request, std::string_view sni, const Settings& settings,
               Stats& stats);

}  // namespace mockllm
