// The relay moves bytes between one provider call and the client, and nothing else: it sends
// the upstream request, reads the head and a whole body, and pumps a stream's events to the
// client as they arrive. What the bytes mean (usage, guardrails, translation, records) is the
// LLM path's and the stages' business: a stream's events pass through an EventFilter on the way.
// While the upstream works, a client that leaves cuts the call short (its connection is closed,
// never pooled again).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"
#include "http/server.h"
#include "http/upstream.h"

namespace gatehouse::gateway {

namespace asio = boost::asio;

// Turns a read's complete provider events into what the client gets.
class EventFilter {
 public:
  virtual ~EventFilter() = default;
  // `events` are whole SSE events (each with its blank line), contiguous in one buffer. Returns
  // the bytes to write for them (may view `events`' buffer, or the filter's own; empty: nothing),
  // or an error that ends the stream.
  virtual std::variant<std::string_view, Error> filter(const std::vector<std::string_view>& events) = 0;
  // The bytes are about to be written to the client (the stages' on_sent: before they go).
  virtual void sent(std::string_view bytes) = 0;
  // The bytes were written to the client.
  virtual void delivered(std::string_view bytes) {}
};

class Relay {
 public:
  Relay(http::Exchange& client, http::UpstreamPool& pool, http::CallTimeouts timeouts);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Sends `request` and reads the response head; an error is a value (nothing reached the
  // client). From here until the relay ends, a client that leaves aborts the call.
  asio::awaitable<std::optional<Error>> open(http::UpstreamRequest& request);
  unsigned status() const { return call_.status(); }
  std::string_view header(std::string_view name) const { return call_.header(name); }
  std::chrono::microseconds time_to_head() const { return call_.time_to_head(); }
  // Time since open() began.
  std::chrono::microseconds elapsed() const;

  // The whole body, up to `limit` bytes.
  asio::awaitable<std::variant<std::string, Error>> read_all(std::size_t limit);

  // How a stream's pumping ended.
  struct StreamEnd {
    enum Kind { kEnded, kBroken, kClientGone } kind = kEnded;
    std::optional<Error> error;  // kBroken: what broke it (the upstream, or a filter's refusal)
    std::string tail;            // kEnded: the provider's unterminated last bytes, if any
  };
  // Reads the provider's stream to its end, writing each read's events, through `filter`, to the
  // client as one chunk at once (the stream's head must have been sent).
  asio::awaitable<StreamEnd> pump(EventFilter& filter);

  bool client_gone() const { return client_.client_gone(); }

 private:
  http::Exchange& client_;
  http::UpstreamCall call_;
  std::chrono::steady_clock::time_point opened_{};
  bool watching_ = false;
};

}  // namespace gatehouse::gateway
