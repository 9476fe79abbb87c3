#include <gtest/gtest.h>

#include "http/sse.h"

namespace gatehouse::http {
namespace {

std::vector<std::string> feed(SseSplitter& s, std::string_view bytes) {
  std::vector<std::string> out;
  for (auto e : s.feed(bytes)) out.emplace_back(e);
  return out;
}

TEST(SseSplitter, SplitsCompleteEventsAndKeepsTheRest) {
  SseSplitter s;
  auto a = feed(s, "data: {\"a\":1}\n\ndata: {\"b\"");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0], "data: {\"a\":1}\n\n");
  EXPECT_EQ(s.pending(), "data: {\"b\"");
  auto b = feed(s, ":2}\n");
  EXPECT_TRUE(b.empty());
  auto c = feed(s, "\ndata: [DONE]\n\n");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], "data: {\"b\":2}\n\n");
  EXPECT_EQ(c[1], "data: [DONE]\n\n");
  EXPECT_TRUE(s.pending().empty());
}

TEST(SseSplitter, HandlesCrLfAndTerminatorsSplitAcrossReads) {
  SseSplitter s;
  EXPECT_TRUE(feed(s, "event: ping\r\ndata: {}\r").empty());
  EXPECT_TRUE(feed(s, "\n\r").empty());
  auto e = feed(s, "\nevent: x\n\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], "event: ping\r\ndata: {}\r\n\r\n");
  EXPECT_EQ(e[1], "event: x\n\n");
}

TEST(SseSplitter, ByteByByteGivesTheSameEvents) {
  std::string wire = "data: one\n\nevent: e\ndata: two\ndata: three\n\ndata: [DONE]\n\n";
  SseSplitter s;
  std::vector<std::string> got;
  for (char c : wire) {
    for (auto& e : feed(s, std::string_view(&c, 1))) got.push_back(e);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(event_data(got[1]), "two\nthree");
  EXPECT_EQ(event_data(got[2]), "[DONE]");
}

TEST(SseEventData, JoinsDataLinesAndIgnoresOthers) {
  EXPECT_EQ(event_data("event: message_start\ndata: {\"x\":1}\n\n"), "{\"x\":1}");
  EXPECT_EQ(event_data(": comment\n\n"), "");
  EXPECT_EQ(event_data("data:nospace\n\n"), "nospace");
}

}  // namespace
}  // namespace gatehouse::http
