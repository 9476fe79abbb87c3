// JWT bearer tokens from the organisation's identity provider (auth.jwt): the signature is
// checked against the provider's published keys (JWKS, from a URL refreshed in the background or
// from a file), then the claims (exp, nbf, iat, iss, aud) against the configuration, and the
// caller's user name and groups are read from the claims the configuration names.
//
// Only RS256 (RSA keys) and ES256 (EC P-256 keys) are accepted, each only with a key of its own
// type: "none", HS* and every other algorithm are refused, so a public key can never be used
// as an HMAC secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"
#include "core/error.h"

namespace gatehouse::identity {

// Who a verified token says the caller is.
struct Identity {
  std::string user;  // the user_claim value (a string claim; numbers rendered as text)
  std::vector<std::string> groups;  // the groups_claim: an array of strings, or one string
  std::string issuer;
  std::chrono::system_clock::time_point expires;
};

// True when `token` has the shape of a JWS compact token: three base64url segments separated by
// dots (the signature may be empty), the first decoding to a JSON object with a string "alg".
// Cheap (no signature check): runs on every bearer credential to tell tokens from gateway keys.
bool looks_like_jwt(std::string_view token);

// Verifies tokens against one auth.jwt configuration. Thread-safe: one verifier is shared by
// all workers; verify() only reads the current key set (swapped whole by the refresher).
class JwtVerifier {
 public:
  explicit JwtVerifier(const config::JwtConfig& config);
  // Stops the refresher thread (a fetch in progress is abandoned).
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Runs once, before the verifier is shared. With jwks_file: reads and parses it now. With
  // jwks_url: starts the background refresher (its own thread and io_context), whose first fetch
  // begins at once; tokens get a 503 until it has succeeded. Returns what is wrong when the file
  // cannot be read or holds no usable key, or the URL cannot be used.
  std::optional<std::string> start();

  // Any thread, no I/O, never blocks. The identity `token` proves at `now`, or why not:
  // Error 401 (kind kUnauthenticated, code "invalid_token") with a message that says what is
  // wrong (malformed, algorithm refused, unknown key id, key of the wrong type, bad signature,
  // expired or not yet valid and when, wrong issuer or audience, no user claim) and never
  // contains the token; or, while no key has been loaded yet, Error 503 (kind kUnavailable,
  // retryable, code "identity_provider_unavailable"). An unknown key id (or no keys) asks the
  // refresher for an early fetch, at most once per 30 s, so a key the provider just rotated in
  // is picked up without waiting for the next tick.
  std::variant<Identity, Error> verify(
      std::string_view token,
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

  // JWKS fetches from jwks_url finished so far, successful or not (for tests and metrics).
  std::uint64_t jwks_fetches() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gatehouse::identity
