// How a running gateway sees stored keys: a thread polls the store's change counter and publishes
// the active keys as an immutable index that request handlers read without I/O.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "store/key_store.h"

namespace gatehouse::store {

// The active stored keys at one moment (neither revoked nor expired when it was built), by
// digest. Immutable once published; shared by every worker.
class KeyIndex {
 public:
  KeyIndex() = default;
  // Keeps the keys of `keys` that are active at `now` (and when the expired ones expired).
  KeyIndex(std::vector<StoredKey> keys, std::int64_t now);

  // The key whose secret has the SHA-256 `digest` and that is still active at `now` (unix
  // seconds; a key may expire after the index was built), or null. A hash lookup (its timing can
  // only reveal digest bits, which do not help find a key) confirmed in constant time.
  const StoredKey* find(const config::Sha256& digest, std::int64_t now) const;

  // When the key whose secret has the SHA-256 `digest` expired (unix seconds), if it is one of
  // the store's keys that expired by `now` and was not revoked; else 0.
  std::int64_t expired_at(const config::Sha256& digest, std::int64_t now) const;

  std::size_t size() const { return by_digest_.size(); }
  // The earliest expires_at among the keys held (0: none expires).
  std::int64_t next_expiry() const { return next_expiry_; }

  template <class F>
  void for_each(F&& f) const {
    for (const auto& [digest, key] : by_digest_) f(key);
  }

 private:
  struct DigestHash {
    std::size_t operator()(const config::Sha256& d) const noexcept;
  };
  std::unordered_map<config::Sha256, StoredKey, DigestHash> by_digest_;
  std::unordered_map<config::Sha256, std::int64_t, DigestHash> expired_;  // digest -> expires_at
  std::int64_t next_expiry_ = 0;
};

struct KeyWatcherOptions {
  std::chrono::milliseconds interval{500};  // how often the store's version() is read
  std::function<std::int64_t()> now;        // unix seconds; empty: the system clock (tests
                                            // inject their own)
};

// Owns a thread that reads store.version() every `interval` and, when it changed (or a held key's
// expiry passed), loads the keys and publishes a new KeyIndex. So a key created or revoked by
// anyone sharing the store (the `keys` CLI, another gateway, the admin API) is seen within about
// one interval. A store error is logged (spdlog warn, once per distinct message) and the last
// good index stays published; the next tick tries again.
class KeyWatcher {
 public:
  // Loads the index once on the calling thread (an error message if that fails: a gateway should
  // not start without its keys), then starts the polling thread.
  static std::variant<std::unique_ptr<KeyWatcher>, std::string> start(
      std::shared_ptr<KeyStore> store, KeyWatcherOptions options = {});
  ~KeyWatcher();  // stops and joins the thread (at most one store call's wait)
  KeyWatcher(const KeyWatcher&) = delete;
  KeyWatcher& operator=(const KeyWatcher&) = delete;

  // The index published last. Any thread; no I/O and no lock held across a store call.
  std::shared_ptr<const KeyIndex> current() const {
    return current_.load(std::memory_order_acquire);
  }

  // Indexes published so far, the first included (tests, metrics).
  std::uint64_t publications() const { return publications_.load(std::memory_order_relaxed); }

 private:
  KeyWatcher(std::shared_ptr<KeyStore> store, KeyWatcherOptions options);
  // Reloads when the version changed or an expiry passed; an error message if the store failed.
  std::optional<std::string> poll(bool force);
  void loop();

  const std::shared_ptr<KeyStore> store_;
  const KeyWatcherOptions options_;
  std::atomic<std::shared_ptr<const KeyIndex>> current_;
  std::atomic<std::uint64_t> publications_{0};
  std::optional<std::uint64_t> version_;  // of the published index; only the polling thread
  std::string last_error_;                // the last store error logged; only the polling thread

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace gatehouse::store
