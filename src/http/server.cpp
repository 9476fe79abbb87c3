#include "http/server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <array>
#include <cerrno>

#include "core/request_id.h"
#include "http/wire.h"

namespace gatehouse::http {

namespace bhttp = beast::http;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Exchange::Exchange(beast::tcp_stream& stream, Request& request, std::size_t worker,
                   const Limits& limits, const std::atomic<bool>& draining)
    : stream_(stream),
      request_(request),
      worker_(worker),
      limits_(limits),
      draining_(draining),
      keep_alive_(request.keep_alive()),
      started_(std::chrono::steady_clock::now()) {}

asio::awaitable<bool> Exchange::respond(Response& response) {
  if (draining_.load(std::memory_order_relaxed)) keep_alive_ = false;
  response.set("x-request-id", request_id_);
  response.keep_alive(keep_alive_);
  response.prepare_payload();
  std::string head = response_head(response.version(), response.result_int(), response.base());
  // A response to HEAD has the headers of the GET answer (Content-Length included), no body.
  const bool head_only = request_.method() == bhttp::verb::head;
  std::array<asio::const_buffer, 2> wire{
      asio::buffer(head), head_only ? asio::const_buffer() : asio::buffer(response.body())};
  answered_ = true;
  stream_.expires_after(limits_.write_timeout);
  auto [ec, n] = co_await asio::async_write(stream_, wire, kTuple);
  stream_.expires_never();
  if (ec) {
    keep_alive_ = false;
    client_gone_ = true;
  }
  co_return !ec;
}

asio::awaitable<bool> Exchange::start_stream(StreamHead& head) {
  if (draining_.load(std::memory_order_relaxed)) keep_alive_ = false;
  head.set("x-request-id", request_id_);
  head.version(request_.version());
  // HTTP/1.0 has no chunked encoding: the body then ends when the connection closes.
  chunked_ = request_.version() >= 11;
  if (!chunked_) keep_alive_ = false;
  head.keep_alive(keep_alive_);
  head.chunked(chunked_);
  stream_started_ = true;
  answered_ = true;
  std::string wire = response_head(head.version(), head.result_int(), head.base());
  stream_.expires_after(limits_.write_timeout);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(wire), kTuple);
  stream_.expires_never();
  if (ec) {
    keep_alive_ = false;
    client_gone_ = true;
  }
  co_return !ec;
}

asio::awaitable<bool> Exchange::write_chunk(std::string_view data) {
  if (client_gone_) co_return false;
  if (data.empty()) co_return true;  // an empty chunk would end the body
  stream_.expires_after(limits_.write_timeout);
  boost::system::error_code ec;
  if (chunked_) {
    char scratch[24];
    std::array<asio::const_buffer, 3> wire{asio::buffer(chunk_header(data.size(), scratch)),
                                           asio::const_buffer(data.data(), data.size()),
                                           asio::buffer("\r\n", 2)};
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, wire, kTuple);
  } else {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(stream_, asio::const_buffer(data.data(), data.size()), kTuple);
  }
  stream_.expires_never();
  if (ec) {
    keep_alive_ = false;
    client_gone_ = true;
  }
  co_return !ec;
}

asio::awaitable<bool> Exchange::end_stream() {
  if (client_gone_) co_return false;
  if (!chunked_) co_return true;  // the connection's close ends the body
  stream_.expires_after(limits_.write_timeout);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer("0\r\n\r\n", 5), kTuple);
  stream_.expires_never();
  if (ec) {
    keep_alive_ = false;
    client_gone_ = true;
  }
  co_return !ec;
}

void Exchange::watch_client(std::function<void()> on_gone) {
  watch_ = std::make_shared<Watch>();
  watch_->on_gone = std::move(on_gone);
  auto& socket = stream_.socket();
  // A plain completion handler, not a coroutine: this runs on every proxied request, and a
  // parallel group of two coroutines cost a fifth of the gateway's CPU (measured, callgrind).
  socket.async_wait(tcp::socket::wait_read, [watch = watch_, this](boost::system::error_code ec) {
    if (!watch->active) return;  // stopped: this Exchange may no longer exist
    watch->active = false;
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      char c;
      ssize_t n = ::recv(stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return;  // pipelined
    }
    client_gone_ = true;
    keep_alive_ = false;
    watch->on_gone();
  });
}

void Exchange::unwatch_client() {
  if (!watch_) return;
  if (watch_->active) {
    watch_->active = false;
    boost::system::error_code ec;
    stream_.socket().cancel(ec);  // only the watch is pending on this socket now
  }
  watch_.reset();
}

Server::Server(Handler& handler, std::size_t workers) : handler_(handler) {
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
}

