// The Responses API's stored responses in PostgreSQL (store/response_table.h): every gateway
// replica on the database sees the others' answers, so previous_response_id and GET
// /v1/responses/{id} work whichever replica a client reaches. Each call is one statement.
#include "store/pg_db.h"
#include "store/response_table.h"
#include "store/store_open.h"

namespace gatehouse::store {

namespace {

using pg::num;

class PgResponseTable final : public ResponseTable {
 public:
  explicit PgResponseTable(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

  std::optional<std::string> put(const ResponseRow& row) override {
    return c_->call([&]() -> std::optional<std::string> {
      auto r = c_->exec(
          "INSERT INTO responses (id, owner, created_ms, expires_ms, model, previous_response_id, "
          "input_items, "
          "response) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
          {row.id, row.owner, num(row.created_ms), num(row.expires_ms), row.model,
           row.previous_response_id, row.input_items, row.response},
          "storing response " + row.id);
      if (auto* e = std::get_if<std::string>(&r)) return *e;
      if (pg::changed(std::get<pg::Result>(r).get()) == 0) {
        return c_->what() + ": response " + row.id + " is stored already (kept as it was)";
      }
      return std::nullopt;
    });
  }

  std::variant<std::optional<ResponseRow>, std::string> get(const std::string& id,
                                                            std::int64_t now_ms) override {
    return c_->call([&]() -> std::variant<std::optional<ResponseRow>, std::string> {
      auto r = c_->exec(
          "SELECT id, owner, created_ms, expires_ms, model, previous_response_id, input_items, "
          "response "
          "FROM responses WHERE id = $1 AND expires_ms >= $2",
          {id, num(now_ms)}, "reading response " + id);
      if (auto* e = std::get_if<std::string>(&r)) return *e;
      const PGresult* q = std::get<pg::Result>(r).get();
      if (PQntuples(q) == 0) return std::optional<ResponseRow>();
      ResponseRow row;
      row.id = pg::text(q, 0, 0);
      row.owner = pg::text(q, 0, 1);
      row.created_ms = pg::i64(q, 0, 2);
      row.expires_ms = pg::i64(q, 0, 3);
      row.model = pg::text(q, 0, 4);
      row.previous_response_id = pg::text(q, 0, 5);
      row.input_items = pg::text(q, 0, 6);
      row.response = pg::text(q, 0, 7);
      return std::optional<ResponseRow>(std::move(row));
    });
  }

  std::variant<bool, std::string> remove(const std::string& id) override {
    auto n = c_->change("DELETE FROM responses WHERE id = $1", {id}, "deleting response " + id);
    if (auto* e = std::get_if<std::string>(&n)) return *e;
    return std::get<std::int64_t>(n) > 0;
  }

  std::variant<std::int64_t, std::string> expire(std::int64_t now_ms) override {
    return c_->change("DELETE FROM responses WHERE expires_ms < $1", {num(now_ms)},
                      "deleting expired responses");
  }

 private:
  std::unique_ptr<pg::Connection> c_;
};

}  // namespace

std::variant<std::unique_ptr<ResponseTable>, std::string> open_postgres_responses(
    const std::string& url) {
  return pg::open_as<ResponseTable, PgResponseTable>(url, "response store", schema::kResponses);
}

}  // namespace gatehouse::store
