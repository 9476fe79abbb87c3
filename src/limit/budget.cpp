#include "limit/budget.h"

#include <chrono>

namespace gatehouse::limit {

namespace {

using namespace std::chrono;
constexpr std::int64_t kDayMs = 86'400'000;

sys_days day_of(std::int64_t ms) { return floor<days>(sys_time<milliseconds>(milliseconds(ms))); }
std::int64_t ms_of(sys_days d) { return duration_cast<milliseconds>(d.time_since_epoch()).count(); }

}  // namespace

std::string_view to_string(Period p) {
  switch (p) {
    case Period::kDaily: return "daily";
    case Period::kWeekly: return "weekly";
    case Period::kMonthly: return "monthly";
    case Period::kTotal: return "total";
  }
  return "?";
}

std::int64_t period_start_ms(Period p, std::int64_t now_ms) {
  const sys_days today = day_of(now_ms);
  switch (p) {
    case Period::kDaily: return ms_of(today);
    case Period::kWeekly: {
      // Monday is ISO weekday 1.
      const unsigned since_monday = (weekday(today).iso_encoding() + 6) % 7;
      return ms_of(today - days(since_monday));
    }
    case Period::kMonthly: {
      const year_month_day ymd(today);
      return ms_of(sys_days(ymd.year() / ymd.month() / 1));
    }
    case Period::kTotal: return 0;
  }
  return 0;
}

std::int64_t period_end_ms(Period p, std::int64_t now_ms) {
  const std::int64_t start = period_start_ms(p, now_ms);
  switch (p) {
    case Period::kDaily: return start + kDayMs;
    case Period::kWeekly: return start + 7 * kDayMs;
    case Period::kMonthly: {
      const year_month_day ymd(day_of(start));
      return ms_of(sys_days((ymd.year() / ymd.month() / 1) + months(1)));
    }
    case Period::kTotal: return -1;
  }
  return -1;
}

BudgetLedger::Entry& BudgetLedger::entry(const std::string& subject, std::int64_t now_ms) {
  Entry& e = entries_[subject];
  for (std::size_t i = 0; i < kPeriods; ++i) {
    const std::int64_t start = period_start_ms(Period(i), now_ms);
    if (e.start[i] != start) {
      // A new period (or a new entry): nothing spent in it yet.
      e.start[i] = start;
      e.spent[i] = 0;
      e.warned[i] = false;
    }
  }
  return e;
}

void BudgetLedger::load(const std::string& subject, Period p, std::int64_t start_ms, double spent) {
  std::lock_guard lock(mu_);
  Entry& e = entry(subject, clock_());
  const auto i = std::size_t(p);
  if (e.start[i] == start_ms) e.spent[i] += spent;
}

BudgetAdmission BudgetLedger::admit(std::span<const BudgetCheck> checks,
                                    std::vector<std::string> subjects, double estimated_cost) {
  BudgetAdmission out;
  const std::int64_t now = clock_();
  std::lock_guard lock(mu_);
  for (const auto& c : checks) {
    Entry& e = entry(c.subject, now);
    const double spent = e.spent[std::size_t(c.period)];
    if (spent + e.reserved >= c.usd) {
      out.spent_budget = c;
      out.spent = spent;
      const std::int64_t end = period_end_ms(c.period, now);
      out.resets_in_s = end < 0 ? -1 : (end - now + 999) / 1000;
      return out;
    }
  }
  out.admitted = true;
  out.ticket = std::make_shared<BudgetTicket>();
  out.ticket->checks.assign(checks.begin(), checks.end());
  out.ticket->reserved = estimated_cost;
  for (const auto& s : subjects) entry(s, now).reserved += estimated_cost;
  out.ticket->subjects = std::move(subjects);
  return out;
}

std::vector<BudgetWarning> BudgetLedger::settle(BudgetTicket& ticket, double actual_cost) {
  std::vector<BudgetWarning> warnings;
  if (ticket.settled) return warnings;
  ticket.settled = true;
  const std::int64_t now = clock_();
  std::lock_guard lock(mu_);
  for (const auto& s : ticket.subjects) {
    Entry& e = entry(s, now);
    e.reserved = std::max(0.0, e.reserved - ticket.reserved);
    for (auto& spent : e.spent) spent += actual_cost;
  }
  for (const auto& c : ticket.checks) {
    if (c.warn_at <= 0) continue;
    Entry& e = entry(c.subject, now);
    const auto i = std::size_t(c.period);
    if (!e.warned[i] && e.spent[i] >= c.warn_at * c.usd) {
      e.warned[i] = true;
      warnings.push_back({c, e.spent[i]});
    }
  }
  return warnings;
}

double BudgetLedger::spent(const std::string& subject, Period p) {
  std::lock_guard lock(mu_);
  return entry(subject, clock_()).spent[std::size_t(p)];
}

}  // namespace gatehouse::limit