Server::~Server() {
  for (auto& w : workers_) w->ioc.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

namespace {

// The address to bind for host (an address, or a name resolved once at start-up).
asio::ip::address listen_address(const std::string& host, const std::string& port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return address;
  asio::io_context tmp;
  tcp::resolver resolver(tmp);
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot resolve listen address " + host + ": " + ec.message());
  }
  return results.begin()->endpoint().address();
}

}  // namespace

void Server::listen_admin(const std::string& host, const std::string& port) {
  auto& w = *workers_.front();
  boost::system::error_code ec;
  tcp::endpoint endpoint(listen_address(host, port), static_cast<unsigned short>(std::stoi(port)));
  auto acceptor = std::make_unique<tcp::acceptor>(w.ioc);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + host + ":" + port + " (server.admin_listen): " + ec.message());
  admin_port_ = acceptor->local_endpoint().port();
  w.admin_acceptor = std::move(acceptor);
}

void Server::listen(const std::string& host, const std::string& port, const Limits& limits) {
  boost::system::error_code ec;
  auto address = listen_address(host, port);
  unsigned short p = static_cast<unsigned short>(std::stoi(port));
  {
    // A plain bind first: SO_REUSEPORT alone would let a second gateway share a port that
    // another process (or another gateway) already listens on. Port 0 picks the port here.
    asio::io_context tmp;
    tcp::acceptor probe(tmp);
    tcp::endpoint endpoint(address, p);
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + host + ":" + port + ": " + ec.message());
    }
    p = probe.local_endpoint().port();
  }
  for (auto& w : workers_) {
    w->limits = limits;
    auto acceptor = std::make_unique<tcp::acceptor>(w->ioc);
    tcp::endpoint endpoint(address, p);
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        ec.assign(errno, boost::system::system_category());
      }
    }
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(p) + ": " +
                               ec.message());
    }
    // Port 0 means "any free port": the other workers must share the one the first one got.
    p = acceptor->local_endpoint().port();
    w->acceptor = std::move(acceptor);
  }
  bound_port_ = p;
}

void Server::start() {
  started_ = true;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    auto& w = *workers_[i];
    asio::co_spawn(w.ioc, accept_loop(i, *w.acceptor, false), asio::detached);
    if (w.admin_acceptor) asio::co_spawn(w.ioc, accept_loop(i, *w.admin_acceptor, true), asio::detached);
    w.thread = std::thread([&w] {
      for (;;) {
        try {
          w.ioc.run();
          return;
        } catch (const std::exception& e) {
          // A handler escaped with an exception: a bug. Count-and-log; keep serving.
          spdlog::error("worker: unhandled exception: {}", e.what());
        }
      }
    });
  }
}

void Server::update_limits(const Limits& limits) {
  for (auto& w : workers_) {
    asio::post(w->ioc, [wp = w.get(), limits] { wp->limits = limits; });
  }
}

asio::awaitable<void> Server::accept_loop(std::size_t index, tcp::acceptor& acceptor, bool admin) {
  auto& w = *workers_[index];
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: back off briefly rather than spin.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer t(w.ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(kTuple);
      continue;
    }
    asio::co_spawn(w.ioc, session(index, std::move(socket), admin), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::debug("connection ended with exception: {}", ex.what());
      }
    });
  }
}

