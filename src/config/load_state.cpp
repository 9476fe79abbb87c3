// state: — where the counters several replicas share live (docs/scale-out.md).
#include <boost/url/parse.hpp>
#include <charconv>

#include "config/reader.h"

namespace gatehouse::config {

namespace {

// redis://[[user]:password@]host[:port][/db]. The password is kept apart and never quoted back.
void read_redis_url(Reader& r, const YAML::Node& at, const std::string& text, RedisConfig& rc) {
  const std::string where = "state.redis.url";
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return r.error(at, where + " must be a URL like redis://host:6379/0");
  const auto& u = *parsed;
  if (u.scheme() == "rediss") {
    return r.error(at, where + ": rediss:// (TLS) is not supported yet; reach Redis over a private network or a TLS sidecar, with redis://");
  }
  if (u.scheme() != "redis") return r.error(at, where + " must start with redis:// (got " + std::string(u.scheme()) + "://)");
  if (u.host().empty()) return r.error(at, where + " names no host (redis://host:6379/0)");
  rc.host = u.host_address();
  if (u.has_port()) {
    if (u.port_number() == 0) return r.error(at, where + ": the port must be 1-65535");
    rc.port = std::string(u.port());
  }
  if (u.has_userinfo()) {
    rc.username = u.user();
    if (u.has_password()) rc.password = u.password();
  }
  std::string path = u.path();
  if (!path.empty() && path != "/") {
    const auto digits = std::string_view(path).substr(1);
    int db = -1;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), db);
    if (ec != std::errc() || p != digits.data() + digits.size() || db < 0 || db > 15) {
      return r.error(at, where + ": the path must be a database number 0-15 (redis://host:6379/0)");
    }
    rc.db = db;
  }
  if (!u.query().empty() || u.has_fragment()) return r.error(at, where + " takes no query or fragment");
}

}  // namespace

void read_state(Reader& r, const YAML::Node& n, Config& c) {
  if (!r.expect_map(n, "state", {"redis"}) || !n["redis"]) return;
  const auto& rn = n["redis"];
  if (!r.expect_map(rn, "state.redis", {"url", "password", "timeout_ms", "on_error", "lease_ms"})) return;
  RedisConfig rc;
  if (!rn["url"]) return r.error(rn, "state.redis needs a url (redis://host:6379/0)");
  auto url = r.required(rn["url"], "state.redis.url");
  if (!url) return;
  rc.url = *url;
  read_redis_url(r, rn["url"], *url, rc);
  if (rn["password"]) {
    if (auto v = r.string(rn["password"], "state.redis.password")) {
      if (!v->empty()) rc.password = *v;
    }
  }
  if (rn["timeout_ms"]) {
    if (auto v = r.integer(rn["timeout_ms"], "state.redis.timeout_ms", 1, 10'000)) rc.timeout = Millis(*v);
  }
  if (rn["lease_ms"]) {
    if (auto v = r.integer(rn["lease_ms"], "state.redis.lease_ms", 1'000, 3'600'000)) rc.lease = Millis(*v);
  }
  if (rn["on_error"]) {
    if (auto v = r.string(rn["on_error"], "state.redis.on_error")) {
      if (*v == "deny") {
        rc.deny_on_error = true;
      } else if (*v != "local") {
        r.error(rn["on_error"], "state.redis.on_error must be local (count per replica while Redis is away) or deny (answer 503)");
      }
    }
  }
  c.state.redis = std::move(rc);
}

}  // namespace gatehouse::config
