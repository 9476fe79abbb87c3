// The gateway's side of one upstream MCP server: messages in, messages out. Two transports
// implement it — Streamable HTTP (http_upstream.cpp) and stdio (stdio.cpp) — and the MCP
// endpoint (mcp/endpoint.cpp) sees only this interface.
//
// Everything here runs on the calling worker's executor: a coroutine awaits it from the worker
// that serves the client's HTTP request, and every awaitable completes back on that executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.h"

namespace gatehouse::http {
class UpstreamPools;
}

namespace gatehouse::mcp {

// One JSON-RPC message from the upstream (a response, a notification, or a server-to-client
// request), as JSON text, with the SSE event id it came with (HTTP streams; "" otherwise).
// An SSE event without data (json empty) carries only an id and a retry: a server primes a
// stream that way so that a client can resume it (Last-Event-ID) before any message came.
struct Message {
  std::string json;
  std::string event_id;
  std::string retry;  // the event's `retry:` (milliseconds), "" when none
};

// The messages of one reply, in order. next() yields them until std::monostate (the end).
class MessageStream {
 public:
  virtual ~MessageStream() = default;
  virtual boost::asio::awaitable<std::variant<Message, std::monostate, Error>> next() = 0;
  // Stops reading (the client went away); a pending next() ends at once.
  virtual void abort() = 0;
};

// What the upstream said to one POST, before its messages.
struct Reply {
  int status = 200;               // 200 (messages follow), 202 (accepted, none), else an error
  std::string session_id;         // Mcp-Session-Id the upstream set (its answer to initialize)
  std::string body;               // the body of an error reply (status >= 300), for messages
  bool stream = false;            // the messages came as an SSE stream (else one JSON body)
  std::unique_ptr<MessageStream> messages;  // status 200: the reply's messages
};

// Per call: who the upstream session is and what credential the caller brings.
struct CallContext {
  std::string_view session_id;        // the upstream's Mcp-Session-Id ("" before initialize)
  std::string_view protocol_version;  // MCP-Protocol-Version to send ("" before initialize)
  std::string_view session_key;       // the gateway session this call belongs to (stdio: its process)
  std::string_view request_id;        // x-request-id
  std::string_view caller_bearer;     // the caller's JWT (only for passthrough servers)
  std::string_view last_event_id;     // Last-Event-ID for listen()
  http::UpstreamPools* pools = nullptr;  // the calling worker's connection pools (HTTP servers)
};

class Upstream {
 public:
  virtual ~Upstream() = default;
  // Sends one client message (JSON text). For a request, the reply's messages end with the
  // response of the same id (server-to-client requests and notifications may come before it);
  // a notification or a response gets 202.
  virtual boost::asio::awaitable<Reply> post(const CallContext& call, std::string json) = 0;
  // The messages the server sends outside any request (the GET stream); status 405 when it
  // offers none.
  virtual boost::asio::awaitable<Reply> listen(const CallContext& call) = 0;
  // Ends the upstream session (DELETE; stdio: stops the process).
  virtual boost::asio::awaitable<void> end(const CallContext& call) = 0;
};

}  // namespace gatehouse::mcp
