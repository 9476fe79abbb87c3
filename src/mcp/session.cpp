#include "mcp/session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/json.hpp>

#include "core/encoding.h"

namespace gatehouse::mcp {

namespace json = boost::json;

namespace {

constexpr std::string_view kPrefix = "ghm1.";

std::string mac(const std::string& secret, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), 16);  // 128 bits is plenty for a MAC
}

}  // namespace

std::string SessionCodec::encode(const Session& s) const {
  json::object o;
  o["n"] = s.nonce;
  o["r"] = s.route;
  o["p"] = s.principal;
  o["v"] = s.version;
  o["t"] = s.created_s;
  if (!s.init_params.empty()) {
    boost::system::error_code ec;
    auto v = json::parse(s.init_params, ec);
    if (!ec) o["i"] = std::move(v);
  }
  json::object u;
  for (const auto& [name, up] : s.upstreams) u[name] = json::array{json::value(up.id), json::value(up.version)};
  o["u"] = std::move(u);
  const std::string payload = base64url_encode(json::serialize(o));
  return std::string(kPrefix) + payload + "." + base64url_encode(mac(secret_, payload));
}

std::optional<Session> SessionCodec::decode(std::string_view id) const {
  if (id.size() > 16384 || id.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  id.remove_prefix(kPrefix.size());
  const auto dot = id.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto payload = id.substr(0, dot);
  auto sig = base64url_decode(id.substr(dot + 1));
  const std::string want = mac(secret_, payload);
  if (!sig || sig->size() != want.size() || CRYPTO_memcmp(sig->data(), want.data(), want.size()) != 0) return std::nullopt;
  auto text = base64url_decode(payload);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto str = [&](const char* k) -> std::string {
    auto* x = o.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  Session s;
  s.nonce = str("n");
  s.route = str("r");
  s.principal = str("p");
  s.version = str("v");
  if (auto* t = o.if_contains("t"); t && t->is_int64()) s.created_s = t->as_int64();
  if (auto* i = o.if_contains("i")) s.init_params = json::serialize(*i);
  if (auto* u = o.if_contains("u"); u && u->is_object()) {
    for (const auto& [name, pair] : u->as_object()) {
      if (!pair.is_array() || pair.as_array().size() != 2) continue;
      const auto& a = pair.as_array();
      if (!a[0].is_string() || !a[1].is_string()) continue;
      s.upstreams[std::string(name)] = {std::string(a[0].as_string()), std::string(a[1].as_string())};
    }
  }
  if (s.nonce.empty() || s.route.empty()) return std::nullopt;
  return s;
}

Sessions::Sessions(std::string secret, std::chrono::milliseconds idle) : codec_(std::move(secret)), idle_(idle) {}

bool Sessions::refresh(Session& s) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  sweep_locked(now);
  auto it = entries_.find(s.nonce);
  if (it == entries_.end()) return true;
  it->second.used = now;
  if (it->second.ended) return false;
  for (const auto& [name, up] : it->second.upstreams) s.upstreams[name] = up;
  return true;
}

void Sessions::replace_upstream(const Session& s, const std::string& server, UpstreamSession up) {
  std::lock_guard lock(mu_);
  auto& e = entries_[s.nonce];
  e.used = std::chrono::steady_clock::now();
  e.upstreams[server] = std::move(up);
}

void Sessions::end(const Session& s) {
  std::lock_guard lock(mu_);
  auto& e = entries_[s.nonce];
  e.used = std::chrono::steady_clock::now();
  e.ended = true;
  e.upstreams.clear();
}

void Sessions::sweep_locked(std::chrono::steady_clock::time_point now) {
  if (now < next_sweep_) return;
  next_sweep_ = now + std::chrono::seconds(60);
  // An ended session is remembered as long as a live one, so its id stays refused that long.
  std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.used > idle_; });
  std::erase_if(bridges_, [&](const auto& kv) { return now - kv.second.used > idle_; });
}

std::optional<std::string> Sessions::bridge(const std::string& key) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  sweep_locked(now);
  auto it = bridges_.find(key);
  if (it == bridges_.end()) return std::nullopt;
  it->second.used = now;
  return it->second.id;
}

void Sessions::set_bridge(const std::string& key, std::string id) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  // Bounded: past kMaxBridges, the least recently used goes (its upstream sessions idle out).
  if (bridges_.size() >= kMaxBridges && !bridges_.contains(key)) {
    auto oldest = std::min_element(bridges_.begin(), bridges_.end(),
                                   [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    bridges_.erase(oldest);
  }
  bridges_[key] = {std::move(id), now};
}

std::string Sessions::random_secret() {
  unsigned char b[32];
  RAND_bytes(b, sizeof b);
  return std::string(reinterpret_cast<char*>(b), sizeof b);
}

}  // namespace gatehouse::mcp
