#include "identity/jwt.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

#include "identity/jwk.h"
#include "identity/jwks_refresher.h"

namespace gatehouse::identity {

namespace json = boost::json;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::system_clock;

namespace {

// An unknown kid (or no keys at all) asks the refresher for a fetch at most this often, so a
// stream of tokens with made-up kids cannot make the gateway hammer the identity provider.
constexpr std::chrono::steady_clock::duration kEarlyFetchEvery = 30s;
// Far above any real token (a few KB) and the server's header limit; bounds the work on garbage.
constexpr std::size_t kMaxTokenBytes = 64 << 10;
// NumericDate values are clamped here (9999-12-31T23:59:59Z) so arithmetic cannot overflow.
constexpr std::int64_t kMaxDateSeconds = 253'402'300'799;

struct Segments {
  std::string_view header, payload, signature;
  std::string_view signing_input;  // header "." payload: what the signature covers
};

bool is_base64url(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

// Exactly three dot-separated segments; header and payload non-empty, all three base64url.
std::optional<Segments> split(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return std::nullopt;
  const auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  const auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return std::nullopt;
  Segments s{token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1),
             token.substr(0, d2)};
  if (s.header.empty() || s.payload.empty() || !is_base64url(s.header) ||
      !is_base64url(s.payload) || !is_base64url(s.signature)) {
    return std::nullopt;
  }
  return s;
}

// A base64url segment holding a JSON object.
std::optional<json::object> decode_object(std::string_view segment) {
  auto text = base64url_decode(segment);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

Error invalid(std::string message) {
  Error e = Error::unauthenticated(std::move(message));
  e.code = "invalid_token";
  return e;
}

Error malformed(std::string_view why) { return invalid("malformed JWT: " + std::string(why)); }

Error keys_not_loaded() {
  Error e;
  e.kind = ErrorKind::kUnavailable;
  e.source = ErrorSource::kGateway;
  e.retryable = true;
  e.status = 503;
  e.retry_after_s = 2;
  e.code = "identity_provider_unavailable";
  e.message =
      "the identity provider's signing keys are not loaded yet, so the token cannot be verified; "
      "retry shortly";
  return e;
}

// A claim or header value as a message may show it: quoted, printable ASCII, at most 100 bytes.
std::string shown(std::string_view value) {
  constexpr std::size_t kMax = 100;
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size() && i < kMax; ++i) {
    const char c = value[i];
    out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
  }
  if (value.size() > kMax) out += "...";
  return out + "\"";
}

std::string format_time(std::int64_t ms) {
  const std::time_t t = std::time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  char buf[32];
  if (!gmtime_r(&t, &tm) || std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(ms / 1000) + " (seconds since 1970)";
  }
  return buf;
}

// A NumericDate claim (RFC 7519 §2: seconds since the epoch, possibly fractional) in
// milliseconds. Absent: nullopt with `bad` false; not a number: nullopt with `bad` true.
std::optional<std::int64_t> numeric_date(const json::object& claims, std::string_view name,
                                         bool& bad) {
  bad = false;
  const json::value* v = claims.if_contains(name);
  if (!v) return std::nullopt;
  double seconds = 0;
  if (v->is_int64()) {
    seconds = double(v->get_int64());
  } else if (v->is_uint64()) {
    seconds = double(v->get_uint64());
  } else if (v->is_double() && std::isfinite(v->get_double())) {
    seconds = v->get_double();
  } else {
    bad = true;
    return std::nullopt;
  }
  seconds = std::clamp(seconds, -double(kMaxDateSeconds), double(kMaxDateSeconds));
  return std::int64_t(std::floor(seconds * 1000));
}

// The caller's name from a string claim, or a number rendered as text.
std::optional<std::string> user_name(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_string()) {
    if (v->get_string().empty()) return std::nullopt;
    return std::string(v->get_string());
  }
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double()) {
    const double d = v->get_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      return std::to_string(std::int64_t(d));
    return json::serialize(*v);
  }
  return std::nullopt;
}

