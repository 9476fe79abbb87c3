#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

#include "record/writer.h"

namespace gatehouse::record {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// A store that records every batch. Writes beyond the `allowed` count wait in write() until the
// test allows them (a store slower than the traffic); the next `fail` writes fail.
class FakeStore final : public store::RecordStore {
 public:
  std::optional<std::string> write(const store::RecordBatch& batch) override {
    std::unique_lock lock(mu_);
    const std::uint64_t call = ++calls_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return call <= allowed_; });
    if (fail_ > 0) {
      --fail_;
      return std::string("fake store: failing on purpose");
    }
    batches_.push_back(batch);
    cv_.notify_all();
    return std::nullopt;
  }
  std::variant<std::vector<store::UsageSummary>, std::string> summarize_usage(store::UsageGroup, std::int64_t) override {
    return std::vector<store::UsageSummary>{};
  }
  std::variant<std::map<std::string, double>, std::string> spend_since(store::UsageGroup, std::int64_t) override {
    return std::map<std::string, double>{};
  }
  std::variant<std::vector<store::InferenceRow>, std::string> inference(const std::string&, std::int64_t,
                                                                       std::size_t) override {
    return std::vector<store::InferenceRow>{};
  }
  std::variant<std::int64_t, std::string> expire_inference(std::int64_t before_ms) override {
    std::lock_guard lock(mu_);
    expire_cutoffs_.push_back(before_ms);
    cv_.notify_all();
    return std::int64_t{0};
  }
  std::variant<std::vector<store::McpCallRow>, std::string> mcp_calls(const store::McpCallQuery&) override {
    return std::vector<store::McpCallRow>{};
  }
  std::variant<std::int64_t, std::string> expire_mcp_calls(std::int64_t before_ms) override {
    std::lock_guard lock(mu_);
    expire_mcp_cutoffs_.push_back(before_ms);
    cv_.notify_all();
    return std::int64_t{0};
  }
  std::variant<store::AuditVerdict, std::string> verify_audit() override { return store::AuditVerdict{}; }

  // Writes numbered above `n` (counting from the first ever) wait.
  void hold_after(std::uint64_t n) {
    std::lock_guard lock(mu_);
    allowed_ = n;
  }
  void allow_more(std::uint64_t n) {
    std::lock_guard lock(mu_);
    allowed_ += n;
    cv_.notify_all();
  }
  void allow_all() {
    std::lock_guard lock(mu_);
    allowed_ = kEveryCall;
    cv_.notify_all();
  }
  void fail_next(int n) {
    std::lock_guard lock(mu_);
    fail_ = n;
  }
  // Waits (at most 2 s) until the writer has called write() `n` times.
  bool wait_calls(std::uint64_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 2s, [&] { return calls_ >= n; });
  }
  bool wait_rows(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 2s, [&] { return rows_locked() >= n; });
  }
  bool wait_expire() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 2s, [&] { return !expire_cutoffs_.empty(); });
  }
  bool wait_expire_mcp() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 2s, [&] { return !expire_mcp_cutoffs_.empty(); });
  }
  std::vector<store::RecordBatch> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  std::vector<std::int64_t> expire_cutoffs() {
    std::lock_guard lock(mu_);
    return expire_cutoffs_;
  }
  std::vector<std::int64_t> expire_mcp_cutoffs() {
    std::lock_guard lock(mu_);
    return expire_mcp_cutoffs_;
  }
  std::vector<store::McpCallRecord> mcp_rows() {
    std::vector<store::McpCallRecord> out;
    for (const auto& b : batches()) out.insert(out.end(), b.mcp_calls.begin(), b.mcp_calls.end());
    return out;
  }
  std::size_t rows() {
    std::lock_guard lock(mu_);
    return rows_locked();
  }
  // Every row of one kind, in the order written.
  std::vector<std::string> usage_ids() {
    std::vector<std::string> ids;
    for (const auto& b : batches()) {
      for (const auto& r : b.usage) ids.push_back(r.request_id);
    }
    return ids;
  }
  std::vector<store::InferenceRecord> inference_rows() {
    std::vector<store::InferenceRecord> out;
    for (const auto& b : batches()) out.insert(out.end(), b.inference.begin(), b.inference.end());
    return out;
  }
  std::vector<std::string> audit_kinds() {
    std::vector<std::string> kinds;
    for (const auto& b : batches()) {
      for (const auto& r : b.audit) kinds.push_back(r.kind);
    }
    return kinds;
  }

 private:
  std::size_t rows_locked() const {
    std::size_t n = 0;
    for (const auto& b : batches_) n += b.size();
    return n;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  static constexpr std::uint64_t kEveryCall = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t calls_ = 0, allowed_ = kEveryCall;
  int fail_ = 0;
  std::vector<store::RecordBatch> batches_;
  std::vector<std::int64_t> expire_cutoffs_, expire_mcp_cutoffs_;
};

