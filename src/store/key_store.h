// Gateway keys created at run time (`gatehouse keys create`, /admin/v1/keys), kept in a store
// instead of the configuration file. Only a key's SHA-256 digest is kept: the secret is shown
// once, when the key is made, and cannot be recovered.
//
// No Asio here: the watcher (key_watcher.h) and the executor (store_executor.h) bring the
// threads; this interface is plain blocking calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.h"

namespace gatehouse::store {

struct StoredKey {
  std::string name;           // unique in the store, for ever (a revoked key keeps its name)
  config::Sha256 digest{};    // SHA-256 of the secret; the secret itself is never stored
  std::string prefix;         // the first 8 characters of the secret after "gh_" (shown by
                              // list, to recognise a key)
  std::string role, project;  // empty: none
  std::vector<std::pair<std::string, std::string>> tags;  // in the order given
  std::int64_t created_at = 0;                            // unix seconds
  std::int64_t expires_at = 0;                            // 0: never
  std::int64_t revoked_at = 0;                            // 0: not revoked
};

// A new key: "gh_" + 43 base64url characters of 32 random bytes (OpenSSL RAND_bytes), 256 bits
// of entropy. Throws std::runtime_error only if the random generator fails.
std::string new_secret();

// StoredKey::prefix for `secret`: its first 8 characters after "gh_" (or its first 8 when it
// does not start with "gh_").
std::string secret_prefix(std::string_view secret);

// Where stored keys live. Implementations are safe to call from several threads (calls may be
// serialized) and may block on disk or the network: call them off the request path (the
// gateway's KeyWatcher and StoreExecutor do). Store failures are values (a message naming the
// store), never exceptions. A PostgreSQL store will implement this too.
class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Adds `key` (name, digest, prefix, role, project, tags, expires_at; created_at is set to now
  // when 0; revoked_at is ignored) and returns the stored record. An error message when the key
  // breaks a rule of key_rules.h, its name (or digest) is already in the store, revoked keys
  // included, or the store fails.
  virtual std::variant<StoredKey, std::string> create(const StoredKey& key) = 0;

  // Every key, revoked and expired ones included, oldest first.
  virtual std::variant<std::vector<StoredKey>, std::string> list() = 0;

  // Marks the key `name` revoked at `now` (unix seconds). true: done; false: there is no key of
  // that name that is not already revoked (an expired key can still be revoked).
  virtual std::variant<bool, std::string> revoke(const std::string& name, std::int64_t now) = 0;

  // A number that changes whenever a key is created or revoked, by anyone sharing the store
  // (another process included). Cheap: KeyWatcher polls it every 500 ms.
  virtual std::variant<std::uint64_t, std::string> version() = 0;
};

// The SQLite store at `path`: creates the file (mode 0600) and its schema when missing, opens it
// in WAL mode with a busy timeout so a CLI and running gateways can share it, and upgrades an
// older schema. An error message when the file cannot be opened, is not a SQLite database, or
// was written by a newer Gatehouse.
std::variant<std::unique_ptr<KeyStore>, std::string> open_sqlite(const std::string& path);

}  // namespace gatehouse::store
