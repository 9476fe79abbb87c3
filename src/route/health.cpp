#include "route/health.h"

#include <algorithm>

namespace gatehouse::route {

namespace {
constexpr double kEwmaWeight = 0.3;  // of the newest sample: recent enough to notice a change fast
}

std::int64_t TargetHealth::cooling_ms(const Entry& e, const Policy& p, std::int64_t now,
                                      bool& needs_probe) {
  const bool down = e.consecutive_failures >= p.threshold || e.probe_failed;
  needs_probe = down || e.retry_after_until_ms != 0;
  std::int64_t left = std::max<std::int64_t>(0, e.retry_after_until_ms - now);
  if (down)
    left = std::max(left, e.last_failure_ms + std::int64_t(p.cooldown.count()) * 1000 - now);
  return left;
}

TargetHealth::Pass TargetHealth::acquire(const std::string& key, int threshold,
                                         std::chrono::seconds cooldown, std::string& why) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return {true, false};
  Entry& e = it->second;
  bool needs_probe = false;
  const std::int64_t left = cooling_ms(e, Policy{threshold, cooldown}, clock_(), needs_probe);
  if (!needs_probe) return {true, false};
  if (left > 0) {
    why =
        "cooling down for " + std::to_string((left + 999) / 1000) + " s more after " + e.last_error;
    return {};
  }
  if (e.probing) {
    why = "a probe request is deciding whether it is back";
    return {};
  }
  e.probing = true;
  return {true, true};
}

void TargetHealth::set_observer(std::function<void(const HealthEvent&)> observer) {
  observer_.store(observer ? std::make_shared<const std::function<void(const HealthEvent&)>>(std::move(observer)) : nullptr);
}

void TargetHealth::announce(const HealthEvent& event) const {
  if (auto o = observer_.load(std::memory_order_acquire)) (*o)(event);
}

void TargetHealth::apply(const HealthEvent& event) {
  if (event.failure) {
    record_failure(event.key, event.retry_after_s, event.summary, false);
  } else {
    record_success(event.key, std::chrono::microseconds(event.latency_us));
  }
}

void TargetHealth::success(const std::string& key, std::chrono::microseconds latency) {
  if (record_success(key, latency) && observer_.load(std::memory_order_relaxed)) {
    announce(HealthEvent{false, key, -1, {}, latency.count()});
  }
}

void TargetHealth::failure(const std::string& key, int retry_after_s, std::string summary, bool probe) {
  if (observer_.load(std::memory_order_relaxed)) announce(HealthEvent{true, key, retry_after_s, summary, 0});
  record_failure(key, retry_after_s, std::move(summary), probe);
}

bool TargetHealth::record_success(const std::string& key, std::chrono::microseconds latency) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[key];
  const bool recovered = e.consecutive_failures > 0 || e.retry_after_until_ms != 0 || e.probe_failed;
  e.consecutive_failures = 0;
  e.retry_after_until_ms = 0;
  e.probe_failed = false;
  e.probing = false;
  ++e.successes;
  const double ms = double(latency.count()) / 1000.0;
  e.latency_ms = e.latency_ms < 0 ? ms : (1 - kEwmaWeight) * e.latency_ms + kEwmaWeight * ms;
  return recovered;
}

void TargetHealth::clear(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

void TargetHealth::record_failure(const std::string& key, int retry_after_s, std::string summary, bool probe) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[key];
  const std::int64_t now = clock_();
  ++e.failures;
  ++e.consecutive_failures;
  e.last_failure_ms = now;
  e.last_error = std::move(summary);
  if (probe && e.probing) {
    e.probing = false;
    e.probe_failed = true;
  }
  if (retry_after_s >= 0) {
    // The provider said how long (0: "not now", a second). A shorter one never cuts a longer short.
    e.retry_after_until_ms =
        std::max(e.retry_after_until_ms, now + std::int64_t(std::max(1, retry_after_s)) * 1000);
  }
}

void TargetHealth::release(const std::string& key, bool probe) {
  if (!probe) return;
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) it->second.probing = false;
}

double TargetHealth::latency_ms(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? -1 : it->second.latency_ms;
}

std::vector<TargetState> TargetHealth::states(const Policies& policies) {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_();
  std::vector<TargetState> out;
  for (const auto& [key, e] : entries_) {
    TargetState s;
    s.model = key;
    s.target = key;
    // A scoped key is one the routes' policies name both as itself and as its target.
    if (auto at = key.rfind('@'); at != std::string::npos && policies.contains(key) &&
                                  policies.contains(std::string_view(key).substr(0, at))) {
      s.target = key.substr(0, at);
      s.route = key.substr(at + 1);
    }
    // The key's routes, or none: then only a Retry-After or a failed probe cools it.
    static const std::vector<Policy> kNone{Policy{1 << 30, std::chrono::seconds(0)}};
    auto p = policies.find(key);
    const auto& judged_by = p != policies.end() && !p->second.empty() ? p->second : kNone;
    std::int64_t left = 0;
    bool needs_probe = false;
    for (const auto& policy : judged_by) {
      bool probe = false;
      left = std::max(left, cooling_ms(e, policy, now, probe));
      needs_probe = needs_probe || probe;
    }
    s.state = left > 0 ? "cooling" : needs_probe || e.probing ? "probing" : "healthy";
    s.consecutive_failures = e.consecutive_failures;
    s.cooldown_remaining_ms = left;
    s.latency_ms = e.latency_ms;
    s.successes = e.successes;
    s.failures = e.failures;
    s.last_error = e.last_error;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.model < b.model; });
  return out;
}

}  // namespace gatehouse::route
