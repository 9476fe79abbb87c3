#include "oauth.h"

#include <algorithm>
#include <cstdint>
#include <ctime>

#include <boost/beast/core/string.hpp>
#include <boost/json/value.hpp>

#include "json_text.h"
#include "shape_common.h"

namespace mockllm::oauth {
namespace json = boost::json;
namespace {

constexpr std::string_view kFormType = "application/x-www-form-urlencoded";
constexpr std::string_view kScope = "all-apis";
constexpr int kMaxTtl = 30 * 86'400;
constexpr int kMaxLatencyMs = 600'000;
// Past this many remembered tokens, issuing one first forgets the expired ones.
constexpr std::size_t kPurgeAbove = 4096;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Standard or URL-safe base64, padding optional; nullopt on any other character.
std::optional<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const int d = base64_digit(c);
    if (d < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(d);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(n >> s) & 63]);
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    const std::uint32_t n = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(n >> 6) & 63]);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Reply oauth_error(unsigned status, std::string_view code, std::string_view description) {
  Reply reply;
  reply.status = status;
  reply.body = "{\"error\":";
  append_json_string(reply.body, code);
  reply.body += ",\"error_description\":";
  append_json_string(reply.body, description);
  reply.body += '}';
  reply.headers.emplace_back("Cache-Control", "no-store");
  if (status == 401) reply.headers.emplace_back("WWW-Authenticate", "Basic");
  return reply;
}

std::string_view injected_code(int status) {
  if (status == 401) return "invalid_client";
  if (status == 503) return "temporarily_unavailable";
  return status >= 500 ? "server_error" : "invalid_request";
}

bool has_scope(std::string_view scopes, std::string_view wanted) {
  while (!scopes.empty()) {
    const std::size_t space = scopes.find(' ');
    if (scopes.substr(0, space) == wanted) return true;
    if (space == std::string_view::npos) break;
    scopes.remove_prefix(space + 1);
  }
  return false;
}

// A JWT-looking token (Databricks issues JWTs): header.payload.signature, base64url. Nothing
// verifies the signature; the issuer's table decides what is valid.
std::string new_token(std::string_view client_id, int ttl_s) {
  const std::int64_t iat = std::time(nullptr);
  std::string payload = "{\"client_id\":";
  append_json_string(payload, client_id);
  payload += ",\"scope\":\"all-apis\",\"iss\":\"mockllm\",\"iat\":";
  append_int(payload, iat);
  payload += ",\"exp\":";
  append_int(payload, iat + ttl_s);
  payload += ",\"jti\":\"";
  payload += shape::random_id("", 22);
  payload += "\"}";
  return base64url("{\"alg\":\"RS256\",\"kid\":\"mockllm\",\"typ\":\"at+jwt\"}") + "." +
         base64url(payload) + "." + shape::random_id("", 43);
}

bool read_int(const json::value& v, std::int64_t lo, std::int64_t hi, int& out) {
  std::int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(hi)) {
    n = static_cast<std::int64_t>(v.get_uint64());
  } else {
    return false;
  }
  if (n < lo || n > hi) return false;
  out = static_cast<int>(n);
  return true;
}

}  // namespace

