// The listener: one io_context and one SO_REUSEPORT acceptor per worker thread, one coroutine per
// connection reading requests in a loop (keep-alive), framing errors answered here, everything
// else handed to the Handler. Graceful drain on request.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"

namespace gatehouse::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Request = beast::http::request<beast::http::string_body>;
using Response = beast::http::response<beast::http::string_body>;
using StreamHead = beast::http::response<beast::http::empty_body>;
using Millis = std::chrono::milliseconds;

// Limits that a reload may change; each worker holds its own copy (no sharing on the hot path).
struct Limits {
  std::size_t max_body_bytes = 10 << 20;
  std::size_t max_header_bytes = 16 << 10;
  Millis header_timeout{30'000};
  Millis keepalive_timeout{75'000};
  Millis write_timeout{60'000};
};

// One request being answered, owned by its connection. Methods must be called from the
// connection's worker thread (they are, from Handler::handle).
class Exchange {
 public:
  Exchange(beast::tcp_stream& stream, Request& request, std::size_t worker, const Limits& limits,
           const std::atomic<bool>& draining);
  ~Exchange() { unwatch_client(); }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  Request& request() { return request_; }
  std::size_t worker() const { return worker_; }
  const std::string& request_id() const { return request_id_; }
  // Whether the request came in on the admin listener (server.admin_listen), not the main one.
  bool admin_listener() const { return admin_listener_; }
  void set_admin_listener(bool admin) { admin_listener_ = admin; }
  void set_request_id(std::string id) { request_id_ = std::move(id); }

  // Sends a whole response (x-request-id and keep-alive set here). False when the client is gone.
  asio::awaitable<bool> respond(Response& response);

  // Sends the head of a chunked response; then write_chunk() per piece and end_stream().
  asio::awaitable<bool> start_stream(StreamHead& head);
  asio::awaitable<bool> write_chunk(std::string_view data);
  asio::awaitable<bool> end_stream();
  bool stream_started() const { return stream_started_; }
  // Whether a response (whole or the head of a stream) has been written, or tried.
  bool answered() const { return answered_; }

  // Watches the client's connection while the gateway waits on something else (an upstream):
  // if the client closes or resets it, client_gone() becomes true and `on_gone` runs, once, on
  // this worker. A client that pipelined its next request is still there: watching then stops
  // quietly. Call unwatch_client() before anything `on_gone` refers to goes away; a second
  // watch_client() needs an unwatch_client() first.
  void watch_client(std::function<void()> on_gone);
  void unwatch_client();
  bool client_gone() const { return client_gone_; }

  // Whether the connection may serve another request after this one.
  bool keep_alive() const { return keep_alive_; }
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  beast::tcp_stream& stream_;
  Request& request_;
  std::size_t worker_;
  const Limits& limits_;
  const std::atomic<bool>& draining_;
  std::string request_id_;
  bool keep_alive_;
  bool stream_started_ = false;
  bool answered_ = false;
  bool chunked_ = true;
  bool client_gone_ = false;
  bool admin_listener_ = false;
  std::chrono::steady_clock::time_point started_;
  struct Watch {
    bool active = true;  // false once stopped or fired: the pending handler then does nothing
    std::function<void()> on_gone;
  };
  std::shared_ptr<Watch> watch_;
};

// What the server calls. Implemented by the application's composition root.
class Handler {
 public:
  virtual ~Handler() = default;
  // Answers one request. Runs on the connection's worker; must respond exactly once (a whole
  // response or a stream) unless the client went away. Must not throw for expected failures.
  virtual asio::awaitable<void> handle(Exchange& exchange) = 0;
  // An error response the server sends itself (framing errors, 413, a handler that threw), in
  // the API shape of the endpoint `target` names (the request target as sent, query included;
  // empty when not even the start line could be read), with x-request-id (and whatever else
  // that shape's answers carry) set to `request_id`.
  virtual Response render_error(const Error& error, const std::string& request_id, std::string_view target) = 0;
};

class Server {
 public:
  Server(Handler& handler, std::size_t workers);
  ~Server();

  // Binds every worker's acceptor to host:port; throws std::runtime_error naming the address
  // when it cannot (port in use, bad address).
  void listen(const std::string& host, const std::string& port, const Limits& limits);
  // Binds a second address for the admin API and the console (server.admin_listen), accepted on
  // the first worker; its requests say admin_listener(). Call after listen(); throws as it does.
  void listen_admin(const std::string& host, const std::string& port);
  // Starts the worker threads. Returns at once.
  void start();
  // Replaces the limits each worker applies to new requests.
  void update_limits(const Limits& limits);

  // Stops accepting, lets in-flight requests finish for at most `timeout` (new requests on open
  // connections are still served, with Connection: close), then stops the workers. Returns the
  // number of requests that were still in flight when the wait ended. `on_worker_stop(i)` runs on
  // worker i just before it stops (to release what lives on its io_context).
  int drain(Millis timeout, const std::function<void(std::size_t)>& on_worker_stop = {});

  std::size_t workers() const { return workers_.size(); }
  asio::io_context& context(std::size_t worker) { return workers_[worker]->ioc; }
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  unsigned short bound_port() const { return bound_port_; }
  unsigned short admin_port() const { return admin_port_; }

 private:
  struct Worker {
    asio::io_context ioc{1};
    // Keeps run() going when the worker has nothing pending (after drain closed its acceptor,
    // a worker without connections would otherwise return before the stop handler that
    // releases its upstream pools could run).
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
    std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
    std::unique_ptr<asio::ip::tcp::acceptor> admin_acceptor;  // the first worker's, with admin_listen
    Limits limits;
    std::thread thread;
  };

  asio::awaitable<void> accept_loop(std::size_t index, asio::ip::tcp::acceptor& acceptor, bool admin);
  asio::awaitable<void> session(std::size_t index, asio::ip::tcp::socket socket, bool admin);

  Handler& handler_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
  unsigned short bound_port_ = 0;
  unsigned short admin_port_ = 0;
  bool started_ = false;
};

}  // namespace gatehouse::http