// Declared after the writer: opens the store's gate first, so a failed assertion never leaves the
// writer's destructor waiting on a held write.
struct OpenGateOnExit {
  std::shared_ptr<FakeStore> store;
  ~OpenGateOnExit() { store->allow_all(); }
};

store::UsageRecord usage(int i) {
  store::UsageRecord r;
  r.request_id = "u" + std::to_string(i);
  r.model = "chat-small";
  r.status_code = 200;
  return r;
}

store::InferenceRecord inference(int i, std::string response = "{}") {
  store::InferenceRecord r;
  r.request_id = "i" + std::to_string(i);
  r.model = "chat-small";
  r.status_code = 200;
  r.response_body = std::move(response);
  return r;
}

store::McpCallRecord mcp_call(int i, std::string arguments = "", std::string result = "") {
  store::McpCallRecord r;
  r.request_id = "m" + std::to_string(i);
  r.server = "crm";
  r.tool = "search";
  r.outcome = "ok";
  r.arguments = std::move(arguments);
  r.result = std::move(result);
  return r;
}

store::AuditRecord audit(const std::string& kind) {
  store::AuditRecord r;
  r.kind = kind;
  r.actor = "cli";
  return r;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Rows are written in transactions of at most kMaxBatch rows; flush() returns once they are in.
TEST(RecordWriter, FlushWritesEverySubmittedRowInOrder) {
  auto store = std::make_shared<FakeStore>();
  RecordWriter writer(store, 1h);
  for (int i = 0; i < 3; ++i) writer.submit(usage(i));
  writer.submit(inference(0), Capture::kWhole);
  writer.submit(audit("key.create"));
  writer.flush();
  EXPECT_EQ(store->usage_ids(), (std::vector<std::string>{"u0", "u1", "u2"}));
  EXPECT_EQ(store->inference_rows().size(), 1u);
  EXPECT_EQ(store->audit_kinds(), std::vector<std::string>{"key.create"});
  ASSERT_EQ(store->batches().size(), 1u) << "rows waiting together go in one transaction";
  const auto st = writer.stats();
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(st.written_usage, 3u);
  EXPECT_EQ(st.written_inference, 1u);
  EXPECT_EQ(st.written_audit, 1u);
  EXPECT_EQ(st.failures, 0u);
}

TEST(RecordWriter, SplitsLargeQueuesIntoBatchesOfAtMostMaxBatch) {
  auto store = std::make_shared<FakeStore>();
  RecordWriter writer(store, 1h);
  const int n = int(RecordWriter::kMaxBatch) * 2 + 500;
  for (int i = 0; i < n; ++i) writer.submit(usage(i));
  writer.flush();
  const auto batches = store->batches();
  EXPECT_GE(batches.size(), 3u);
  for (const auto& b : batches) EXPECT_LE(b.size(), RecordWriter::kMaxBatch);
  const auto ids = store->usage_ids();
  ASSERT_EQ(ids.size(), std::size_t(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(ids[std::size_t(i)], "u" + std::to_string(i));
}

TEST(RecordWriter, WritesOnTheFlushIntervalWithoutAFlushCall) {
  auto store = std::make_shared<FakeStore>();
  RecordWriter writer(store, 20ms);
  writer.submit(usage(1));
  EXPECT_TRUE(store->wait_rows(1)) << "the row was not written within 2 s by a 20 ms writer";
}

// A full queue: inference rows are shed and counted, usage rows are kept beyond the bound.
TEST(RecordWriter, FullQueueShedsInferenceRowsButNeverUsageRows) {
  auto store = std::make_shared<FakeStore>();
  store->hold_after(0);
  RecordWriter writer(store, 10ms, /*queue_rows=*/3);
  OpenGateOnExit open{store};
  writer.submit(usage(0));
  ASSERT_TRUE(store->wait_calls(1));  // u0 is taken and its write is held: the queue is empty
  for (int i = 1; i <= 3; ++i) writer.submit(usage(i));
  EXPECT_EQ(writer.stats().queued, 3u);
  writer.submit(inference(1), Capture::kWhole);
  writer.submit(inference(2), Capture::kOpenAIStream);
  EXPECT_EQ(writer.stats().shed_inference, 2u);
  writer.submit(usage(4));
  writer.submit(usage(5));
  EXPECT_EQ(writer.stats().queued, 5u) << "usage rows are queued past queue_rows, never dropped";

  store->allow_all();
  writer.flush();
  EXPECT_EQ(store->usage_ids(), (std::vector<std::string>{"u0", "u1", "u2", "u3", "u4", "u5"}));
  EXPECT_TRUE(store->inference_rows().empty());
  EXPECT_EQ(writer.stats().written_usage, 6u);

  // With room again, inference rows are accepted.
  writer.submit(inference(3), Capture::kWhole);
  writer.flush();
  ASSERT_EQ(store->inference_rows().size(), 1u);
  EXPECT_EQ(store->inference_rows()[0].request_id, "i3");
  EXPECT_EQ(writer.stats().shed_inference, 2u);
}

// MCP tool calls are written like the others, in their own part of the batch.
TEST(RecordWriter, WritesMcpToolCalls) {
  auto store = std::make_shared<FakeStore>();
  RecordWriter writer(store, 1h);
  writer.submit(usage(0));
  writer.submit(mcp_call(0, "{\"q\":1}", "{\"content\":[]}"));
  writer.submit(mcp_call(1));
  writer.flush();
  const auto rows = store->mcp_rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].request_id, "m0");
  EXPECT_EQ(rows[0].arguments, "{\"q\":1}");
  EXPECT_FALSE(rows[0].payload_truncated);
  EXPECT_EQ(rows[1].request_id, "m1");
  EXPECT_EQ(store->batches().size(), 1u);
  EXPECT_EQ(writer.stats().written_mcp_calls, 2u);
}

// Arguments and results longer than max_payload_bytes are cut, never inside a UTF-8 character.
TEST(RecordWriter, CutsMcpPayloadsAtMaxPayloadBytes) {
  auto store = std::make_shared<FakeStore>();
  RecordWriter writer(store, 1h);
  writer.configure(1h, 1000, 0, 8);
  writer.submit(mcp_call(0, "12345678", "short"));          // exactly the limit: kept whole
  writer.submit(mcp_call(1, "1234567\xc3\xa9", "abc"));     // 'é' is bytes 8-9: cut before it
  writer.submit(mcp_call(2, "{}", std::string(100, 'r')));
  writer.flush();
  const auto rows = store->mcp_rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].arguments, "12345678");
  EXPECT_FALSE(rows[0].payload_truncated);
  EXPECT_EQ(rows[1].arguments, "1234567");
  EXPECT_TRUE(rows[1].payload_truncated);
  EXPECT_EQ(rows[2].arguments, "{}");
  EXPECT_EQ(rows[2].result, std::string(8, 'r'));
  EXPECT_TRUE(rows[2].payload_truncated);
}

