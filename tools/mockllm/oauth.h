// Databricks' OAuth machine-to-machine token endpoint (POST /oidc/v1/token, the
// client_credentials grant) and the tokens it issued.
//
// A test starts mockllm with --oauth-client-id/--oauth-client-secret; a gateway then fetches
// a token with HTTP Basic client credentials and the form body
// `grant_type=client_credentials&scope=all-apis`, and presents it as a bearer token. The
// issuer remembers each token with its expiry, so API requests with an unknown, expired or
// revoked token get a 401. POST /__mock/oauth changes how the endpoint behaves (TTL, latency,
// an injected failure) and can revoke every token, to test refresh-once on an upstream 401.
//
// Shared by every worker thread: one mutex guards the behaviour and the token table.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <boost/json/object.hpp>

#include "reply.h"

namespace mockllm::oauth {

using Clock = std::chrono::steady_clock;

// What POST /__mock/oauth changes; POST /__mock/reset restores these defaults.
struct Behaviour {
  int ttl_s = 3600;     // expires_in of new tokens
  int latency_ms = 0;   // delay before the token endpoint answers
  int fail_status = 0;  // non-zero: the token endpoint answers this status instead
};

// The token endpoint's answer and how to deliver it.
struct TokenAnswer {
  Reply reply;
  int latency_ms = 0;
  bool issued = false;  // a token was issued (counted as oauth_tokens_issued)
};

class Issuer {
 public:
  Issuer(std::string client_id, std::string client_secret);

  // Answers POST /oidc/v1/token from the request's Content-Type and Authorization headers and
  // its body. Errors take the OAuth 2.0 shape: `{"error":"...","error_description":"..."}`.
  TokenAnswer token(std::string_view content_type, std::string_view authorization,
                    std::string_view body, Clock::time_point now);

  // Whether `token` was issued here, is not revoked and has not expired at `now`.
  bool valid(std::string_view token, Clock::time_point now) const;

  // Applies a POST /__mock/oauth body: `ttl_s`, `latency_ms`, `fail_status` (0 = off),
  // `revoke_all` (each optional). Applies nothing and returns a message when any is wrong.
  std::optional<std::string> configure(const boost::json::object& options);

  // Back to the default Behaviour; issued tokens stay valid.
  void reset_behaviour();

  Behaviour behaviour() const;

  // `{"ttl_s","latency_ms","fail_status","live_tokens"}`: the behaviour and how many issued
  // tokens are valid at `now`.
  std::string state_json(Clock::time_point now) const;

 private:
  const std::string client_id_;
  const std::string client_secret_;
  mutable std::mutex mutex_;
  Behaviour behaviour_;
  std::unordered_map<std::string, Clock::time_point> tokens_;  // token -> expiry
};

// Decodes application/x-www-form-urlencoded text: '+' is a space, %XX a byte.
std::string form_decode(std::string_view text);

// The decoded value of `key` in a form body (the first one), or nullopt.
std::optional<std::string> form_value(std::string_view body, std::string_view key);

// The client id and secret of an `Authorization: Basic base64(id:secret)` header, or nullopt.
std::optional<std::pair<std::string, std::string>> basic_credentials(
    std::string_view authorization);

}  // namespace mockllm::oauth
