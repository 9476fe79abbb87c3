#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/record_store.h"
#include "records_util.h"
#include "temp_dir.h"

namespace gatehouse::store {
namespace {

using test_util::open_records;

AuditRecord entry(int i) {
  AuditRecord r;
  r.time_ms = 1'700'000'000'000 + i;
  r.kind = i % 2 ? "key.create" : "kill.add";
  r.actor = "key 'ops" + std::to_string(i) + "'";
  r.subject = "model chat-" + std::to_string(i);
  r.detail = R"({"n":)" + std::to_string(i) + "}";
  r.request_id = "req-" + std::to_string(i);
  return r;
}

// Appends entries first..last (inclusive) in one transaction.
void append(RecordStore& s, int first, int last) {
  RecordBatch b;
  for (int i = first; i <= last; ++i) b.audit.push_back(entry(i));
  auto e = s.write(b);
  ASSERT_FALSE(e) << *e;
}

AuditVerdict verify(RecordStore& s) {
  auto v = s.verify_audit();
  if (auto* e = std::get_if<std::string>(&v)) {
    ADD_FAILURE() << *e;
    return {};
  }
  return std::get<AuditVerdict>(v);
}

// The file opened with the SQLite C API, to tamper with it as an attacker would.
class RawDb {
 public:
  explicit RawDb(const std::string& path) { EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK); }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  void exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* q = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &q, nullptr), SQLITE_OK) << sql;
    std::string out;
    if (q && sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0)) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

// A store with `n` chained entries written in batches of three, and its file.
struct Chain {
  test_util::TempDir dir;
  std::string path = dir.file("g.db");
  std::unique_ptr<RecordStore> store = open_records(path);
  explicit Chain(int n) {
    for (int first = 1; first <= n; first += 3) append(*store, first, std::min(n, first + 2));
  }
  // Runs `sql` on the file behind the store's back (as a tamperer would).
  void tamper(const std::string& sql) const {
    RawDb raw(path);
    raw.exec(sql);
  }
};

// An intact chain verifies, however it was written.
TEST(AuditChain, EmptyChainIsIntact) {
  Chain c(0);
  ASSERT_TRUE(c.store);
  AuditVerdict v = verify(*c.store);
  EXPECT_TRUE(v.intact) << v.problem;
  EXPECT_EQ(v.rows, 0);
}

TEST(AuditChain, RowsWrittenInSeveralBatchesAreIntact) {
  Chain c(10);
  ASSERT_TRUE(c.store);
  AuditVerdict v = verify(*c.store);
  EXPECT_TRUE(v.intact) << v.problem;
  EXPECT_EQ(v.rows, 10);
  EXPECT_EQ(v.first_bad_id, 0);
  RawDb raw(c.path);
  EXPECT_EQ(raw.text("SELECT prev_hash FROM audit WHERE id = 1"), std::string(64, '0'));
  EXPECT_EQ(raw.text("SELECT prev_hash FROM audit WHERE id = 5"), raw.text("SELECT hash FROM audit WHERE id = 4"))
      << "row 5 (second batch) chains to row 4 (first batch)";
  EXPECT_EQ(raw.text("SELECT value FROM meta WHERE name = 'audit.head'"),
            "10:" + raw.text("SELECT hash FROM audit WHERE id = 10"));
}

// An entry without detail is stored as "{}" and must still verify.
TEST(AuditChain, EntriesWithoutDetailAreIntact) {
  test_util::TempDir dir;
  auto s = open_records(dir.file("g.db"));
  ASSERT_TRUE(s);
  RecordBatch b;
  AuditRecord bare;
  bare.time_ms = 5;
  bare.kind = "config.reload";
  bare.actor = "signal";
  b.audit.push_back(bare);  // detail and request_id empty
  ASSERT_FALSE(s->write(b));
  AuditVerdict v = verify(*s);
  EXPECT_TRUE(v.intact) << v.problem;
  EXPECT_EQ(v.rows, 1);
}

// Two stores on one file (the gateway and the keys CLI) append to the same chain.
TEST(AuditChain, TwoStoresOnOneFileChainAcrossEachOther) {
  test_util::TempDir dir;
  const std::string path = dir.file("g.db");
  auto gateway = open_records(path);
  auto cli = open_records(path);
  ASSERT_TRUE(gateway && cli);
  append(*gateway, 1, 2);
  append(*cli, 3, 3);
  append(*gateway, 4, 6);
  append(*cli, 7, 8);
  for (RecordStore* s : {gateway.get(), cli.get()}) {
    AuditVerdict v = verify(*s);
    EXPECT_TRUE(v.intact) << v.problem;
    EXPECT_EQ(v.rows, 8);
  }
  RawDb raw(path);
  EXPECT_EQ(raw.text("SELECT prev_hash FROM audit WHERE id = 3"), raw.text("SELECT hash FROM audit WHERE id = 2"));
  EXPECT_EQ(raw.text("SELECT prev_hash FROM audit WHERE id = 7"), raw.text("SELECT hash FROM audit WHERE id = 6"));
  EXPECT_EQ(raw.text("SELECT actor FROM audit WHERE id = 7"), "key 'ops7'");
}

