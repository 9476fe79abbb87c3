#include "http/upstream.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include "http/wire.h"
#include <array>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <limits>

namespace gatehouse::http {

namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunkBytes = 16 * 1024;
constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;

class UpstreamConnection {
 public:
  using Plain = beast::tcp_stream;
  using Tls = beast::ssl_stream<beast::tcp_stream>;

  explicit UpstreamConnection(Plain plain) : stream(std::move(plain)) {}

  beast::tcp_stream& lowest() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream);
  }
  void close() {
    boost::system::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
  }

  std::variant<Plain, Tls> stream;
  beast::flat_buffer buffer;
  // Body bytes are read into this, reused by every exchange on the connection.
  std::unique_ptr<char[]> chunk{new char[kChunkBytes]};
  Clock::time_point idle_since;
  bool reused = false;
};

namespace {

// Runs an async operation on whichever stream type the connection has.
template <class F>
auto on_stream(UpstreamConnection& c, F&& f) {
  return std::visit(std::forward<F>(f), c.stream);
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// True when the peer has closed (or sent bytes we did not ask for) on an idle socket.
bool idle_socket_is_dead(int fd) {
  char b;
  ssize_t n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  return true;  // 0: orderly close; >0: unsolicited bytes, the connection is not reusable
}

bool lost_before_response(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

}  // namespace

Origin Origin::of(const config::ProviderConfig& p) {
  Origin o;
  o.tls = p.tls;
  o.host = p.host;
  o.port = p.port;
  o.ca_file = p.ca_file;
  o.verify = p.verify_tls;
  o.max_idle = p.pool_max_idle;
  o.idle_timeout = p.pool_idle_timeout;
  bool default_port = (p.tls && p.port == "443") || (!p.tls && p.port == "80");
  std::string host = p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host;
  o.host_header = default_port ? host : host + ":" + p.port;
  o.key = std::string(o.tls ? "https://" : "http://") + o.host + ":" + o.port + "|" + o.ca_file +
          "|" + (o.verify ? "v" : "nv") + "|" + std::to_string(o.max_idle) + "|" +
          std::to_string(o.idle_timeout.count());
  return o;
}

UpstreamPool::UpstreamPool(asio::io_context& ioc, Origin origin)
    : ioc_(ioc), origin_(std::move(origin)) {}

UpstreamPool::~UpstreamPool() { close(); }

void UpstreamPool::close() {
  closed_ = true;
  for (auto& c : idle_) c->close();
  idle_.clear();
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take_idle() {
  auto now = Clock::now();
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    // A connection back from a request moments ago is alive unless the server raced us; that
    // rare case is caught by the retry in send(). Only one that sat idle a while is probed
    // (one syscall), because servers close idle keep-alive connections on their own timers.
    constexpr auto kProbeAfter = std::chrono::milliseconds(250);
    const auto idle_for = now - c->idle_since;
    if (idle_for > origin_.idle_timeout ||
        (idle_for > kProbeAfter && idle_socket_is_dead(c->lowest().socket().native_handle()))) {
      c->close();
      continue;
    }
    c->reused = true;
    return c;
  }
  return nullptr;
}

void UpstreamPool::give_back(std::unique_ptr<UpstreamConnection> connection) {
  if (closed_ || idle_.size() >= origin_.max_idle || connection->buffer.size() != 0 ||
      !connection->lowest().socket().is_open()) {
    connection->close();
    return;
  }
  connection->idle_since = Clock::now();
  connection->lowest().expires_never();
  idle_.push_back(std::move(connection));
}

asio::awaitable<std::variant<std::unique_ptr<UpstreamConnection>, Error>> UpstreamPool::connect(
    Clock::time_point deadline) {
  const std::string where = origin_.host + ":" + origin_.port;
  tcp::resolver resolver(ioc_);
  auto [rec, endpoints] = co_await resolver.async_resolve(origin_.host, origin_.port, kTuple);
  if (rec) co_return Error::upstream_connect("cannot resolve upstream host " + where + ": " + rec.message());

  beast::tcp_stream plain(ioc_);
  plain.expires_at(deadline);
  auto [cec, ep] = co_await plain.async_connect(endpoints, kTuple);
  if (cec == beast::error::timeout) {
    co_return Error::upstream_timeout("connecting to upstream " + where + " timed out");
  }
  if (cec) co_return Error::upstream_connect("cannot connect to upstream " + where + ": " + cec.message());
  boost::system::error_code ignored;
  plain.socket().set_option(tcp::no_delay(true), ignored);
  ++connects_;
  auto conn = std::make_unique<UpstreamConnection>(std::move(plain));
  if (!origin_.tls) co_return conn;

  if (!tls_) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_default_verify_paths();
    boost::system::error_code ec;
    if (!origin_.ca_file.empty()) ctx->load_verify_file(origin_.ca_file, ec);
    if (ec) co_return Error::upstream_connect("cannot load CA file " + origin_.ca_file + ": " + ec.message());
    ctx->set_verify_mode(origin_.verify ? ssl::verify_peer : ssl::verify_none);
    tls_ = std::move(ctx);
  }
  // Move the TCP stream out first: emplace() destroys the variant's current value before it
  // constructs the new one, which would hand the TLS stream a closed socket.
  UpstreamConnection::Plain tcp = std::move(std::get<UpstreamConnection::Plain>(conn->stream));
  auto& tls = conn->stream.emplace<UpstreamConnection::Tls>(std::move(tcp), *tls_);
  // SNI carries host names only (RFC 6066), never an IP literal.
  if (!is_ip_address(origin_.host)) {
    SSL_set_tlsext_host_name(tls.native_handle(), origin_.host.c_str());
  }
  if (origin_.verify) tls.set_verify_callback(ssl::host_name_verification(origin_.host));
  beast::get_lowest_layer(tls).expires_at(deadline);
  auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kTuple);
  if (hec == beast::error::timeout) {
    co_return Error::upstream_timeout("TLS handshake with upstream " + where + " timed out");
  }
  if (hec) {
    std::string reason = hec.message();
    long verify = SSL_get_verify_result(tls.native_handle());
    if (verify != X509_V_OK) reason = X509_verify_cert_error_string(verify);
    co_return Error::upstream_connect("TLS handshake with upstream " + where + " failed: " + reason);
  }
  co_return conn;
}

