#include "store/usage_rollup.h"

#include <algorithm>

namespace gatehouse::store::rollup {

int bin_of(double ms) {
  if (!(ms > 0)) return 0;  // also NaN
  auto it = std::upper_bound(kBinUpper.begin(), kBinUpper.end(), ms);
  if (it == kBinUpper.end()) return static_cast<int>(kBinUpper.size()) - 1;
  return static_cast<int>(it - kBinUpper.begin());
}

double bin_lower(int bin) { return bin <= 0 ? 0 : kBinUpper[static_cast<std::size_t>(bin - 1)]; }

bool has_minutes(std::string_view dim) { return dim != "user" && dim != "end_user"; }

const char* dim_name(UsageGroup by) {
  switch (by) {
    case UsageGroup::kProject:
      return "project";
    case UsageGroup::kKey:
      return "key";
    case UsageGroup::kUser:
      return "user";
    case UsageGroup::kModel:
      return "model";
    case UsageGroup::kEndUser:
      return "end_user";
  }
  return "project";
}

BatchRollup of(std::span<const UsageRecord> rows) {
  BatchRollup out;
  for (const auto& r : rows) {
    const std::pair<const char*, const std::string*> dims[] = {
        {"model", &r.model}, {"project", &r.project}, {"key", &r.key_name},
        {"user", &r.user},   {"end_user", &r.end_user}};
    const int latency_bin = bin_of(r.duration_ms);
    const bool has_overhead = r.upstream_duration_ms >= 0;
    const int overhead_bin = bin_of(std::max(0.0, r.duration_ms - r.upstream_duration_ms));
    for (const auto& g : kGranularities) {
      const std::int64_t bucket = r.request_time_ms / g.ms * g.ms;
      auto add = [&](const char* dim, const std::string& value) {
        UsageFigures& f = out.figures[RollupKey{g.code, bucket, dim, value}];
        f.requests += 1;
        f.errors += r.status_code >= 400 ? 1 : 0;
        f.input_tokens += r.input_tokens;
        f.output_tokens += r.output_tokens;
        f.cost_usd += r.cost_usd;
      };
      add("all", std::string());
      for (const auto& [dim, value] : dims) {
        if (g.code == 'm' && !has_minutes(dim)) continue;
        add(dim, *value);
      }
      out.latency[LatencyKey{g.code, bucket, "latency", latency_bin}] += 1;
      if (has_overhead) out.latency[LatencyKey{g.code, bucket, "overhead", overhead_bin}] += 1;
    }
  }
  return out;
}

std::optional<double> quantile(std::span<const std::int64_t> counts, double q) {
  std::int64_t total = 0;
  for (auto c : counts) total += c;
  if (total <= 0) return std::nullopt;
  // The rank of the wanted request (1-based), as Prometheus' histogram_quantile reads buckets.
  const double rank = q * static_cast<double>(total);
  std::int64_t below = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    if (static_cast<double>(below + counts[i]) >= rank) {
      const double lower = bin_lower(static_cast<int>(i));
      if (i + 1 >= kBinUpper.size()) return lower;  // the open last bin: its lower bound
      const double upper = kBinUpper[i];
      const double within = (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
      return lower + (upper - lower) * std::clamp(within, 0.0, 1.0);
    }
    below += counts[i];
  }
  return bin_lower(static_cast<int>(counts.size()) - 1);
}

}  // namespace gatehouse::store::rollup
