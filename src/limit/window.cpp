#include "limit/window.h"

#include <algorithm>
#include <utility>

namespace gatehouse::limit {

long long Window::used(std::int64_t now_s) const {
  long long sum = 0;
  for (int i = 0; i < kSlots; ++i) {
    if (live(i, now_s)) sum += count_[i];
  }
  return sum;
}

bool Window::add(std::int64_t at_s, long long n, std::int64_t now_s) {
  if (at_s <= now_s - kSlots || at_s > now_s) return false;  // out of the window
  const int i = static_cast<int>(((at_s % kSlots) + kSlots) % kSlots);
  if (second_[i] != at_s) {
    second_[i] = at_s;
    count_[i] = 0;
  }
  count_[i] = std::max(0LL, count_[i] + n);
  return true;
}

std::int64_t Window::wait_s(std::int64_t now_s, long long limit, long long need) const {
  if (need > limit) return -1;
  long long free = limit - used(now_s);
  if (free >= need) return 0;
  // Oldest charges leave first.
  std::array<std::pair<std::int64_t, long long>, kSlots> live_slots;
  int n = 0;
  for (int i = 0; i < kSlots; ++i) {
    if (live(i, now_s)) live_slots[n++] = {second_[i], count_[i]};
  }
  std::sort(live_slots.begin(), live_slots.begin() + n);
  for (int i = 0; i < n; ++i) {
    free += live_slots[i].second;
    if (free >= need) return live_slots[i].first + kSlots - now_s;
  }
  return kSlots;  // unreachable: everything has left by then
}

std::int64_t Window::reset_s(std::int64_t now_s) const {
  std::int64_t oldest = 0;
  bool any = false;
  for (int i = 0; i < kSlots; ++i) {
    if (!live(i, now_s)) continue;
    if (!any || second_[i] < oldest) oldest = second_[i];
    any = true;
  }
  return any ? oldest + kSlots - now_s : 0;
}

}  // namespace gatehouse::limit