// An array of strings (other elements ignored), or one string.
std::vector<std::string> group_names(const json::value* v) {
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) {
    if (!v->get_string().empty()) out.emplace_back(v->get_string());
  } else if (v->is_array()) {
    for (const auto& g : v->get_array()) {
      if (g.is_string() && !g.get_string().empty()) out.emplace_back(g.get_string());
    }
  }
  return out;
}

// The header's algorithm: RS256 or ES256; any other is refused.
std::variant<Alg, Error> header_alg(const json::object& header) {
  const json::value* alg_v = header.if_contains("alg");
  if (!alg_v || !alg_v->is_string()) return malformed("its header has no \"alg\"");
  if (alg_v->get_string() == "RS256") return Alg::kRS256;
  if (alg_v->get_string() == "ES256") return Alg::kES256;
  return invalid("the JWT's algorithm " + shown(alg_v->get_string()) +
                 " is refused: tokens must be signed with RS256 or ES256");
}

// exp (required), nbf and iat against the clock, with the configured leeway. Returns exp in
// milliseconds.
std::variant<std::int64_t, Error> check_times(const json::object& claims, system_clock::time_point now,
                                              milliseconds leeway) {
  const std::int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count();
  const std::int64_t leeway_ms = leeway.count();
  const std::string leeway_note = "leeway " + std::to_string(leeway_ms / 1000) + " s";
  bool bad = false;
  const auto exp = numeric_date(claims, "exp", bad);
  if (bad) return malformed("its \"exp\" is not a number");
  if (!exp) return invalid("the JWT has no \"exp\" claim: tokens that never expire are refused");
  if (now_ms >= *exp + leeway_ms) {
    return invalid("the JWT expired at " + format_time(*exp) + " (now " + format_time(now_ms) +
                   ", " + leeway_note + "): get a new token from the identity provider");
  }
  const auto nbf = numeric_date(claims, "nbf", bad);
  if (bad) return malformed("its \"nbf\" is not a number");
  if (nbf && now_ms + leeway_ms < *nbf) {
    return invalid("the JWT is not valid before " + format_time(*nbf) + " (now " +
                   format_time(now_ms) + ", " + leeway_note + ")");
  }
  const auto iat = numeric_date(claims, "iat", bad);
  if (bad) return malformed("its \"iat\" is not a number");
  if (iat && *iat > now_ms + leeway_ms) {
    return invalid("the JWT was issued in the future, at " + format_time(*iat) + " (now " +
                   format_time(now_ms) + ", " + leeway_note + "): check the clocks");
  }
  return *exp;
}

std::optional<Error> check_issuer(const json::object& claims, const std::string& issuer) {
  const json::value* iss = claims.if_contains("iss");
  if (!iss || !iss->is_string()) {
    return invalid("the JWT has no \"iss\" claim; the configured issuer is " + shown(issuer));
  }
  if (iss->get_string() != issuer) {
    return invalid("the JWT's issuer " + shown(iss->get_string()) +
                   " is not the configured issuer " + shown(issuer));
  }
  return std::nullopt;
}

// `aud`, one string or a list, must include the configured audience.
std::optional<Error> check_audience(const json::object& claims, const std::string& audience) {
  const json::value* aud = claims.if_contains("aud");
  bool audience_ok = false;
  std::string audiences;
  if (aud && aud->is_string()) {
    audience_ok = aud->get_string() == audience;
    audiences = shown(aud->get_string());
  } else if (aud && aud->is_array()) {
    for (const auto& a : aud->get_array()) {
      if (!a.is_string()) continue;
      audience_ok = audience_ok || a.get_string() == audience;
      if (audiences.size() < 200)
        audiences += (audiences.empty() ? "" : ", ") + shown(a.get_string());
    }
  }
  if (!audience_ok) {
    return invalid(audiences.empty()
                       ? "the JWT has no \"aud\" claim; it must include " + shown(audience)
                       : "the JWT's audience (" + audiences + ") does not include " +
                             shown(audience));
  }
  return std::nullopt;
}

