#include "identity/jwks_refresher.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include "http/upstream.h"

namespace gatehouse::identity {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

namespace {
constexpr std::size_t kMaxJwksBytes = 1 << 20;
constexpr std::chrono::milliseconds kFirstRetry = 1s;
constexpr std::chrono::milliseconds kMaxRetry = 60s;
const http::CallTimeouts kTimeouts{5s, 10s, 10s, 30s};
}  // namespace

struct JwksRefresher::Loop {
  explicit Loop(JwksRefresher& owner) : owner(owner) {}

  // The coroutines hold an UpstreamCall on `pool` and a timer: destroy them (with the
  // io_context's pending handlers) while the pool still exists, and the pool's sockets while
  // the io_context does.
  ~Loop() {
    if (pool) pool->close();
    ioc.reset();
    pool.reset();
  }

  asio::awaitable<void> run();
  asio::awaitable<bool> fetch_once();
  asio::awaitable<std::variant<ParsedKeySet, std::string>> fetch();

  JwksRefresher& owner;
  std::optional<asio::io_context> ioc{std::in_place, 1};
  std::unique_ptr<http::UpstreamPool> pool;
  std::string target;   // path and query for the request line
  std::string log_url;  // the URL without its query: what logs and messages name
  // Touched only on the loop's thread:
  asio::steady_timer* timer = nullptr;
  bool early = false;
  bool loaded = false;
  std::string last_kids;
};

JwksRefresher::JwksRefresher(std::string url, std::chrono::milliseconds every, OnKeys on_keys)
    : url_(std::move(url)),
      every_(std::max<std::chrono::milliseconds>(every, 1ms)),
      on_keys_(std::move(on_keys)) {}

JwksRefresher::~JwksRefresher() {
  if (thread_.joinable()) {
    loop_->ioc->stop();
    thread_.join();
  }
  loop_.reset();
}

std::optional<std::string> JwksRefresher::start() {
  if (loop_) return "the JWKS refresher was already started";
  auto parsed = boost::urls::parse_uri(url_);
  if (!parsed) return "auth.jwt.jwks_url is not a URL: " + parsed.error().message();
  const boost::urls::url_view u = *parsed;
  const bool tls = u.scheme_id() == boost::urls::scheme::https;
  if (!tls && u.scheme_id() != boost::urls::scheme::http)
    return std::string("auth.jwt.jwks_url must be http:// or https://");
  http::Origin origin;
  origin.tls = tls;
  origin.host = std::string(u.host_address());
  if (origin.host.empty()) return std::string("auth.jwt.jwks_url has no host");
  origin.port = u.has_port() ? std::string(u.port()) : (tls ? "443" : "80");
  origin.verify = true;
  origin.max_idle = 0;  // one fetch every few minutes: no connection is worth keeping
  const bool default_port = origin.port == (tls ? "443" : "80");
  const std::string host =
      origin.host.find(':') != std::string::npos ? "[" + origin.host + "]" : origin.host;
  origin.host_header = default_port ? host : host + ":" + origin.port;
  origin.key = "jwks|" + url_;

  loop_ = std::make_unique<Loop>(*this);
  loop_->target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) loop_->target += "?" + std::string(u.encoded_query());
  loop_->log_url =
      std::string(u.scheme()) + "://" + origin.host_header + std::string(u.encoded_path());
  loop_->pool = std::make_unique<http::UpstreamPool>(*loop_->ioc, std::move(origin));
  asio::co_spawn(*loop_->ioc, loop_->run(), asio::detached);
  thread_ = std::thread([loop = loop_.get()] {
    pthread_setname_np(pthread_self(), "gh-jwks");
    loop->ioc->run();
  });
  return std::nullopt;
}

void JwksRefresher::fetch_soon() {
  if (!thread_.joinable()) return;
  asio::post(*loop_->ioc, [loop = loop_.get()] {
    loop->early = true;
    if (loop->timer) loop->timer->cancel();
  });
}

asio::awaitable<void> JwksRefresher::Loop::run() {
  asio::steady_timer wait_timer(*ioc);
  timer = &wait_timer;
  const auto max_retry = std::min(kMaxRetry, owner.every_);
  auto retry = std::min(kFirstRetry, owner.every_);
  for (;;) {
    early = false;
    const bool ok = co_await fetch_once();
    owner.fetches_.fetch_add(1);
    const auto wait = ok ? owner.every_ : retry;
    retry = ok ? std::min(kFirstRetry, owner.every_) : std::min(retry * 2, max_retry);
    if (early) continue;  // asked for while this fetch ran: its answer may predate the change
    wait_timer.expires_after(wait);
    boost::system::error_code ec;
    co_await wait_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<bool> JwksRefresher::Loop::fetch_once() {
  std::variant<ParsedKeySet, std::string> result;
  try {
    result = co_await fetch();
  } catch (const std::exception& e) {
    result = std::string(e.what());
  }
  if (auto* why = std::get_if<std::string>(&result)) {
    spdlog::warn("auth.jwt: cannot fetch the identity provider's keys from {}: {}; {}", log_url,
                 *why,
                 loaded ? "keeping the keys loaded before"
                        : "no keys yet, so tokens are answered 503 until a fetch succeeds");
    co_return false;
  }
  auto parsed = std::get<ParsedKeySet>(std::move(result));
  std::string kids;
  for (const auto& k : parsed.set->keys)
    kids += (kids.empty() ? "" : ", ") + (k.kid.empty() ? "(no kid)" : k.kid);
  if (kids != last_kids) {  // log what changed, not every tick
    spdlog::info("auth.jwt: {} signing key(s) from {}: {}", parsed.set->keys.size(), log_url, kids);
    for (const auto& s : parsed.skipped) spdlog::info("auth.jwt: {}: {}", log_url, s);
    last_kids = kids;
  }
  owner.on_keys_(std::move(parsed.set));
  loaded = true;
  co_return true;
}

asio::awaitable<std::variant<ParsedKeySet, std::string>> JwksRefresher::Loop::fetch() {
  http::UpstreamCall call(*pool, kTimeouts);
  http::UpstreamRequest req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, pool->origin().host_header);
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::user_agent, "gatehouse/" GATEHOUSE_VERSION);
  req.keep_alive(false);
  if (auto e = co_await call.send(req)) co_return e->message;
  const unsigned status = call.status();
  auto body = co_await call.read_all(kMaxJwksBytes);
  if (auto* e = std::get_if<Error>(&body)) co_return e->message;
  if (status != 200) co_return "HTTP " + std::to_string(status);
  ParsedKeySet parsed = parse_jwks(std::get<std::string>(body), log_url);
  if (!parsed.set) co_return std::move(parsed.error);
  co_return parsed;
}

}  // namespace gatehouse::identity
