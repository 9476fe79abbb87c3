// The MCP gateway's tables in PostgreSQL: mcp_tool_pins (with mcp_tool_pin_events, the change
// counter the gateways poll) and mcp_approvals. Same semantics as sqlite_mcp_tables.cpp: the first
// pin stays (ON CONFLICT DO NOTHING), an accept is checked against the row it read (SELECT ... FOR
// UPDATE), and every decision is a conditional update of a pending row, so the first decision
// wins whichever replica or CLI makes it.
#include <algorithm>

#include "store/mcp_tables.h"
#include "store/pg_db.h"
#include "store/store_open.h"

namespace gatehouse::store {

namespace {

using pg::num;

PinRow read_pin(const PGresult* r, int i) {
  PinRow p;
  p.server = pg::text(r, i, 0);
  p.tool = pg::text(r, i, 1);
  p.sha256 = pg::text(r, i, 2);
  p.definition = pg::text(r, i, 3);
  p.pinned_at_ms = pg::i64(r, i, 4);
  p.pending_sha256 = pg::text(r, i, 5);
  p.pending_definition = pg::text(r, i, 6);
  p.pending_since_ms = pg::i64(r, i, 7);
  return p;
}

#define GH_PIN_COLUMNS                                                                   \
  "server, tool, sha256, definition, pinned_at_ms, pending_sha256, pending_definition, " \
  "pending_since_ms"

class PgPinTable final : public PinTable {
 public:
  explicit PgPinTable(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

  std::variant<std::vector<PinRow>, std::string> list() override {
    return c_->rows<PinRow>("SELECT " GH_PIN_COLUMNS " FROM mcp_tool_pins ORDER BY server, tool",
                            {}, "reading tool pins", read_pin);
  }

  std::optional<std::string> pin(const PinRow& row) override {
    return write(
        "INSERT INTO mcp_tool_pins (server, tool, sha256, definition, pinned_at_ms) VALUES ($1, "
        "$2, $3, $4, "
        "$5) ON CONFLICT (server, tool) DO NOTHING",
        {row.server, row.tool, row.sha256, row.definition, num(row.pinned_at_ms)},
        "pinning " + row.server + "/" + row.tool);
  }

  std::optional<std::string> set_pending(const PinRow& row) override {
    // Bumped even when no row changed, so that a gateway whose memory differs from the table (an
    // accept elsewhere came first) reloads it.
    return write(
        "UPDATE mcp_tool_pins SET pending_sha256 = $4, pending_definition = $5, pending_since_ms = "
        "$6 "
        "WHERE server = $1 AND tool = $2 AND sha256 = $3",
        {row.server, row.tool, row.sha256, row.pending_sha256, row.pending_definition,
         num(row.pending_sha256.empty() ? 0 : row.pending_since_ms)},
        "recording the changed definition of " + row.server + "/" + row.tool);
  }

  std::variant<std::optional<PinAccepted>, std::string> accept(
      const std::string& server, const std::string& tool, std::int64_t now_ms,
      const std::string& expected_sha256) override {
    return c_->call([&]() -> std::variant<std::optional<PinAccepted>, std::string> {
      auto tx = c_->begin();
      if (!tx) return c_->failure("starting a transaction");
      auto sel = c_->exec("SELECT " GH_PIN_COLUMNS
                          " FROM mcp_tool_pins WHERE server = $1 AND tool = $2 FOR UPDATE",
                          {server, tool}, "reading the pin of " + server + "/" + tool);
      if (auto* e = std::get_if<std::string>(&sel)) return *e;
      const PGresult* q = std::get<pg::Result>(sel).get();
      if (PQntuples(q) == 0) return std::optional<PinAccepted>();
      const PinRow row = read_pin(q, 0);
      if (row.pending_sha256.empty() ||
          (!expected_sha256.empty() && row.pending_sha256 != expected_sha256)) {
        return std::optional<PinAccepted>();
      }
      if (auto e = c_->run("UPDATE mcp_tool_pins SET sha256 = pending_sha256, definition = "
                           "pending_definition, pinned_at_ms = $3, "
                           "pending_sha256 = '', pending_definition = '', pending_since_ms = 0 "
                           "WHERE server = $1 AND tool = $2 AND pending_sha256 = $4",
                           {server, tool, num(now_ms), row.pending_sha256},
                           "accepting the definition of " + server + "/" + tool))
        return *e;
      if (auto e = bump_and_commit(tx)) return *e;
      return std::optional<PinAccepted>(PinAccepted{row.sha256, row.pending_sha256});
    });
  }

  std::variant<std::uint64_t, std::string> version() override {
    return c_->call([&]() -> std::variant<std::uint64_t, std::string> {
      auto r = c_->exec("SELECT version FROM mcp_tool_pin_events WHERE id = 1", {},
                        "reading the tool pins' change counter");
      if (auto* e = std::get_if<std::string>(&r)) return *e;
      const PGresult* q = std::get<pg::Result>(r).get();
      if (PQntuples(q) != 1) return c_->what() + ": reading the tool pins' change counter: no row";
      return static_cast<std::uint64_t>(pg::i64(q, 0, 0));
    });
  }

 private:
  // `sql` and the change counter's bump in one transaction.
  std::optional<std::string> write(const char* sql, std::initializer_list<pg::Param> params,
                                   const std::string& doing) {
    return c_->call([&]() -> std::optional<std::string> {
      auto tx = c_->begin();
      if (!tx) return c_->failure("starting a transaction");
      if (auto e = c_->run(sql, params, doing)) return *e;
      return bump_and_commit(tx);
    });
  }

  std::optional<std::string> bump_and_commit(pg::Connection::Transaction& tx) {
    if (auto e = c_->run("UPDATE mcp_tool_pin_events SET version = version + 1 WHERE id = 1", {},
                         "counting the change"))
      return *e;
    return tx.commit();
  }

  std::unique_ptr<pg::Connection> c_;
};

#define GH_APPROVAL_COLUMNS                                                                    \
  "id, request_id, requester, key_name, server, tool, arguments, status, reason, decided_by, " \
  "created_ms, "                                                                               \
  "expires_ms, decided_ms"

ApprovalRow read_approval(const PGresult* q, int i) {
  ApprovalRow r;
  r.id = pg::text(q, i, 0);
  r.request_id = pg::text(q, i, 1);
  r.requester = pg::text(q, i, 2);
  r.key_name = pg::text(q, i, 3);
  r.server = pg::text(q, i, 4);
  r.tool = pg::text(q, i, 5);
  r.arguments = pg::text(q, i, 6);
  r.status = pg::text(q, i, 7);
  r.reason = pg::text(q, i, 8);
  r.decided_by = pg::text(q, i, 9);
  r.created_ms = pg::i64(q, i, 10);
  r.expires_ms = pg::i64(q, i, 11);
  r.decided_ms = pg::i64(q, i, 12);
  return r;
}

class PgApprovalTable final : public ApprovalTable {
 public:
  explicit PgApprovalTable(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

  std::optional<std::string> insert(const ApprovalRow& row) override {
    auto n = c_->change(
        "INSERT INTO mcp_approvals (id, request_id, requester, key_name, server, tool, arguments, "
        "status, created_ms, "
        "expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
        {row.id, row.request_id, row.requester, row.key_name, row.server, row.tool, row.arguments,
         num(row.created_ms), num(row.expires_ms)},
        "storing the held call " + row.id);
    if (auto* e = std::get_if<std::string>(&n)) return *e;
    return std::nullopt;
  }

  std::variant<std::optional<ApprovalRow>, std::string> get(const std::string& id) override {
    auto rows = select("SELECT " GH_APPROVAL_COLUMNS " FROM mcp_approvals WHERE id = $1", {id},
                       "reading approval " + id);
    if (auto* e = std::get_if<std::string>(&rows)) return *e;
    auto& v = std::get<std::vector<ApprovalRow>>(rows);
    if (v.empty()) return std::optional<ApprovalRow>();
    return std::optional<ApprovalRow>(std::move(v.front()));
  }

  std::variant<std::vector<ApprovalRow>, std::string> pending(std::int64_t now_ms) override {
    return select("SELECT " GH_APPROVAL_COLUMNS
                  " FROM mcp_approvals WHERE status = 'pending' AND expires_ms > $1 "
                  "ORDER BY created_ms, id",
                  {num(now_ms)}, "reading pending approvals");
  }

  std::variant<bool, std::string> decide(const std::string& id, const std::string& status,
                                         const std::string& reason, const std::string& by,
                                         std::int64_t now_ms) override {
    // An approval or a denial after the deadline would come too late for the waiting call.
    auto n = c_->change(
        "UPDATE mcp_approvals SET status = $2, reason = $3, decided_by = $4, decided_ms = $5 "
        "WHERE id = $1 AND status = 'pending' AND ($2 = 'expired' OR expires_ms > $5)",
        {id, status, reason, by, num(now_ms)}, "deciding approval " + id);
    if (auto* e = std::get_if<std::string>(&n)) return *e;
    return std::get<std::int64_t>(n) == 1;
  }

  std::variant<std::vector<ApprovalRow>, std::string> expire_abandoned(
      std::int64_t before_ms, const std::string& reason, std::int64_t now_ms) override {
    // One statement: the rows it ended are the rows it returns (no other writer can slip between).
    auto rows = select(
        "UPDATE mcp_approvals SET status = 'expired', reason = $2, decided_by = 'gatehouse', "
        "decided_ms = $3 WHERE status = 'pending' AND expires_ms < $1 "
        "RETURNING " GH_APPROVAL_COLUMNS,
        {num(before_ms), reason, num(now_ms)}, "expiring abandoned approvals");
    if (auto* v = std::get_if<std::vector<ApprovalRow>>(&rows)) {
      std::sort(v->begin(), v->end(), [](const ApprovalRow& a, const ApprovalRow& b) {
        return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
      });
    }
    return rows;
  }

 private:
  std::variant<std::vector<ApprovalRow>, std::string> select(
      const char* sql, std::initializer_list<pg::Param> params, const std::string& doing) {
    return c_->rows<ApprovalRow>(sql, params, doing, read_approval);
  }

  std::unique_ptr<pg::Connection> c_;
};

}  // namespace

std::variant<std::unique_ptr<PinTable>, std::string> open_postgres_pins(const std::string& url) {
  return pg::open_as<PinTable, PgPinTable>(url, "tool pins", schema::kMcp);
}

std::variant<std::unique_ptr<ApprovalTable>, std::string> open_postgres_approvals(
    const std::string& url) {
  return pg::open_as<ApprovalTable, PgApprovalTable>(url, "approvals", schema::kMcp);
}

}  // namespace gatehouse::store
