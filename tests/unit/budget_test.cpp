#include <gtest/gtest.h>

#include <chrono>

#include "limit/budget.h"
#include "limit/price.h"

namespace gatehouse::limit {
namespace {

using namespace std::chrono;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

// Unix ms of a UTC calendar moment.
std::int64_t utc(year_month_day d, int hour = 0, int minute = 0, int second = 0) {
  return duration_cast<milliseconds>(sys_days(d).time_since_epoch() + hours(hour) + minutes(minute) +
                                     seconds(second))
      .count();
}

struct FakeClock {
  std::int64_t ms = 0;
  Clock clock() {
    return [this] { return ms; };
  }
};

BudgetCheck check(const std::string& subject, Period p, double usd, double warn_at = 0) {
  return {subject, p, usd, warn_at, "key '" + subject + "'"};
}

// ---- Periods: UTC days, weeks from Monday, calendar months, total.

// The helper itself: 2024-01-01T00:00:00Z is 1704067200 s.
TEST(BudgetPeriod, TheTestCalendarIsUtc) { EXPECT_EQ(utc(2024y / January / 1), 1'704'067'200'000); }

// A day starts at UTC midnight and lasts 24 h.
TEST(BudgetPeriod, DailyIsUtcMidnightToMidnight) {
  const auto now = utc(2024y / March / 15, 13, 45, 10);
  EXPECT_EQ(period_start_ms(Period::kDaily, now), utc(2024y / March / 15));
  EXPECT_EQ(period_end_ms(Period::kDaily, now), utc(2024y / March / 16));
  EXPECT_EQ(period_start_ms(Period::kDaily, utc(2024y / March / 16)), utc(2024y / March / 16));
  EXPECT_EQ(period_start_ms(Period::kDaily, utc(2024y / March / 16) - 1), utc(2024y / March / 15));
}

// A week starts on Monday (2024-03-11 was a Monday), whatever day of it `now` is.
TEST(BudgetPeriod, WeeklyStartsOnMonday) {
  EXPECT_EQ(period_start_ms(Period::kWeekly, utc(2024y / March / 15, 12)), utc(2024y / March / 11));  // Friday
  EXPECT_EQ(period_start_ms(Period::kWeekly, utc(2024y / March / 17, 23, 59)), utc(2024y / March / 11));  // Sunday
  EXPECT_EQ(period_start_ms(Period::kWeekly, utc(2024y / March / 11)), utc(2024y / March / 11));  // Monday 00:00
  EXPECT_EQ(period_start_ms(Period::kWeekly, utc(2024y / March / 18, 0, 0, 1)), utc(2024y / March / 18));
  EXPECT_EQ(period_end_ms(Period::kWeekly, utc(2024y / March / 15)), utc(2024y / March / 18));
  // Across a year boundary: Wednesday 2025-01-01 belongs to the week of Monday 2024-12-30.
  EXPECT_EQ(period_start_ms(Period::kWeekly, utc(2025y / January / 1, 8)), utc(2024y / December / 30));
}

// A month starts on the 1st; its end is the next 1st, December rolling into January.
TEST(BudgetPeriod, MonthlyIsTheCalendarMonth) {
  EXPECT_EQ(period_start_ms(Period::kMonthly, utc(2024y / March / 15, 9)), utc(2024y / March / 1));
  EXPECT_EQ(period_end_ms(Period::kMonthly, utc(2024y / March / 15, 9)), utc(2024y / April / 1));
  EXPECT_EQ(period_end_ms(Period::kMonthly, utc(2024y / February / 10)), utc(2024y / March / 1));  // leap year
  EXPECT_EQ(period_start_ms(Period::kMonthly, utc(2024y / December / 31, 23, 59, 59)), utc(2024y / December / 1));
  EXPECT_EQ(period_end_ms(Period::kMonthly, utc(2024y / December / 31, 23, 59, 59)), utc(2025y / January / 1));
}

// A total budget starts at 0 and never ends.
TEST(BudgetPeriod, TotalNeverEnds) {
  EXPECT_EQ(period_start_ms(Period::kTotal, utc(2024y / March / 15)), 0);
  EXPECT_EQ(period_end_ms(Period::kTotal, utc(2024y / March / 15)), -1);
  EXPECT_EQ(to_string(Period::kTotal), "total");
  EXPECT_EQ(to_string(Period::kWeekly), "weekly");
}

// ---- BudgetLedger.

// Spend at or over the budget refuses; the refusal names the budget, the spend and the reset.
TEST(BudgetLedger, RefusesWhenSpentReachesTheBudget) {
  FakeClock t{utc(2024y / March / 15, 23)};
  BudgetLedger l(t.clock());
  std::vector<BudgetCheck> checks{check("key:k1", Period::kDaily, 1.0)};
  auto a = l.admit(checks, {"key:k1"}, 0);
  ASSERT_TRUE(a.admitted);
  l.settle(*a.ticket, 0.6);
  auto b = l.admit(checks, {"key:k1"}, 0);
  ASSERT_TRUE(b.admitted);
  l.settle(*b.ticket, 0.4);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kDaily), 1.0);
  auto no = l.admit(checks, {"key:k1"}, 0);
  EXPECT_FALSE(no.admitted);
  EXPECT_FALSE(no.ticket);
  EXPECT_EQ(no.spent_budget.subject, "key:k1");
  EXPECT_EQ(no.spent_budget.label, "key 'key:k1'");
  EXPECT_DOUBLE_EQ(no.spent, 1.0);
  EXPECT_EQ(no.resets_in_s, 3600);  // at midnight
}

