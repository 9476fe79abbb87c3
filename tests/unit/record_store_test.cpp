#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/key_rules.h"
#include "store/key_store.h"
#include "store/record_store.h"
#include "records_util.h"
#include "temp_dir.h"

namespace gatehouse::store {
namespace {

namespace fs = std::filesystem;

using RecordsDir = test_util::TempDir;

using test_util::open_records;

UsageRecord row(std::int64_t at_ms, const std::string& key, const std::string& project, const std::string& model,
                double cost, int status = 200, std::int64_t in = 10, std::int64_t out = 5) {
  UsageRecord r;
  r.request_id = "req-" + std::to_string(at_ms) + key;
  r.request_time_ms = at_ms;
  r.requester = key;
  r.key_name = key;
  r.project = project;
  r.model = model;
  r.served_model = model;
  r.provider = "local";
  r.input_tokens = in;
  r.output_tokens = out;
  r.cost_usd = cost;
  r.status_code = status;
  r.duration_ms = 12.5;
  return r;
}

std::vector<UsageSummary> summary(RecordStore& s, UsageGroup by, std::int64_t since) {
  auto r = s.summarize_usage(by, since);
  if (auto* e = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << *e;
    return {};
  }
  return std::get<std::vector<UsageSummary>>(std::move(r));
}

std::map<std::string, double> spend(RecordStore& s, UsageGroup by, std::int64_t since) {
  auto r = s.spend_since(by, since);
  if (auto* e = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << *e;
    return {};
  }
  return std::get<std::map<std::string, double>>(std::move(r));
}

// Rows for three keys in two projects at t = 1000..1005 s.
std::vector<UsageRecord> sample() {
  return {
      row(1'000'000, "k1", "p1", "chat-small", 0.10),
      row(1'001'000, "k1", "p1", "chat-big", 0.50, 200, 100, 50),
      row(1'002'000, "k2", "p1", "chat-small", 0.05, 429, 0, 0),
      row(1'003'000, "k3", "p2", "chat-big", 2.00, 200, 1000, 500),
      row(1'004'000, "k3", "p2", "chat-big", 0.00, 500, 0, 0),
      row(1'005'000, "k2", "p1", "chat-small", 0.05),
  };
}

// Summaries per project: totals, errors (status >= 400), most expensive first.
TEST(RecordStore, SummarizesByProjectMostExpensiveFirst) {
  RecordsDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  auto rows = sample();
  ASSERT_FALSE(s->append_usage(rows));
  auto by = summary(*s, UsageGroup::kProject, 0);
  ASSERT_EQ(by.size(), 2u);
  EXPECT_EQ(by[0].group, "p2");
  EXPECT_EQ(by[0].requests, 2);
  EXPECT_EQ(by[0].errors, 1);
  EXPECT_EQ(by[0].input_tokens, 1000);
  EXPECT_EQ(by[0].output_tokens, 500);
  EXPECT_DOUBLE_EQ(by[0].cost_usd, 2.00);
  EXPECT_EQ(by[1].group, "p1");
  EXPECT_EQ(by[1].requests, 4);
  EXPECT_EQ(by[1].errors, 1);
  EXPECT_EQ(by[1].input_tokens, 10 + 100 + 0 + 10);
  EXPECT_EQ(by[1].output_tokens, 5 + 50 + 0 + 5);
  EXPECT_NEAR(by[1].cost_usd, 0.70, 1e-9);
}

// Summaries per key and per model, in cost order.
TEST(RecordStore, SummarizesByKeyAndModel) {
  RecordsDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  auto rows = sample();
  ASSERT_FALSE(s->append_usage(rows));
  auto keys = summary(*s, UsageGroup::kKey, 0);
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].group, "k3");
  EXPECT_EQ(keys[1].group, "k1");
  EXPECT_EQ(keys[2].group, "k2");
  EXPECT_EQ(keys[2].requests, 2);
  EXPECT_EQ(keys[2].errors, 1);
  auto models = summary(*s, UsageGroup::kModel, 0);
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].group, "chat-big");
  EXPECT_EQ(models[0].requests, 3);
  EXPECT_NEAR(models[0].cost_usd, 2.50, 1e-9);
  EXPECT_EQ(models[1].group, "chat-small");
  EXPECT_EQ(models[1].requests, 3);
}

// Per user: JWT callers have a user and no key; key rows group under "".
TEST(RecordStore, SummarizesByUser) {
  RecordsDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  std::vector<UsageRecord> rows = {row(1000, "", "", "m", 1.0), row(2000, "", "", "m", 3.0), row(3000, "k1", "", "m", 2.0)};
  rows[0].user = "alice";
  rows[1].user = "bob";
  ASSERT_FALSE(s->append_usage(rows));
  auto users = summary(*s, UsageGroup::kUser, 0);
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users[0].group, "bob");
  EXPECT_EQ(users[1].group, "");
  EXPECT_EQ(users[2].group, "alice");
}

