// The upstream HTTP client: a keep-alive pool per provider and worker, TLS with certificate
// verification and SNI, and the four timeouts (connect, first byte, idle, total).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "config/config.h"
#include "core/error.h"

namespace gatehouse::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;
using UpstreamRequest = beast::http::request<beast::http::string_body>;

// Where a pool connects: one origin with its TLS settings.
struct Origin {
  bool tls = false;
  std::string host;
  std::string port;
  std::string ca_file;
  bool verify = true;
  std::size_t max_idle = 64;
  std::chrono::milliseconds idle_timeout{30'000};
  std::string host_header;  // "host" or "host:port" (the port only when not the scheme's default)

  // Pools are shared by every snapshot whose provider has the same key: a reload keeps them.
  std::string key;

  static Origin of(const config::ProviderConfig& provider);
};

class UpstreamConnection;

// Idle keep-alive connections to one origin, owned by one worker (no locking).
class UpstreamPool {
 public:
  UpstreamPool(asio::io_context& ioc, Origin origin);
  ~UpstreamPool();

  // An idle connection that still looks alive, or null.
  std::unique_ptr<UpstreamConnection> take_idle();
  // A fresh connection (TCP, then TLS when the origin uses it), or the error why not.
  asio::awaitable<std::variant<std::unique_ptr<UpstreamConnection>, Error>> connect(
      Clock::time_point deadline);
  // Keeps `connection` for reuse when there is room; closes it otherwise.
  void give_back(std::unique_ptr<UpstreamConnection> connection);
  // Closes the idle connections and keeps none from now on. Runs on the worker before its
  // io_context stops, so no socket outlives the context it belongs to.
  void close();

  const Origin& origin() const { return origin_; }
  std::size_t idle_count() const { return idle_.size(); }
  std::uint64_t connects() const { return connects_; }

 private:
  asio::io_context& ioc_;
  Origin origin_;
  std::shared_ptr<asio::ssl::context> tls_;  // built on first TLS connect
  std::vector<std::unique_ptr<UpstreamConnection>> idle_;
  std::uint64_t connects_ = 0;
  bool closed_ = false;
};

// The pools of one worker, keyed by Origin::key. Lives as long as the worker.
class UpstreamPools {
 public:
  explicit UpstreamPools(asio::io_context& ioc) : ioc_(ioc) {}
  UpstreamPool& get(const Origin& origin);
  // UpstreamPool::close() for every pool (at shutdown, on the worker thread).
  void close();

 private:
  asio::io_context& ioc_;
  std::unordered_map<std::string, std::unique_ptr<UpstreamPool>> pools_;
};

struct CallTimeouts {
  std::chrono::milliseconds connect, first_byte, idle, total;
  static CallTimeouts of(const config::ProviderTimeouts& t) {
    return {t.connect, t.first_byte, t.idle, t.total};
  }
};

// One request/response exchange with an upstream. Not copyable; the connection goes back to the
// pool on destruction when the response was read to its end and may be kept alive.
class UpstreamCall {
 public:
  UpstreamCall(UpstreamPool& pool, CallTimeouts timeouts);
  ~UpstreamCall();
  UpstreamCall(const UpstreamCall&) = delete;
  UpstreamCall& operator=(const UpstreamCall&) = delete;

  // Sends `request` and reads the response head. A reused connection that fails before any byte
  // of the response arrived (the server had closed it while idle) is retried once on a new one.
  asio::awaitable<std::optional<Error>> send(UpstreamRequest& request);

  unsigned status() const;
  std::string_view header(std::string_view name) const;

  // The next bytes of the body as they arrive; an empty view at the end of the body. The view
  // is valid until the next call.
  asio::awaitable<std::variant<std::string_view, Error>> read_some();
  // The whole body, failing if it exceeds `limit` bytes.
  asio::awaitable<std::variant<std::string, Error>> read_all(std::size_t limit);

  // Closes the connection now (the client went away); a pending read or write fails at once.
  void abort();
  // Time from send() to the response head.
  std::chrono::microseconds time_to_head() const { return time_to_head_; }

 private:
  asio::awaitable<std::optional<Error>> send_once(UpstreamRequest& request, bool& retry);
  void arm(std::chrono::milliseconds phase);
  Error timeout_error(std::string_view phase) const;

  UpstreamPool& pool_;
  CallTimeouts timeouts_;
  Clock::time_point started_;
  Clock::time_point deadline_;
  bool total_is_binding_ = false;  // the last arm() was limited by the total deadline
  std::unique_ptr<UpstreamConnection> conn_;
  std::string head_;  // the request's start line and fields, serialised once (kept for a retry)
  std::optional<beast::http::response_parser<beast::http::buffer_body>> parser_;
  bool done_ = false;
  // Sticky: an operation that had already completed when abort() ran still resumes with
  // success, and must not make the closed connection look reusable.
  bool aborted_ = false;
  std::chrono::microseconds time_to_head_{0};
};

}  // namespace gatehouse::http
