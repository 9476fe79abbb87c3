#include "databricks.h"

#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "databricks_agent.h"
#include "json_text.h"
#include "openai.h"
#include "shape_common.h"

namespace mockllm::databricks {
namespace json = boost::json;
namespace {

constexpr std::string_view kPrefix = "/serving-endpoints/";
constexpr std::string_view kSuffix = "/invocations";

// The OpenAI shape wrote its error; Databricks says the same in its own shape.
Reply reshape_error(const Reply& openai_error) {
  boost::system::error_code ec;
  const json::value v = json::parse(openai_error.body, ec);
  std::string_view message = "invalid request";
  if (!ec && v.is_object()) {
    const auto* err = v.get_object().if_contains("error");
    const auto* obj = err ? err->if_object() : nullptr;
    const auto* m = obj ? obj->if_contains("message") : nullptr;
    if (m && m->is_string()) message = m->get_string();
  }
  return error(openai_error.status, error_code(openai_error.status), message);
}

}  // namespace

std::string_view error_code(unsigned status) {
  switch (status) {
    case 400:
      return "BAD_REQUEST";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "ENDPOINT_NOT_FOUND";
    case 409:
      return "RESOURCE_CONFLICT";
    case 429:
      return "REQUEST_LIMIT_EXCEEDED";
    case 500:
      return "INTERNAL_ERROR";
    case 501:
      return "NOT_IMPLEMENTED";
    case 503:
      return "TEMPORARILY_UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
  }
}

Reply error(unsigned status, std::string_view code, std::string_view message) {
  Reply reply;
  reply.status = status;
  reply.body = "{\"error_code\":";
  append_json_string(reply.body, code);
  reply.body += ",\"message\":";
  append_json_string(reply.body, message);
  reply.body += '}';
  return reply;
}

Reply injected_error(const Control& control) {
  const auto status = static_cast<unsigned>(control.status);
  return shape::injected(control,
                         error(status, error_code(status),
                               "mockllm injected status " + std::to_string(control.status)));
}

std::optional<std::string_view> invocations_endpoint(std::string_view path) {
  if (!path.starts_with(kPrefix) || !path.ends_with(kSuffix)) return std::nullopt;
  if (path.size() <= kPrefix.size() + kSuffix.size()) return std::nullopt;
  const std::string_view name =
      path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  if (name.find('/') != std::string_view::npos) return std::nullopt;
  return name;
}

Reply invocations(std::string_view endpoint, const json::object& request, const Control& control) {
  openai::Flavor flavor;
  flavor.model = endpoint;
  flavor.usage_in_every_chunk = true;
  Reply reply;
  if (request.contains("messages")) {
    reply = openai::chat_completions(request, control, flavor);
  } else if (is_agent_request(request)) {
    return agent_invocation(endpoint, request, control);  // already in Databricks' shape
  } else if (request.contains("input")) {
    reply = openai::embeddings(request, flavor);
  } else {
    return error(400, "BAD_REQUEST",
                 "The request must hold 'messages' (chat) or 'input' (embeddings, or a "
                 "ResponsesAgent's items)");
  }
  if (reply.status != 200) return reshape_error(reply);
  reply.headers.emplace_back("served-model-name", std::string(endpoint));
  return reply;
}

}  // namespace mockllm::databricks