UpstreamPool& UpstreamPools::get(const Origin& origin) {
  auto it = pools_.find(origin.key);
  if (it != pools_.end()) return *it->second;
  auto pool = std::make_unique<UpstreamPool>(ioc_, origin);
  auto& ref = *pool;
  pools_.emplace(origin.key, std::move(pool));
  return ref;
}

void UpstreamPools::close() {
  for (auto& [key, pool] : pools_) pool->close();
}

UpstreamCall::UpstreamCall(UpstreamPool& pool, CallTimeouts timeouts)
    : pool_(pool), timeouts_(timeouts) {}

UpstreamCall::~UpstreamCall() {
  if (!conn_) return;
  if (done_ && !aborted_ && parser_ && parser_->keep_alive()) {
    pool_.give_back(std::move(conn_));
  } else {
    conn_->close();
  }
}

void UpstreamCall::arm(std::chrono::milliseconds phase) {
  auto phase_end = Clock::now() + phase;
  total_is_binding_ = deadline_ <= phase_end;
  conn_->lowest().expires_at(total_is_binding_ ? deadline_ : phase_end);
}

Error UpstreamCall::timeout_error(std::string_view phase) const {
  const auto& o = pool_.origin();
  if (total_is_binding_) {
    return Error::upstream_timeout("the upstream " + o.host + ":" + o.port +
                                   " did not finish within timeouts.total_ms (" +
                                   std::to_string(timeouts_.total.count()) + " ms)");
  }
  auto ms = phase == "first_byte_ms" ? timeouts_.first_byte : timeouts_.idle;
  return Error::upstream_timeout("the upstream " + o.host + ":" + o.port + " sent nothing within timeouts." +
                                 std::string(phase) + " (" + std::to_string(ms.count()) + " ms)");
}

asio::awaitable<std::optional<Error>> UpstreamCall::send(UpstreamRequest& request) {
  started_ = Clock::now();
  deadline_ = started_ + timeouts_.total;
  bool retry = false;
  auto error = co_await send_once(request, retry);
  if (error && retry && !aborted_) {
    spdlog::debug("reused upstream connection was closed by {}; retrying on a new one",
                  pool_.origin().host);
    retry = false;
    error = co_await send_once(request, retry);
  }
  co_return error;
}

