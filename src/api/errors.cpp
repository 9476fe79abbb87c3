#include "api/errors.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "api/openai.h"

namespace gatehouse::api {

namespace json = boost::json;

std::string_view anthropic_error_type(const Error& error) {
  // A guardrail's refusal names itself in every shape (docs/guardrails.md).
  if (error.code == "guardrail_blocked") return "guardrail_blocked";
  switch (error.kind) {
    case ErrorKind::kBadRequest:
    case ErrorKind::kMethodNotAllowed:
      return "invalid_request_error";
    case ErrorKind::kUnauthenticated: return "authentication_error";
    case ErrorKind::kForbidden: return "permission_error";
    case ErrorKind::kNotFound: return "not_found_error";
    case ErrorKind::kTooLarge: return "request_too_large";
    case ErrorKind::kRateLimited: return "rate_limit_error";
    case ErrorKind::kUpstreamStatus:
      switch (error.status) {
        case 400: return "invalid_request_error";
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 404: return "not_found_error";
        case 413: return "request_too_large";
        case 429: return "rate_limit_error";
        case 503:  // the provider is unavailable: Anthropic's word for it, as its own 529
        case 529: return "overloaded_error";
        default: return error.status >= 500 ? "api_error" : "invalid_request_error";
      }
    case ErrorKind::kUnavailable: return "overloaded_error";
    case ErrorKind::kUpstreamConnect:
    case ErrorKind::kUpstreamReset:
    case ErrorKind::kUpstreamTimeout:
    case ErrorKind::kUpstreamProtocol:
    case ErrorKind::kInternal:
      return "api_error";
  }
  return "api_error";
}

std::string_view databricks_error_code(const Error& error) {
  if (error.code == "guardrail_blocked") return "GUARDRAIL_BLOCKED";
  if (error.kind == ErrorKind::kNotFound && error.code == "model_not_found") return "ENDPOINT_NOT_FOUND";
  switch (error.status) {
    case 400: return error.param.empty() ? "BAD_REQUEST" : "INVALID_PARAMETER_VALUE";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "RESOURCE_DOES_NOT_EXIST";
    case 405: return "BAD_REQUEST";
    case 413: return "REQUEST_TOO_LARGE";
    case 429: return "REQUEST_LIMIT_EXCEEDED";
    case 503: return "TEMPORARILY_UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return error.status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
  }
}

std::string encode_error(ApiShape shape, const Error& error) {
  // The Responses API's errors are OpenAI's.
  const ApiShape errors = shape == ApiShape::kResponses ? ApiShape::kOpenAI : shape;
  if (!error.upstream_body.empty() && error.upstream_shape == errors) return error.upstream_body;
  switch (shape) {
    case ApiShape::kOpenAI:
    case ApiShape::kResponses:
      return encode_error(error);
    case ApiShape::kAnthropic:
      return R"({"type":"error","error":{"type":)" + json_quote(anthropic_error_type(error)) +
             R"(,"message":)" + json_quote(error.message) + "}}";
    case ApiShape::kDatabricks: {
      // A provider's own machine-readable code survives when it is in Databricks' style.
      std::string_view code = databricks_error_code(error);
      bool upper = !error.code.empty();
      for (char c : error.code) upper = upper && ((c >= 'A' && c <= 'Z') || c == '_');
      if (upper) code = error.code;
      return R"({"error_code":)" + json_quote(code) + R"(,"message":)" + json_quote(error.message) + "}";
    }
    case ApiShape::kMcp:
      // An HTTP-level refusal on an MCP endpoint, as the MCP SDKs' servers give them: a JSON-RPC
      // error without an id (-32000: the implementation's own), the gateway's code in data.
      return R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":)" + json_quote(error.message) +
             R"(,"data":{"status":)" + std::to_string(error.status) + R"(,"code":)" +
             json_quote(error.code.empty() ? to_string(error.kind) : std::string_view(error.code)) + "}}}";
  }
  return encode_error(error);
}

std::string stream_error_event(ApiShape shape, const Error& error) {
  std::string body = encode_error(shape, error);
  if (shape == ApiShape::kAnthropic) return "event: error\ndata: " + body + "\n\n";
  if (shape == ApiShape::kResponses) {
    // The Responses stream's error event (a translated stream's translator writes its own, with
    // the next sequence_number: ResponseTranslator::error_event).
    return "event: error\ndata: {\"type\":\"error\",\"code\":" +
           json_quote(error.code.empty() ? to_string(error.kind) : std::string_view(error.code)) +
           ",\"message\":" + json_quote(error.message) + ",\"param\":" +
           (error.param.empty() ? std::string("null") : json_quote(error.param)) + "}\n\n";
  }
  return "data: " + body + "\n\n";
}

bool read_upstream_error(std::string_view body, Error& error) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return false;
  const json::object& o = v.get_object();
  auto str = [](const json::object& obj, std::string_view key) -> std::string {
    const json::value* f = obj.if_contains(key);
    return f && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  const json::value* inner = o.if_contains("error");
  if (inner && inner->is_object()) {
    const json::object& e = inner->get_object();
    std::string message = str(e, "message");
    if (message.empty()) return false;
    bool anthropic = str(o, "type") == "error";
    error.upstream_shape = anthropic ? ApiShape::kAnthropic : ApiShape::kOpenAI;
    error.message = std::move(message);
    std::string code = anthropic ? str(e, "type") : str(e, "code");
    if (!code.empty()) error.code = std::move(code);
    if (!anthropic) {
      std::string param = str(e, "param");
      if (!param.empty()) error.param = std::move(param);
    }
    error.upstream_body = std::string(body);
    return true;
  }
  std::string code = str(o, "error_code");
  std::string message = str(o, "message");
  if (code.empty() || message.empty()) return false;
  error.upstream_shape = ApiShape::kDatabricks;
  error.code = std::move(code);
  error.message = std::move(message);
  error.upstream_body = std::string(body);
  return true;
}

namespace {

// A provider's own message from a non-OpenAI error body ({"message"}, {"error_code","message"},
// {"error":"text"}), cut short; empty when there is none.
std::string provider_message(std::string_view body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto& o = v.get_object();
  std::string out;
  if (auto* m = o.if_contains("message"); m && m->is_string()) out = std::string(m->get_string());
  if (auto* e = o.if_contains("error"); out.empty() && e && e->is_string()) out = std::string(e->get_string());
  if (auto* c = o.if_contains("error_code"); c && c->is_string()) {
    out = std::string(c->get_string()) + (out.empty() ? "" : ": " + out);
  }
  if (out.size() > 500) out = out.substr(0, 500) + "...";
  return out;
}

}  // namespace

Error upstream_status_error(unsigned status, std::string_view body, std::string_view retry_after,
                            std::string_view provider) {
  Error e;
  e.kind = status == 429 ? ErrorKind::kRateLimited : ErrorKind::kUpstreamStatus;
  e.source = ErrorSource::kUpstream;
  e.retryable = status == 429 || status >= 500 || status == 401 || status == 403;
  e.status = int(status);
  if (!retry_after.empty()) {
    int s = -1;
    auto [p, ec] = std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), s);
    if (ec == std::errc() && s >= 0) e.retry_after_s = s;
  }
  e.upstream_status = int(status);
  if (status == 401 || status == 403) {
    e.status = 502;
    e.code = "upstream_auth_failed";
    e.message = "provider '" + std::string(provider) + "' refused the gateway's credential (HTTP " +
                std::to_string(status) + "); the gateway operator must fix providers." +
                std::string(provider) + ".auth";
    return e;
  }
  if (api::read_upstream_error(body, e)) return e;
  e.code = status == 429 ? "rate_limit_exceeded" : "upstream_error";
  std::string detail = provider_message(body);
  e.message = "provider '" + std::string(provider) + "' answered HTTP " + std::to_string(status) +
              (detail.empty() ? "" : ": " + detail);
  return e;
}

}  // namespace gatehouse::api
