// The access log's batching sink: lines wait in the batch until it is full or flushed, then go
// to the output logger as one message, whole and in order.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "app/logging.h"

namespace gatehouse::app {
namespace {

struct Fixture {
  explicit Fixture(std::size_t max_bytes)
      : captured(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)),
        out(std::make_shared<spdlog::logger>("test-out", captured)),
        access(std::make_shared<spdlog::logger>("test-access", std::make_shared<AccessBatchSink>(out, max_bytes))) {
    out->set_pattern("%v");
    access->set_pattern("{\"ts\":\"%Y-%m-%dT%H:%M:%S.%eZ\",%v", spdlog::pattern_time_type::utc);
  }
  std::vector<std::string> messages() {
    std::vector<std::string> out;
    for (const auto& m : captured->last_raw()) out.emplace_back(m.payload.data(), m.payload.size());
    return out;
  }

  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> captured;
  std::shared_ptr<spdlog::logger> out;
  std::shared_ptr<spdlog::logger> access;
};

TEST(AccessBatchSink, LinesWaitForTheFlushThenGoAsOneMessage) {
  Fixture f(32 * 1024);
  f.access->info("\"type\":\"access\",\"n\":1}");
  f.access->info("\"type\":\"access\",\"n\":2}");
  f.access->info("\"type\":\"access\",\"path\":\"/{x}\"}");  // braces are data, not a format
  EXPECT_TRUE(f.messages().empty()) << "nothing handed over before the batch is full or flushed";
  f.access->flush();
  const auto m = f.messages();
  ASSERT_EQ(m.size(), 1u);
  const std::regex line(R"(\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","type":"access",[^\n]*\})");
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = m[0].find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(m[0].substr(start, nl - start));
  }
  lines.push_back(m[0].substr(start));
  ASSERT_EQ(lines.size(), 3u) << m[0];
  for (const auto& l : lines) EXPECT_TRUE(std::regex_match(l, line)) << l;
  EXPECT_NE(lines[0].find("\"n\":1}"), std::string::npos);
  EXPECT_NE(lines[1].find("\"n\":2}"), std::string::npos);
  EXPECT_NE(lines[2].find("\"path\":\"/{x}\"}"), std::string::npos);

  f.access->flush();
  EXPECT_EQ(f.messages().size(), 1u) << "an empty batch sends nothing";
}

TEST(AccessBatchSink, AFullBatchIsHandedOverAtOnce) {
  Fixture f(100);  // each line below is about 60 bytes with its timestamp
  f.access->info("\"type\":\"access\",\"n\":1}");
  EXPECT_TRUE(f.messages().empty());
  f.access->info("\"type\":\"access\",\"n\":2}");
  ASSERT_EQ(f.messages().size(), 1u) << "the batch passed 100 bytes";
  const std::string first = f.messages()[0];
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 1) << "two lines: " << first;
  f.access->info("\"type\":\"access\",\"n\":3}");
  EXPECT_EQ(f.messages().size(), 1u);
  f.access->flush();
  ASSERT_EQ(f.messages().size(), 2u);
  EXPECT_NE(f.messages()[1].find("\"n\":3}"), std::string::npos);
}

// Workers log into batches of their own (no lock between them); a flush hands each over, every
// line whole and each thread's in its order.
TEST(AccessBatchSink, EachThreadHasItsOwnBatch) {
  Fixture f(1 << 20);
  constexpr int kThreads = 4, kLines = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&f, t] {
      for (int i = 0; i < kLines; ++i) f.access->info("\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}");
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(f.messages().empty());
  f.access->flush();
  const auto m = f.messages();
  ASSERT_EQ(m.size(), std::size_t(kThreads)) << "one batch per thread";
  for (const auto& batch : m) {
    std::istringstream in(batch);
    std::string line;
    int t = -1, expected = 0;
    while (std::getline(in, line)) {
      int lt = -1, li = -1;
      ASSERT_EQ(std::sscanf(line.c_str() + line.find("\"t\":"), "\"t\":%d,\"i\":%d}", &lt, &li), 2) << line;
      if (t < 0) t = lt;
      EXPECT_EQ(lt, t) << "a batch holds one thread's lines";
      EXPECT_EQ(li, expected++) << "in order";
    }
    EXPECT_EQ(expected, kLines);
  }
}

}  // namespace
}  // namespace gatehouse::app
