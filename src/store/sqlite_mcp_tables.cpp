// The MCP gateway's tables in the SQLite store: mcp_tool_pins (with mcp_tool_pin_events, the
// change counter the gateways poll, as key_events is for keys) and mcp_approvals. Each opener has
// its own connection; writes take the write lock up front (BEGIN IMMEDIATE).
#include <sqlite3.h>

#include <mutex>
#include <utility>

#include "store/mcp_tables.h"
#include "store/schema.h"
#include "store/sqlite_db.h"

namespace gatehouse::store {

namespace {

using sqlite::bind_text;
using sqlite::column_text;
using sqlite::Db;
using sqlite::Stmt;
using sqlite::Use;

// One connection, its statements and the lock that serialises their use.
class Connection {
 public:
  Connection(std::string what, Db db) : what_(std::move(what)), db_(std::move(db)) {}

  sqlite3* db() const { return db_.get(); }
  std::string failure(const std::string& doing) const {
    return what_ + ": " + doing + ": " + sqlite3_errmsg(db_.get());
  }

  std::optional<std::string> prepare(std::initializer_list<std::pair<Stmt*, const char*>> all) {
    for (auto [stmt, sql] : all) {
      if (!sqlite::prepare(db_.get(), sql, *stmt))
        return failure("preparing \"" + std::string(sql) + "\"");
    }
    for (auto [stmt, sql] :
         {std::pair{&begin_read_, "BEGIN"}, std::pair{&begin_write_, "BEGIN IMMEDIATE"},
          std::pair{&commit_, "COMMIT"}, std::pair{&rollback_, "ROLLBACK"}}) {
      if (!sqlite::prepare(db_.get(), sql, *stmt))
        return failure("preparing \"" + std::string(sql) + "\"");
    }
    return std::nullopt;
  }

  // A transaction that rolls back unless committed.
  class Transaction {
   public:
    explicit Transaction(Connection* c) : c_(c) {}
    Transaction(Transaction&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    ~Transaction() {
      if (c_) c_->rollback();
    }
    explicit operator bool() const { return c_ != nullptr; }
    std::optional<std::string> commit() {
      Connection* c = std::exchange(c_, nullptr);
      {
        Use u(c->commit_);
        if (sqlite3_step(u) == SQLITE_DONE) return std::nullopt;
      }
      std::string e = c->failure("committing");
      if (!sqlite3_get_autocommit(c->db())) c->rollback();
      return e;
    }

   private:
    Connection* c_;
  };

  Transaction begin(bool write) {
    Use b(write ? begin_write_ : begin_read_);
    return Transaction(sqlite3_step(b) == SQLITE_DONE ? this : nullptr);
  }

  std::mutex mu;  // one call at a time: the statements are shared state

 private:
  void rollback() {
    Use rb(rollback_);
    sqlite3_step(rb);
  }

  const std::string what_;
  Db db_;
  Stmt begin_read_, begin_write_, commit_, rollback_;
};

std::variant<Db, std::string> open_tables(const std::string& path, const std::string& what) {
  if (path.empty()) return what + ": no file named (store.sqlite is empty)";
  auto opened = sqlite::open(path, what, "FULL");
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  Db db = std::move(std::get<Db>(opened));
  if (auto e = sqlite::migrate(db.get(), what, schema::kMcp.version_name, schema::kMcp.steps)) return *e;
  return db;
}

PinRow read_pin(sqlite3_stmt* s) {
  PinRow r;
  r.server = column_text(s, 0);
  r.tool = column_text(s, 1);
  r.sha256 = column_text(s, 2);
  r.definition = column_text(s, 3);
  r.pinned_at_ms = sqlite3_column_int64(s, 4);
  r.pending_sha256 = column_text(s, 5);
  r.pending_definition = column_text(s, 6);
  r.pending_since_ms = sqlite3_column_int64(s, 7);
  return r;
}

constexpr const char* kPinColumns =
    "server, tool, sha256, definition, pinned_at_ms, pending_sha256, pending_definition, "
    "pending_since_ms";

class SqlitePinTable final : public PinTable {
 public:
  SqlitePinTable(const std::string& what, Db db) : c_(what, std::move(db)) {}

