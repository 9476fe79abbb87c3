#include "store/sqlite_db.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace gatehouse::store::sqlite {

namespace {
constexpr int kBusyTimeoutMs = 5000;
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = sqlite3_column_text(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s, i))
           : std::string();
}

std::optional<std::string> exec(sqlite3* db, const std::string& what, const char* sql,
                                const std::string& doing) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK) return std::nullopt;
  std::string e = what + ": " + doing + ": " + (msg ? msg : sqlite3_errmsg(db));
  sqlite3_free(msg);
  return e;
}

std::variant<std::optional<std::string>, std::string> query_one(sqlite3* db, const std::string& what,
                                                                const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return what + ": " + sqlite3_errmsg(db);
  }
  Stmt s(raw);
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return what + ": " + sqlite3_errmsg(db);
  return std::optional<std::string>(column_text(s.get(), 0));
}

bool prepare(sqlite3* db, const char* sql, Stmt& out) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return false;
  }
  out.reset(s);
  return true;
}

std::variant<Db, std::string> open(const std::string& path, const std::string& what,
                                   const char* synchronous) {
  // Created here, owner-only, rather than by SQLite with the umask's mode; SQLite gives its -wal
  // and -shm files the same mode as the database. Only when it does not exist (O_EXCL): closing
  // any descriptor of a database file drops every POSIX lock this process holds on it, so opening
  // and closing the file while another connection of this process has it open (the key store and
  // the record store share it) would make other processes think nobody uses it — and a sqlite3
  // shell would then checkpoint and delete the WAL under the gateway's feet.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    return what + ": cannot open or create the file: " + std::strerror(errno);
  }

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return what + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);

  // The first statement that reads the file: a file that is not a database fails here.
  auto mode = query_one(db.get(), what, "PRAGMA journal_mode = WAL");
  if (auto* e = std::get_if<std::string>(&mode)) return *e;
  if (auto m = std::get<std::optional<std::string>>(mode); !m || *m != "wal") {
    return what + ": cannot switch to WAL mode (journal mode stays " + m.value_or("?") +
           "; is the file on a network file system?)";
  }
  std::string pragmas = std::string("PRAGMA synchronous = ") + synchronous + "; PRAGMA foreign_keys = ON";
  if (auto e = exec(db.get(), what, pragmas.c_str(), "configuring")) return *e;
  return db;
}

std::optional<std::string> migrate(sqlite3* db, const std::string& what, const char* version_name,
                                   std::span<const char* const> migrations) {
  const int target = static_cast<int>(migrations.size());
  if (auto e = exec(db, what, "BEGIN IMMEDIATE", "locking the schema")) return e;
  auto fail = [&](std::string e) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return std::optional<std::string>(std::move(e));
  };
  if (auto e = exec(db, what, "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
                    "creating the schema")) {
    return fail(*e);
  }
  auto v = query_one(db, what, std::string("SELECT value FROM meta WHERE name = '") + version_name + "'");
  if (auto* e = std::get_if<std::string>(&v)) return fail(*e);
  int current = 0;
  if (const auto& text = std::get<std::optional<std::string>>(v)) current = std::atoi(text->c_str());
  if (current > target) {
    return fail(what + ": its schema version is " + std::to_string(current) + " (" + version_name + ")" +
                ", newer than this gatehouse understands (" + std::to_string(target) +
                "): upgrade gatehouse");
  }
  for (int step = current; step < target; ++step) {
    if (auto e = exec(db, what, migrations[std::size_t(step)],
                      "upgrading the schema to version " + std::to_string(step + 1))) {
      return fail(*e);
    }
  }
  if (current != target) {
    std::string set = std::string("INSERT OR REPLACE INTO meta (name, value) VALUES ('") + version_name +
                      "', '" + std::to_string(target) + "')";
    if (auto e = exec(db, what, set.c_str(), "recording the schema version")) return fail(*e);
  }
  if (auto e = exec(db, what, "COMMIT", "committing the schema")) return fail(*e);
  return std::nullopt;
}

}  // namespace gatehouse::store::sqlite
