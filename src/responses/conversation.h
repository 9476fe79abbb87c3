// A Responses conversation as the gateway keeps it (pure functions over JSON text; no I/O): the
// items a request adds, the request rebuilt from the turns `previous_response_id` names, and the
// input items listing. Each turn is stored as its own input items and the response object the
// client got, so a conversation survives a change of provider: it is replayed as input items,
// which every target takes (translated to chat, or natively).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace gatehouse::responses {

// "resp_" + 32 hex digits (128 random bits).
std::string new_response_id();

// The request's own input as items, each with an id (a string input is one user message with an
// input_text part): what GET /v1/responses/{id}/input_items lists and what a later turn replays.
// A JSON array; the body must be a decoded Responses request. `last`: only the input's last
// `last` items (a request whose conversation was expanded keeps only the client's own at its end).
std::string own_input_items(std::string_view request_body, std::size_t last = std::string_view::npos);

// How many input items the request has of its own (a string input is one).
std::size_t count_input_items(std::string_view request_body);

// One earlier turn: its input items (own_input_items) and its response object.
struct Turn {
  std::string_view input_items;
  std::string_view response;
};

// `request_body` with `input` = every turn's input items and output (oldest turn first) followed
// by its own input, and without `previous_response_id`: the whole conversation, for any target.
// Output items are replayed as input items: messages as assistant messages, function calls as
// function_call items; reasoning items and built-in tools' calls are left out (they belong to the
// provider that made them). Ids and statuses are dropped.
std::variant<std::string, Error> expand(std::string_view request_body, const std::vector<Turn>& turns);

// `request_body` with a string `input` as the one user message item it stands for (a Databricks
// agent takes items only: a string would read as an embeddings request).
std::string with_input_items(std::string_view request_body);

// GET /v1/responses/{id}/input_items: a list object over `input_items` (a JSON array, oldest
// first). `ascending`: order=asc (default desc: newest first); `after`: an item id to start after;
// `limit` 1..100.
std::string list_input_items(std::string_view input_items, bool ascending, std::string_view after, std::size_t limit);

// The id of a Responses object (JSON text), "" when it has none.
std::string response_id(std::string_view response);

}  // namespace gatehouse::responses
