#include "core/trace_context.h"

#include <algorithm>
#include <chrono>
#include <random>

namespace gatehouse {

namespace {

template <std::size_t N>
bool parse_hex(std::string_view s, std::array<std::uint8_t, N>& out) {
  if (s.size() != 2 * N) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // uppercase is not allowed by the spec
  };
  bool any = false;
  for (std::size_t i = 0; i < N; ++i) {
    int hi = digit(s[2 * i]), lo = digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = std::uint8_t(hi * 16 + lo);
    any = any || out[i] != 0;
  }
  return any;
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 g{(std::uint64_t(std::random_device{}()) << 32) ^ std::random_device{}()};
  return g;
}

template <std::size_t N>
std::array<std::uint8_t, N> random_id() {
  std::array<std::uint8_t, N> id{};
  do {
    for (std::size_t i = 0; i < N; i += 8) {
      std::uint64_t v = rng()();
      for (std::size_t j = 0; j < 8 && i + j < N; ++j) id[i + j] = std::uint8_t(v >> (8 * j));
    }
  } while (std::all_of(id.begin(), id.end(), [](std::uint8_t b) { return b == 0; }));
  return id;
}

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view h) {
  // version "-" trace-id "-" parent-id "-" flags
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  std::string_view version = h.substr(0, 2);
  if (version == "ff" || (version == "00" && h.size() != 55)) return std::nullopt;
  if (h.size() > 55 && h[55] != '-') return std::nullopt;
  std::array<std::uint8_t, 1> v{}, flags{};
  if (!parse_hex(version, v) && version != "00") return std::nullopt;
  TraceParent tp;
  if (!parse_hex(h.substr(3, 32), tp.trace_id)) return std::nullopt;
  if (!parse_hex(h.substr(36, 16), tp.parent_id)) return std::nullopt;
  std::string_view f = h.substr(53, 2);
  if (f != "00" && !parse_hex(f, flags)) return std::nullopt;
  tp.sampled = (flags[0] & 1) != 0;
  return tp;
}

std::string format_traceparent(const TraceId& trace, const SpanId& span, bool sampled) {
  return "00-" + to_hex(trace) + "-" + to_hex(span) + (sampled ? "-01" : "-00");
}

TraceId random_trace_id() { return random_id<16>(); }
SpanId random_span_id() { return random_id<8>(); }

std::int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace gatehouse