  std::optional<std::string> prepare() {
    static const std::string select_all =
        std::string("SELECT ") + kPinColumns + " FROM mcp_tool_pins ORDER BY server, tool";
    static const std::string select_one = std::string("SELECT ") + kPinColumns +
                                          " FROM mcp_tool_pins WHERE server = ?1 AND tool = ?2";
    return c_.prepare({
        {&select_all_, select_all.c_str()},
        {&select_one_, select_one.c_str()},
        {&insert_,
         "INSERT INTO mcp_tool_pins (server, tool, sha256, definition, pinned_at_ms) VALUES (?1, "
         "?2, ?3, ?4, ?5) "
         "ON CONFLICT (server, tool) DO NOTHING"},
        {&set_pending_,
         "UPDATE mcp_tool_pins SET pending_sha256 = ?4, pending_definition = ?5, pending_since_ms "
         "= ?6 "
         "WHERE server = ?1 AND tool = ?2 AND sha256 = ?3"},
        {&accept_,
         "UPDATE mcp_tool_pins SET sha256 = pending_sha256, definition = pending_definition, "
         "pinned_at_ms = ?3, "
         "pending_sha256 = '', pending_definition = '', pending_since_ms = 0 "
         "WHERE server = ?1 AND tool = ?2 AND pending_sha256 = ?4"},
        {&bump_, "UPDATE mcp_tool_pin_events SET version = version + 1 WHERE id = 1"},
        {&version_, "SELECT version FROM mcp_tool_pin_events WHERE id = 1"},
    });
  }

  std::variant<std::vector<PinRow>, std::string> list() override {
    std::lock_guard lock(c_.mu);
    std::vector<PinRow> rows;
    Use sel(select_all_);
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) rows.push_back(read_pin(sel));
    if (rc != SQLITE_DONE) return c_.failure("reading tool pins");
    return rows;
  }

  std::optional<std::string> pin(const PinRow& row) override {
    std::lock_guard lock(c_.mu);
    auto tx = c_.begin(true);
    if (!tx) return c_.failure("starting a transaction");
    {
      Use ins(insert_);
      bind_text(ins, 1, row.server);
      bind_text(ins, 2, row.tool);
      bind_text(ins, 3, row.sha256);
      bind_text(ins, 4, row.definition);
      sqlite3_bind_int64(ins, 5, row.pinned_at_ms);
      if (sqlite3_step(ins) != SQLITE_DONE)
        return c_.failure("pinning " + row.server + "/" + row.tool);
    }
    return bump_and_commit(tx);
  }

  std::optional<std::string> set_pending(const PinRow& row) override {
    std::lock_guard lock(c_.mu);
    auto tx = c_.begin(true);
    if (!tx) return c_.failure("starting a transaction");
    {
      Use upd(set_pending_);
      bind_text(upd, 1, row.server);
      bind_text(upd, 2, row.tool);
      bind_text(upd, 3, row.sha256);
      bind_text(upd, 4, row.pending_sha256);
      bind_text(upd, 5, row.pending_definition);
      sqlite3_bind_int64(upd, 6, row.pending_sha256.empty() ? 0 : row.pending_since_ms);
      if (sqlite3_step(upd) != SQLITE_DONE) {
        return c_.failure("recording the changed definition of " + row.server + "/" + row.tool);
      }
    }
    // Bumped even when no row changed, so that a gateway whose memory differs from the table
    // (an accept elsewhere came first) reloads it.
    return bump_and_commit(tx);
  }

  std::variant<std::optional<PinAccepted>, std::string> accept(
      const std::string& server, const std::string& tool, std::int64_t now_ms,
      const std::string& expected_sha256) override {
    std::lock_guard lock(c_.mu);
    auto tx = c_.begin(true);
    if (!tx) return c_.failure("starting a transaction");
    std::optional<PinRow> row;
    {
      Use sel(select_one_);
      bind_text(sel, 1, server);
      bind_text(sel, 2, tool);
      int rc = sqlite3_step(sel);
      if (rc == SQLITE_ROW) {
        row = read_pin(sel);
      } else if (rc != SQLITE_DONE) {
        return c_.failure("reading the pin of " + server + "/" + tool);
      }
    }
    if (!row || row->pending_sha256.empty() ||
        (!expected_sha256.empty() && row->pending_sha256 != expected_sha256)) {
      return std::optional<PinAccepted>();
    }
    {
      Use upd(accept_);
      bind_text(upd, 1, server);
      bind_text(upd, 2, tool);
      sqlite3_bind_int64(upd, 3, now_ms);
      bind_text(upd, 4, row->pending_sha256);
      if (sqlite3_step(upd) != SQLITE_DONE)
        return c_.failure("accepting the definition of " + server + "/" + tool);
    }
    if (auto e = bump_and_commit(tx)) return *e;
    return std::optional<PinAccepted>(PinAccepted{row->sha256, row->pending_sha256});
  }

