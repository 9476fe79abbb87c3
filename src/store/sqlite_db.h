// SQLite plumbing every store table shares: owning handles, one-use statement guards, opening a
// file the way all Gatehouse stores do (owner-only, WAL, busy timeout) and versioned migrations.
// Internal to gh_store: no other library includes this.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>

namespace gatehouse::store::sqlite {

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbClose>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// One use of a prepared statement: reset and unbound when the use ends, however it ends, so the
// statement holds no read lock between calls.
class Use {
 public:
  explicit Use(const Stmt& s) : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  sqlite3_stmt* operator->() const { return s_; }
  operator sqlite3_stmt*() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

void bind_text(sqlite3_stmt* s, int i, const std::string& v);
std::string column_text(sqlite3_stmt* s, int i);

// Runs `sql` (several statements); an error message "`what` PATH: doing: why" on failure.
std::optional<std::string> exec(sqlite3* db, const std::string& what, const char* sql,
                                const std::string& doing);

// The single value a one-row query returns, as text (nullopt: no row).
std::variant<std::optional<std::string>, std::string> query_one(sqlite3* db, const std::string& what,
                                                                const std::string& sql);

// Prepares `sql` as a persistent statement into `out`; false on failure.
bool prepare(sqlite3* db, const char* sql, Stmt& out);

// Opens (creating it owner-only when missing) the database at `path` in WAL mode with a busy
// timeout and extended result codes. `what` names the store in messages ("key store PATH").
// `synchronous` is the PRAGMA synchronous value (FULL for rare writes that must survive a power
// cut, NORMAL for batched records: with WAL a crash loses at most the last transactions, never
// the file's consistency).
std::variant<Db, std::string> open(const std::string& path, const std::string& what,
                                   const char* synchronous);

// Brings the schema named `version_name` (a row in the shared `meta` table) to
// migrations.size() in one write transaction; concurrent openers wait on the write lock, then
// find the work done. Each table family keeps its own version in the same file.
std::optional<std::string> migrate(sqlite3* db, const std::string& what, const char* version_name,
                                   std::span<const char* const> migrations);

}  // namespace gatehouse::store::sqlite
