// A model's `route:` (virtual models, docs/routing.md).
#include "config/reader.h"

namespace gatehouse::config {

namespace {

void read_route_strategy(Reader& r, const YAML::Node& n, const std::string& where, RouteConfig& route) {
  if (auto s = r.string(n, where + ".strategy")) {
    if (*s == "priority") {
      route.strategy = RouteStrategy::kPriority;
    } else if (*s == "weighted") {
      route.strategy = RouteStrategy::kWeighted;
    } else if (*s == "latency") {
      route.strategy = RouteStrategy::kLatency;
    } else {
      r.error(n, where + ".strategy '" + *s + "' is not one of priority, weighted, latency");
    }
  }
}

// One entry of targets:. An entry without a model is reported and left out.
void read_route_target(Reader& r, const YAML::Node& t, const std::string& where, RouteConfig& route) {
  const std::string tw = where + ".targets[]";
  if (!r.expect_map(t, tw, {"model", "weight", "timeouts"})) return;
  RouteTarget target;
  if (!t["model"]) {
    r.error(t, tw + ".model is required: a model defined under models");
    return;
  }
  if (auto m = r.string(t["model"], tw + ".model")) target.model = *m;
  if (t["weight"]) {
    if (auto w = r.integer(t["weight"], tw + ".weight", 0, 1'000'000)) target.weight = int(*w);
  }
  if (const auto& to = t["timeouts"]) {
    if (r.expect_map(to, tw + ".timeouts", {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"})) {
      auto ms = [&](const char* key, std::optional<Millis>& out) {
        if (!to[key]) return;
        Millis v{0};
        r.millis(to[key], tw + ".timeouts." + key, v);
        if (v.count() > 0) out = v;
      };
      ms("connect_ms", target.connect);
      ms("first_byte_ms", target.first_byte);
      ms("idle_ms", target.idle);
      ms("total_ms", target.total);
    }
  }
  route.targets.push_back(std::move(target));
}

void read_fallback_on(Reader& r, const YAML::Node& f, const std::string& where, RouteConfig& route) {
  if (!f.IsSequence()) {
    r.error(f, where + ".fallback_on must be a list of 5xx, 429, timeout, connect_error");
    return;
  }
  route.fallback_on = 0;
  for (const auto& item : f) {
    auto s = r.string(item, where + ".fallback_on[]");
    if (!s) continue;
    if (*s == "5xx") {
      route.fallback_on |= kFail5xx;
    } else if (*s == "429") {
      route.fallback_on |= kFail429;
    } else if (*s == "timeout") {
      route.fallback_on |= kFailTimeout;
    } else if (*s == "connect_error") {
      route.fallback_on |= kFailConnect;
    } else {
      r.error(item, where + ".fallback_on: '" + *s + "' is not one of 5xx, 429, timeout, connect_error");
    }
  }
}

void read_route_retries(Reader& r, const YAML::Node& rt, const std::string& where, RouteConfig& route) {
  if (!r.expect_map(rt, where + ".retries", {"attempts", "backoff_ms"})) return;
  if (rt["attempts"]) {
    if (auto v = r.integer(rt["attempts"], where + ".retries.attempts", 0, 10)) route.retries = int(*v);
  }
  if (rt["backoff_ms"]) r.millis(rt["backoff_ms"], where + ".retries.backoff_ms", route.backoff);
}

void read_route_cooldown(Reader& r, const YAML::Node& cd, const std::string& where, RouteConfig& route) {
  if (!r.expect_map(cd, where + ".cooldown", {"after_failures", "seconds"})) return;
  if (cd["after_failures"]) {
    if (auto v = r.integer(cd["after_failures"], where + ".cooldown.after_failures", 1, 1000)) {
      route.cooldown_failures = int(*v);
    }
  }
  if (cd["seconds"]) {
    if (auto v = r.integer(cd["seconds"], where + ".cooldown.seconds", 1, 86'400)) {
      route.cooldown = std::chrono::seconds(*v);
    }
  }
}

}  // namespace

void read_route(Reader& r, const YAML::Node& n, const std::string& where, RouteConfig& route) {
  if (!r.expect_map(n, where, {"strategy", "targets", "fallback_on", "retries", "cooldown"})) return;
  if (n["strategy"]) read_route_strategy(r, n["strategy"], where, route);
  const auto& ts = n["targets"];
  if (!ts || !ts.IsSequence() || ts.size() == 0) {
    r.error(ts ? ts : n, where + ".targets must be a non-empty list of {model: NAME}");
  } else {
    for (const auto& t : ts) read_route_target(r, t, where, route);
  }
  if (route.strategy == RouteStrategy::kWeighted) {
    long long total = 0;
    for (const auto& t : route.targets) total += t.weight;
    if (!route.targets.empty() && total == 0) r.error(ts, where + ": a weighted route needs a target with weight > 0");
  }
  if (const auto& f = n["fallback_on"]) read_fallback_on(r, f, where, route);
  if (const auto& rt = n["retries"]) read_route_retries(r, rt, where, route);
  if (const auto& cd = n["cooldown"]) read_route_cooldown(r, cd, where, route);
}

void check_routes(Reader& r, const YAML::Node& root, Config& c) {
  for (const auto& [name, m] : c.models) {
    if (!m.route) continue;
    // The YAML entries read_route kept (maps with a model), in order: one per target.
    std::vector<YAML::Node> places;
    const YAML::Node targets = root["models"][name]["route"]["targets"];
    if (targets && targets.IsSequence()) {
      for (const auto& t : targets) {
        if (t.IsMap() && t["model"]) places.push_back(t["model"]);
      }
    }
    for (std::size_t i = 0; i < m.route->targets.size(); ++i) {
      const auto& t = m.route->targets[i];
      if (t.model.empty()) continue;  // already reported
      const YAML::Node at = i < places.size() ? places[i] : root["models"][name];
      auto it = c.models.find(t.model);
      if (it == c.models.end()) {
        r.error(at, "models." + name + ".route: target '" + t.model + "' is not defined under models");
      } else if (it->second.route) {
        r.error(at, "models." + name + ".route: target '" + t.model +
                        "' is itself a route; targets must be models with a provider");
      }
    }
  }
}

}  // namespace gatehouse::config
