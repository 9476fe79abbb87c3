#include "responses/state.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <set>

#include "pipeline/context.h"
#include "store/store_executor.h"

namespace gatehouse::responses {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr std::int64_t kSweepEveryMs = 3'600'000;

}  // namespace

Error store_unavailable(const std::string& why) {
  spdlog::error("responses: {}", why);
  Error e;
  e.kind = ErrorKind::kUnavailable;
  e.status = 503;
  e.retryable = true;
  e.code = "response_store_unavailable";
  e.message = "the gateway's response store could not be read; try again later";
  return e;
}

std::string owner_of(const pipeline::Identity& identity) {
  if (!identity.key_name.empty()) return "key:" + identity.key_name;
  if (!identity.user.empty()) return "user:" + identity.user;
  return "anonymous";
}

ResponseState::ResponseState(std::shared_ptr<store::ResponseTable> table, std::shared_ptr<store::StoreExecutor> executor)
    : table_(std::move(table)), executor_(std::move(executor)) {}

void ResponseState::put(store::ResponseRow row, int retention_days) {
  const std::int64_t now = now_ms();
  row.expires_ms = row.created_ms + std::int64_t(retention_days) * 86'400'000;
  std::int64_t last = last_sweep_ms_.load();
  const bool sweep = now - last >= kSweepEveryMs && last_sweep_ms_.compare_exchange_strong(last, now);
  executor_->post([table = table_, row = std::move(row), sweep, now](store::KeyStore&) {
    if (sweep) {
      auto swept = table->expire(now);
      if (auto* e = std::get_if<std::string>(&swept)) spdlog::warn("responses: {}", *e);
    }
    if (auto e = table->put(row)) spdlog::error("responses: response {} was not stored: {}", row.id, *e);
  });
}

boost::asio::awaitable<ResponseState::Found> ResponseState::get(std::string id, std::string owner) {
  // The call is named before it is awaited: GCC 12 destroys a lambda temporary in a co_await's
  // arguments too early.
  std::function<Found(store::KeyStore&)> call = [table = table_, id, now = now_ms()](store::KeyStore&) -> Found {
    return table->get(id, now);
  };
  Found found = co_await executor_->run<Found>(std::move(call));
  if (auto* row = std::get_if<std::optional<store::ResponseRow>>(&found); row && *row && (*row)->owner != owner) {
    row->reset();  // another caller's: as if there were none
  }
  co_return found;
}

boost::asio::awaitable<std::variant<bool, std::string>> ResponseState::remove(std::string id, std::string owner) {
  using Removed = std::variant<bool, std::string>;
  std::function<Removed(store::KeyStore&)> call = [table = table_, id, owner, now = now_ms()](store::KeyStore&) -> Removed {
    auto found = table->get(id, now);
    if (auto* e = std::get_if<std::string>(&found)) return *e;
    const auto& row = std::get<std::optional<store::ResponseRow>>(found);
    if (!row || row->owner != owner) return false;
    return table->remove(id);
  };
  co_return co_await executor_->run<Removed>(std::move(call));
}

boost::asio::awaitable<std::variant<std::vector<store::ResponseRow>, Error>> ResponseState::chain(std::string id,
                                                                                                   std::string owner,
                                                                                                   int max_chain) {
  // The walk runs on the store thread in one go: one hop to it whatever the chain's length.
  struct Walk {
    std::vector<store::ResponseRow> rows;  // newest first
    std::string missing;                   // the id that was not found
    std::string failure;                   // a store error
    bool too_long = false;
  };
  std::function<Walk(store::KeyStore&)> call = [table = table_, id, owner, max_chain, now = now_ms()](store::KeyStore&) {
    Walk w;
    std::string next = id;
    std::set<std::string> seen;
    while (!next.empty()) {
      if (int(w.rows.size()) >= max_chain || !seen.insert(next).second) {  // too long, or a loop
        w.too_long = true;
        break;
      }
      auto found = table->get(next, now);
      if (auto* e = std::get_if<std::string>(&found)) {
        w.failure = *e;
        break;
      }
      auto& row = std::get<std::optional<store::ResponseRow>>(found);
      if (!row || row->owner != owner) {
        w.missing = next;
        break;
      }
      next = row->previous_response_id;
      w.rows.push_back(std::move(*row));
    }
    return w;
  };
  Walk walk = co_await executor_->run<Walk>(std::move(call));
  if (!walk.failure.empty()) co_return store_unavailable(walk.failure);
  if (walk.too_long) {
    co_return Error::bad_request("the conversation behind previous_response_id '" + id + "' is longer than " +
                                     std::to_string(max_chain) + " responses (responses.max_chain); start a new one",
                                 "previous_response_id");
  }
  if (!walk.missing.empty()) {
    Error e = Error::bad_request(
        walk.missing == id ? "Previous response with id '" + id + "' not found. It was never stored (store: false), has expired or was "
                                                                  "deleted, or was made with another key."
                           : "Previous response with id '" + id + "' continues response '" + walk.missing +
                                 "', which is no longer stored (expired or deleted); start a new conversation.",
        "previous_response_id");
    e.code = "previous_response_not_found";
    co_return e;
  }
  std::reverse(walk.rows.begin(), walk.rows.end());
  co_return std::move(walk.rows);
}

}  // namespace gatehouse::responses
