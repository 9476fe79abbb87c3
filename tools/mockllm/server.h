// The HTTP/1.1 server: accepting, reading requests, and delivering a routed Reply with the
// latency, pacing and faults its Control asks for.
//
// Each worker thread runs its own io_context with its own acceptor (SO_REUSEPORT), so workers
// share nothing on the request path but the Stats counters.
#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "router.h"
#include "stats.h"

namespace mockllm {

struct ServerContext {
  Settings settings;
  std::unique_ptr<oauth::Issuer> oauth;  // set with --oauth-client-id; settings.oauth points here
  Defaults defaults;                     // settings.defaults points here
  sql::Warehouse sql;                    // settings.sql points here
  Stats stats;
  boost::asio::ssl::context* tls = nullptr;  // set: serve HTTPS
  bool quiet = false;                        // log nothing but errors
};

// Accepts connections until the acceptor's io_context stops, serving each one on the same
// io_context. `context` must outlive that io_context.
boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor acceptor,
                                         ServerContext& context);

}  // namespace mockllm
