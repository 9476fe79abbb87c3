#include "provider/oauth.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <map>

namespace gatehouse::provider {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

namespace {

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
  out.resize(std::size_t(n));
  return out;
}

}  // namespace

OAuthTokenSource::Clock::duration OAuthTokenSource::expiry_margin(Clock::duration ttl) {
  return std::min<Clock::duration>(40s, ttl / 2);
}

OAuthTokenSource::Clock::duration OAuthTokenSource::refresh_margin(Clock::duration ttl) {
  return std::min<Clock::duration>(20min, ttl / 2);
}

OAuthTokenSource::OAuthTokenSource(const config::ProviderConfig& p)
    : provider_(p.name),
      origin_(http::Origin::of(p)),
      timeouts_(http::CallTimeouts::of(p.timeouts)),
      path_(p.base_path + p.token_path),
      url_(std::string(p.tls ? "https://" : "http://") + http::Origin::of(p).host_header + p.base_path +
           p.token_path),
      authorization_("Basic " + base64(p.client_id + ":" + p.client_secret)),
      form_("grant_type=client_credentials&scope=" +
            boost::urls::encode(p.oauth_scope, boost::urls::unreserved_chars)) {}

std::shared_ptr<OAuthTokenSource> OAuthSources::get(const config::ProviderConfig& p) {
  // The secret is part of the identity only as a digest.
  auto digest = config::sha256(p.client_secret);
  std::string key = p.name + "|" + http::Origin::of(p).key + "|" + p.base_path + p.token_path + "|" + p.oauth_scope +
                    "|" + p.client_id + "|" +
                    std::string(reinterpret_cast<const char*>(digest.data()), digest.size()) + "|" +
                    std::to_string(p.timeouts.connect.count()) + "|" +
                    std::to_string(p.timeouts.first_byte.count());
  std::lock_guard lock(mu_);
  std::erase_if(sources_, [](const auto& kv) { return kv.second.expired(); });
  if (auto it = sources_.find(key); it != sources_.end()) {
    if (auto existing = it->second.lock()) return existing;
  }
  auto made = std::make_shared<OAuthTokenSource>(p);
  sources_[key] = made;
  return made;
}

asio::awaitable<std::variant<std::string, Error>> OAuthTokenSource::token(http::UpstreamPools& pools) {
  auto ex = co_await asio::this_coro::executor;
  std::shared_ptr<asio::steady_timer> timer;
  bool start = false;
  std::string current;
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    if (!token_.empty() && now < expires_) {
      current = token_;
      if (now >= refresh_at_ && !fetching_ && now >= background_retry_) {
        fetching_ = true;  // refresh in the background; this request uses the current token
        start = true;
      }
    } else {
      if (!fetching_) {
        if (last_error_ && now < fail_fast_until_) co_return *last_error_;
        fetching_ = true;
        start = true;
      }
      // Wait for the fetch: a timer that the fetch expires when it is done.
      timer = std::make_shared<asio::steady_timer>(ex, timeouts_.connect + timeouts_.first_byte + 1s);
      waiters_.push_back({ex, timer});
    }
  }
  // Outside the lock: the fetch takes it when it ends.
  if (start) start_fetch(ex, pools);
  if (!current.empty()) co_return current;

  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  std::lock_guard lock(mu_);
  if (!token_.empty() && Clock::now() < expires_) co_return token_;
  if (last_error_) co_return *last_error_;
  co_return Error::upstream_timeout("provider '" + provider_ + "': no OAuth token from " + url_ +
                                    " in time");
}

void OAuthTokenSource::rejected(std::string_view token) {
  std::lock_guard lock(mu_);
  if (token_ == token) {
    token_.clear();
    expires_ = {};
  }
}

void OAuthTokenSource::start_fetch(const asio::any_io_executor& ex, http::UpstreamPools& pools) {
  http::UpstreamPool& pool = pools.get(origin_);
  asio::co_spawn(ex, [self = shared_from_this(), &pool]() { return self->fetch(pool); }, asio::detached);
}

asio::awaitable<void> OAuthTokenSource::fetch(http::UpstreamPool& pool) {
  fetches_.fetch_add(1, std::memory_order_relaxed);
  finish(co_await request(pool));
}

asio::awaitable<std::variant<std::pair<std::string, OAuthTokenSource::Clock::duration>, Error>>
OAuthTokenSource::request(http::UpstreamPool& pool) {
  auto failed = [this](std::string why) {
    Error e = Error::upstream_connect("provider '" + provider_ + "' could not get an OAuth token from " +
                                      url_ + ": " + why);
    e.code = "upstream_auth_failed";
    return e;
  };
  http::UpstreamCall call(pool, timeouts_);
  http::UpstreamRequest req{bhttp::verb::post, path_, 11};
  req.set(bhttp::field::host, origin_.host_header);
  req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::user_agent, "gatehouse/" GATEHOUSE_VERSION);
  req.set(bhttp::field::authorization, authorization_);
  req.keep_alive(true);
  req.body() = form_;
  req.prepare_payload();
  if (auto e = co_await call.send(req)) co_return failed(e->message);
  unsigned status = call.status();
  auto body = co_await call.read_all(64 << 10);
  if (auto* e = std::get_if<Error>(&body)) co_return failed(e->message);
  boost::system::error_code ec;
  auto v = boost::json::parse(std::get<std::string>(body), ec);
  const boost::json::object* o = !ec && v.is_object() ? &v.get_object() : nullptr;
  if (status != 200) {
    std::string why = "HTTP " + std::to_string(status);
    if (o) {
      if (auto* err = o->if_contains("error"); err && err->is_string()) why += " " + std::string(err->get_string());
    }
    if (status == 400 || status == 401) why += "; check the provider's auth.client_id and auth.client_secret";
    // Retryable whatever the status (upstream_connect's default): a route falls back on a token
    // this provider cannot get, as on a credential it refuses — another target has its own.
    co_return failed(why);
  }
  const boost::json::value* tok = o ? o->if_contains("access_token") : nullptr;
  if (!tok || !tok->is_string() || tok->get_string().empty()) co_return failed("the answer has no access_token");
  std::int64_t ttl = 3600;
  if (auto* exp = o->if_contains("expires_in")) {
    if (exp->is_int64()) ttl = exp->get_int64();
    if (exp->is_uint64()) ttl = std::int64_t(exp->get_uint64());
    if (exp->is_double()) ttl = std::int64_t(exp->get_double());
  }
  if (ttl <= 0) ttl = 1;
  co_return std::pair{std::string(tok->get_string()), Clock::duration(std::chrono::seconds(ttl))};
}

void OAuthTokenSource::finish(std::variant<std::pair<std::string, Clock::duration>, Error> result) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    fetching_ = false;
    if (auto* got = std::get_if<0>(&result)) {
      token_ = std::move(got->first);
      expires_ = now + got->second - expiry_margin(got->second);
      refresh_at_ = now + got->second - refresh_margin(got->second);
      last_error_.reset();
    } else {
      last_error_ = std::get<Error>(std::move(result));
      fail_fast_until_ = now + 1s;
      background_retry_ = now + 60s;  // the SDK's back-off after a failed refresh
      spdlog::warn("{}", last_error_->message);
    }
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) {
    // Timers are not thread-safe: expire each on its own worker. Moving the expiry cancels a
    // pending wait and makes a wait not yet started return at once.
    asio::post(w.executor, [t = std::move(w.timer)] { t->expires_at(Clock::time_point::min()); });
  }
}

}  // namespace gatehouse::provider