namespace {

// Framing and size errors close the connection: the rest of the stream cannot be trusted.
std::optional<Error> framing_error(const boost::system::error_code& ec, const Limits& limits) {
  if (ec == bhttp::error::body_limit) {
    return Error::too_large("the request body is larger than server.max_body_bytes (" +
                            std::to_string(limits.max_body_bytes) + " bytes)");
  }
  if (ec == bhttp::error::header_limit) {
    return Error::bad_request("the request headers are larger than " +
                              std::to_string(limits.max_header_bytes) + " bytes");
  }
  if (ec.category() == make_error_code(bhttp::error::end_of_stream).category() &&
      ec != bhttp::error::end_of_stream &&
      ec != bhttp::error::partial_message) {
    return Error::bad_request("malformed HTTP request: " + ec.message());
  }
  return std::nullopt;
}

// Before closing a connection whose request was not read to its end (413, framing errors):
// stop sending, then read and discard what the client is still sending for a moment. Closing
// with unread data makes the kernel send a reset, which can destroy the error response before the
// client has read it.
asio::awaitable<void> linger(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  static constexpr std::size_t kMaxDiscard = 4 << 20;
  char scratch[16 * 1024];
  std::size_t discarded = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (discarded < kMaxDiscard) {
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
    if (rec) break;
    discarded += n;
  }
  stream.expires_never();
}

using RequestParser = bhttp::request_parser<bhttp::string_body>;

// Reads one request: waits for it to start (keep-alive idle time), then for the rest of it.
asio::awaitable<boost::system::error_code> read_request(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                        RequestParser& parser, const Limits& limits) {
  boost::system::error_code ec;
  if (buffer.size() == 0) {
    stream.expires_after(limits.keepalive_timeout);
    auto [rec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kTuple);
    ec = rec;
  }
  if (!ec && !parser.is_header_done()) {
    stream.expires_after(limits.header_timeout);
    auto [rec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
    ec = rec;
  }
  if (!ec && !parser.is_done() && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
    // curl sends this for bodies over 1 KiB and waits a second for it before sending anyway.
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    stream.expires_after(limits.write_timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(kContinue), kTuple);
    ec = wec;
  }
  if (!ec && !parser.is_done()) {
    stream.expires_after(limits.header_timeout);
    auto [rec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    ec = rec;
  }
  stream.expires_never();
  co_return ec;
}

// Answers a request that could not be read (too large, malformed) and lingers before the close.
// What the parser did read decides the answer's shape: the start line (its target names the
// endpoint) and, when the header block was read whole (`header_whole`), the client's own
// x-request-id.
asio::awaitable<void> reject_before_routing(beast::tcp_stream& stream, Handler& handler, const Error& error,
                                            const RequestParser& parser, bool header_whole, const Limits& limits) {
  const auto& partial = parser.get();
  std::string_view incoming_id;
  if (header_whole) incoming_id = partial["x-request-id"];
  std::string id = acceptable_request_id(incoming_id) ? std::string(incoming_id) : new_request_id();
  Response res = handler.render_error(error, id, partial.target());
  res.set("x-request-id", id);
  res.keep_alive(false);
  res.prepare_payload();
  std::string head = response_head(res.version(), res.result_int(), res.base());
  std::array<asio::const_buffer, 2> wire{asio::buffer(head), asio::buffer(res.body())};
  stream.expires_after(limits.write_timeout);
  co_await asio::async_write(stream, wire, kTuple);
  spdlog::info("{} rejected before routing: {} ({})", id, error.status, error.message);
  co_await linger(stream);
}

}  // namespace

asio::awaitable<void> Server::session(std::size_t index, tcp::socket socket, bool admin) {
  auto& w = *workers_[index];
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;

  for (;;) {
    const Limits& limits = w.limits;
    RequestParser parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);

    ec = co_await read_request(stream, buffer, parser, limits);
    if (ec) {
      // A Content-Length over the limit is refused once the header block is parsed, but before
      // the parser counts it done.
      const bool header_whole = parser.is_header_done() || ec == bhttp::error::body_limit;
      if (auto error = framing_error(ec, limits)) {
        co_await reject_before_routing(stream, handler_, *error, parser, header_whole, limits);
      }
      break;  // eof, timeout, reset or framing error: close
    }

    Request request = parser.release();
    Exchange exchange(stream, request, index, limits, draining_);
    exchange.set_admin_listener(admin);
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    struct Done {
      std::atomic<int>& n;
      ~Done() { n.fetch_sub(1, std::memory_order_relaxed); }
    } done{in_flight_};
    bool failed = false;
    try {
      co_await handler_.handle(exchange);
    } catch (const std::exception& e) {
      // A bug, not an expected failure: count-and-log, answer 500 if nothing was sent yet, and
      // close the connection (its state cannot be trusted).
      spdlog::error("{} handler failed: {}", exchange.request_id(), e.what());
      failed = true;
    }
    if (failed) {
      if (!exchange.answered()) {
        if (exchange.request_id().empty()) exchange.set_request_id(new_request_id());
        Response res = handler_.render_error(
            Error::internal("the gateway failed to handle this request; it has been logged"),
            exchange.request_id(), exchange.request().target());
        res.keep_alive(false);
        co_await exchange.respond(res);
      }
      break;
    }
    if (!exchange.keep_alive()) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
}

int Server::drain(Millis timeout, const std::function<void(std::size_t)>& on_worker_stop) {
  draining_.store(true);
  for (auto& w : workers_) {
    asio::post(w->ioc, [wp = w.get()] {
      boost::system::error_code ec;
      if (wp->acceptor) wp->acceptor->close(ec);
      if (wp->admin_acceptor) wp->admin_acceptor->close(ec);
    });
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int left = in_flight();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    asio::post(workers_[i]->ioc, [this, i, &on_worker_stop] {
      if (on_worker_stop) on_worker_stop(i);
      workers_[i]->ioc.stop();
    });
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  return left;
}

}  // namespace gatehouse::http