// A full queue keeps tool calls without their payloads; past twice its bound they are shed.
TEST(RecordWriter, FullQueueKeepsMcpCallsWithoutPayloadsThenShedsThem) {
  auto store = std::make_shared<FakeStore>();
  store->hold_after(0);
  RecordWriter writer(store, 10ms, /*queue_rows=*/2);
  OpenGateOnExit open{store};
  writer.submit(usage(0));
  ASSERT_TRUE(store->wait_calls(1));  // u0 is taken and its write is held: the queue is empty
  writer.submit(mcp_call(1, "{\"a\":1}", "{\"r\":1}"));  // 0 queued: kept whole
  writer.submit(mcp_call(2, "{\"a\":2}", "{\"r\":2}"));  // 1 queued: kept whole
  writer.submit(mcp_call(3, "{\"a\":3}", "{\"r\":3}"));  // 2 queued: kept, payloads dropped
  writer.submit(mcp_call(4));                             // 3 queued: kept (nothing to drop)
  writer.submit(mcp_call(5, "{\"a\":5}"));               // 4 = 2 x 2 queued: shed
  auto st = writer.stats();
  EXPECT_EQ(st.queued, 4u);
  EXPECT_EQ(st.shed_mcp_calls, 1u);
  EXPECT_EQ(st.mcp_payloads_dropped, 1u);

  store->allow_all();
  writer.flush();
  const auto rows = store->mcp_rows();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].arguments, "{\"a\":1}");
  EXPECT_EQ(rows[1].result, "{\"r\":2}");
  EXPECT_EQ(rows[2].request_id, "m3");
  EXPECT_TRUE(rows[2].arguments.empty());
  EXPECT_TRUE(rows[2].result.empty());
  EXPECT_TRUE(rows[2].payload_truncated);
  EXPECT_FALSE(rows[3].payload_truncated);
  EXPECT_EQ(writer.stats().written_mcp_calls, 4u);
}

