#include "server.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace mockllm {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// Limits that keep a misbehaving client from holding a socket or memory forever.
constexpr auto kIdleTimeout = 60s;     // between requests on a kept-alive connection
constexpr auto kRequestTimeout = 60s;  // reading one request's body
constexpr auto kWriteTimeout = 60s;    // one write; a stream sets it again before each event
constexpr auto kHandshakeTimeout = 30s;
constexpr auto kTlsShutdownTimeout = 2s;
constexpr std::uint64_t kMaxBody = 32 * 1024 * 1024;
constexpr std::uint32_t kMaxHeader = 64 * 1024;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

tcp::socket& raw_socket(beast::tcp_stream& s) { return s.socket(); }
tcp::socket& raw_socket(TlsStream& s) { return beast::get_lowest_layer(s).socket(); }

// SO_LINGER 0 makes close() send RST instead of FIN: the peer sees "connection reset", which
// is what an injected reset is for.
void reset_connection(tcp::socket& socket) {
  beast::error_code ignored;
  socket.set_option(net::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

// Waits `delay`; returns false as soon as the peer closes the connection instead. This is what
// lets the stats see a client (or gateway) abandon a stream between two tokens, not only at the
// next failing write. Readability without EOF means pipelined bytes or a TLS record, which
// this cannot judge, so it then just waits the delay out. (A client that half-closes its
// sending side counts as gone; HTTP clients do not do that while waiting for an answer.)
net::awaitable<bool> pause_unless_closed(tcp::socket& socket, std::chrono::milliseconds delay) {
  using namespace net::experimental::awaitable_operators;
  net::steady_timer timer(co_await net::this_coro::executor, delay);
  for (;;) {
    auto woke = co_await (timer.async_wait(kUseTuple) ||
                          socket.async_wait(tcp::socket::wait_read, kUseTuple));
    if (woke.index() == 0) co_return true;
    if (auto [wait_error] = std::get<1>(woke); wait_error) co_return false;
    char byte;
    const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      co_return false;
    }
    if (n > 0) {
      // The cancelled wait left the timer's expiry as it was.
      co_await timer.async_wait(kUseTuple);
      co_return true;
    }
  }
}

template <class Stream>
net::awaitable<beast::error_code> write_text(Stream& stream, std::string_view text) {
  beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
  auto [ec, n] = co_await net::async_write(stream, net::buffer(text), kUseTuple);
  co_return ec;
}

enum class Framing { kLength, kChunked, kUntilClose };

// The status line and headers, written by hand: the fields are few and fixed, and this keeps
// the per-request cost down.
void append_head(std::string& out, const Reply& reply, Framing framing, bool keep_alive,
                 unsigned version) {
  out += "HTTP/1.1 ";
  out += std::to_string(reply.status);
  out += ' ';
  const std::string_view reason = http::obsolete_reason(static_cast<http::status>(reply.status));
  // Beast knows no phrase for Anthropic's 529 (or other unregistered codes); clients read only
  // the number, but a readable line helps whoever looks at a capture.
  out += reply.status == 529            ? std::string_view("Overloaded")
         : reason == "<unknown-status>" ? std::string_view("Unknown")
                                        : reason;
  out += "\r\nServer: mockllm\r\nContent-Type: ";
  out += reply.content_type;
  if (framing == Framing::kLength) {
    out += "\r\nContent-Length: ";
    out += std::to_string(reply.body.size());
  } else if (framing == Framing::kChunked) {
    out += "\r\nTransfer-Encoding: chunked";
  }
  if (!keep_alive) {
    out += "\r\nConnection: close";
  } else if (version < 11) {
    out += "\r\nConnection: keep-alive";
  }
  for (const auto& [name, value] : reply.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  out += "\r\n\r\n";
}

void append_chunk(std::string& out, std::string_view data) {
  char size[16];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  out.append(size, static_cast<std::size_t>(n));
  out += data;
  out += "\r\n";
}

void log_exchange(const Request& req, const Decision& d, const ServerContext& ctx) {
  if (ctx.quiet) return;
  const Control& c = d.control;
  const bool notable = d.reply.status >= 400 || c.reset != ResetMode::kNone || c.latency_ms > 0;
  if (!notable) return;  // the common case stays silent so benchmarks are not paced by logging
  spdlog::info("{} {} -> {}{}{}", req.method_string(), req.target(), d.reply.status,
               c.latency_ms > 0 ? fmt::format(" after {} ms", c.latency_ms) : std::string(),
               c.reset == ResetMode::kBefore ? " (reset before answering)"
               : c.reset == ResetMode::kMid  ? " (reset mid-answer)"
                                             : "");
}

// Delivers one reply. Returns whether the connection may carry another request.
template <class Stream>
net::awaitable<bool> deliver(Stream& stream, const Request& req, const Decision& d,
                             ServerContext& ctx) {
  const Reply& reply = d.reply;
  const Control& c = d.control;
  tcp::socket& socket = raw_socket(stream);
  Stats& stats = ctx.stats;
  const bool keep_alive = req.keep_alive();

  std::optional<Stats::Gauge> active_stream;
  if (reply.stream) {
    stats.streams_started.fetch_add(1, std::memory_order_relaxed);
    active_stream.emplace(stats.active_streams);
  }
  auto client_left = [&] {
    if (reply.stream) {
      stats.streams_cancelled.fetch_add(1, std::memory_order_relaxed);
      if (!ctx.quiet)
        spdlog::info("{} {}: client went away mid-stream", req.method_string(), req.target());
    }
    return false;
  };

  if (c.latency_ms > 0 &&
      !co_await pause_unless_closed(socket, std::chrono::milliseconds(c.latency_ms))) {
    co_return client_left();
  }
  if (c.reset == ResetMode::kBefore) {
    if (reply.stream) stats.streams_reset.fetch_add(1, std::memory_order_relaxed);
    reset_connection(socket);
    co_return false;
  }

  std::string out;
  if (!reply.stream) {
    out.reserve(256 + reply.body.size());
    append_head(out, reply, Framing::kLength, keep_alive, req.version());
    if (c.reset == ResetMode::kMid) {
      out.append(reply.body, 0, reply.body.size() / 2);
      co_await write_text(stream, out);
      reset_connection(socket);
      co_return false;
    }
    out += reply.body;
    const beast::error_code ec = co_await write_text(stream, out);
    co_return !ec && keep_alive;
  }

  // A stream: each event is its own write, so the client sees it the moment it is made. The
  // head travels with the first event. HTTP/1.0 has no chunked encoding: the body then runs
  // until the connection closes.
  const bool chunked = req.version() >= 11;
  append_head(out, reply, chunked ? Framing::kChunked : Framing::kUntilClose, keep_alive && chunked,
              req.version());
  const std::size_t end =
      c.reset == ResetMode::kMid ? reply.events.size() / 2 : reply.events.size();
  for (std::size_t i = 0; i < end; ++i) {
    const StreamEvent& event = reply.events[i];
    if (event.paced && c.inter_token_ms > 0 &&
        !co_await pause_unless_closed(socket, std::chrono::milliseconds(c.inter_token_ms))) {
      co_return client_left();
    }
    const bool last = i + 1 == reply.events.size();
    if (last && c.linger_ms > 0) {  // the last event, then a pause before the body ends
      if (chunked) append_chunk(out, event.data); else out += event.data;
      if (co_await write_text(stream, out)) co_return client_left();
      out.clear();
      if (!co_await pause_unless_closed(socket, std::chrono::milliseconds(c.linger_ms))) co_return client_left();
      if (!chunked) break;
      out = "0\r\n\r\n";
    } else if (chunked) {
      append_chunk(out, event.data);
      if (last) out += "0\r\n\r\n";
    } else {
      out += event.data;
    }
    if (co_await write_text(stream, out)) co_return client_left();
    out.clear();
  }
  if (c.reset == ResetMode::kMid) {
    stats.streams_reset.fetch_add(1, std::memory_order_relaxed);
    reset_connection(socket);
    co_return false;
  }
  stats.streams_completed.fetch_add(1, std::memory_order_relaxed);
  co_return keep_alive&& chunked;
}

// Answers a request that could not be read, when there is still someone to answer.
template <class Stream>
net::awaitable<void> reject_unreadable(Stream& stream, beast::error_code ec) {
  Reply reply;
  if (ec == http::error::body_limit) {
    reply.status = 413;
    reply.body =
        R"({"error":{"message":"request body larger than 32 MiB","type":"invalid_request_error","param":null,"code":null}})";
  } else if (ec == http::error::header_limit) {
    reply.status = 431;
    reply.body =
        R"({"error":{"message":"request headers too large","type":"invalid_request_error","param":null,"code":null}})";
  } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
             ec != http::error::end_of_stream && ec != http::error::partial_message) {
    reply.status = 400;
    reply.body =
        R"({"error":{"message":"malformed HTTP request","type":"invalid_request_error","param":null,"code":null}})";
  } else {
    co_return;  // closed, reset or timed out: nobody is listening
  }
  std::string out;
  append_head(out, reply, Framing::kLength, false, 11);
  out += reply.body;
  co_await write_text(stream, out);
}

// Ends a connection politely: FIN for TCP, close_notify (bounded wait) for TLS.
net::awaitable<void> close_gracefully(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}
net::awaitable<void> close_gracefully(TlsStream& stream) {
  beast::get_lowest_layer(stream).expires_after(kTlsShutdownTimeout);
  co_await stream.async_shutdown(kUseTuple);  // a peer that never answers is not our problem
}

// The keep-alive loop of one connection: read a request, route it, deliver the reply.
template <class Stream>
net::awaitable<void> serve(Stream& stream, std::string_view sni, ServerContext& ctx) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeader);
    parser.body_limit(kMaxBody);
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
    if (!ec && !parser.is_done()) {
      // curl and others wait up to a second for this before sending a large body.
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        ec = co_await write_text(stream, "HTTP/1.1 100 Continue\r\n\r\n");
      }
      if (!ec) {
        beast::get_lowest_layer(stream).expires_after(kRequestTimeout);
        std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kUseTuple);
      }
    }
    if (ec) {
      co_await reject_unreadable(stream, ec);
      co_return;
    }
    const Request& req = parser.get();
    const Decision decision = route(req, sni, ctx.settings, ctx.stats);
    log_exchange(req, decision, ctx);
    if (!co_await deliver(stream, req, decision, ctx)) {
      if (raw_socket(stream).is_open()) co_await close_gracefully(stream);
      co_return;
    }
  }
}

net::awaitable<void> session(tcp::socket socket, ServerContext& ctx) {
  Stats::Gauge connection(ctx.stats.active_connections);
  if (!ctx.tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(stream, {}, ctx);
    co_return;
  }
  TlsStream stream(std::move(socket), *ctx.tls);
  beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
  auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, kUseTuple);
  if (ec) {
    if (!ctx.quiet) spdlog::info("TLS handshake failed: {}", ec.message());
    co_return;
  }
  // Recorded with each request so tests can check which name a gateway sent.
  const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
  co_await serve(stream, sni ? sni : "", ctx);
}

}  // namespace

net::awaitable<void> accept_loop(tcp::acceptor acceptor, ServerContext& ctx) {
  const auto executor = acceptor.get_executor();
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or similar: back off instead of spinning on the failing accept.
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer pause(executor, 50ms);
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    ctx.stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    socket.set_option(tcp::no_delay(true), ec);  // small SSE events must not wait for ACKs
    net::co_spawn(executor, session(std::move(socket), ctx), [](std::exception_ptr e) {
      try {
        if (e) std::rethrow_exception(e);
      } catch (const std::exception& x) {
        spdlog::error("connection ended by an exception: {}", x.what());
      }
    });
  }
}

}  // namespace mockllm
