#include "store/billing_table.h"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace gatehouse::store {

std::string day_of(std::int64_t days) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()), unsigned(ymd.day()));
  return out;
}

std::optional<std::int64_t> days_of(std::string_view day) {
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0, d = 0;
  auto number = [&](std::size_t at, std::size_t len, auto& out) {
    auto [p, ec] = std::from_chars(day.data() + at, day.data() + at + len, out);
    return ec == std::errc() && p == day.data() + at + len;
  };
  if (!number(0, 4, y) || !number(5, 2, m) || !number(8, 2, d)) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return std::int64_t(std::chrono::sys_days{ymd}.time_since_epoch().count());
}

}  // namespace gatehouse::store
