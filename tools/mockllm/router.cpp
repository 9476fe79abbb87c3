#include "router.h"

#include <charconv>
#include <optional>

#include <boost/beast/core/string.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "anthropic.h"
#include "databricks.h"
#include "openai.h"
#include "responses.h"

namespace mockllm {
namespace http = boost::beast::http;
namespace json = boost::json;
namespace {

constexpr std::string_view kControlHeaderPrefix = "x-mock-";
constexpr std::size_t kDefaultRequestLimit = 20;
constexpr std::string_view kTokenPath = "/oidc/v1/token";
constexpr std::string_view kServingPrefix = "/serving-endpoints";
constexpr std::string_view kSqlStatements = "/api/2.0/sql/statements";

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

Reply oauth_control(const Request& req, const Settings& settings) {
  if (!settings.oauth) {
    return openai::error(400,
                         "OAuth is off: start mockllm with --oauth-client-id and "
                         "--oauth-client-secret",
                         "invalid_request_error");
  }
  if (req.method() == http::verb::post && !req.body().empty()) {
    boost::system::error_code ec;
    const json::value body = json::parse(req.body(), ec);
    if (ec || !body.is_object()) {
      return openai::error(400, "the body must be a JSON object", "invalid_request_error");
    }
    if (auto err = settings.oauth->configure(body.get_object())) {
      return openai::error(400, *err, "invalid_request_error");
    }
  }
  Reply reply;
  reply.body = settings.oauth->state_json(oauth::Clock::now());
  return reply;
}

// GET shows the sticky options; POST replaces them (`{}` or an empty body clears them).
Reply defaults_control(const Request& req, const Settings& settings) {
  if (!settings.defaults) {
    return openai::error(400, "sticky defaults are off in this server", "invalid_request_error");
  }
  if (req.method() == http::verb::post) {
    if (req.body().empty()) {
      settings.defaults->clear();
    } else {
      boost::system::error_code ec;
      const json::value body = json::parse(req.body(), ec);
      if (ec || !body.is_object()) {
        return openai::error(400, "the body must be a JSON object of mock options",
                             "invalid_request_error");
      }
      if (auto err = settings.defaults->set(body.get_object())) {
        return openai::error(400, *err, "invalid_request_error", "mock");
      }
    }
  }
  Reply reply;
  reply.body = "{\"defaults\":" + settings.defaults->json() + "}";
  return reply;
}

// GET shows the fake warehouse's settings and the statements it got; POST changes the settings.
Reply sql_control(const Request& req, const Settings& settings) {
  if (!settings.sql) return openai::error(400, "the SQL warehouse is off in this server", "invalid_request_error");
  if (req.method() == http::verb::post && !req.body().empty()) {
    boost::system::error_code ec;
    const json::value body = json::parse(req.body(), ec);
    if (ec || !body.is_object()) {
      return openai::error(400, "the body must be a JSON object of sql settings", "invalid_request_error");
    }
    if (auto err = settings.sql->configure(body.get_object())) {
      return openai::error(400, *err, "invalid_request_error");
    }
  }
  Reply reply;
  reply.body = settings.sql->state_json();
  return reply;
}

Reply inspection(const Request& req, std::string_view path, std::string_view query,
                 const Settings& settings, Stats& stats) {
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
    if (settings.oauth) settings.oauth->reset_behaviour();
    if (settings.defaults) settings.defaults->clear();
    if (settings.sql) settings.sql->reset();
    reply.body = "{\"reset\":true}";
  } else if (path == "/__mock/oauth" &&
             (req.method() == http::verb::post || req.method() == http::verb::get)) {
    reply = oauth_control(req, settings);
  } else if (path == "/__mock/sql" &&
             (req.method() == http::verb::post || req.method() == http::verb::get)) {
    reply = sql_control(req, settings);
  } else if (path == "/__mock/defaults" &&
             (req.method() == http::verb::post || req.method() == http::verb::get)) {
    reply = defaults_control(req, settings);
  } else {
    reply = openai::error(404, "unknown mockllm inspection endpoint", "invalid_request_error");
  }
  return reply;
}

// Which API a path belongs to; its errors (401s, bad options, injected statuses) take that
// API's shape.
enum class Surface { kOpenAi, kAnthropic, kDatabricks, kOAuthToken };

struct Target {
  Surface surface = Surface::kOpenAi;
  std::string_view path;  // OpenAI and Anthropic: without the /v1 (or /serving-endpoints) prefix
  bool serving = false;   // an OpenAI path under /serving-endpoints (Databricks' own)
};

Target classify(std::string_view path) {
  if (path == kTokenPath) return {Surface::kOAuthToken, path};
  if (path.starts_with(kSqlStatements)) return {Surface::kDatabricks, path};
  if (path.starts_with(kServingPrefix) && path.size() > kServingPrefix.size() &&
      path[kServingPrefix.size()] == '/') {
    // The OpenAI SDK with base URL {host}/serving-endpoints calls these.
    const std::string_view rest = path.substr(kServingPrefix.size());
    if (rest == "/chat/completions" || rest == "/embeddings" || rest == "/responses") {
      return {Surface::kOpenAi, rest, true};
    }
    return {Surface::kDatabricks, path};
  }
  // Both /v1/... and /...: clients put /v1 in their base URL or not.
  if (path.starts_with("/v1/")) path.remove_prefix(3);
  if (path == "/messages" || path == "/messages/count_tokens") return {Surface::kAnthropic, path};
  return {Surface::kOpenAi, path};
}

Reply bad_request(Surface surface, std::string_view message,
                  std::optional<std::string_view> param = std::nullopt) {
  switch (surface) {
    case Surface::kAnthropic:
      return anthropic::error(400, "invalid_request_error", message);
    case Surface::kDatabricks:
      return databricks::error(400, "BAD_REQUEST", message);
    default:
      return openai::error(400, message, "invalid_request_error", param);
  }
}

Reply unauthorized(Surface surface) {
  switch (surface) {
    case Surface::kAnthropic:
      return anthropic::error(401, "authentication_error", "invalid x-api-key");
    case Surface::kDatabricks:
      return databricks::error(401, "UNAUTHENTICATED", "Invalid access token.");
    default:
      return openai::error(401, "Incorrect API key provided", "invalid_request_error", std::nullopt,
                           "invalid_api_key");
  }
}

Reply injected_error(Surface surface, const Control& control) {
  switch (surface) {
    case Surface::kAnthropic:
      return anthropic::injected_error(control);
    case Surface::kDatabricks:
      return databricks::injected_error(control);
    default:
      return openai::injected_error(control);
  }
}

bool authorized(const Request& req, Surface surface, const Settings& settings) {
  if (settings.require_token.empty() && !settings.oauth) return true;
  const auto now = oauth::Clock::now();
  auto accepted = [&](std::string_view credential) {
    if (credential.empty()) return false;
    if (!settings.require_token.empty() && credential == settings.require_token) return true;
    return settings.oauth && settings.oauth->valid(credential, now);
  };
  const std::string_view auth = req[http::field::authorization];
  if (starts_with_ci(auth, "bearer ") && accepted(auth.substr(7))) return true;
  return surface == Surface::kAnthropic && accepted(req["x-api-key"]);
}

Decision token_endpoint(const Request& req, const Settings& settings, Stats& stats) {
  Decision d;
  stats.oauth_token_requests.fetch_add(1, std::memory_order_relaxed);
  if (!settings.oauth) {
    d.reply = openai::error(404,
                            "Unknown request URL: " + std::string(req.method_string()) + " " +
                                std::string(kTokenPath) +
                                ". OAuth is off: start mockllm with --oauth-client-id and "
                                "--oauth-client-secret.",
                            "invalid_request_error", std::nullopt, "unknown_url");
    return d;
  }
  if (req.method() != http::verb::post) {
    d.reply.status = 405;
    d.reply.body = R"({"error":"invalid_request","error_description":"use POST"})";
    return d;
  }
  oauth::TokenAnswer answer =
      settings.oauth->token(req[http::field::content_type], req[http::field::authorization],
                            req.body(), oauth::Clock::now());
  if (answer.issued) stats.oauth_tokens_issued.fetch_add(1, std::memory_order_relaxed);
  d.control.latency_ms = answer.latency_ms;
  d.reply = std::move(answer.reply);
  return d;
}

}  // namespace