// Tampering with the file is found, and the verdict names the first row concerned.
TEST(AuditChain, AnEditedRowIsNamed) {
  Chain c(5);
  ASSERT_TRUE(c.store);
  c.tamper("UPDATE audit SET actor = 'key ''mallory''' WHERE id = 3");
  AuditVerdict v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 3);
  EXPECT_NE(v.problem.find("row 3"), std::string::npos) << v.problem;
  EXPECT_NE(v.problem.find("edited"), std::string::npos) << v.problem;
  EXPECT_EQ(v.rows, 3) << "rows read up to the bad one";
}

TEST(AuditChain, EditedDetailOrTimeIsNamed) {
  Chain c(4);
  ASSERT_TRUE(c.store);
  c.tamper(R"(UPDATE audit SET detail = '{"n":99}' WHERE id = 4)");
  AuditVerdict v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 4);
  EXPECT_NE(v.problem.find("edited"), std::string::npos) << v.problem;
  {
    RawDb raw(c.path);
    raw.exec(R"(UPDATE audit SET detail = '{"n":4}' WHERE id = 4)");  // put back
    raw.exec("UPDATE audit SET time = time + 1 WHERE id = 2");
  }
  v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 2);
}

TEST(AuditChain, ADeletedMiddleRowIsNamedMissing) {
  Chain c(5);
  ASSERT_TRUE(c.store);
  c.tamper("DELETE FROM audit WHERE id = 3");
  AuditVerdict v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 3);
  EXPECT_NE(v.problem.find("row 3"), std::string::npos) << v.problem;
  EXPECT_NE(v.problem.find("missing"), std::string::npos) << v.problem;
}

TEST(AuditChain, ADeletedFirstRowIsNamedMissing) {
  Chain c(3);
  ASSERT_TRUE(c.store);
  c.tamper("DELETE FROM audit WHERE id = 1");
  AuditVerdict v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 1);
  EXPECT_NE(v.problem.find("missing"), std::string::npos) << v.problem;
}

// Deleting the tail leaves a consistent chain: the recorded head ('audit.head') catches it.
TEST(AuditChain, ADeletedLastRowIsNamedByTheHead) {
  Chain c(5);
  ASSERT_TRUE(c.store);
  c.tamper("DELETE FROM audit WHERE id = 5");
  AuditVerdict v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 5);
  EXPECT_NE(v.problem.find("row 5"), std::string::npos) << v.problem;
  EXPECT_NE(v.problem.find("missing"), std::string::npos) << v.problem;
  EXPECT_EQ(v.rows, 4);
}

// Rows deleted from the end stay a gap even after the next append: it chains to the recorded
// head, not to the table's new last row (which would hide the deletion).
TEST(AuditChain, ATruncatedTailStaysMissingAfterTheNextAppend) {
  Chain c(5);
  ASSERT_TRUE(c.store);
  c.tamper("DELETE FROM audit WHERE id >= 4");
  append(*c.store, 6, 6);
  auto v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 4);
  EXPECT_NE(v.problem.find("missing"), std::string::npos) << v.problem;
}

TEST(AuditChain, DeletingEveryRowIsFound) {
  Chain c(4);
  ASSERT_TRUE(c.store);
  c.tamper("DELETE FROM audit");
  AuditVerdict v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 1);
  EXPECT_EQ(v.rows, 0);
}

TEST(AuditChain, ADeletedHeadRecordIsFound) {
  Chain c(2);
  ASSERT_TRUE(c.store);
  c.tamper("DELETE FROM meta WHERE name = 'audit.head'");
  AuditVerdict v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_NE(v.problem.find("head"), std::string::npos) << v.problem;
}

// Two rows swapped with their hashes (each row self-consistent): found at the first of them.
TEST(AuditChain, SwappedRowsAreFoundAtTheFirst) {
  Chain c(5);
  ASSERT_TRUE(c.store);
  {
    RawDb raw(c.path);
    const char* cols = "time, kind, actor, subject, detail, request_id, prev_hash, hash";
    raw.exec(std::string("CREATE TEMP TABLE keep AS SELECT id, ") + cols + " FROM audit WHERE id IN (2, 4)");
    for (auto [to, from] : {std::pair{2, 4}, std::pair{4, 2}}) {
      raw.exec("UPDATE audit SET (" + std::string(cols) + ") = (SELECT " + cols + " FROM keep WHERE id = " +
               std::to_string(from) + ") WHERE id = " + std::to_string(to));
    }
    EXPECT_EQ(raw.text("SELECT actor FROM audit WHERE id = 2"), "key 'ops4'");
  }
  AuditVerdict v = verify(*c.store);
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_id, 2);
  EXPECT_NE(v.problem.find("row 2"), std::string::npos) << v.problem;
}

// Reopening the file continues the chain from its last row.
TEST(AuditChain, AppendsAfterReopenContinueTheChain) {
  test_util::TempDir dir;
  const std::string path = dir.file("g.db");
  {
    auto s = open_records(path);
    ASSERT_TRUE(s);
    append(*s, 1, 3);
  }
  auto s = open_records(path);
  ASSERT_TRUE(s);
  append(*s, 4, 4);
  AuditVerdict v = verify(*s);
  EXPECT_TRUE(v.intact) << v.problem;
  EXPECT_EQ(v.rows, 4);
}

}  // namespace
}  // namespace gatehouse::store
