#include "store/pg_db.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "config/config.h"

namespace gatehouse::store::pg {

std::string num(std::int64_t v) { return std::to_string(v); }

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

std::int64_t i64(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

double f64(const PGresult* r, int row, int col) {
  return std::strtod(PQgetvalue(r, row, col), nullptr);
}

std::int64_t changed(const PGresult* r) {
  return std::strtoll(PQcmdTuples(const_cast<PGresult*>(r)), nullptr, 10);
}

namespace {

// The password `url` carries (user-info or parameter), as libpq reads it; "" when none.
std::string password_of(const std::string& url) {
  std::string out;
  if (PQconninfoOption* opts = PQconninfoParse(url.c_str(), nullptr)) {
    for (auto* o = opts; o->keyword; ++o) {
      if (std::string_view(o->keyword) == "password" && o->val) out = o->val;
    }
    PQconninfoFree(opts);
  }
  return out;
}

// Notices ("relation already exists, skipping") are not for the gateway's stderr.
void ignore_notice(void*, const char*) {}

}  // namespace

std::variant<std::unique_ptr<Connection>, std::string> Connection::open(const std::string& url,
                                                                        std::string what) {
  // Defaults first: the URL's own parameters, expanded from `dbname`, override them. Without a
  // connect timeout and keepalives, an unreachable or silently dropped server would hold a store
  // call (and the thread making it) for minutes.
  const char* const keywords[] = {"connect_timeout",
                                  "keepalives_idle",
                                  "keepalives_interval",
                                  "keepalives_count",
                                  "application_name",
                                  "dbname",
                                  nullptr};
  const char* const values[] = {"10", "30", "10", "3", "gatehouse", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  std::unique_ptr<Connection> c(new Connection(conn, std::move(what), password_of(url)));
  if (conn == nullptr) return c->what_ + ": cannot connect: out of memory";
  if (PQstatus(conn) != CONNECTION_OK) return c->failure("cannot connect");
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return c;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::reset() {
  PQreset(conn_);
  if (broken()) return false;
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  return true;
}

Result Connection::query(const char* sql, std::span<const Param> params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return Result(PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                             nullptr, nullptr, 0));
}

Result Connection::query(const char* sql, std::initializer_list<Param> params) {
  return query(sql, std::span<const Param>(params.begin(), params.size()));
}

bool Connection::ok(const PGresult* r) {
  if (r == nullptr) return false;
  const auto s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

std::variant<Result, std::string> Connection::exec(const char* sql,
                                                   std::initializer_list<Param> params,
                                                   const std::string& doing) {
  Result r = query(sql, params);
  if (!ok(r.get())) return failure(doing, r.get());
  return r;
}

std::optional<std::string> Connection::run(const char* sql, std::initializer_list<Param> params,
                                           const std::string& doing) {
  Result r = query(sql, params);
  if (!ok(r.get())) return failure(doing, r.get());
  return std::nullopt;
}

std::variant<std::int64_t, std::string> Connection::change(const char* sql,
                                                           std::initializer_list<Param> params,
                                                           const std::string& doing) {
  return call([&]() -> std::variant<std::int64_t, std::string> {
    auto r = exec(sql, params, doing);
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    return changed(std::get<Result>(r).get());
  });
}

std::optional<std::string> Connection::exec_script(const char* sql, const std::string& doing) {
  Result r(PQexec(conn_, sql));
  if (!ok(r.get())) return failure(doing, r.get());
  return std::nullopt;
}

std::string Connection::scrub(std::string message) const {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (!password_.empty()) {
    for (std::size_t pos = 0; (pos = message.find(password_, pos)) != std::string::npos; pos += 3) {
      message.replace(pos, password_.size(), "***");
    }
  }
  return message;
}

std::string Connection::failure(const std::string& doing, const PGresult* r) const {
  const char* why = r ? PQresultErrorMessage(r) : "";
  if (why == nullptr || *why == '\0') why = PQerrorMessage(conn_);
  return what_ + ": " + doing + ": " + scrub(why);
}

Connection::Transaction Connection::begin() {
  Result r(PQexec(conn_, "BEGIN"));
  return Transaction(ok(r.get()) ? this : nullptr);
}

Connection::Transaction::~Transaction() {
  if (c_) Result(PQexec(c_->conn_, "ROLLBACK"));
}

std::optional<std::string> Connection::Transaction::commit() {
  Connection* c = std::exchange(c_, nullptr);
  Result r(PQexec(c->conn_, "COMMIT"));
  // A COMMIT of a failed transaction reports success with ROLLBACK as its tag.
  if (ok(r.get()) && std::string_view(PQcmdStatus(r.get())) == "COMMIT") return std::nullopt;
  return c->failure("committing", r.get());
}

std::string dialect(std::string_view sql) {
  static constexpr std::pair<std::string_view, std::string_view> kWords[] = {
      {"INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
      {"INTEGER", "BIGINT"},
      {"REAL", "DOUBLE PRECISION"},
      {"BLOB", "BYTEA"},
  };
  auto word_char = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
  };
  std::string out;
  out.reserve(sql.size() + 256);
  for (std::size_t i = 0; i < sql.size();) {
    bool replaced = false;
    if (i == 0 || !word_char(sql[i - 1])) {
      for (const auto& [from, to] : kWords) {
        const std::size_t end = i + from.size();
        if (sql.substr(i, from.size()) == from && (end == sql.size() || !word_char(sql[end]))) {
          out += to;
          i = end;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += sql[i++];
  }
  return out;
}

std::optional<std::string> migrate(Connection& c, const schema::Family& family) {
  const char* version_name = family.version_name;
  const int target = static_cast<int>(family.steps.size());
  auto tx = c.begin();
  if (!tx) return c.failure("starting the schema transaction");
  // Held until this transaction ends: replicas starting together migrate one after the other.
  if (auto e = c.run("SELECT pg_advisory_xact_lock($1)", {num(kSchemaLock)}, "locking the schema"))
    return *e;
  if (auto e = c.exec_script(
          "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
          "creating the schema")) {
    return e;
  }
  auto v = c.exec("SELECT value FROM meta WHERE name = $1", {std::string(version_name)},
                  "reading the schema version");
  if (auto* e = std::get_if<std::string>(&v)) return *e;
  const PGresult* vr = std::get<Result>(v).get();
  const int current = PQntuples(vr) > 0 ? std::atoi(PQgetvalue(vr, 0, 0)) : 0;
  if (current > target) {
    return c.what() + ": its schema version is " + std::to_string(current) + " (" + version_name +
           "), newer than this gatehouse understands (" + std::to_string(target) +
           "): upgrade gatehouse";
  }
  for (int step = current; step < target; ++step) {
    if (auto e = c.exec_script(dialect(family.steps[std::size_t(step)]).c_str(),
                               "upgrading the schema to version " + std::to_string(step + 1))) {
      return e;
    }
  }
  if (current != target) {
    if (auto e = c.run("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO "
                       "UPDATE SET value = EXCLUDED.value",
                       {std::string(version_name), std::to_string(target)},
                       "recording the schema version"))
      return *e;
  }
  return tx.commit();
}

std::variant<std::unique_ptr<Connection>, std::string> open(const std::string& url,
                                                            const std::string& what,
                                                            const schema::Family& family) {
  auto opened = Connection::open(url, what);
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  auto& c = std::get<std::unique_ptr<Connection>>(opened);
  if (auto e = c->call([&] { return migrate(*c, family); })) return *e;
  return std::move(c);
}

}  // namespace gatehouse::store::pg
