#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/record_store.h"
#include "records_util.h"
#include "temp_dir.h"

namespace gatehouse::store {
namespace {

using test_util::open_records;

InferenceRecord logged(const std::string& id, std::int64_t at_ms, const std::string& model) {
  InferenceRecord r;
  r.request_id = id;
  r.request_time_ms = at_ms;
  r.requester = "key 'ci'";
  r.key_name = "ci";
  r.user = "alice";
  r.project = "search";
  r.model = model;
  r.served_model = model + "-v2";
  r.provider = "openai";
  r.status_code = 200;
  r.execution_duration_ms = 120.5;
  r.upstream_duration_ms = 100.25;
  r.time_to_first_token_ms = 30.5;
  r.input_tokens = 11;
  r.output_tokens = 22;
  r.cost_usd = 0.0125;
  r.streaming = true;
  r.request_body = R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}]})";
  r.response_body = R"({"object":"chat.completion","choices":[]})";
  r.decisions = R"({"limits":"ok","attempts":[{"target":"a","outcome":"ok"}]})";
  return r;
}

void write(RecordStore& s, std::vector<InferenceRecord> rows, std::vector<AuditRecord> audit = {}) {
  RecordBatch b;
  b.inference = std::move(rows);
  b.audit = std::move(audit);
  auto e = s.write(b);
  ASSERT_FALSE(e) << *e;
}

std::vector<InferenceRow> read(RecordStore& s, const std::string& model, std::int64_t since, std::size_t limit) {
  auto r = s.inference(model, since, limit);
  if (auto* e = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << *e;
    return {};
  }
  return std::get<std::vector<InferenceRow>>(std::move(r));
}

std::vector<std::string> ids(const std::vector<InferenceRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.request_id);
  return out;
}

// Every column of an inference row reads back as written.
TEST(InferenceLog, RowsReadBackWithEveryField) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  InferenceRecord r = logged("req-1", 1'000'000, "chat-small");
  r.error_code = "upstream_timeout";
  r.status_code = 504;
  r.payload_truncated = true;
  write(*s, {r});
  auto rows = read(*s, "", 0, 10);
  ASSERT_EQ(rows.size(), 1u);
  const InferenceRow& got = rows[0];
  EXPECT_GT(got.id, 0);
  EXPECT_EQ(got.request_id, "req-1");
  EXPECT_EQ(got.request_time_ms, 1'000'000);
  EXPECT_EQ(got.requester, "key 'ci'");
  EXPECT_EQ(got.key_name, "ci");
  EXPECT_EQ(got.user, "alice");
  EXPECT_EQ(got.project, "search");
  EXPECT_EQ(got.model, "chat-small");
  EXPECT_EQ(got.served_model, "chat-small-v2");
  EXPECT_EQ(got.provider, "openai");
  EXPECT_EQ(got.status_code, 504);
  EXPECT_DOUBLE_EQ(got.execution_duration_ms, 120.5);
  EXPECT_DOUBLE_EQ(got.upstream_duration_ms, 100.25);
  EXPECT_DOUBLE_EQ(got.time_to_first_token_ms, 30.5);
  EXPECT_EQ(got.input_tokens, 11);
  EXPECT_EQ(got.output_tokens, 22);
  EXPECT_DOUBLE_EQ(got.cost_usd, 0.0125);
  EXPECT_TRUE(got.streaming);
  EXPECT_EQ(got.error_code, "upstream_timeout");
  EXPECT_EQ(got.request_body, r.request_body);
  EXPECT_EQ(got.response_body, r.response_body);
  EXPECT_TRUE(got.payload_truncated);
  EXPECT_EQ(got.decisions, r.decisions);
}

// No time to first token is NULL in the file and -1 when read; 0 stays 0.
TEST(InferenceLog, MissingTimeToFirstTokenIsNullAndReadsAsMinusOne) {
  test_util::TempDir dir;
  const std::string path = dir.file("g.db");
  auto s = open_records(path);
  ASSERT_TRUE(s);
  InferenceRecord none = logged("none", 1000, "m");
  none.time_to_first_token_ms = -1;
  none.streaming = false;
  InferenceRecord zero = logged("zero", 2000, "m");
  zero.time_to_first_token_ms = 0;
  write(*s, {none, zero});
  auto rows = read(*s, "", 0, 10);
  ASSERT_EQ(ids(rows), (std::vector<std::string>{"zero", "none"}));
  EXPECT_EQ(rows[1].time_to_first_token_ms, -1);
  EXPECT_FALSE(rows[1].streaming);
  EXPECT_EQ(rows[0].time_to_first_token_ms, 0);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT time_to_first_token_ms FROM inference_log WHERE request_id = 'none'", -1,
                               &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_type(q, 0), SQLITE_NULL);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

