#include "store/key_rules.h"

#include <charconv>
#include <ctime>
#include <set>

namespace gatehouse::store {

namespace {

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Free text (role, project, tag values): no control characters, bounded.
std::optional<std::string> check_text(std::string_view what, std::string_view text) {
  if (text.size() > kMaxTextLength) {
    return std::string(what) + " is longer than " + std::to_string(kMaxTextLength) + " bytes";
  }
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return std::string(what) + " contains a control character";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_key_name(std::string_view name) {
  if (name.empty()) return "a key name must not be empty";
  if (name.size() > kMaxNameLength) {
    return "a key name is at most " + std::to_string(kMaxNameLength) + " characters";
  }
  for (char c : name) {
    if (!name_char(c)) {
      return "'" + std::string(name) +
             "': a key name may use only letters, digits, '.', '_' and '-'";
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_new_key(const StoredKey& key) {
  if (auto e = check_key_name(key.name)) return e;
  if (key.prefix.empty() || key.prefix.size() > 16)
    return "a key's prefix must be 1 to 16 characters";
  if (auto e = check_text("prefix", key.prefix)) return e;
  if (auto e = check_text("role", key.role)) return e;
  if (auto e = check_text("project", key.project)) return e;
  if (key.tags.size() > kMaxTags) return "a key has at most " + std::to_string(kMaxTags) + " tags";
  std::set<std::string_view> seen;
  for (const auto& [tag, value] : key.tags) {
    if (check_key_name(tag)) {
      return tag.empty()
                 ? std::string("a tag name must not be empty")
                 : "tag '" + tag + "': a tag name is at most " + std::to_string(kMaxNameLength) +
                       " letters, digits, '.', '_' and '-'";
    }
    if (!seen.insert(tag).second) return "tag '" + tag + "' is given twice";
    if (auto e = check_text("tag '" + tag + "'", value)) return e;
  }
  if (key.expires_at < 0) return "expires_at must not be negative";
  return std::nullopt;
}

std::optional<std::int64_t> parse_lifetime(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit = 0;
  switch (text.back()) {
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return std::nullopt;
  }
  std::string_view digits = text.substr(0, text.size() - 1);
  std::int64_t count = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc() || end != digits.data() + digits.size() || count <= 0) return std::nullopt;
  constexpr std::int64_t kMax = 100LL * 366 * 86400;
  if (count > kMax / unit) return std::nullopt;
  return count * unit;
}

std::string_view to_string(KeyStatus status) {
  switch (status) {
    case KeyStatus::kActive:
      return "active";
    case KeyStatus::kRevoked:
      return "revoked";
    case KeyStatus::kExpired:
      return "expired";
  }
  return "?";
}

KeyStatus status_of(const StoredKey& key, std::int64_t now) {
  if (key.revoked_at != 0) return KeyStatus::kRevoked;
  if (key.expires_at != 0 && now >= key.expires_at) return KeyStatus::kExpired;
  return KeyStatus::kActive;
}

std::string format_utc(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace gatehouse::store