asio::awaitable<std::optional<Error>> UpstreamCall::send_once(UpstreamRequest& request, bool& retry) {
  if (conn_) conn_->close();
  conn_ = pool_.take_idle();
  if (!conn_) {
    auto connect_deadline = std::min(deadline_, Clock::now() + timeouts_.connect);
    auto result = co_await pool_.connect(connect_deadline);
    if (auto* e = std::get_if<Error>(&result)) co_return std::move(*e);
    conn_ = std::move(std::get<0>(result));
  }
  const bool reused = conn_->reused;

  arm(timeouts_.first_byte);
  if (head_.empty()) head_ = request_head(request.method_string(), request.target(), request.base());
  std::array<asio::const_buffer, 2> wire{asio::buffer(head_), asio::buffer(request.body())};
  auto [wec, wn] = co_await on_stream(
      *conn_, [&](auto& s) { return asio::async_write(s, wire, kTuple); });
  if (wec) {
    if (wec == beast::error::timeout) co_return timeout_error("first_byte_ms");
    retry = reused;
    co_return Error::upstream_reset("sending the request to upstream " + pool_.origin().host +
                                    " failed: " + wec.message());
  }

  parser_.emplace();
  parser_->header_limit(kMaxResponseHeaderBytes);
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  auto [rec, rn] = co_await on_stream(
      *conn_, [&](auto& s) { return bhttp::async_read_header(s, conn_->buffer, *parser_, kTuple); });
  if (rec) {
    if (rec == beast::error::timeout) co_return timeout_error("first_byte_ms");
    if (lost_before_response(rec)) {
      retry = reused && rn == 0;
      co_return Error::upstream_reset("the upstream " + pool_.origin().host +
                                      " closed the connection before answering: " + rec.message());
    }
    co_return Error::upstream_protocol("the upstream " + pool_.origin().host +
                                       " sent an invalid HTTP response: " + rec.message());
  }
  if (aborted_) co_return Error::upstream_reset("the upstream exchange was cancelled");
  time_to_head_ = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
  done_ = parser_->is_done();
  co_return std::nullopt;
}

unsigned UpstreamCall::status() const { return parser_ ? parser_->get().result_int() : 0; }

std::string_view UpstreamCall::header(std::string_view name) const {
  if (!parser_) return {};
  auto it = parser_->get().find(name);
  if (it == parser_->get().end()) return {};
  return it->value();
}

asio::awaitable<std::variant<std::string_view, Error>> UpstreamCall::read_some() {
  while (!done_) {
    if (aborted_) co_return Error::upstream_reset("the upstream exchange was cancelled");
    char* chunk = conn_->chunk.get();
    auto& body = parser_->get().body();
    body.data = chunk;
    body.size = kChunkBytes;
    arm(timeouts_.idle);
    auto [ec, n] = co_await on_stream(
        *conn_, [&](auto& s) { return bhttp::async_read_some(s, conn_->buffer, *parser_, kTuple); });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (aborted_) co_return Error::upstream_reset("the upstream exchange was cancelled");
    if (ec) {
      done_ = false;
      if (ec == beast::error::timeout) co_return timeout_error("idle_ms");
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
        co_return Error::upstream_reset("the upstream exchange was cancelled");
      }
      co_return Error::upstream_reset("the connection to upstream " + pool_.origin().host +
                                      " was lost mid-response: " + ec.message());
    }
    done_ = parser_->is_done();
    std::size_t got = kChunkBytes - parser_->get().body().size;
    if (got > 0) co_return std::string_view(chunk, got);
  }
  co_return std::string_view{};
}

asio::awaitable<std::variant<std::string, Error>> UpstreamCall::read_all(std::size_t limit) {
  std::string body;
  if (auto len = parser_->content_length()) body.reserve(std::min<std::uint64_t>(*len, limit));
  for (;;) {
    auto piece = co_await read_some();
    if (auto* e = std::get_if<Error>(&piece)) co_return std::move(*e);
    auto view = std::get<std::string_view>(piece);
    if (view.empty()) break;
    if (body.size() + view.size() > limit) {
      co_return Error::upstream_protocol("the upstream response is larger than " +
                                         std::to_string(limit) + " bytes");
    }
    body.append(view);
  }
  co_return body;
}

void UpstreamCall::abort() {
  aborted_ = true;
  if (conn_) conn_->close();
}

}  // namespace gatehouse::http
