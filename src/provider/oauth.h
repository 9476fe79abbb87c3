// OAuth 2.0 client credentials (machine-to-machine) for a provider: a Databricks service
// principal's token from {host}/oidc/v1/token. One source per provider, shared by every worker:
// the token is cached, refreshed in the background before it expires (while the old one is
// still used), fetched once however many requests wait for it, and dropped when the provider
// refuses it (HTTP 401) so the next request fetches a new one.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "http/upstream.h"

namespace gatehouse::provider {

class OAuthTokenSource : public std::enable_shared_from_this<OAuthTokenSource> {
 public:
  using Clock = std::chrono::steady_clock;

  explicit OAuthTokenSource(const config::ProviderConfig& provider);

  // A token valid now (without "Bearer "). Runs on the caller's worker; `pools` are that
  // worker's, and a fetch this call starts uses them.
  boost::asio::awaitable<std::variant<std::string, Error>> token(http::UpstreamPools& pools);

  // The provider refused `token`: forget it (when it is still the current one) so the next
  // token() fetches a fresh one.
  void rejected(std::string_view token);

  // Token requests sent so far (for tests and metrics).
  std::uint64_t fetches() const { return fetches_.load(std::memory_order_relaxed); }

  // When a token obtained now with a lifetime of `ttl` counts as expired, and when its
  // background refresh starts (the Databricks SDK's rule: 40 s early; refresh from
  // expiry - min(TTL/2, 20 min)).
  static Clock::duration expiry_margin(Clock::duration ttl);
  static Clock::duration refresh_margin(Clock::duration ttl);

 private:
  struct Waiter {
    boost::asio::any_io_executor executor;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };

  void start_fetch(const boost::asio::any_io_executor& ex, http::UpstreamPools& pools);
  boost::asio::awaitable<void> fetch(http::UpstreamPool& pool);
  boost::asio::awaitable<std::variant<std::pair<std::string, Clock::duration>, Error>> request(
      http::UpstreamPool& pool);
  void finish(std::variant<std::pair<std::string, Clock::duration>, Error> result);

  const std::string provider_;
  const http::Origin origin_;
  const http::CallTimeouts timeouts_;
  const std::string path_;
  const std::string url_;            // for messages: where tokens come from
  const std::string authorization_;  // "Basic base64(id:secret)"
  const std::string form_;           // grant_type=client_credentials&scope=...

  std::mutex mu_;
  std::string token_;
  Clock::time_point expires_{};     // treat as expired from here
  Clock::time_point refresh_at_{};  // start a background refresh from here
  bool fetching_ = false;
  std::optional<Error> last_error_;
  Clock::time_point fail_fast_until_{};   // a failed fetch is answered to waiters for this long
  Clock::time_point background_retry_{};  // no background refresh before this
  std::vector<Waiter> waiters_;
  std::atomic<std::uint64_t> fetches_{0};
};

// The token sources of every provider with OAuth credentials, one per credential, shared by the
// snapshots that use it (a long-lived service: runtime::Services).
class OAuthSources {
 public:
  // The source for `provider`'s credentials: a config reload that keeps the same host, client
  // and secret gets the same source back (and its cached token) instead of fetching anew.
  std::shared_ptr<OAuthTokenSource> get(const config::ProviderConfig& provider);

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<OAuthTokenSource>> sources_;
};

}  // namespace gatehouse::provider
