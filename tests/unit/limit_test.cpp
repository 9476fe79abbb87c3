#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "limit/limiter.h"
#include "limit/window.h"

namespace gatehouse::limit {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000;  // a unix second to start the fake clocks at

// A clock the test moves by hand (seconds; the limiter reads milliseconds).
struct FakeClock {
  std::atomic<std::int64_t> ms{kT0 * 1000};
  Clock clock() {
    return [this] { return ms.load(); };
  }
  void advance_s(std::int64_t s) { ms += s * 1000; }
  std::int64_t now_s() const { return ms.load() / 1000; }
};

Requirement one(Metric m, const std::string& subject, long long limit) {
  return {m, {{subject, limit, "key '" + subject + "'"}}};
}

// ---- Window: a 60 s sliding window in 1 s slots.

// Charges in the last 60 seconds count; a charge leaves exactly 60 seconds after its second.
TEST(LimitWindow, CountsChargesOfTheLastSixtySeconds) {
  Window w;
  EXPECT_EQ(w.used(kT0), 0);
  EXPECT_TRUE(w.empty(kT0));
  w.add(kT0, 3, kT0);
  w.add(kT0 + 10, 4, kT0 + 10);
  EXPECT_EQ(w.used(kT0 + 10), 7);
  EXPECT_EQ(w.used(kT0 + 59), 7);
  EXPECT_EQ(w.used(kT0 + 60), 4);  // the first charge has left
  EXPECT_EQ(w.used(kT0 + 69), 4);
  EXPECT_EQ(w.used(kT0 + 70), 0);
  EXPECT_TRUE(w.empty(kT0 + 70));
}

// A slot reused a minute later starts from zero, not from what the old second had.
TEST(LimitWindow, AReusedSlotForgetsItsOldSecond) {
  Window w;
  w.add(kT0, 5, kT0);
  w.add(kT0 + 60, 2, kT0 + 60);  // the same slot index, a new second
  EXPECT_EQ(w.used(kT0 + 60), 2);
}

// Negative charges give units back, never below zero in a slot; charges outside the window
// (too old or in the future) are ignored.
TEST(LimitWindow, NegativeChargesGiveBackAndOutOfWindowChargesAreIgnored) {
  Window w;
  w.add(kT0, 10, kT0);
  w.add(kT0, -4, kT0 + 5);
  EXPECT_EQ(w.used(kT0 + 5), 6);
  w.add(kT0, -100, kT0 + 5);
  EXPECT_EQ(w.used(kT0 + 5), 0);
  w.add(kT0 + 1, 3, kT0 + 5);
  w.add(kT0 + 1, -1, kT0 + 61);  // that second has left the window: nothing happens
  EXPECT_EQ(w.used(kT0 + 60), 3);
  w.add(kT0 - 60, 7, kT0);       // already out of the window
  w.add(kT0 + 6, 7, kT0 + 5);    // in the future
  EXPECT_EQ(w.used(kT0 + 5), 3);
}

// wait_s: 0 when it fits, the time until enough old charges leave, -1 when need > limit.
TEST(LimitWindow, WaitIsTheTimeUntilEnoughOldChargesLeave) {
  Window w;
  w.add(kT0, 40, kT0);
  w.add(kT0 + 10, 40, kT0 + 10);
  const std::int64_t now = kT0 + 20;
  EXPECT_EQ(w.wait_s(now, 100, 20), 0);
  EXPECT_EQ(w.wait_s(now, 100, 50), 40);   // the charge of kT0 leaves at kT0+60
  EXPECT_EQ(w.wait_s(now, 100, 70), 50);   // both must leave: kT0+10+60
  EXPECT_EQ(w.wait_s(now, 100, 100), 50);
  EXPECT_EQ(w.wait_s(now, 100, 101), -1);  // never
}

// reset_s: until the oldest live charge leaves; 0 for an empty window.
TEST(LimitWindow, ResetIsWhenTheOldestChargeLeaves) {
  Window w;
  EXPECT_EQ(w.reset_s(kT0), 0);
  w.add(kT0, 1, kT0);
  w.add(kT0 + 30, 1, kT0 + 30);
  EXPECT_EQ(w.reset_s(kT0 + 30), 30);
  EXPECT_EQ(w.reset_s(kT0 + 60), 30);  // now the charge of kT0+30 is the oldest
  EXPECT_EQ(w.reset_s(kT0 + 90), 0);
}

// ---- InProcessLimiter.

// A requests limit admits `limit` requests per minute, then refuses until the window moves.
TEST(InProcessLimiter, RequestsPerMinute) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kRequests, "key:k1", 3)};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.admit(reqs, 10).admitted) << i;
  auto no = l.admit(reqs, 10);
  EXPECT_FALSE(no.admitted);
  EXPECT_FALSE(no.ticket);
  EXPECT_EQ(no.metric, Metric::kRequests);
  EXPECT_EQ(no.label, "key 'key:k1'");
  EXPECT_EQ(no.limit, 3);
  EXPECT_EQ(no.retry_after_s, 60);
  t.advance_s(45);
  EXPECT_EQ(l.admit(reqs, 10).retry_after_s, 15);
  t.advance_s(15);
  EXPECT_TRUE(l.admit(reqs, 10).admitted);
}

