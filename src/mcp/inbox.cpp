#include "mcp/inbox.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace gatehouse::mcp {

namespace asio = boost::asio;

Inbox::Inbox(std::size_t limit, Overflow overflow, std::string label)
    : limit_(limit), overflow_(overflow), label_(std::move(label)) {}

bool Inbox::push(Message&& message) {
  std::lock_guard lock(mu_);
  if (aborted_ || ended_) return false;
  if (queue_.size() >= limit_) {
    if (overflow_ == Overflow::kFail) {
      queue_.clear();
      error_ = Error::upstream_protocol(label_ + ": more than " + std::to_string(limit_) +
                                        " messages the client has not read yet");
      ended_ = true;
      wake_locked();
      return true;  // taken (and lost with the stream): not for anyone else
    }
    queue_.pop_front();
    if (dropped_++ % 1000 == 0) {
      spdlog::warn("{}: more than {} unread messages; dropped the oldest ({} so far)", label_,
                   limit_, dropped_);
    }
  }
  queue_.push_back(std::move(message));
  wake_locked();
  return true;
}

void Inbox::finish() {
  std::lock_guard lock(mu_);
  if (ended_) return;
  ended_ = true;
  wake_locked();
}

void Inbox::fail(Error error) {
  std::lock_guard lock(mu_);
  if (ended_) return;
  error_ = std::move(error);
  ended_ = true;
  wake_locked();
}

bool Inbox::live() const {
  std::lock_guard lock(mu_);
  return !aborted_ && !ended_;
}

void Inbox::abort() {
  std::lock_guard lock(mu_);
  aborted_ = true;
  queue_.clear();
  wake_locked();
}

void Inbox::wake_locked() {
  if (!waiter_) return;
  // The timer belongs to the consumer's executor: touch it only there. An expiry in the past
  // also wakes a wait that has not started yet.
  asio::post(waiter_executor_,
             [w = std::move(waiter_)] { w->expires_at(asio::steady_timer::time_point{}); });
}

asio::awaitable<std::variant<Message, std::monostate, Error>> Inbox::next() {
  auto ex = co_await asio::this_coro::executor;
  while (true) {
    std::shared_ptr<asio::steady_timer> timer;
    std::optional<std::variant<Message, std::monostate, Error>> result;
    {
      std::lock_guard lock(mu_);
      if (aborted_) {
        result.emplace(std::monostate{});
      } else if (!queue_.empty()) {
        result.emplace(std::move(queue_.front()));
        queue_.pop_front();
      } else if (ended_) {
        if (error_) {
          result.emplace(std::move(*error_));
          error_.reset();
        } else {
          result.emplace(std::monostate{});
        }
      } else {
        timer = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
        waiter_ = timer;
        waiter_executor_ = ex;
      }
    }
    if (result) co_return std::move(*result);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
      std::lock_guard lock(mu_);
      waiter_.reset();
      Error e = Error::internal(label_ + ": the wait for the next message was cancelled");
      e.kind = ErrorKind::kUnavailable;
      e.status = 503;
      co_return e;
    }
  }
}

}  // namespace gatehouse::mcp
