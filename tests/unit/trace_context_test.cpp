#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "core/trace_context.h"

namespace gatehouse {
namespace {

// The example of https://www.w3.org/TR/trace-context/#examples-of-http-traceparent-headers
constexpr std::string_view kSample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

bool all_zero(const auto& id) {
  return std::all_of(id.begin(), id.end(), [](std::uint8_t b) { return b == 0; });
}

// parse_traceparent reads the spec's header and refuses malformed ones.
TEST(TraceParent, ParsesTheSpecSample) {
  auto tp = parse_traceparent(kSample);
  ASSERT_TRUE(tp);
  EXPECT_EQ(to_hex(tp->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(tp->parent_id), "00f067aa0ba902b7");
  EXPECT_EQ(tp->trace_id[0], 0x4b);
  EXPECT_EQ(tp->trace_id[15], 0x36);
  EXPECT_EQ(tp->parent_id[0], 0x00);
  EXPECT_EQ(tp->parent_id[7], 0xb7);
  EXPECT_TRUE(tp->sampled);
}

TEST(TraceParent, SampledIsTheLowBitOfTheFlags) {
  auto off = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->sampled);
  auto other_bit = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02");
  ASSERT_TRUE(other_bit);
  EXPECT_FALSE(other_bit->sampled);
  auto both = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->sampled);
}

TEST(TraceParent, RefusesUppercaseHex) {
  EXPECT_FALSE(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"));
  EXPECT_FALSE(parse_traceparent("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(TraceParent, RefusesAllZeroIds) {
  EXPECT_FALSE(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
}

TEST(TraceParent, RefusesWrongLengthsAndSeparators) {
  EXPECT_FALSE(parse_traceparent(""));
  EXPECT_FALSE(parse_traceparent("00"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"));    // trace 31
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e47361-00f067aa0ba902b7-01"));  // trace 33
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01"));    // parent 15
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"));    // flags 1
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010"));  // version 00: 55 only
  EXPECT_FALSE(parse_traceparent("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01"));
  EXPECT_FALSE(parse_traceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"));
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01"));
}

TEST(TraceParent, RefusesVersionFF) {
  EXPECT_FALSE(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
}

// A later version may add fields after a dash: read by the first four.
TEST(TraceParent, AcceptsAFutureVersionByItsFirstFourFields) {
  auto longer = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
  ASSERT_TRUE(longer);
  EXPECT_EQ(to_hex(longer->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(to_hex(longer->parent_id), "00f067aa0ba902b7");
  EXPECT_TRUE(longer->sampled);
  auto same_length = parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(same_length);
  EXPECT_FALSE(same_length->sampled);
  // The fourth field still ends at a dash.
  EXPECT_FALSE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01xyz"));
}

// format_traceparent writes what parse_traceparent reads.
TEST(TraceParent, FormatWritesVersion00AndRoundTrips) {
  auto tp = parse_traceparent(kSample);
  ASSERT_TRUE(tp);
  EXPECT_EQ(format_traceparent(tp->trace_id, tp->parent_id, true), kSample);
  EXPECT_EQ(format_traceparent(tp->trace_id, tp->parent_id, false),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  const TraceId trace = random_trace_id();
  const SpanId span = random_span_id();
  auto back = parse_traceparent(format_traceparent(trace, span, false));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->trace_id, trace);
  EXPECT_EQ(back->parent_id, span);
  EXPECT_FALSE(back->sampled);
}

// Random ids are never zero and do not repeat, on any thread.
TEST(TraceIds, RandomIdsAreNonZeroAndDistinct) {
  std::set<TraceId> traces;
  std::set<SpanId> spans;
  for (int i = 0; i < 1000; ++i) {
    TraceId t = random_trace_id();
    SpanId s = random_span_id();
    EXPECT_FALSE(all_zero(t));
    EXPECT_FALSE(all_zero(s));
    traces.insert(t);
    spans.insert(s);
  }
  EXPECT_EQ(traces.size(), 1000u);
  EXPECT_EQ(spans.size(), 1000u);
  // Both halves of a trace id vary (not one 64-bit draw repeated).
  const TraceId t = random_trace_id();
  EXPECT_FALSE(std::equal(t.begin(), t.begin() + 8, t.begin() + 8));
}

TEST(TraceIds, ThreadsDrawDifferentIds) {
  TraceId a{}, b{};
  std::thread ta([&] { a = random_trace_id(); });
  std::thread tb([&] { b = random_trace_id(); });
  ta.join();
  tb.join();
  EXPECT_NE(a, b);
}

TEST(TraceIds, ToHexIsLowercaseTwoDigitsPerByte) {
  EXPECT_EQ(to_hex(std::array<std::uint8_t, 4>{0x00, 0x0a, 0xab, 0xff}), "000aabff");
  EXPECT_EQ(to_hex(std::array<std::uint8_t, 0>{}), "");
  EXPECT_EQ(to_hex(random_span_id()).size(), 16u);
  EXPECT_EQ(to_hex(random_trace_id()).size(), 32u);
}

TEST(TraceIds, UnixNowIsNanosecondsSinceTheEpoch) {
  const std::int64_t ns = unix_now_ns();
  EXPECT_GT(ns, 1'600'000'000'000'000'000);  // after 2020
  EXPECT_LT(ns, 4'100'000'000'000'000'000);  // before 2100
}

}  // namespace
}  // namespace gatehouse
