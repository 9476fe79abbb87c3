#include "route/health.h"

#include <algorithm>

namespace gatehouse::route {

namespace {
constexpr double kEwmaWeight = 0.3;  // of the newest sample: recent enough to notice a change fast
}

TargetHealth::Pass TargetHealth::acquire(const std::string& model, std::string& why) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[model];
  const std::int64_t now = clock_();
  if (e.cooling_until_ms == 0) return {true, false};
  if (now < e.cooling_until_ms) {
    why = "cooling down for " + std::to_string((e.cooling_until_ms - now + 999) / 1000) + " s more after " +
          e.last_error;
    return {};
  }
  if (e.probing) {
    why = "a probe request is deciding whether it is back";
    return {};
  }
  e.probing = true;
  return {true, true};
}

void TargetHealth::success(const std::string& model, std::chrono::microseconds latency) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[model];
  e.consecutive_failures = 0;
  e.cooling_until_ms = 0;
  e.probing = false;
  ++e.successes;
  const double ms = double(latency.count()) / 1000.0;
  e.latency_ms = e.latency_ms < 0 ? ms : (1 - kEwmaWeight) * e.latency_ms + kEwmaWeight * ms;
}

void TargetHealth::failure(const std::string& model, int threshold, std::chrono::seconds cooldown,
                           int retry_after_s, std::string summary, bool probe) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[model];
  const std::int64_t now = clock_();
  ++e.failures;
  ++e.consecutive_failures;
  e.last_error = std::move(summary);
  const bool failed_probe = probe && e.probing;
  if (failed_probe) e.probing = false;
  std::int64_t cool_ms = -1;
  if (retry_after_s >= 0) {
    cool_ms = std::int64_t(std::max(1, retry_after_s)) * 1000;  // the provider said how long
  } else if (failed_probe || e.consecutive_failures >= threshold) {
    cool_ms = std::int64_t(cooldown.count()) * 1000;
  }
  if (cool_ms > 0) e.cooling_until_ms = std::max(e.cooling_until_ms, now + cool_ms);
  if (failed_probe && cool_ms > 0) e.cooling_until_ms = now + cool_ms;
}

void TargetHealth::release(const std::string& model, bool probe) {
  if (!probe) return;
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(model); it != entries_.end()) it->second.probing = false;
}

double TargetHealth::latency_ms(const std::string& model) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(model);
  return it == entries_.end() ? -1 : it->second.latency_ms;
}

std::vector<TargetState> TargetHealth::states() {
  std::lock_guard lock(mu_);
  const std::int64_t now = clock_();
  std::vector<TargetState> out;
  for (const auto& [name, e] : entries_) {
    TargetState s;
    s.model = name;
    const bool cooling = e.cooling_until_ms != 0 && now < e.cooling_until_ms;
    s.state = cooling ? "cooling" : e.cooling_until_ms != 0 ? "probing" : "healthy";
    s.consecutive_failures = e.consecutive_failures;
    s.cooldown_remaining_ms = cooling ? e.cooling_until_ms - now : 0;
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