std::string form_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
               hex_digit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> form_value(std::string_view body, std::string_view key) {
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (form_decode(pair.substr(0, eq)) == key) {
      return eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> basic_credentials(
    std::string_view authorization) {
  authorization = trim(authorization);
  if (authorization.size() < 6 || !boost::beast::iequals(authorization.substr(0, 6), "basic ")) {
    return std::nullopt;
  }
  auto decoded = base64_decode(trim(authorization.substr(6)));
  if (!decoded) return std::nullopt;
  const std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

Issuer::Issuer(std::string client_id, std::string client_secret)
    : client_id_(std::move(client_id)), client_secret_(std::move(client_secret)) {}

TokenAnswer Issuer::token(std::string_view content_type, std::string_view authorization,
                          std::string_view body, Clock::time_point now) {
  const Behaviour b = behaviour();
  TokenAnswer answer;
  answer.latency_ms = b.latency_ms;
  if (b.fail_status != 0) {
    answer.reply = oauth_error(static_cast<unsigned>(b.fail_status), injected_code(b.fail_status),
                               "mockllm injected status " + std::to_string(b.fail_status));
    return answer;
  }

  const std::string_view media_type = trim(content_type.substr(0, content_type.find(';')));
  if (!boost::beast::iequals(media_type, kFormType)) {
    answer.reply = oauth_error(400, "invalid_request",
                               "Content-Type must be application/x-www-form-urlencoded");
    return answer;
  }

  // The client authenticates with HTTP Basic (RFC 6749 2.3.1 form-encodes id and secret
  // first; most clients do not, so either spelling matches) or with form fields.
  bool authenticated = false;
  if (auto basic = basic_credentials(authorization)) {
    authenticated =
        (basic->first == client_id_ && basic->second == client_secret_) ||
        (form_decode(basic->first) == client_id_ && form_decode(basic->second) == client_secret_);
  } else {
    const auto id = form_value(body, "client_id");
    const auto secret = form_value(body, "client_secret");
    authenticated = id == client_id_ && secret == client_secret_;
  }
  if (!authenticated) {
    answer.reply = oauth_error(401, "invalid_client", "Client authentication failed");
    return answer;
  }

  const auto grant = form_value(body, "grant_type");
  if (!grant) {
    answer.reply = oauth_error(400, "invalid_request", "Missing grant_type");
    return answer;
  }
  if (*grant != "client_credentials") {
    answer.reply = oauth_error(
        400, "unsupported_grant_type",
        "Unsupported grant_type '" + *grant + "': only client_credentials is supported");
    return answer;
  }
  const auto scope = form_value(body, "scope");
  if (!scope || !has_scope(*scope, kScope)) {
    answer.reply = oauth_error(400, "invalid_scope", "The requested scope must include all-apis");
    return answer;
  }

  std::string token = new_token(client_id_, b.ttl_s);
  {
    std::lock_guard lock(mutex_);
    if (tokens_.size() > kPurgeAbove) {
      std::erase_if(tokens_, [&](const auto& entry) { return entry.second <= now; });
    }
    // The client learns expires_in when the answer arrives, after the injected latency.
    tokens_.emplace(token,
                    now + std::chrono::milliseconds(b.latency_ms) + std::chrono::seconds(b.ttl_s));
  }
  Reply& reply = answer.reply;
  reply.body = "{\"access_token\":";
  append_json_string(reply.body, token);
  reply.body += ",\"token_type\":\"Bearer\",\"expires_in\":";
  append_int(reply.body, b.ttl_s);
  reply.body += ",\"scope\":\"all-apis\"}";
  reply.headers.emplace_back("Cache-Control", "no-store");
  answer.issued = true;
  return answer;
}

bool Issuer::valid(std::string_view token, Clock::time_point now) const {
  if (token.empty()) return false;
  std::lock_guard lock(mutex_);
  const auto it = tokens_.find(std::string(token));
  return it != tokens_.end() && now < it->second;
}

std::optional<std::string> Issuer::configure(const json::object& options) {
  Behaviour next = behaviour();
  bool revoke = false;
  for (const auto& [key, value] : options) {
    if (key == "ttl_s") {
      if (!read_int(value, 0, kMaxTtl, next.ttl_s)) {
        return "'ttl_s' must be an integer from 0 to " + std::to_string(kMaxTtl);
      }
    } else if (key == "latency_ms") {
      if (!read_int(value, 0, kMaxLatencyMs, next.latency_ms)) {
        return "'latency_ms' must be an integer from 0 to " + std::to_string(kMaxLatencyMs);
      }
    } else if (key == "fail_status") {
      if (!read_int(value, 0, 599, next.fail_status) ||
          (next.fail_status != 0 && next.fail_status < 400)) {
        return "'fail_status' must be 0 (off) or an integer from 400 to 599";
      }
    } else if (key == "revoke_all") {
      if (!value.is_bool()) return "'revoke_all' must be a boolean";
      revoke = value.get_bool();
    } else {
      return "unknown oauth option '" + std::string(key) +
             "' (known: ttl_s, latency_ms, fail_status, revoke_all)";
    }
  }
  std::lock_guard lock(mutex_);
  behaviour_ = next;
  if (revoke) tokens_.clear();
  return std::nullopt;
}

void Issuer::reset_behaviour() {
  std::lock_guard lock(mutex_);
  behaviour_ = Behaviour{};
}

Behaviour Issuer::behaviour() const {
  std::lock_guard lock(mutex_);
  return behaviour_;
}

std::string Issuer::state_json(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  const auto live = std::count_if(tokens_.begin(), tokens_.end(),
                                  [&](const auto& entry) { return now < entry.second; });
  std::string out = "{\"ttl_s\":";
  append_int(out, behaviour_.ttl_s);
  out += ",\"latency_ms\":";
  append_int(out, behaviour_.latency_ms);
  out += ",\"fail_status\":";
  append_int(out, behaviour_.fail_status);
  out += ",\"live_tokens\":";
  append_int(out, live);
  out += '}';
  return out;
}

}  // namespace mockllm::oauth
