// PostgreSQL plumbing every store table shares (libpq): one connection per store object, guarded
// by a mutex like the SQLite ones; parameterized statements only (values are never spliced into
// SQL text); one reconnect when the connection broke; versioned migrations that two replicas
// starting at once cannot race. Internal to gh_store: no other library includes this.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.h"
#include "store/schema.h"

namespace gatehouse::store::pg {

struct ResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultClear>;

// A statement parameter, sent as text; nullopt is SQL NULL.
using Param = std::optional<std::string>;
std::string num(std::int64_t v);
std::string num(double v);  // round-trips exactly ("%.17g")

// Reading a text-format result.
std::string text(const PGresult* r, int row, int col);
std::int64_t i64(const PGresult* r, int row, int col);
double f64(const PGresult* r, int row, int col);
inline bool is_null(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }
// The number of rows a command changed (PQcmdTuples).
std::int64_t changed(const PGresult* r);

// Advisory lock keys (pg_advisory_xact_lock), constants shared by every Gatehouse on a database.
// kSchemaLock serialises migrations at open; kAuditLock serialises appends to the audit chain.
inline constexpr std::int64_t kSchemaLock = 0x4748'5343'4845'4d41;  // "GHSCHEMA"
inline constexpr std::int64_t kAuditLock = 0x4748'4155'4449'5400;   // "GHAUDIT"

class Connection {
 public:
  // Connects to `url`; `what` names the store in messages (with the URL's password redacted,
  // e.g. "key store postgresql://gh:***@db/gh").
  static std::variant<std::unique_ptr<Connection>, std::string> open(const std::string& url,
                                                                     std::string what);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` with `params` ($1, $2, ...). Never null (a failure is a result holding the error).
  Result query(const char* sql, std::initializer_list<Param> params = {});
  Result query(const char* sql, std::span<const Param> params);
  // The same, as a value: the result, or "WHAT: doing: why".
  std::variant<Result, std::string> exec(const char* sql, std::initializer_list<Param> params,
                                         const std::string& doing);
  // The same, for a statement whose rows do not matter: nullopt, or what failed.
  std::optional<std::string> run(const char* sql, std::initializer_list<Param> params,
                                 const std::string& doing);
  // One statement as a whole call (call()): how many rows it changed, or what failed.
  std::variant<std::int64_t, std::string> change(const char* sql,
                                                 std::initializer_list<Param> params,
                                                 const std::string& doing);
  // One query as a whole call (call()): its rows, each made by `read(result, row_index)`, or what
  // failed.
  template <class Row, class Read>
  std::variant<std::vector<Row>, std::string> rows(const char* sql,
                                                   std::initializer_list<Param> params,
                                                   const std::string& doing, Read read) {
    return call([&]() -> std::variant<std::vector<Row>, std::string> {
      auto r = exec(sql, params, doing);
      if (auto* e = std::get_if<std::string>(&r)) return *e;
      const PGresult* q = std::get<Result>(r).get();
      std::vector<Row> out;
      out.reserve(static_cast<std::size_t>(PQntuples(q)));
      for (int i = 0; i < PQntuples(q); ++i) out.push_back(read(q, i));
      return out;
    });
  }
  // Runs `sql` (several statements allowed, no parameters: schema text only).
  std::optional<std::string> exec_script(const char* sql, const std::string& doing);

  static bool ok(const PGresult* r);
  // "WHAT: doing: why", with the password scrubbed from libpq's words.
  std::string failure(const std::string& doing, const PGresult* r = nullptr) const;
  const std::string& what() const { return what_; }

  // Runs `fn` (one whole call: a statement, or a transaction from BEGIN to COMMIT) under the
  // lock. When the connection was broken before or during it (a restarted server, a dropped
  // socket), reconnects once and runs `fn` again: a transaction that broke was rolled back by
  // the server, so running it again does it once. The one exception is a connection lost while
  // its COMMIT was in flight, when the server may have committed: a record batch may then be
  // written twice (an audit batch twice in the chain, still chained), which is rarer and better
  // than losing it.
  template <class F>
  auto call(F&& fn) -> std::invoke_result_t<F&> {
    std::lock_guard lock(mu_);
    if (broken()) reset();
    auto out = fn();
    if (broken() && reset()) out = fn();
    return out;
  }

  // A transaction that rolls back unless committed. Call inside call().
  class Transaction {
   public:
    explicit Transaction(Connection* c) : c_(c) {}
    Transaction(Transaction&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    ~Transaction();
    explicit operator bool() const { return c_ != nullptr; }
    std::optional<std::string> commit();

   private:
    Connection* c_;
  };
  Transaction begin();

 private:
  Connection(PGconn* conn, std::string what, std::string password)
      : conn_(conn), what_(std::move(what)), password_(std::move(password)) {}
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  bool reset();
  std::string scrub(std::string message) const;

  std::mutex mu_;  // one call at a time: a libpq connection is not shareable
  PGconn* conn_;
  const std::string what_;
  const std::string password_;  // only to scrub it from libpq's messages
};

// A schema step written in SQLite's dialect (schema.h) in PostgreSQL's, whole words only:
// INTEGER PRIMARY KEY (SQLite's rowid alias) becomes BIGINT GENERATED BY DEFAULT AS IDENTITY
// PRIMARY KEY (ids the database assigns unless a row gives its own), INTEGER becomes BIGINT
// (SQLite's integers are 64-bit: unix milliseconds), REAL DOUBLE PRECISION, BLOB BYTEA.
std::string dialect(std::string_view sqlite_sql);

// Brings `family` (its version is a row of the `meta` table) to family.steps.size() in one
// transaction that first takes pg_advisory_xact_lock(kSchemaLock): a second opener waits there,
// then finds the work done. Each table family keeps its own version, as in SQLite.
std::optional<std::string> migrate(Connection& c, const schema::Family& family);

// Connects and migrates: the common start of every PostgreSQL store object.
std::variant<std::unique_ptr<Connection>, std::string> open(const std::string& url,
                                                            const std::string& what,
                                                            const schema::Family& family);

// open() for a store object: `Impl` (an `Interface` built from the connection) at `url`; `what`
// names it in messages ("key store"), followed by the URL with its password redacted.
template <class Interface, class Impl>
std::variant<std::unique_ptr<Interface>, std::string> open_as(const std::string& url,
                                                              const std::string& what,
                                                              const schema::Family& family) {
  auto c = open(url, what + " " + config::redact_url_password(url), family);
  if (auto* e = std::get_if<std::string>(&c)) return *e;
  return std::unique_ptr<Interface>(
      std::make_unique<Impl>(std::move(std::get<std::unique_ptr<Connection>>(c))));
}

}  // namespace gatehouse::store::pg