// The caller the verified claims name: user, groups, issuer, and when the token expires.
std::variant<Identity, Error> identity_of(const json::object& claims, const config::JwtConfig& config,
                                          std::int64_t exp_ms) {
  auto user = user_name(claims.if_contains(config.user_claim));
  if (!user) {
    return invalid("the JWT has no " + shown(config.user_claim) +
                   " claim (a string or number) naming the user: see auth.jwt.user_claim");
  }

  Identity id;
  id.user = std::move(*user);
  id.groups = group_names(claims.if_contains(config.groups_claim));
  id.issuer = config.issuer;
  const std::int64_t max_ms =
      std::chrono::duration_cast<milliseconds>(system_clock::time_point::max().time_since_epoch())
          .count();
  id.expires = system_clock::time_point(
      std::chrono::duration_cast<system_clock::duration>(milliseconds(std::min(exp_ms, max_ms))));
  return id;
}

}  // namespace

bool looks_like_jwt(std::string_view token) {
  auto s = split(token);
  if (!s) return false;
  auto header = decode_object(s->header);
  if (!header) return false;
  const json::value* alg = header->if_contains("alg");
  return alg && alg->is_string();
}

struct JwtVerifier::State {
  explicit State(const config::JwtConfig& c) : config(c) {}

  // Asks the refresher for a fetch now, unless one was asked for in the last kEarlyFetchEvery.
  void ask_for_fetch() {
    if (!refresher) return;
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto next = next_early_fetch.load(std::memory_order_relaxed);
    if (now < next) return;
    if (!next_early_fetch.compare_exchange_strong(next, now + kEarlyFetchEvery.count())) return;
    refresher->fetch_soon();
  }

  // The key that must have signed a token with `alg` and `kid` (`has_kid` false: the header
  // names none), or the 401 that says why there is none.
  std::variant<const Jwk*, Error> choose_key(const KeySet& set, Alg alg, bool has_kid,
                                             std::string_view kid) {
    if (has_kid) {
      const Jwk* other_type = nullptr;
      for (const auto& k : set.keys) {
        if (k.kid != kid) continue;
        if (k.alg == alg) return &k;
        other_type = &k;
      }
      if (other_type) {
        return invalid("the JWT's key " + shown(kid) + " is an " +
                       std::string(key_type_name(other_type->alg)) + " key; it cannot verify an " +
                       std::string(to_string(alg)) + " token");
      }
      ask_for_fetch();
      return invalid("the JWT's key id " + shown(kid) +
                     " is not one of the identity provider's signing keys");
    }
    const Jwk* found = nullptr;
    int count = 0;
    for (const auto& k : set.keys) {
      if (k.alg == alg) {
        found = &k;
        ++count;
      }
    }
    if (count == 1) return found;
    if (count == 0) {
      return invalid("the JWT names no key id (kid) and the identity provider has no " +
                     std::string(key_type_name(alg)) + " key for " + std::string(to_string(alg)));
    }
    return invalid("the JWT names no key id (kid) and the identity provider has " +
                   std::to_string(count) + " " + std::string(key_type_name(alg)) +
                   " keys: cannot tell which one signed it");
  }

  std::shared_ptr<const KeySet> keys() const {
    std::lock_guard lock(keys_mu);
    return keys_;
  }
  // The old set, now in `set`, is freed after the lock is released (parameters outlive locals).
  void set_keys(std::shared_ptr<const KeySet> set) {
    std::lock_guard lock(keys_mu);
    keys_.swap(set);
  }