Decision route(const Request& req, std::string_view sni, const Settings& settings, Stats& stats) {
  Decision d;
  const std::string_view target = req.target();
  const std::size_t qmark = target.find('?');
  const std::string_view full_path = target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);

  if (full_path.starts_with("/__mock/")) {
    d.reply = inspection(req, full_path, query, settings, stats);
    return d;
  }

  if (settings.record) record(req, sni, stats.next_seq(), stats);
  const Target t = classify(full_path);
  if (t.surface == Surface::kOAuthToken) return token_endpoint(req, settings, stats);
  stats.count_request();

  if (!authorized(req, t.surface, settings)) {
    d.reply = unauthorized(t.surface);
    return d;
  }
  if (full_path.starts_with(kSqlStatements)) {
    d.reply = settings.sql ? settings.sql->handle(req.method(), full_path, req.body())
                           : databricks::error(404, "ENDPOINT_NOT_FOUND", "the SQL warehouse is off in this server");
    return d;
  }
  if (t.surface == Surface::kAnthropic && req["anthropic-version"].empty()) {
    d.reply =
        anthropic::error(400, "invalid_request_error", "anthropic-version: header is required");
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

  // The sticky defaults first; the request's own body and header options override them.
  if (settings.defaults) d.control = settings.defaults->control();
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
    d.reply = bad_request(t.surface, *control_error, "mock");
    return d;
  }
  if (d.control.status != 0) {
    d.reply = injected_error(t.surface, d.control);
    return d;
  }

  const http::verb method = req.method();
  const std::string_view path = t.path;
  const bool wants_json_body =
      method == http::verb::post &&
      (t.surface == Surface::kAnthropic ||
       (t.surface == Surface::kDatabricks && databricks::invocations_endpoint(path)) ||
       path == "/chat/completions" || path == "/embeddings" || path == "/responses");
  if (wants_json_body && !body.is_object()) {
    d.reply =
        bad_request(t.surface, body_ok ? "the request body must be a JSON object"
                               : t.surface == Surface::kOpenAi
                                   ? "We could not parse the JSON body of your request. The OpenAI "
                                     "API expects a JSON payload."
                                   : "There was an error parsing the body of your request as JSON");
    return d;
  }

  switch (t.surface) {
    case Surface::kAnthropic:
      if (method != http::verb::post) {
        d.reply = anthropic::error(405, "invalid_request_error", "Method Not Allowed");
      } else if (path == "/messages/count_tokens") {
        d.reply = anthropic::count_tokens(body.get_object());
      } else {
        d.reply = anthropic::messages(body.get_object(), d.control);
      }
      return d;
    case Surface::kDatabricks:
      if (const auto endpoint = databricks::invocations_endpoint(path)) {
        d.reply = method == http::verb::post
                      ? databricks::invocations(*endpoint, body.get_object(), d.control)
                      : databricks::error(405, "BAD_REQUEST", "Method Not Allowed");
      } else {
        d.reply = databricks::error(404, "ENDPOINT_NOT_FOUND",
                                    "No serving endpoint API at " + std::string(path) +
                                        " (mockllm serves POST "
                                        "/serving-endpoints/{name}/invocations)");
      }
      return d;
    default:
      break;
  }

  if (method == http::verb::post && path == "/chat/completions") {
    d.reply = openai::chat_completions(body.get_object(), d.control);
  } else if (method == http::verb::post && path == "/embeddings") {
    d.reply = openai::embeddings(body.get_object());
  } else if (method == http::verb::post && path == "/responses") {
    d.reply = responses::create(body.get_object(), d.control, {.databricks = t.serving});
  } else if (path.starts_with("/responses/") && path.size() > 11) {
    // A stored response (retrieve, delete, input_items, cancel): the mock keeps none.
    const std::string_view id = path.substr(11);
    d.reply = responses::not_found(id.substr(0, id.find('/')));
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
