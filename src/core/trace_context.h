// W3C Trace Context (https://www.w3.org/TR/trace-context/): traceparent parsing and formatting,
// random trace and span ids.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gatehouse {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

struct TraceParent {
  TraceId trace_id{};
  SpanId parent_id{};
  bool sampled = false;
};

// "00-<32 hex>-<16 hex>-<2 hex flags>" (a later version's longer value is read by its first four
// fields); nullopt when malformed, or the trace or parent id is all zeros.
std::optional<TraceParent> parse_traceparent(std::string_view header);
// "00-<trace id>-<span id>-01" (or -00 when not sampled).
std::string format_traceparent(const TraceId& trace, const SpanId& span, bool sampled);

// Random, never all zeros (a thread-local generator seeded from the OS).
TraceId random_trace_id();
SpanId random_span_id();

// Lowercase hex of any byte array.
template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (std::size_t i = 0; i < N; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

// Nanoseconds since the Unix epoch, now.
std::int64_t unix_now_ns();

}  // namespace gatehouse
