// Errors on the request path are values, never exceptions (STYLE.md). The router's fallback
// decision and every ingress codec's error encoder read these fields.
#pragma once

#include <string>
#include <string_view>

#include "core/shape.h"

namespace gatehouse {

// What went wrong, independent of the API shape the client spoke.
enum class ErrorKind {
  kBadRequest,        // malformed JSON, missing or mistyped field
  kUnauthenticated,   // no key or unknown key
  kForbidden,         // known caller, not allowed
  kNotFound,          // unknown model or path
  kMethodNotAllowed,  // known path, wrong method
  kTooLarge,          // body over server.max_body_bytes
  kRateLimited,       // a limit said no (upstream 429 or our own)
  kUpstreamStatus,    // the upstream answered with an error status
  kUpstreamConnect,   // could not connect / TLS handshake failed
  kUpstreamReset,     // connection lost after sending the request
  kUpstreamTimeout,   // a connect, first-byte, idle or total timeout fired
  kUpstreamProtocol,  // the upstream answered something that is not valid HTTP/JSON
  kUnavailable,       // the gateway is draining or not ready
  kInternal,          // a bug: counted and logged
};


// Who caused it: decides whether the client may retry and whether a fallback makes sense.
enum class ErrorSource { kClient, kGateway, kUpstream };

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  ErrorSource source = ErrorSource::kGateway;
  // Another attempt — this target again or another — may succeed: a timeout, a connection that
  // failed or broke, a 5xx or 429, a credential the provider refused. The one field a route's
  // retry and fallback decision reads first (route::failure_class): false ends a route at once.
  bool retryable = false;
  int status = 500;
  std::string message;      // says what to fix; never contains a credential
  std::string code;         // machine-readable, e.g. "model_not_found"; may be empty
  std::string param;        // the request field at fault; may be empty
  std::string type;         // OpenAI's error `type` when it is not the kind's usual one
                            // ("requests", "tokens", "insufficient_quota"); may be empty
  int retry_after_s = -1;   // seconds for Retry-After, when known
  std::string upstream_body;  // an upstream's own error body, relayed as it is when the client
                              // speaks its shape (upstream_shape); empty otherwise
  ApiShape upstream_shape = ApiShape::kOpenAI;
  int upstream_status = 0;    // the provider's HTTP status, when it answered one

  static Error bad_request(std::string message, std::string param = {});
  static Error unauthenticated(std::string message);
  static Error forbidden(std::string message, std::string code);
  static Error not_found(std::string message, std::string code);
  static Error too_large(std::string message);
  static Error upstream_connect(std::string message);
  static Error upstream_reset(std::string message);
  static Error upstream_timeout(std::string message);
  static Error upstream_protocol(std::string message);
  static Error internal(std::string message);
};

// The short name of a kind, for logs and metrics labels.
std::string_view to_string(ErrorKind kind);

}  // namespace gatehouse
