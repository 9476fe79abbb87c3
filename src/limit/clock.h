// The time limits and budgets read. Injectable, so tests can move it (a minute for a rate
// window, a month for a budget) without waiting.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace gatehouse::limit {

// Milliseconds since the Unix epoch (UTC).
using Clock = std::function<std::int64_t()>;

inline std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline Clock system_clock() { return &system_now_ms; }

}  // namespace gatehouse::limit