  std::variant<std::uint64_t, std::string> version() override {
    std::lock_guard lock(c_.mu);
    Use sel(version_);
    if (sqlite3_step(sel) != SQLITE_ROW) return c_.failure("reading the tool pins' change counter");
    return static_cast<std::uint64_t>(sqlite3_column_int64(sel, 0));
  }

 private:
  std::optional<std::string> bump_and_commit(Connection::Transaction& tx) {
    {
      Use u(bump_);
      if (sqlite3_step(u) != SQLITE_DONE) return c_.failure("counting the change");
    }
    return tx.commit();
  }

  Connection c_;
  Stmt select_all_, select_one_, insert_, set_pending_, accept_, bump_, version_;
};

constexpr const char* kApprovalColumns =
    "id, request_id, requester, key_name, server, tool, arguments, status, reason, decided_by, "
    "created_ms, "
    "expires_ms, decided_ms";

ApprovalRow read_approval(sqlite3_stmt* s) {
  ApprovalRow r;
  r.id = column_text(s, 0);
  r.request_id = column_text(s, 1);
  r.requester = column_text(s, 2);
  r.key_name = column_text(s, 3);
  r.server = column_text(s, 4);
  r.tool = column_text(s, 5);
  r.arguments = column_text(s, 6);
  r.status = column_text(s, 7);
  r.reason = column_text(s, 8);
  r.decided_by = column_text(s, 9);
  r.created_ms = sqlite3_column_int64(s, 10);
  r.expires_ms = sqlite3_column_int64(s, 11);
  r.decided_ms = sqlite3_column_int64(s, 12);
  return r;
}

class SqliteApprovalTable final : public ApprovalTable {
 public:
  SqliteApprovalTable(const std::string& what, Db db) : c_(what, std::move(db)) {}

  std::optional<std::string> prepare() {
    static const std::string select_one =
        std::string("SELECT ") + kApprovalColumns + " FROM mcp_approvals WHERE id = ?1";
    static const std::string select_pending =
        std::string("SELECT ") + kApprovalColumns +
        " FROM mcp_approvals WHERE status = 'pending' AND expires_ms > ?1 "
        "ORDER BY created_ms, id";
    static const std::string select_abandoned =
        std::string("SELECT ") + kApprovalColumns +
        " FROM mcp_approvals WHERE status = 'pending' AND expires_ms < ?1 "
        "ORDER BY created_ms, id";
    return c_.prepare({
        {&select_one_, select_one.c_str()},
        {&select_pending_, select_pending.c_str()},
        {&select_abandoned_, select_abandoned.c_str()},
        {&insert_,
         "INSERT INTO mcp_approvals (id, request_id, requester, key_name, server, tool, arguments, "
         "status, "
         "created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9)"},
        // An approval or a denial after the deadline would come too late for the waiting call.
        {&decide_,
         "UPDATE mcp_approvals SET status = ?2, reason = ?3, decided_by = ?4, decided_ms = ?5 "
         "WHERE id = ?1 AND status = 'pending' AND (?2 = 'expired' OR expires_ms > ?5)"},
        {&expire_abandoned_,
         "UPDATE mcp_approvals SET status = 'expired', reason = ?2, decided_by = 'gatehouse', "
         "decided_ms = ?3 "
         "WHERE status = 'pending' AND expires_ms < ?1"},
    });
  }

