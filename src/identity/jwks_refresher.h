// Internal to gh_identity: fetches an identity provider's JWKS from its URL on a thread of its
// own (one io_context, one UpstreamPool; TLS with certificate and host-name verification for
// https), at once when started, then every `every`, sooner when asked. A failed fetch changes
// nothing: the keys loaded before stay, a warning is logged, and the next try comes after a
// back-off (1 s, doubling, at most min(60 s, every)).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "identity/jwk.h"

namespace gatehouse::identity {

class JwksRefresher {
 public:
  using OnKeys = std::function<void(std::shared_ptr<const KeySet>)>;

  // `on_keys` runs on the refresher's thread with every key set fetched and parsed.
  JwksRefresher(std::string url, std::chrono::milliseconds every, OnKeys on_keys);
  // Stops the thread; a fetch in progress is abandoned (its connection closed).
  ~JwksRefresher();
  JwksRefresher(const JwksRefresher&) = delete;
  JwksRefresher& operator=(const JwksRefresher&) = delete;

  // Checks the URL and starts the thread, whose first fetch begins at once. Returns why the URL
  // cannot be used. Call once.
  std::optional<std::string> start();

  // Thread-safe, never blocks: asks for a fetch now instead of at the next tick (or right after
  // the fetch in progress). Rate limiting is the caller's.
  void fetch_soon();

  // Fetches finished so far, successful or not. A set a fetch brought has been handed to
  // `on_keys` before this count moves.
  std::uint64_t fetches() const { return fetches_.load(); }

 private:
  struct Loop;  // the io_context, pool and coroutine state; lives on the refresher's thread

  const std::string url_;
  const std::chrono::milliseconds every_;
  const OnKeys on_keys_;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<std::uint64_t> fetches_{0};
};

}  // namespace gatehouse::identity