  const config::JwtConfig config;
  // A plain mutex held for a pointer copy: verify() never waits on a fetch or a parse. (GCC 12's
  // std::atomic<std::shared_ptr> works too but ThreadSanitizer reports its internal lock.)
  mutable std::mutex keys_mu;
  std::shared_ptr<const KeySet> keys_;
  std::atomic<std::chrono::steady_clock::rep> next_early_fetch{
      std::chrono::steady_clock::rep(INT64_MIN)};
  // Declared last: destroyed (its thread stopped) before the keys it writes to.
  std::unique_ptr<JwksRefresher> refresher;
};

JwtVerifier::JwtVerifier(const config::JwtConfig& config)
    : state_(std::make_unique<State>(config)) {}

JwtVerifier::~JwtVerifier() = default;

std::optional<std::string> JwtVerifier::start() {
  State& s = *state_;
  if (s.refresher || s.keys()) return std::string("auth.jwt: the verifier was already started");
  if (!s.config.jwks_file.empty()) {
    const std::string& path = s.config.jwks_file;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (!in || !(text << in.rdbuf())) return "auth.jwt.jwks_file: cannot read " + path;
    ParsedKeySet parsed = parse_jwks(text.str(), path);
    for (const auto& why : parsed.skipped) spdlog::info("auth.jwt: {}: {}", path, why);
    if (!parsed.set) return "auth.jwt.jwks_file " + path + ": " + parsed.error;
    spdlog::info("auth.jwt: {} signing key(s) from {}", parsed.set->keys.size(), path);
    s.set_keys(std::move(parsed.set));
    return std::nullopt;
  }
  if (s.config.jwks_url.empty()) return std::string("auth.jwt needs jwks_url or jwks_file");
  s.refresher =
      std::make_unique<JwksRefresher>(s.config.jwks_url, s.config.jwks_refresh,
                                      [state = state_.get()](std::shared_ptr<const KeySet> set) {
                                        state->set_keys(std::move(set));
                                      });
  return s.refresher->start();
}

std::uint64_t JwtVerifier::jwks_fetches() const {
  return state_->refresher ? state_->refresher->fetches() : 0;
}

std::variant<Identity, Error> JwtVerifier::verify(std::string_view token,
                                                  system_clock::time_point now) const {
  State& s = *state_;
  const auto seg = split(token);
  if (!seg) return malformed("not three base64url segments separated by dots");
  const auto header = decode_object(seg->header);
  if (!header) return malformed("its header is not a base64url-encoded JSON object");
  auto alg = header_alg(*header);
  if (auto* e = std::get_if<Error>(&alg)) return std::move(*e);
  if (header->contains("crit")) {
    return invalid(
        "the JWT's header lists critical extensions (\"crit\") that the gateway does not "
        "implement");
  }
  const json::value* kid_v = header->if_contains("kid");
  if (kid_v && !kid_v->is_string()) return malformed("its \"kid\" is not a string");

  const std::shared_ptr<const KeySet> keys = s.keys();
  if (!keys) {
    s.ask_for_fetch();
    return keys_not_loaded();
  }
  auto chosen = s.choose_key(*keys, std::get<Alg>(alg), kid_v != nullptr,
                             kid_v ? std::string_view(kid_v->get_string()) : "");
  if (auto* e = std::get_if<Error>(&chosen)) return std::move(*e);
  const Jwk& key = *std::get<const Jwk*>(chosen);

  const auto signature = base64url_decode(seg->signature);
  if (!signature) return malformed("its signature is not base64url");
  if (!verify_signature(key, seg->signing_input, *signature))
    return invalid("the JWT's signature does not verify");

  // From here on the claims are the identity provider's own words.
  const auto claims = decode_object(seg->payload);
  if (!claims) return malformed("its payload is not a base64url-encoded JSON object");
  auto exp = check_times(*claims, now, s.config.leeway);
  if (auto* e = std::get_if<Error>(&exp)) return std::move(*e);
  if (auto e = check_issuer(*claims, s.config.issuer)) return std::move(*e);
  if (auto e = check_audience(*claims, s.config.audience)) return std::move(*e);
  return identity_of(*claims, s.config, std::get<std::int64_t>(exp));
}

}  // namespace gatehouse::identity
