// What the MCP pins and approvals tests share: one "gateway process" worth of store plumbing on a
// database file (key store, store executor, record store and writer), and reading the audit rows.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "record/writer.h"
#include "records_util.h"
#include "store/key_store.h"
#include "store/store_executor.h"

namespace gatehouse::test_util {

// The long-lived store services a gateway builds for `path` (app/services.cpp), as a second
// process would have its own.
struct StorePlumbing {
  explicit StorePlumbing(const std::string& path) {
    auto opened = store::open_sqlite(path);
    if (auto* e = std::get_if<std::string>(&opened)) {
      ADD_FAILURE() << *e;
      return;
    }
    executor = std::make_shared<store::StoreExecutor>(std::move(std::get<0>(opened)));
    records = open_records(path);
    writer = std::make_shared<record::RecordWriter>(records, std::chrono::milliseconds(20));
  }
  // Waits until every store call queued so far has run.
  void drain() const {
    std::promise<void> done;
    executor->post([&](store::KeyStore&) { done.set_value(); });
    done.get_future().wait();
  }
  std::shared_ptr<store::StoreExecutor> executor;
  std::shared_ptr<store::RecordStore> records;
  std::shared_ptr<record::RecordWriter> writer;
};

struct AuditRow {
  std::string kind, actor, subject, detail, request_id;
};

// The audit rows of kinds starting with `prefix`, oldest first (read with the SQLite C API).
inline std::vector<AuditRow> audit_rows(const std::string& path, const std::string& prefix) {
  std::vector<AuditRow> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(
                db,
                "SELECT kind, actor, subject, detail, request_id FROM audit WHERE substr(kind, 1, "
                "length(?1)) = ?1 ORDER BY id",
                -1, &q, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(q, 1, prefix.c_str(), -1, SQLITE_TRANSIENT);
  auto text = [&](int i) {
    const auto* p = sqlite3_column_text(q, i);
    return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
  };
  while (sqlite3_step(q) == SQLITE_ROW)
    rows.push_back({text(0), text(1), text(2), text(3), text(4)});
  sqlite3_finalize(q);
  sqlite3_close(db);
  return rows;
}

// Polls `ok` every 20 ms until it holds or `limit` passes; whether it held.
template <class F>
bool eventually(F&& ok, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ok();
}

}  // namespace gatehouse::test_util
