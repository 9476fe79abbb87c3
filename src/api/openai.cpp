#include "api/openai.h"

#include <simdjson.h>

namespace gatehouse::api {

namespace od = simdjson::ondemand;

std::string_view error_type(const Error& error) {
  if (!error.type.empty()) return error.type;
  switch (error.kind) {
    case ErrorKind::kUnauthenticated: return "authentication_error";
    case ErrorKind::kForbidden: return "permission_error";
    case ErrorKind::kRateLimited: return "rate_limit_error";
    case ErrorKind::kBadRequest:
    case ErrorKind::kNotFound:
    case ErrorKind::kMethodNotAllowed:
    case ErrorKind::kTooLarge:
      return "invalid_request_error";
    case ErrorKind::kUpstreamStatus:
      if (error.status == 401) return "authentication_error";
      if (error.status == 403) return "permission_error";
      return error.status >= 500 ? "upstream_error" : "invalid_request_error";
    case ErrorKind::kUpstreamConnect:
    case ErrorKind::kUpstreamReset:
    case ErrorKind::kUpstreamTimeout:
    case ErrorKind::kUpstreamProtocol:
      return "upstream_error";
    case ErrorKind::kUnavailable: return "service_unavailable";
    case ErrorKind::kInternal: return "server_error";
  }
  return "server_error";
}

std::string encode_error(const Error& error) {
  std::string out = R"({"error":{"message":)";
  out += json_quote(error.message);
  out += R"(,"type":)";
  out += json_quote(error_type(error));
  out += R"(,"param":)";
  out += error.param.empty() ? "null" : json_quote(error.param);
  out += R"(,"code":)";
  out += error.code.empty() ? "null" : json_quote(error.code);
  out += "}}";
  return out;
}

bool is_openai_error_body(std::string_view body) {
  std::string padded(body);
  thread_local od::parser parser;
  padded.reserve(padded.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(doc)) return false;
  od::object err;
  if (doc.find_field("error").get_object().get(err)) return false;
  std::string_view message;
  return err.find_field_unordered("message").get_string().get(message) == simdjson::SUCCESS;
}

}  // namespace gatehouse::api