// configure() changes the bound: a smaller queue sheds sooner.
TEST(RecordWriter, ConfigureChangesTheQueueBound) {
  auto store = std::make_shared<FakeStore>();
  store->hold_after(0);
  RecordWriter writer(store, 10ms, 100);
  OpenGateOnExit open{store};
  writer.submit(usage(0));
  ASSERT_TRUE(store->wait_calls(1));
  writer.submit(usage(1));
  writer.submit(inference(1), Capture::kWhole);  // 1 < 100 queued: kept
  EXPECT_EQ(writer.stats().shed_inference, 0u);
  writer.configure(10ms, 2, 0);
  writer.submit(inference(2), Capture::kWhole);  // 2 >= 2 queued: shed
  EXPECT_EQ(writer.stats().shed_inference, 1u);
  store->allow_all();
  writer.flush();
  ASSERT_EQ(store->inference_rows().size(), 1u);
  EXPECT_EQ(store->inference_rows()[0].request_id, "i1");
}

// A full queue never blocks a submitter: an admin action's audit row is queued anyway (never
// lost); denied-request rows are coalesced into one counted row, written once there is room.
TEST(RecordWriter, FullQueueKeepsAdminAuditRowsAndCoalescesDenials) {
  auto store = std::make_shared<FakeStore>();
  store->hold_after(0);
  RecordWriter writer(store, 10ms, /*queue_rows=*/2);
  OpenGateOnExit open{store};
  writer.submit(usage(0));
  ASSERT_TRUE(store->wait_calls(1));
  writer.submit(usage(1));
  writer.submit(usage(2));  // full

  const auto started = std::chrono::steady_clock::now();
  writer.submit(audit("kill.add"));
  for (int i = 0; i < 5; ++i) {
    auto denied = audit("request.denied");
    denied.time_ms = 1000 + i;
    writer.submit(denied);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms) << "a submitter waited for the store";
  EXPECT_EQ(writer.stats().queued, 3u) << "the admin row is queued, the denials are only counted";

  store->allow_all();
  for (int i = 0; i < 50 && writer.stats().written_audit < 2; ++i) writer.flush();
  const auto kinds = store->audit_kinds();
  ASSERT_EQ(kinds.size(), 2u);
  EXPECT_EQ(kinds[0], "kill.add");
  EXPECT_EQ(kinds[1], "request.denied.coalesced");
  EXPECT_EQ(store->usage_ids().size(), 3u);
}