// A total budget never resets: resets_in_s is -1.
TEST(BudgetLedger, ATotalBudgetNeverResets) {
  FakeClock t{utc(2024y / March / 15, 12)};
  BudgetLedger l(t.clock());
  std::vector<BudgetCheck> checks{check("project:p1", Period::kTotal, 0.5)};
  l.settle(*l.admit(checks, {"project:p1"}, 0).ticket, 0.5);
  auto no = l.admit(checks, {"project:p1"}, 0);
  EXPECT_FALSE(no.admitted);
  EXPECT_EQ(no.resets_in_s, -1);
  t.ms += 400 * kDayMs;
  EXPECT_FALSE(l.admit(checks, {"project:p1"}, 0).admitted);
}

// In-flight estimates are reserved: once they reach the budget, further requests wait for them.
TEST(BudgetLedger, ReservationsBlockConcurrentAdmits) {
  FakeClock t{utc(2024y / March / 15, 12)};
  BudgetLedger l(t.clock());
  std::vector<BudgetCheck> checks{check("key:k1", Period::kMonthly, 1.0)};
  auto a = l.admit(checks, {"key:k1"}, 0.5);
  auto b = l.admit(checks, {"key:k1"}, 0.5);
  ASSERT_TRUE(a.admitted && b.admitted);
  EXPECT_FALSE(l.admit(checks, {"key:k1"}, 0.5).admitted);  // 0 spent + 1.0 reserved
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kMonthly), 0);  // a reservation is not spend
  l.settle(*a.ticket, 0.1);  // 0.1 spent + 0.5 reserved
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kMonthly), 0.1);
  EXPECT_TRUE(l.admit(checks, {"key:k1"}, 0).admitted);
}

// settle() replaces the reservation by the actual cost, once; every subject is charged.
TEST(BudgetLedger, SettleChargesEverySubjectOnce) {
  FakeClock t{utc(2024y / March / 15, 12)};
  BudgetLedger l(t.clock());
  std::vector<BudgetCheck> checks{check("key:k1", Period::kMonthly, 10)};
  auto a = l.admit(checks, {"key:k1", "project:p1"}, 3.0);
  ASSERT_TRUE(a.admitted);
  l.settle(*a.ticket, 0.25);
  l.settle(*a.ticket, 5.0);  // ignored
  EXPECT_TRUE(a.ticket->settled);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kMonthly), 0.25);
  EXPECT_DOUBLE_EQ(l.spent("project:p1", Period::kMonthly), 0.25);
  // Spend counts in every period at once.
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kDaily), 0.25);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kTotal), 0.25);
  // The reservation of 3.0 is gone: 0.25 + 9.7 reserved < 10 is still admitted.
  EXPECT_TRUE(l.admit(checks, {"key:k1"}, 9.7).admitted);
}

// A budget's warn_at is reported once per period, by the settlement that crosses it.
TEST(BudgetLedger, WarnsOncePerPeriod) {
  FakeClock t{utc(2024y / March / 15, 12)};
  BudgetLedger l(t.clock());
  std::vector<BudgetCheck> checks{check("key:k1", Period::kDaily, 10, 0.5)};
  auto settle = [&](double cost) { return l.settle(*l.admit(checks, {"key:k1"}, 0).ticket, cost); };
  EXPECT_TRUE(settle(3).empty());
  auto w = settle(3);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].budget.subject, "key:k1");
  EXPECT_DOUBLE_EQ(w[0].spent, 6);
  EXPECT_TRUE(settle(1).empty());
  t.ms = utc(2024y / March / 16, 0, 0, 1);  // a new day
  EXPECT_TRUE(settle(4).empty());
  EXPECT_EQ(settle(2).size(), 1u);
}

