// A sliding one-minute window counted in one-second slots: what was charged in the last 60
// seconds, exact to the second. Not thread-safe (the limiter locks around it).
#pragma once

#include <array>
#include <cstdint>

namespace gatehouse::limit {

class Window {
 public:
  static constexpr int kSlots = 60;  // seconds in the window

  // The units charged in the window ending at `now_s` (unix seconds).
  long long used(std::int64_t now_s) const;
  // Charges `n` units (negative: gives units back) to second `at_s`, if that second is still in
  // the window ending at `now_s` (false otherwise); a slot never goes below zero.
  bool add(std::int64_t at_s, long long n, std::int64_t now_s);
  // Seconds from `now_s` until `need` more units fit under `limit`: 0 when they fit now, -1 when
  // they never can (need > limit).
  std::int64_t wait_s(std::int64_t now_s, long long limit, long long need) const;
  // Seconds until the oldest charge still in the window leaves it (0 when it is empty): when the
  // remaining count next goes up.
  std::int64_t reset_s(std::int64_t now_s) const;
  bool empty(std::int64_t now_s) const { return used(now_s) == 0; }

 private:
  bool live(int i, std::int64_t now_s) const {
    return count_[i] != 0 && second_[i] > now_s - kSlots && second_[i] <= now_s;
  }
  std::array<long long, kSlots> count_{};
  std::array<std::int64_t, kSlots> second_{};
};

}  // namespace gatehouse::limit
