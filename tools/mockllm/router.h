// From a request to what to answer: inspection endpoints, recording, auth, per-request
// control, and the wire shape that answers.
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "control.h"
#include "reply.h"
#include "stats.h"

namespace mockllm {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

struct Settings {
  std::string require_token;  // non-empty: API requests must carry `Authorization: Bearer <it>`
  bool record = true;         // keep the recent requests for GET /__mock/requests
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
