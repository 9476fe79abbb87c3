// A queue of messages that one thread fills and one coroutine on another executor drains: how the
// stdio registry's thread hands a server's messages to the worker that serves the client. The
// producer never blocks and never runs the consumer's code; the consumer's next() completes on
// the consumer's own executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "core/error.h"
#include "mcp/upstream.h"

namespace gatehouse::mcp {

class Inbox {
 public:
  // What push() does with a message past `limit` unread ones.
  enum class Overflow {
    kFail,        // the stream ends with an error (a reply must not silently lose its response)
    kDropOldest,  // the oldest unread message is dropped and logged (the GET stream)
  };
  // `label` names the stream in logs ("mcp server 'files' GET stream").
  Inbox(std::size_t limit, Overflow overflow, std::string label);

  // Producer side, any thread.
  // Queues a message (moved from only when taken); false when the consumer is gone or the
  // stream already ended, and the caller may deliver it elsewhere.
  bool push(Message&& message);
  // No more messages: next() yields the queued ones, then the end.
  void finish();
  // The stream fails: next() yields the queued messages, then `error`, then the end.
  void fail(Error error);
  // Whether a consumer still reads it (not aborted, not ended).
  bool live() const;

  // Consumer side, one coroutine at a time.
  // The next message, the end (std::monostate) or the error that ended it. Waits on the calling
  // coroutine's executor; a cancelled wait (e.g. the loser of `||`) yields an Error.
  boost::asio::awaitable<std::variant<Message, std::monostate, Error>> next();
  // The consumer stops reading: queued messages are dropped, a pending next() ends at once,
  // later pushes are refused.
  void abort();

 private:
  void wake_locked();

  mutable std::mutex mu_;
  std::deque<Message> queue_;
  std::optional<Error> error_;
  bool ended_ = false;
  bool aborted_ = false;
  const std::size_t limit_;
  const Overflow overflow_;
  const std::string label_;
  std::size_t dropped_ = 0;
  // The consumer's pending wait, on its executor: the producer expires it (posted there) to wake it.
  std::shared_ptr<boost::asio::steady_timer> waiter_;
  boost::asio::any_io_executor waiter_executor_;
};

// A reply's messages read from an inbox; destroying it aborts the inbox.
class InboxStream : public MessageStream {
 public:
  explicit InboxStream(std::shared_ptr<Inbox> inbox) : inbox_(std::move(inbox)) {}
  ~InboxStream() override { inbox_->abort(); }
  boost::asio::awaitable<std::variant<Message, std::monostate, Error>> next() override {
    auto inbox = inbox_;  // alive for the whole wait
    co_return co_await inbox->next();
  }
  void abort() override { inbox_->abort(); }

 private:
  std::shared_ptr<Inbox> inbox_;
};

}  // namespace gatehouse::mcp