// since_ms is inclusive and leaves older rows out.
TEST(RecordStore, SinceFiltersOlderRows) {
  RecordsDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  auto rows = sample();
  ASSERT_FALSE(s->append_usage(rows));
  auto recent = summary(*s, UsageGroup::kProject, 1'003'000);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].group, "p2");
  EXPECT_EQ(recent[0].requests, 2);
  EXPECT_EQ(recent[1].group, "p1");
  EXPECT_EQ(recent[1].requests, 1);  // only the row at 1005 s
  EXPECT_TRUE(summary(*s, UsageGroup::kProject, 2'000'000).empty());
}

// Ties in cost are ordered by request count, then by name.
TEST(RecordStore, TiesOrderByCountThenName) {
  RecordsDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  std::vector<UsageRecord> rows = {row(1, "kb", "", "m", 1.0), row(2, "ka", "", "m", 1.0),
                                   row(3, "kc", "", "m", 0.5), row(4, "kc", "", "m", 0.5)};
  ASSERT_FALSE(s->append_usage(rows));
  auto keys = summary(*s, UsageGroup::kKey, 0);
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].group, "kc");  // 1.0 in two requests
  EXPECT_EQ(keys[1].group, "ka");
  EXPECT_EQ(keys[2].group, "kb");
}

// spend_since: cost per key or project since a moment, ignoring rows without one.
TEST(RecordStore, SpendSinceIgnoresTheEmptyGroup) {
  RecordsDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  auto rows = sample();
  rows.push_back(row(1'006'000, "", "", "chat-small", 9.0));  // a JWT caller without key or project
  ASSERT_FALSE(s->append_usage(rows));
  auto keys = spend(*s, UsageGroup::kKey, 0);
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_FALSE(keys.contains(""));
  EXPECT_NEAR(keys["k1"], 0.60, 1e-9);
  EXPECT_NEAR(keys["k2"], 0.10, 1e-9);
  EXPECT_NEAR(keys["k3"], 2.00, 1e-9);
  auto projects = spend(*s, UsageGroup::kProject, 1'002'000);
  EXPECT_EQ(projects.size(), 2u);
  EXPECT_NEAR(projects["p1"], 0.10, 1e-9);
  EXPECT_NEAR(projects["p2"], 2.00, 1e-9);
  EXPECT_TRUE(spend(*s, UsageGroup::kKey, 5'000'000).empty());
}

// Rows survive reopening the file, and appends from several batches add up.
TEST(RecordStore, RowsPersistAcrossReopen) {
  RecordsDir dir;
  {
    auto s = open_records(dir.file("g.db"));
    ASSERT_TRUE(s);
    std::vector<UsageRecord> a = {row(1, "k1", "p1", "m", 1.0)};
    std::vector<UsageRecord> b = {row(2, "k1", "p1", "m", 2.0), row(3, "k1", "p1", "m", 3.0)};
    ASSERT_FALSE(s->append_usage(a));
    ASSERT_FALSE(s->append_usage(b));
    ASSERT_FALSE(s->append_usage({}));  // an empty batch is fine
  }
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  auto keys = summary(*s, UsageGroup::kKey, 0);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].requests, 3);
  EXPECT_DOUBLE_EQ(keys[0].cost_usd, 6.0);
}

// The key store and the record store share one file, in either opening order.
TEST(RecordStore, SharesTheFileWithTheKeyStore) {
  RecordsDir dir;
  const std::string path = dir.file("g.db");
  auto keys_opened = open_sqlite(path);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<KeyStore>>(keys_opened)) << std::get<std::string>(keys_opened);
  auto& keys = *std::get<std::unique_ptr<KeyStore>>(keys_opened);
  auto records = open_records(path);
  ASSERT_TRUE(records);
  StoredKey k;
  k.name = "ci-bot";
  const std::string secret = new_secret();
  k.digest = config::sha256(secret);
  k.prefix = secret_prefix(secret);
  auto created = keys.create(k);
  ASSERT_TRUE(std::holds_alternative<StoredKey>(created)) << std::get<std::string>(created);
  std::vector<UsageRecord> rows = {row(1, "ci-bot", "p1", "m", 0.25)};
  ASSERT_FALSE(records->append_usage(rows));
  auto listed = keys.list();
  ASSERT_TRUE(std::holds_alternative<std::vector<StoredKey>>(listed));
  EXPECT_EQ(std::get<std::vector<StoredKey>>(listed).size(), 1u);
  EXPECT_DOUBLE_EQ(spend(*records, UsageGroup::kKey, 0)["ci-bot"], 0.25);
  // Opened the other way round (records first) on a new file.
  const std::string other = dir.file("other.db");
  auto records2 = open_records(other);
  ASSERT_TRUE(records2);
  auto keys2 = open_sqlite(other);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<KeyStore>>(keys2)) << std::get<std::string>(keys2);
  EXPECT_TRUE(std::holds_alternative<std::vector<StoredKey>>(std::get<std::unique_ptr<KeyStore>>(keys2)->list()));
  ASSERT_FALSE(records2->append_usage(rows));
  // Reopening a file that has both schemas works for both.
  records.reset();
  auto again = open_records(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(summary(*again, UsageGroup::kKey, 0).size(), 1u);
}

// An empty path is an error value, not a crash.
TEST(RecordStore, EmptyPathIsAnError) {
  auto r = open_sqlite_records("");
  ASSERT_TRUE(std::holds_alternative<std::string>(r));
  EXPECT_NE(std::get<std::string>(r).find("store.sqlite"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::store
