// The stored responses of the Responses API (store/response_table.h) as the gateway uses them:
// reads and deletes awaited off the request path on the store executor, writes queued to it (in
// order with the reads after them: a client that sends its next turn as soon as it has an answer
// finds the answer stored), ownership (a response is its maker's: another caller gets what a
// missing one gets), the chain a previous_response_id names, and expiry.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/error.h"
#include "store/response_table.h"

namespace gatehouse::store {
class StoreExecutor;
}
namespace gatehouse::pipeline {
struct Identity;
}

namespace gatehouse::responses {

// The store failed (`why` names the file): logged; the client's 503, which does not.
Error store_unavailable(const std::string& why);

// Who owns what a caller stores: "key:NAME", "user:SUBJECT", or "anonymous" (no auth configured).
std::string owner_of(const pipeline::Identity& identity);

class ResponseState {
 public:
  ResponseState(std::shared_ptr<store::ResponseTable> table, std::shared_ptr<store::StoreExecutor> executor);

  // Queues `row` for the store, to expire `retention_days` after it was made; an hour after the
  // last sweep, expired rows are swept first.
  void put(store::ResponseRow row, int retention_days);

  using Found = std::variant<std::optional<store::ResponseRow>, std::string>;
  // The row `id` when `owner` made it (nullopt for none, expired, or another's); a store error as
  // a message.
  boost::asio::awaitable<Found> get(std::string id, std::string owner);
  // Deletes the row `id` when `owner` made it; false when there was none for them.
  boost::asio::awaitable<std::variant<bool, std::string>> remove(std::string id, std::string owner);
  // The turns ending at `id`, oldest first, following previous_response_id at most `max_chain`
  // links: a 400 naming a response that is missing (never stored, expired, deleted, another's) or
  // a chain that is too long; a 503 when the store fails.
  boost::asio::awaitable<std::variant<std::vector<store::ResponseRow>, Error>> chain(std::string id, std::string owner,
                                                                                      int max_chain);

 private:
  const std::shared_ptr<store::ResponseTable> table_;
  const std::shared_ptr<store::StoreExecutor> executor_;
  std::atomic<std::int64_t> last_sweep_ms_{0};
};

}  // namespace gatehouse::responses
