// The console's sign-in sessions: a cookie sealed with AES-256-GCM holding the credential the
// admin signed in with, a CSRF token and an expiry. Stateless, so any replica sharing
// console.session_secret opens it; the credential inside is authenticated again on every request
// (a revoked key or a role that lost admin: true ends the session at once). Sign-out forgets the
// session on this replica and clears the cookie.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gatehouse::admin {

inline constexpr std::string_view kSessionCookie = "gh_console";

struct ConsoleSession {
  std::string id;          // 32 hex digits
  std::string credential;  // the admin key or JWT signed in with (never logged or shown)
  std::string csrf;        // what X-CSRF-Token must say on every change
  std::int64_t expires_at = 0;  // unix seconds
};

class ConsoleSessions {
 public:
  // `secret` empty: a random key (sessions last as long as this process).
  explicit ConsoleSessions(std::string_view secret);

  // A new session for `credential`, ending at `expires_at`.
  ConsoleSession start(std::string credential, std::int64_t expires_at) const;
  // The cookie value that carries `s` (base64url of nonce, ciphertext and tag).
  std::string seal(const ConsoleSession& s) const;
  // The session `cookie` carries; nullopt when it was not sealed with this key, was altered,
  // has expired at `now` or was ended here.
  std::optional<ConsoleSession> open(std::string_view cookie, std::int64_t now) const;
  // Sign-out: the session is refused here until it would have expired anyway.
  void end(const ConsoleSession& s, std::int64_t now);

  // Whether this was made from `secret` (a reload that changes it makes a new one).
  bool made_from(std::string_view secret) const;

 private:
  unsigned char key_[32];
  std::string secret_digest_;  // SHA-256 of the configured secret ("" when random)
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> ended_;  // id -> expires_at
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"); empty when absent.
std::string_view cookie_value(std::string_view header, std::string_view name);

}  // namespace gatehouse::admin