// A tokens limit counts the estimate; a request too big for what is left is refused with its need.
TEST(InProcessLimiter, TokensPerMinute) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kTokens, "key:k1", 100)};
  EXPECT_TRUE(l.admit(reqs, 60).admitted);
  auto no = l.admit(reqs, 50);
  EXPECT_FALSE(no.admitted);
  EXPECT_EQ(no.metric, Metric::kTokens);
  EXPECT_EQ(no.needed, 50);
  EXPECT_EQ(no.retry_after_s, 60);
  EXPECT_TRUE(l.admit(reqs, 40).admitted);  // exactly up to the limit
  EXPECT_FALSE(l.admit(reqs, 1).admitted);
}

// More tokens than the limit can ever hold: retry "never" (-1).
TEST(InProcessLimiter, ARequestBiggerThanTheTokenLimitIsNever) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kTokens, "key:k1", 100)};
  auto no = l.admit(reqs, 101);
  EXPECT_FALSE(no.admitted);
  EXPECT_EQ(no.retry_after_s, -1);
  EXPECT_EQ(no.needed, 101);
  EXPECT_TRUE(l.admit(reqs, 100).admitted);
}

// Of several refusals the one to wait longest for is reported, "never" before any wait.
TEST(InProcessLimiter, ReportsTheLongestRefusal) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kRequests, "key:a", 1), one(Metric::kTokens, "key:b", 100)};
  ASSERT_TRUE(l.admit(reqs, 10).admitted);
  auto no = l.admit(reqs, 500);  // requests: wait 60; tokens: never
  EXPECT_FALSE(no.admitted);
  EXPECT_EQ(no.metric, Metric::kTokens);
  EXPECT_EQ(no.retry_after_s, -1);
  EXPECT_EQ(no.label, "key 'key:b'");
}

// Concurrency counts requests in flight; settling one frees its slot.
TEST(InProcessLimiter, ConcurrencyIsReleasedBySettle) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kConcurrency, "key:k1", 2)};
  auto a = l.admit(reqs, 1);
  auto b = l.admit(reqs, 1);
  ASSERT_TRUE(a.admitted && b.admitted);
  auto no = l.admit(reqs, 1);
  EXPECT_FALSE(no.admitted);
  EXPECT_EQ(no.metric, Metric::kConcurrency);
  EXPECT_EQ(no.retry_after_s, 1);
  l.settle(*a.ticket, 1);
  EXPECT_TRUE(a.ticket->settled);
  EXPECT_TRUE(l.admit(reqs, 1).admitted);
}

// All or nothing: when one requirement refuses, no other counter is charged.
TEST(InProcessLimiter, ARefusedRequestChargesNothing) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kRequests, "model:m", 10), one(Metric::kConcurrency, "key:c", 5),
                                one(Metric::kTokens, "key:k1", 100)};
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(l.admit(reqs, 200).admitted);
  // Nothing was taken from the requests window or the concurrency slots.
  auto ok = l.admit(reqs, 50);
  ASSERT_TRUE(ok.admitted);
  EXPECT_EQ(ok.requests.remaining, 9);
  std::vector<Requirement> conc{one(Metric::kConcurrency, "key:c", 5)};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(l.admit(conc, 0).admitted) << i;
  EXPECT_FALSE(l.admit(conc, 0).admitted);  // 1 + 4 in flight: the refused five took none
}

// Several options (a user's groups): the first with room is charged; refused only when all are spent.
TEST(InProcessLimiter, TheFirstOptionWithRoomIsCharged) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  Requirement groups{Metric::kRequests, {{"group:g1", 1, "group 'g1'"}, {"group:g2", 2, "group 'g2'"}}};
  std::vector<Requirement> reqs{groups};
  EXPECT_TRUE(l.admit(reqs, 0).admitted);  // g1
  std::vector<Requirement> only_g1{{Metric::kRequests, {{"group:g1", 1, "group 'g1'"}}}};
  std::vector<Requirement> only_g2{{Metric::kRequests, {{"group:g2", 2, "group 'g2'"}}}};
  EXPECT_FALSE(l.admit(only_g1, 0).admitted);  // g1 took the first
  auto g2 = l.admit(only_g2, 0);
  ASSERT_TRUE(g2.admitted);                     // g2 had nothing charged yet
  EXPECT_EQ(g2.requests.remaining, 1);
  EXPECT_TRUE(l.admit(reqs, 0).admitted);   // g1 spent: g2's last
  auto no = l.admit(reqs, 0);
  EXPECT_FALSE(no.admitted);
  EXPECT_EQ(no.retry_after_s, 60);
}

