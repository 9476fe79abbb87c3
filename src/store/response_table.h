// What the gateway keeps of Responses API answers (table `responses`): each stored response with
// its owner, its own input items and the response object as the client got it, so that
// `previous_response_id` can rebuild a conversation for any provider and GET / DELETE
// /v1/responses/{id} and its input_items can answer (gateway/responses_api.cpp,
// responses/state.h). Shared by every gateway on the store.
//
// Plain blocking calls, thread-safe, errors as values (a message naming the store); no Asio, so a
// PostgreSQL store can implement the same interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gatehouse::store {

struct ResponseRow {
  std::string id;                    // the response's id ("resp_...")
  std::string owner;                 // who made it: "key:NAME" or "user:SUBJECT"
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;       // deleted after this (responses.retention_days)
  std::string model;                 // as the client named it
  std::string previous_response_id;  // the response it continued ("" none)
  std::string input_items;           // JSON array: this request's own input items, each with an id
  std::string response;              // JSON object: the Responses object as the client got it
};

class ResponseTable {
 public:
  virtual ~ResponseTable() = default;
  // Stores `row`. A row with the same id stays as it was (an id a provider reused must not take
  // over another caller's response): an error saying so.
  virtual std::optional<std::string> put(const ResponseRow& row) = 0;
  // The row `id` unless it expired before `now_ms`; nullopt when there is none.
  virtual std::variant<std::optional<ResponseRow>, std::string> get(const std::string& id, std::int64_t now_ms) = 0;
  // Deletes the row `id`; false when there was none.
  virtual std::variant<bool, std::string> remove(const std::string& id) = 0;
  // Deletes the rows that expired before `now_ms`; how many.
  virtual std::variant<std::int64_t, std::string> expire(std::int64_t now_ms) = 0;
};

// The table in the SQLite file at `path` (the file of the key store and the records): created on
// open (schema `responses.schema_version` in `meta`), WAL, synchronous=NORMAL (a crash may lose
// the last responses stored, never the file's consistency).
std::variant<std::unique_ptr<ResponseTable>, std::string> open_sqlite_responses(const std::string& path);

}  // namespace gatehouse::store