// Empty bodies and decisions: stored as empty and "{}".
TEST(InferenceLog, EmptyPayloadsAndDecisions) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  InferenceRecord r = logged("bare", 1000, "m");
  r.request_body.clear();
  r.response_body.clear();
  r.decisions.clear();
  write(*s, {r});
  auto rows = read(*s, "", 0, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].request_body, "");
  EXPECT_EQ(rows[0].response_body, "");
  EXPECT_EQ(rows[0].decisions, "{}");
}

// inference(model, since, limit): newest first, by model, from `since`, at most `limit`.
TEST(InferenceLog, NewestFirstFilteredByModelSinceAndLimit) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  write(*s, {logged("a1", 1000, "chat-small"), logged("b1", 2000, "chat-big"), logged("a2", 3000, "chat-small")});
  write(*s, {logged("a3", 4000, "chat-small"), logged("b2", 5000, "chat-big")});
  // Two rows at the same time: the later written first.
  write(*s, {logged("a4", 5000, "chat-small")});

  EXPECT_EQ(ids(read(*s, "", 0, 100)), (std::vector<std::string>{"a4", "b2", "a3", "a2", "b1", "a1"}));
  EXPECT_EQ(ids(read(*s, "chat-small", 0, 100)), (std::vector<std::string>{"a4", "a3", "a2", "a1"}));
  EXPECT_EQ(ids(read(*s, "chat-big", 0, 100)), (std::vector<std::string>{"b2", "b1"}));
  EXPECT_EQ(ids(read(*s, "", 3000, 100)), (std::vector<std::string>{"a4", "b2", "a3", "a2"})) << "since is inclusive";
  EXPECT_EQ(ids(read(*s, "", 0, 2)), (std::vector<std::string>{"a4", "b2"}));
  EXPECT_EQ(ids(read(*s, "chat-small", 2000, 2)), (std::vector<std::string>{"a4", "a3"}));
  EXPECT_TRUE(read(*s, "no-such-model", 0, 100).empty());
  EXPECT_TRUE(read(*s, "", 6000, 100).empty());
}

// expire_inference(before) deletes inference rows older than `before`, nothing else.
TEST(InferenceLog, ExpireDeletesOnlyOlderInferenceRows) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  AuditRecord old_audit;
  old_audit.time_ms = 10;  // older than the cutoff, yet never expired
  old_audit.kind = "key.create";
  old_audit.actor = "cli";
  old_audit.detail = R"({"key":"ci"})";
  write(*s, {logged("old1", 1000, "m"), logged("old2", 1999, "m"), logged("edge", 2000, "m"), logged("new", 3000, "m")},
        {old_audit});
  RecordBatch usage;
  UsageRecord u;
  u.request_id = "u-old";
  u.request_time_ms = 500;
  u.status_code = 200;
  u.cost_usd = 1.5;
  usage.usage.push_back(u);
  ASSERT_FALSE(s->write(usage));

  auto removed = s->expire_inference(2000);
  ASSERT_TRUE(std::holds_alternative<std::int64_t>(removed)) << std::get<std::string>(removed);
  EXPECT_EQ(std::get<std::int64_t>(removed), 2);
  EXPECT_EQ(ids(read(*s, "", 0, 100)), (std::vector<std::string>{"new", "edge"}));

  auto verdict = s->verify_audit();
  ASSERT_TRUE(std::holds_alternative<AuditVerdict>(verdict)) << std::get<std::string>(verdict);
  EXPECT_TRUE(std::get<AuditVerdict>(verdict).intact) << std::get<AuditVerdict>(verdict).problem;
  EXPECT_EQ(std::get<AuditVerdict>(verdict).rows, 1);
  auto summary = s->summarize_usage(UsageGroup::kModel, 0);
  ASSERT_TRUE(std::holds_alternative<std::vector<UsageSummary>>(summary));
  ASSERT_EQ(std::get<std::vector<UsageSummary>>(summary).size(), 1u) << "usage rows are not expired";
  EXPECT_EQ(std::get<std::vector<UsageSummary>>(summary)[0].requests, 1);

  auto again = s->expire_inference(2000);
  ASSERT_TRUE(std::holds_alternative<std::int64_t>(again));
  EXPECT_EQ(std::get<std::int64_t>(again), 0);
}

// Rows survive reopening the file.
TEST(InferenceLog, RowsPersistAcrossReopen) {
  test_util::TempDir dir;
  const std::string path = dir.file("g.db");
  {
    auto s = open_records(path);
    ASSERT_TRUE(s);
    write(*s, {logged("kept", 1000, "m")});
  }
  auto s = open_records(path);
  ASSERT_TRUE(s);
  EXPECT_EQ(ids(read(*s, "", 0, 10)), std::vector<std::string>{"kept"});
}

}  // namespace
}  // namespace gatehouse::store
