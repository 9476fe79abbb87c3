// Rules every front end that makes or shows stored keys shares (the `keys` CLI, the admin API):
// what a valid key looks like, its status, how lifetimes and dates are written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/key_store.h"

namespace gatehouse::store {

constexpr std::size_t kMaxNameLength = 128;
constexpr std::size_t kMaxTextLength = 256;  // role, project, a tag's value
constexpr std::size_t kMaxTags = 32;

// Why `name` cannot name a key (empty, too long, or a character outside [A-Za-z0-9._-]), or
// nullopt when it can. Tag names follow the same rule.
std::optional<std::string> check_key_name(std::string_view name);

// Why `key` cannot be created (its name, prefix, role, project or tags break a rule: too long,
// control characters, a tag named twice, too many tags), or nullopt when it can.
std::optional<std::string> check_new_key(const StoredKey& key);

// A lifetime written as a positive count and a unit: "90m", "12h", "30d" (at most 100 years).
// Seconds, or nullopt when `text` is not one.
std::optional<std::int64_t> parse_lifetime(std::string_view text);

enum class KeyStatus { kActive, kRevoked, kExpired };
std::string_view to_string(KeyStatus status);

// A key is revoked once revoked_at is set, else expired from expires_at on (when set).
KeyStatus status_of(const StoredKey& key, std::int64_t now);

// Unix seconds as UTC ISO-8601: "2025-03-01T12:00:00Z".
std::string format_utc(std::int64_t unix_seconds);

// Unix seconds now (the system clock).
std::int64_t unix_now();

}  // namespace gatehouse::store