// Spend starts over when the period rolls over: across midnight, across a month end.
TEST(BudgetLedger, SpendResetsWhenThePeriodRollsOver) {
  FakeClock t{utc(2024y / January / 31, 23, 59, 30)};
  BudgetLedger l(t.clock());
  std::vector<BudgetCheck> daily{check("key:k1", Period::kDaily, 1)};
  std::vector<BudgetCheck> monthly{check("key:k1", Period::kMonthly, 1.5)};
  l.settle(*l.admit(daily, {"key:k1"}, 0).ticket, 1.2);
  EXPECT_FALSE(l.admit(daily, {"key:k1"}, 0).admitted);
  EXPECT_TRUE(l.admit(monthly, {"key:k1"}, 0).admitted);
  t.ms = utc(2024y / February / 1, 0, 0, 0);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kDaily), 0);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kMonthly), 0);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kTotal), 1.2);
  EXPECT_TRUE(l.admit(daily, {"key:k1"}, 0).admitted);
  // Within a month, a new day resets the daily spend only.
  l.settle(*l.admit(daily, {"key:k1"}, 0).ticket, 0.9);
  t.ms += kDayMs;
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kDaily), 0);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kMonthly), 0.9);
}

// load() takes a baseline only for the period that is current.
TEST(BudgetLedger, LoadTakesBaselinesForTheCurrentPeriodOnly) {
  const auto now = utc(2024y / March / 15, 12);
  FakeClock t{now};
  BudgetLedger l(t.clock());
  l.load("key:k1", Period::kMonthly, period_start_ms(Period::kMonthly, now), 4.0);
  l.load("key:k1", Period::kMonthly, utc(2024y / February / 1), 100.0);  // last month: ignored
  l.load("key:k1", Period::kDaily, period_start_ms(Period::kDaily, now), 1.5);
  l.load("key:k1", Period::kTotal, 0, 20.0);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kMonthly), 4.0);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kDaily), 1.5);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kTotal), 20.0);
  EXPECT_DOUBLE_EQ(l.spent("key:k1", Period::kWeekly), 0);
  std::vector<BudgetCheck> checks{check("key:k1", Period::kMonthly, 4.0)};
  EXPECT_FALSE(l.admit(checks, {"key:k1"}, 0).admitted);
  t.ms = utc(2024y / April / 1);  // the baseline was for March
  EXPECT_TRUE(l.admit(checks, {"key:k1"}, 0).admitted);
}

// With several budgets, any one spent refuses, and that one is reported.
TEST(BudgetLedger, AnySpentBudgetRefuses) {
  FakeClock t{utc(2024y / March / 15, 12)};
  BudgetLedger l(t.clock());
  std::vector<BudgetCheck> checks{check("key:k1", Period::kMonthly, 100), check("project:p1", Period::kWeekly, 1)};
  l.settle(*l.admit(checks, {"key:k1", "project:p1"}, 0).ticket, 1);
  auto no = l.admit(checks, {"key:k1", "project:p1"}, 0);
  EXPECT_FALSE(no.admitted);
  EXPECT_EQ(no.spent_budget.subject, "project:p1");
  EXPECT_EQ(no.spent_budget.period, Period::kWeekly);
  EXPECT_EQ(no.resets_in_s, (utc(2024y / March / 18) - t.ms) / 1000);
}

// ---- cost_usd.

// Uncached input at the input price, cached input at the cached price, output at the output price.
TEST(LimitPrice, CostCountsCachedInputAtItsOwnPrice) {
  config::Price p;
  p.set = true;
  p.input_per_million = 2;
  p.output_per_million = 6;
  p.cached_input_per_million = 1;
  Usage u;
  u.input_tokens = 1'000'000;
  u.cached_input_tokens = 400'000;
  u.output_tokens = 500'000;
  EXPECT_DOUBLE_EQ(cost_usd(p, u), 0.6 * 2 + 0.4 * 1 + 0.5 * 6);
  p.cached_input_per_million = -1;  // unset: cached input at the input price
  EXPECT_DOUBLE_EQ(cost_usd(p, u), 1.0 * 2 + 0.5 * 6);
  u.cached_input_tokens = 5'000'000;  // more cached than input: clamped
  p.cached_input_per_million = 0;
  EXPECT_DOUBLE_EQ(cost_usd(p, u), 0.5 * 6);
}

// A model without a price costs nothing.
TEST(LimitPrice, NoPriceCostsNothing) {
  config::Price p;
  p.input_per_million = 2;  // set is false: ignored
  Usage u;
  u.input_tokens = 1000;
  u.output_tokens = 1000;
  EXPECT_EQ(cost_usd(p, u), 0);
}

}  // namespace
}  // namespace gatehouse::limit