  std::optional<std::string> insert(const ApprovalRow& row) override {
    std::lock_guard lock(c_.mu);
    Use ins(insert_);
    bind_text(ins, 1, row.id);
    bind_text(ins, 2, row.request_id);
    bind_text(ins, 3, row.requester);
    bind_text(ins, 4, row.key_name);
    bind_text(ins, 5, row.server);
    bind_text(ins, 6, row.tool);
    bind_text(ins, 7, row.arguments);
    sqlite3_bind_int64(ins, 8, row.created_ms);
    sqlite3_bind_int64(ins, 9, row.expires_ms);
    if (sqlite3_step(ins) != SQLITE_DONE) return c_.failure("storing the held call " + row.id);
    return std::nullopt;
  }

  std::variant<std::optional<ApprovalRow>, std::string> get(const std::string& id) override {
    std::lock_guard lock(c_.mu);
    Use sel(select_one_);
    bind_text(sel, 1, id);
    int rc = sqlite3_step(sel);
    if (rc == SQLITE_DONE) return std::optional<ApprovalRow>();
    if (rc != SQLITE_ROW) return c_.failure("reading approval " + id);
    return std::optional<ApprovalRow>(read_approval(sel));
  }

  std::variant<std::vector<ApprovalRow>, std::string> pending(std::int64_t now_ms) override {
    std::lock_guard lock(c_.mu);
    std::vector<ApprovalRow> rows;
    Use sel(select_pending_);
    sqlite3_bind_int64(sel, 1, now_ms);
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) rows.push_back(read_approval(sel));
    if (rc != SQLITE_DONE) return c_.failure("reading pending approvals");
    return rows;
  }

  std::variant<bool, std::string> decide(const std::string& id, const std::string& status,
                                         const std::string& reason, const std::string& by,
                                         std::int64_t now_ms) override {
    std::lock_guard lock(c_.mu);
    Use upd(decide_);
    bind_text(upd, 1, id);
    bind_text(upd, 2, status);
    bind_text(upd, 3, reason);
    bind_text(upd, 4, by);
    sqlite3_bind_int64(upd, 5, now_ms);
    if (sqlite3_step(upd) != SQLITE_DONE) return c_.failure("deciding approval " + id);
    return sqlite3_changes(c_.db()) == 1;
  }

  std::variant<std::vector<ApprovalRow>, std::string> expire_abandoned(
      std::int64_t before_ms, const std::string& reason, std::int64_t now_ms) override {
    std::lock_guard lock(c_.mu);
    auto tx = c_.begin(true);
    if (!tx) return c_.failure("starting a transaction");
    std::vector<ApprovalRow> rows;
    {
      Use sel(select_abandoned_);
      sqlite3_bind_int64(sel, 1, before_ms);
      int rc;
      while ((rc = sqlite3_step(sel)) == SQLITE_ROW) rows.push_back(read_approval(sel));
      if (rc != SQLITE_DONE) return c_.failure("reading abandoned approvals");
    }
    if (rows.empty()) return rows;
    {
      Use upd(expire_abandoned_);
      sqlite3_bind_int64(upd, 1, before_ms);
      bind_text(upd, 2, reason);
      sqlite3_bind_int64(upd, 3, now_ms);
      if (sqlite3_step(upd) != SQLITE_DONE) return c_.failure("expiring abandoned approvals");
    }
    if (auto e = tx.commit()) return *e;
    for (auto& r : rows) {
      r.status = "expired";
      r.reason = reason;
      r.decided_by = "gatehouse";
      r.decided_ms = now_ms;
    }
    return rows;
  }

 private:
  Connection c_;
  Stmt select_one_, select_pending_, select_abandoned_, insert_, decide_, expire_abandoned_;
};

}  // namespace

std::variant<std::unique_ptr<PinTable>, std::string> open_sqlite_pins(const std::string& path) {
  const std::string what = "tool pins " + path;
  auto opened = open_tables(path, what);
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  auto table = std::make_unique<SqlitePinTable>(what, std::move(std::get<Db>(opened)));
  if (auto e = table->prepare()) return *e;
  return std::unique_ptr<PinTable>(std::move(table));
}

std::variant<std::unique_ptr<ApprovalTable>, std::string> open_sqlite_approvals(
    const std::string& path) {
  const std::string what = "approvals " + path;
  auto opened = open_tables(path, what);
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  auto table = std::make_unique<SqliteApprovalTable>(what, std::move(std::get<Db>(opened)));
  if (auto e = table->prepare()) return *e;
  return std::unique_ptr<ApprovalTable>(std::move(table));
}

}  // namespace gatehouse::store
