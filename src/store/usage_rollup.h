// The usage rollups (schema step 6): what a record batch adds to usage_rollup and usage_latency,
// computed in memory from the batch's usage rows so that a batch costs a handful of upserts
// (one per bucket, dimension and value it touches), not one per row; and the latency bins both
// engines and the schema's latency_bins table share. Internal to gh_store.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "store/record_store.h"

namespace gatehouse::store::rollup {

// Bin i holds durations in [kBinUpper[i-1], kBinUpper[i]) milliseconds (bin 0 from 0); the last
// bin everything from 700 s on. A 1-1.5-2-3-5-7 series per decade, 0.1 ms to 700 s: a percentile
// read from them is exact to the width of its bin. Schema step 6 inserts the same bounds.
inline constexpr std::array<double, 43> kBinUpper = {
    0.1,    0.15,   0.2,    0.3,    0.5,    0.7,    1,      1.5,    2,      3,      5,
    7,      10,     15,     20,     30,     50,     70,     100,    150,    200,    300,
    500,    700,    1000,   1500,   2000,   3000,   5000,   7000,   10000,  15000,  20000,
    30000,  50000,  70000,  100000, 150000, 200000, 300000, 500000, 700000, 1e18};
int bin_of(double ms);
double bin_lower(int bin);

// The rollups' granularities: 'm' minute, 'h' hour, 'd' UTC day.
struct Granularity {
  char code;
  std::int64_t ms;
};
inline constexpr Granularity kGranularities[] = {{'m', 60'000}, {'h', 3'600'000}, {'d', 86'400'000}};

// A usage dimension's name in usage_rollup.dim ("all" is the total of every row, value "").
const char* dim_name(UsageGroup by);
// Whether a dimension has minute rows: "user" and "end_user" (often thousands of values, nearly a
// row per request at minutes) have hour and day rows only.
bool has_minutes(std::string_view dim);

struct RollupKey {
  char granularity;
  std::int64_t bucket_ms;
  std::string dim, value;
  auto operator<=>(const RollupKey&) const = default;
};
struct LatencyKey {
  char granularity;
  std::int64_t bucket_ms;
  const char* kind;  // "latency" or "overhead"
  int bin;
  bool operator<(const LatencyKey& o) const {
    return std::make_tuple(granularity, bucket_ms, kind_order(), bin) <
           std::make_tuple(o.granularity, o.bucket_ms, o.kind_order(), o.bin);
  }
  int kind_order() const { return kind[0] == 'l' ? 0 : 1; }
};

// What a batch adds, in key order (so concurrent writers on PostgreSQL take row locks in the
// same order and cannot deadlock each other).
struct BatchRollup {
  std::map<RollupKey, UsageFigures> figures;
  std::map<LatencyKey, std::int64_t> latency;
};
BatchRollup of(std::span<const UsageRecord> rows);

// The upserts, with $1.. parameters: (granularity, bucket_ms, dim, value, requests, errors,
// input_tokens, output_tokens, cost_usd) and (granularity, bucket_ms, kind, bin, requests).
inline constexpr const char* kUpsertFigures =
    "INSERT INTO usage_rollup (granularity, bucket_ms, dim, value, requests, errors, input_tokens, "
    "output_tokens, cost_usd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (granularity, dim, bucket_ms, value) DO UPDATE SET "
    "requests = usage_rollup.requests + excluded.requests, "
    "errors = usage_rollup.errors + excluded.errors, "
    "input_tokens = usage_rollup.input_tokens + excluded.input_tokens, "
    "output_tokens = usage_rollup.output_tokens + excluded.output_tokens, "
    "cost_usd = usage_rollup.cost_usd + excluded.cost_usd";
inline constexpr const char* kUpsertLatency =
    "INSERT INTO usage_latency (granularity, bucket_ms, kind, bin, requests) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (granularity, bucket_ms, kind, bin) DO UPDATE SET "
    "requests = usage_latency.requests + excluded.requests";

// The q-quantile (0..1) of a histogram (counts per bin), interpolated linearly inside its bin;
// nullopt for an empty histogram.
std::optional<double> quantile(std::span<const std::int64_t> counts, double q);

}  // namespace gatehouse::store::rollup