// A failing store keeps the rows (in order, each written once) and they go in when it recovers.
TEST(RecordWriter, FailingStoreKeepsRowsUntilItRecovers) {
  auto store = std::make_shared<FakeStore>();
  store->fail_next(2);
  RecordWriter writer(store, 10ms);
  writer.submit(audit("key.revoke"));
  for (int i = 0; i < 3; ++i) writer.submit(usage(i));
  writer.submit(inference(0, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"),
                Capture::kOpenAIStream);
  // flush() returns at each failure (it does not wait for a store that is down); the rows stay
  // queued and are written after two failures and 100 + 200 ms of backoff.
  for (int i = 0; i < 50 && writer.stats().written_usage < 3; ++i) writer.flush();
  const auto st = writer.stats();
  EXPECT_EQ(st.failures, 2u);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(store->usage_ids(), (std::vector<std::string>{"u0", "u1", "u2"}));
  EXPECT_EQ(store->audit_kinds(), std::vector<std::string>{"key.revoke"});
  const auto inf = store->inference_rows();
  ASSERT_EQ(inf.size(), 1u);
  // Reassembled once, before the first attempt; the retry writes the same answer.
  json::value body = json::parse(inf[0].response_body);
  EXPECT_EQ(body.at("choices").at(0).at("message").at("content"), "hi");
  EXPECT_EQ(st.written_usage, 3u);
  EXPECT_EQ(st.written_inference, 1u);
  EXPECT_EQ(st.written_audit, 1u);
}

// The header's contract: flush() waits until rows are written "or the store failed on it".
TEST(RecordWriter, FlushReturnsWhenTheStoreFailsOnTheRows) {
  auto store = std::make_shared<FakeStore>();
  store->fail_next(1'000'000);
  RecordWriter writer(store, 10ms);
  writer.submit(usage(0));
  auto flushed = std::async(std::launch::async, [&] { writer.flush(); });
  const bool returned = flushed.wait_for(500ms) == std::future_status::ready;
  store->fail_next(0);  // let it recover either way, so the writer can finish
  flushed.get();
  EXPECT_TRUE(returned) << "flush() kept waiting on a store that fails every write";
  EXPECT_GE(writer.stats().failures, 1u);
}

// flush() must not return while rows submitted before it are still queued, even when audit rows
// submitted after it are written first (the writer takes audit rows first).
TEST(RecordWriter, FlushWaitsForEarlierRowsWhenLaterAuditRowsGoFirst) {
  auto store = std::make_shared<FakeStore>();
  store->hold_after(0);
  RecordWriter writer(store, 10ms);
  OpenGateOnExit open{store};
  writer.submit(usage(0));
  ASSERT_TRUE(store->wait_calls(1));
  const int early = 1500;
  for (int i = 1; i <= early; ++i) writer.submit(usage(i));
  auto flushed = std::async(std::launch::async, [&] { writer.flush(); });
  std::this_thread::sleep_for(50ms);  // flush() has counted its rows
  for (int i = 0; i < int(RecordWriter::kMaxBatch); ++i) writer.submit(audit("request.denied"));
  // Writes 1 (u0), 2 (the 1000 audit rows, taken first) and 3 (1000 usage rows) go in; 4 is held.
  // No ASSERT from here: the future's destructor would wait on the held write.
  store->allow_more(3);
  EXPECT_TRUE(store->wait_calls(4));
  if (flushed.wait_for(200ms) == std::future_status::ready) {
    EXPECT_EQ(store->usage_ids().size(), std::size_t(early + 1))
        << "flush() returned while usage rows submitted before it were still queued";
  }
  store->allow_all();
  flushed.get();
}

// The destructor writes what is queued, without waiting for the interval.
TEST(RecordWriter, DestructorWritesQueuedRows) {
  auto store = std::make_shared<FakeStore>();
  {
    RecordWriter writer(store, 1h);
    writer.submit(usage(1));
    writer.submit(inference(1), Capture::kWhole);
    writer.submit(audit("config.reload"));
  }
  EXPECT_EQ(store->usage_ids(), std::vector<std::string>{"u1"});
  EXPECT_EQ(store->inference_rows().size(), 1u);
  EXPECT_EQ(store->audit_kinds(), std::vector<std::string>{"config.reload"});
}

// Stream captures reach the store as one answer; whole bodies reach it untouched.
TEST(RecordWriter, StreamCapturesArriveReassembled) {
  auto store = std::make_shared<FakeStore>();
  RecordWriter writer(store, 1h);
  const std::string openai_events =
      "data: {\"id\":\"c1\",\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n"
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  const std::string anthropic_events =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Bon\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"jour\"}}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  writer.submit(inference(1, openai_events), Capture::kOpenAIStream);
  writer.submit(inference(2, anthropic_events), Capture::kAnthropicStream);
  writer.submit(inference(3, "{\"whole\":true}"), Capture::kWhole);
  writer.flush();
  const auto rows = store->inference_rows();
  ASSERT_EQ(rows.size(), 3u);
  json::value o = json::parse(rows[0].response_body);
  EXPECT_EQ(o.at("object"), "chat.completion");
  EXPECT_EQ(o.at("choices").at(0).at("message").at("content"), "Hello");
  EXPECT_EQ(o.at("choices").at(0).at("finish_reason"), "stop");
  json::value a = json::parse(rows[1].response_body);
  EXPECT_EQ(a.at("content").at(0).at("text"), "Bonjour");
  EXPECT_EQ(a.at("stop_reason"), "end_turn");
  EXPECT_EQ(rows[2].response_body, "{\"whole\":true}");
}

// Retention: configure() with days > 0 deletes inference rows older than now - days, at once.
TEST(RecordWriter, RetentionExpiresInferenceRowsOlderThanTheCutoff) {
  auto store = std::make_shared<FakeStore>();
  RecordWriter writer(store, 10ms);
  writer.submit(usage(0));
  writer.flush();
  EXPECT_TRUE(store->expire_cutoffs().empty()) << "retention 0 keeps rows for ever";

  const std::int64_t before = unix_ms_now();
  writer.configure(10ms, 1000, 7);
  ASSERT_TRUE(store->wait_expire()) << "configure(retention_days = 7) did not expire old rows";
  ASSERT_TRUE(store->wait_expire_mcp()) << "the MCP tool calls follow the inference log's retention";
  const std::int64_t after = unix_ms_now();
  const auto cutoffs = store->expire_cutoffs();
  ASSERT_EQ(cutoffs.size(), 1u);
  const std::int64_t week_ms = 7LL * 86'400'000;
  EXPECT_GE(cutoffs[0], before - week_ms);
  EXPECT_LE(cutoffs[0], after - week_ms);
  EXPECT_EQ(store->expire_mcp_cutoffs(), cutoffs) << "the MCP tool calls follow the inference log's retention";

  // Not again until the hour is up, though the writer keeps writing.
  writer.submit(usage(1));
  writer.flush();
  EXPECT_EQ(store->expire_cutoffs().size(), 1u);
}

}  // namespace
}  // namespace gatehouse::record