// settle() replaces the token estimate by the actual count, exactly once.
TEST(InProcessLimiter, SettleReplacesTheEstimateOnce) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kTokens, "key:k1", 100), one(Metric::kConcurrency, "key:k1", 1)};
  auto a = l.admit(reqs, 80);
  ASSERT_TRUE(a.admitted);
  EXPECT_EQ(a.tokens.remaining, 20);
  t.advance_s(5);
  l.settle(*a.ticket, 30);
  l.settle(*a.ticket, 0);  // a second settle does nothing
  auto b = l.admit(reqs, 70);
  ASSERT_TRUE(b.admitted);  // 30 + 70 = 100: the estimate of 80 was given back
  EXPECT_EQ(b.tokens.remaining, 0);
  EXPECT_FALSE(l.admit(reqs, 0).admitted);  // concurrency 1 is held by b, not freed twice by a
  l.settle(*b.ticket, 90);                  // more than estimated: charged in full
  std::vector<Requirement> tokens{one(Metric::kTokens, "key:k1", 1000)};
  EXPECT_EQ(l.admit(tokens, 0).tokens.remaining, 1000 - 120);
}

// The header views report the tightest limit of each metric after the decision.
TEST(InProcessLimiter, HeaderViewsShowTheTightestLimit) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kRequests, "key:k1", 10), one(Metric::kRequests, "model:m", 5),
                                one(Metric::kTokens, "key:k1", 1000)};
  auto a = l.admit(reqs, 100);
  ASSERT_TRUE(a.admitted);
  ASSERT_TRUE(a.requests.set);
  EXPECT_EQ(a.requests.limit, 5);
  EXPECT_EQ(a.requests.remaining, 4);
  EXPECT_EQ(a.requests.reset_s, 60);
  ASSERT_TRUE(a.tokens.set);
  EXPECT_EQ(a.tokens.limit, 1000);
  EXPECT_EQ(a.tokens.remaining, 900);
  t.advance_s(20);
  auto b = l.admit(reqs, 100);
  EXPECT_EQ(b.requests.remaining, 3);
  EXPECT_EQ(b.requests.reset_s, 40);  // the first request leaves in 40 s
  EXPECT_EQ(b.tokens.remaining, 800);
  // A concurrency-only decision sets no header view.
  std::vector<Requirement> conc{one(Metric::kConcurrency, "key:c", 5)};
  auto c = l.admit(conc, 0);
  EXPECT_FALSE(c.requests.set);
  EXPECT_FALSE(c.tokens.set);
}

// A refusal's header views show the full counters (remaining 0), not a charge for the refusal.
TEST(InProcessLimiter, RefusalHeaderViewsShowTheSpentLimit) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kRequests, "key:k1", 2)};
  l.admit(reqs, 0);
  l.admit(reqs, 0);
  auto no = l.admit(reqs, 0);
  ASSERT_FALSE(no.admitted);
  ASSERT_TRUE(no.requests.set);
  EXPECT_EQ(no.requests.limit, 2);
  EXPECT_EQ(no.requests.remaining, 0);
  EXPECT_EQ(no.requests.reset_s, 60);
}

// Idle counters are forgotten after a minute; counters in use or still in their window are kept.
TEST(InProcessLimiter, SweepsIdleCounters) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> a{one(Metric::kRequests, "key:a", 10)};
  std::vector<Requirement> b{one(Metric::kConcurrency, "key:b", 10)};
  std::vector<Requirement> c{one(Metric::kRequests, "key:c", 10)};
  std::vector<Requirement> d{one(Metric::kRequests, "key:d", 10)};
  l.admit(a, 0);
  auto held = l.admit(b, 0);  // in flight: never swept while held
  ASSERT_TRUE(held.admitted);
  EXPECT_EQ(l.subjects(), 2u);
  t.advance_s(30);
  l.admit(c, 0);  // within the minute: no sweep yet
  EXPECT_EQ(l.subjects(), 3u);
  t.advance_s(31);
  l.admit(d, 0);  // a minute after the last sweep: a's window is empty now, c's is not
  EXPECT_EQ(l.subjects(), 3u);  // b (held), c (in window), d (new)
  l.settle(*held.ticket, 0);
  held.ticket.reset();
  t.advance_s(60);
  l.admit(d, 0);
  EXPECT_EQ(l.subjects(), 1u);  // only d: b settled and released, c's window has passed
}

// Exactness under contention: 100 admits from 4 threads at one clock second admit exactly 20.
TEST(InProcessLimiter, ConcurrentAdmitsAreExact) {
  FakeClock t;
  InProcessLimiter l(t.clock());
  std::vector<Requirement> reqs{one(Metric::kRequests, "key:k1", 20)};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 25; ++j) {
        if (l.admit(reqs, 1).admitted) ++admitted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 20);
}

// OpenAI's x-ratelimit-reset-* format.
TEST(LimitFormatReset, SecondsThenMinutesAndSeconds) {
  EXPECT_EQ(format_reset(0), "0s");
  EXPECT_EQ(format_reset(1), "1s");
  EXPECT_EQ(format_reset(59), "59s");
  EXPECT_EQ(format_reset(60), "1m0s");
  EXPECT_EQ(format_reset(90), "1m30s");
  EXPECT_EQ(format_reset(3600), "60m0s");
}

}  // namespace
}  // namespace gatehouse::limit
