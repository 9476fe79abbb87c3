#include "router.h"

#include <charconv>
#include <optional>

#include <boost/beast/core/string.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "openai.h"

namespace mockllm {
namespace http = boost::beast::http;
namespace json = boost::json;
namespace {

constexpr std::string_view kControlHeaderPrefix = "x-mock-";
constexpr std::size_t kDefaultRequestLimit = 20;

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && boost::beast::iequals(s.substr(0, prefix.size()), prefix);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

// Value of `key` in a query string, e.g. limit=5.
std::optional<std::string_view> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.substr(0, key.size()) == key && pair[key.size()] == '=') {
      return pair.substr(key.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

void record(const Request& req, std::string_view sni, std::uint64_t seq, Stats& stats) {
  RecordedRequest r;
  r.seq = seq;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.sni = std::string(sni);
  r.headers.reserve(16);
  for (const auto& field : req) {
    r.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
  }
  const std::string& body = req.body();
  r.body_truncated = body.size() > Stats::kMaxRecordedBody;
  r.body = body.substr(0, Stats::kMaxRecordedBody);
  stats.record(std::move(r));
}

Reply inspection(const Request& req, std::string_view path, std::string_view query, Stats& stats) {
  Reply reply;
  if (path == "/__mock/requests" && req.method() == http::verb::get) {
    std::size_t limit = kDefaultRequestLimit;
    if (auto text = query_param(query, "limit")) {
      std::from_chars(text->data(), text->data() + text->size(), limit);
    }
    reply.body = stats.requests_json(limit);
  } else if (path == "/__mock/stats" && req.method() == http::verb::get) {
    reply.body = stats.counters_json();
  } else if (path == "/__mock/reset" && req.method() == http::verb::post) {
    stats.reset();
    reply.body = "{\"reset\":true}";
  } else {
    reply = openai::error(404, "unknown mockllm inspection endpoint", "invalid_request_error");
  }
  return reply;
}

bool authorized(const Request& req, const Settings& settings) {
  if (settings.require_token.empty()) return true;
  const std::string_view auth = req[http::field::authorization];
  return starts_with_ci(auth, "bearer ") && auth.substr(7) == settings.require_token;
}

}  // namespace

Decision route(const Request& req, std::string_view sni, const Settings& settings, Stats& stats) {
  Decision d;
  const std::string_view target = req.target();
  const std::size_t qmark = target.find('?');
  std::string_view path = target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);

  if (path.starts_with("/__mock/")) {
    d.reply = inspection(req, path, query, stats);
    return d;
  }

  const std::uint64_t seq = stats.count_request();
  if (settings.record) record(req, sni, seq, stats);

  if (!authorized(req, settings)) {
    d.reply = openai::error(401, "Incorrect API key provided", "invalid_request_error",
                            std::nullopt, "invalid_api_key");
    return d;
  }

  // One parse serves both the control options and the wire shape. Small requests parse into
  // this stack buffer without touching the heap.
  unsigned char parse_buffer[16 * 1024];
  json::monotonic_resource resource(parse_buffer, sizeof parse_buffer);
  json::value body;
  bool body_ok = false;
  if (!req.body().empty()) {
    boost::system::error_code ec;
    body = json::parse(req.body(), ec, &resource);
    body_ok = !ec;
  }

  std::optional<std::string> control_error;
  if (const auto* obj = body.if_object()) {
    if (const auto* mock = obj->if_contains("mock")) {
      if (const auto* mock_obj = mock->if_object()) {
        control_error = apply_body_options(d.control, *mock_obj);
      } else {
        control_error = "'mock' must be an object";
      }
    }
  }
  for (const auto& field : req) {
    if (control_error) break;
    const std::string_view name = field.name_string();
    if (starts_with_ci(name, kControlHeaderPrefix)) {
      control_error = apply_header_option(
          d.control, lower(name.substr(kControlHeaderPrefix.size())), field.value());
    }
  }
  if (control_error) {
    d.control = Control{};
    d.reply = openai::error(400, *control_error, "invalid_request_error", "mock");
    return d;
  }
  if (d.control.status != 0) {
    d.reply = openai::injected_error(d.control);
    return d;
  }

  // Both /v1/... and /...: clients put /v1 in their base URL or not.
  const std::string_view full_path = path;
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  const http::verb method = req.method();
  const bool is_post_json =
      method == http::verb::post && (path == "/chat/completions" || path == "/embeddings");
  if (is_post_json && !body.is_object()) {
    d.reply = openai::error(400,
                            body_ok ? "the request body must be a JSON object"
                                    : "We could not parse the JSON body of your request. The "
                                      "OpenAI API expects a JSON payload.",
                            "invalid_request_error");
  } else if (method == http::verb::post && path == "/chat/completions") {
    d.reply = openai::chat_completions(body.get_object(), d.control);
  } else if (method == http::verb::post && path == "/embeddings") {
    d.reply = openai::embeddings(body.get_object());
  } else if (method == http::verb::get && path == "/models") {
    d.reply = openai::models();
  } else if (method == http::verb::get && path.starts_with("/models/") && path.size() > 8) {
    d.reply = openai::model(path.substr(8));
  } else {
    d.reply = openai::error(404,
                            "Unknown request URL: " + std::string(req.method_string()) + " " +
                                std::string(full_path) + ". Please check the URL for typos.",
                            "invalid_request_error", std::nullopt, "unknown_url");
  }
  return d;
}

}  // namespace mockllm
