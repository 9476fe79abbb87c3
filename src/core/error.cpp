#include "core/error.h"

#include <utility>

namespace gatehouse {
namespace {
Error make(ErrorKind kind, ErrorSource source, bool retryable, int status, std::string message,
           std::string code, std::string param = {}) {
  Error e;
  e.kind = kind;
  e.source = source;
  e.retryable = retryable;
  e.status = status;
  e.message = std::move(message);
  e.code = std::move(code);
  e.param = std::move(param);
  return e;
}
}  // namespace

Error Error::bad_request(std::string message, std::string param) {
  return make(ErrorKind::kBadRequest, ErrorSource::kClient, false, 400, std::move(message), {},
              std::move(param));
}
Error Error::unauthenticated(std::string message) {
  return make(ErrorKind::kUnauthenticated, ErrorSource::kClient, false, 401, std::move(message),
              "invalid_api_key");
}
Error Error::forbidden(std::string message, std::string code) {
  return make(ErrorKind::kForbidden, ErrorSource::kClient, false, 403, std::move(message),
              std::move(code));
}
Error Error::not_found(std::string message, std::string code) {
  return make(ErrorKind::kNotFound, ErrorSource::kClient, false, 404, std::move(message),
              std::move(code));
}
Error Error::too_large(std::string message) {
  return make(ErrorKind::kTooLarge, ErrorSource::kClient, false, 413, std::move(message),
              "request_too_large");
}
Error Error::upstream_connect(std::string message) {
  return make(ErrorKind::kUpstreamConnect, ErrorSource::kUpstream, true, 502, std::move(message),
              "upstream_unreachable");
}
Error Error::upstream_reset(std::string message) {
  return make(ErrorKind::kUpstreamReset, ErrorSource::kUpstream, true, 502, std::move(message),
              "upstream_disconnected");
}
Error Error::upstream_timeout(std::string message) {
  return make(ErrorKind::kUpstreamTimeout, ErrorSource::kUpstream, true, 504, std::move(message),
              "upstream_timeout");
}
Error Error::upstream_protocol(std::string message) {
  return make(ErrorKind::kUpstreamProtocol, ErrorSource::kUpstream, true, 502, std::move(message),
              "upstream_bad_response");
}
Error Error::internal(std::string message) {
  return make(ErrorKind::kInternal, ErrorSource::kGateway, false, 500, std::move(message),
              "internal_error");
}

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadRequest: return "bad_request";
    case ErrorKind::kUnauthenticated: return "unauthenticated";
    case ErrorKind::kForbidden: return "forbidden";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kMethodNotAllowed: return "method_not_allowed";
    case ErrorKind::kTooLarge: return "too_large";
    case ErrorKind::kRateLimited: return "rate_limited";
    case ErrorKind::kUpstreamStatus: return "upstream_status";
    case ErrorKind::kUpstreamConnect: return "upstream_connect";
    case ErrorKind::kUpstreamReset: return "upstream_reset";
    case ErrorKind::kUpstreamTimeout: return "upstream_timeout";
    case ErrorKind::kUpstreamProtocol: return "upstream_protocol";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace gatehouse
