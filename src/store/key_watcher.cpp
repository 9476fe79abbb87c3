#include "store/key_watcher.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "store/key_rules.h"

namespace gatehouse::store {

std::size_t KeyIndex::DigestHash::operator()(const config::Sha256& d) const noexcept {
  // A digest is already uniformly distributed: its first bytes are a good hash.
  std::size_t h;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

KeyIndex::KeyIndex(std::vector<StoredKey> keys, std::int64_t now) {
  for (auto& k : keys) {
    const KeyStatus status = status_of(k, now);
    if (status == KeyStatus::kExpired) expired_.emplace(k.digest, k.expires_at);
    if (status != KeyStatus::kActive) continue;
    if (k.expires_at != 0 && (next_expiry_ == 0 || k.expires_at < next_expiry_)) {
      next_expiry_ = k.expires_at;
    }
    config::Sha256 digest = k.digest;
    by_digest_.emplace(digest, std::move(k));
  }
}

const StoredKey* KeyIndex::find(const config::Sha256& digest, std::int64_t now) const {
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end()) return nullptr;
  const StoredKey& k = it->second;
  if (CRYPTO_memcmp(k.digest.data(), digest.data(), digest.size()) != 0) return nullptr;
  if (k.expires_at != 0 && now >= k.expires_at) return nullptr;
  return &k;
}

std::int64_t KeyIndex::expired_at(const config::Sha256& digest, std::int64_t now) const {
  if (auto it = expired_.find(digest); it != expired_.end()) return it->second;
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end() || CRYPTO_memcmp(it->second.digest.data(), digest.data(), digest.size()) != 0) return 0;
  const auto expires = it->second.expires_at;
  return expires != 0 && now >= expires ? expires : 0;
}

std::variant<std::unique_ptr<KeyWatcher>, std::string> KeyWatcher::start(
    std::shared_ptr<KeyStore> store, KeyWatcherOptions options) {
  if (!options.now) options.now = unix_now;
  std::unique_ptr<KeyWatcher> w(new KeyWatcher(std::move(store), std::move(options)));
  if (auto e = w->poll(true)) return *e;
  w->thread_ = std::thread([p = w.get()] { p->loop(); });
  return w;
}

KeyWatcher::KeyWatcher(std::shared_ptr<KeyStore> store, KeyWatcherOptions options)
    : store_(std::move(store)), options_(std::move(options)) {
  current_.store(std::make_shared<const KeyIndex>(), std::memory_order_release);
}

KeyWatcher::~KeyWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> KeyWatcher::poll(bool force) {
  auto version = store_->version();
  if (auto* e = std::get_if<std::string>(&version)) return *e;
  std::uint64_t v = std::get<std::uint64_t>(version);
  std::int64_t now = options_.now();
  auto held = current();
  bool expiry_passed = held->next_expiry() != 0 && now >= held->next_expiry();
  if (!force && version_ == v && !expiry_passed) return std::nullopt;

  // A change between version() and list() is in the list already, and the next tick sees a
  // newer version and loads again: never a missed change, at worst one extra load.
  auto keys = store_->list();
  if (auto* e = std::get_if<std::string>(&keys)) return *e;
  auto index =
      std::make_shared<const KeyIndex>(std::move(std::get<std::vector<StoredKey>>(keys)), now);
  std::size_t n = index->size();
  current_.store(std::move(index), std::memory_order_release);
  publications_.fetch_add(1, std::memory_order_relaxed);
  if (version_ && *version_ != v) spdlog::info("stored keys changed: {} active", n);
  version_ = v;
  return std::nullopt;
}

void KeyWatcher::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (wake_.wait_for(lock, options_.interval, [this] { return stopping_; })) break;
    lock.unlock();
    auto error = poll(false);
    if (error && *error != last_error_) {
      spdlog::warn("{} (still using the {} stored keys loaded before)", *error, current()->size());
    } else if (!error && !last_error_.empty()) {
      spdlog::info("key store readable again");
    }
    last_error_ = error.value_or(std::string());
    lock.lock();
  }
}

}  // namespace gatehouse::store
