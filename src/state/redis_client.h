// A Redis connection for the request path: commands encoded and replies parsed by hiredis's
// protocol code (redisFormatCommandArgv, redisReader), I/O on Asio sockets, on one thread of its
// own. Commands are pipelined on one connection, answered in order.
//
// A caller never waits longer than the timeout it names: `call` resumes on the caller's executor
// with the reply, or with an error when the timeout passes, the connection breaks or Redis is
// known to be away (then at once: no request pays a connect timeout). The connection comes back
// by itself (backoff 100 ms doubling to 2 s); one that stops answering (a paused or overloaded
// Redis) is dropped and made again.
//
// A subscriber (`subscribe`) is a second connection that only listens: each message on the
// channel goes to its callback (on the client's thread), and `on_connected` runs after every
// (re)subscription so the owner can read again what it may have missed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "config/config.h"

namespace gatehouse::state {

// A reply, copied out of hiredis's: what the scripts return (integers, strings, arrays).
struct RedisReply {
  enum Type { kNil, kInteger, kString, kStatus, kArray } type = kNil;
  long long integer = 0;
  std::string str;
  std::vector<RedisReply> elements;
  // An integer, or a string holding one (0 otherwise).
  long long as_int() const;
  double as_double() const;
};
// A reply, or what went wrong ("timed out after 50 ms", "connection refused", Redis's own error).
using RedisResult = std::variant<RedisReply, std::string>;

class RedisClient {
 public:
  // Starts the client's thread; it connects at once and keeps trying. Never throws for Redis
  // being away. `name` is for the log ("state").
  RedisClient(config::RedisConfig config, std::string name);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends `args` (a command and its arguments) and resumes on the caller's executor with the
  // reply, or an error once `timeout` has passed. `late` (may be empty) gets, on the caller's
  // executor, a result that came after the caller stopped waiting (to undo what it did).
  boost::asio::awaitable<RedisResult> call(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                           std::function<void(RedisResult)> late = {});
  // Sends `args`; `done` (may be empty) runs on the client's thread with the result.
  void post(const std::vector<std::string>& args, std::function<void(RedisResult)> done = {});
  // Makes this client a subscriber to `channel` (before anything else is sent). A subscriber
  // pings every few seconds and reconnects when nothing answers (a half-open connection).
  void subscribe(std::string channel, std::function<void(std::string_view message)> on_message);

  // Runs on the client's thread after every successful connect (the handshake answered; for a
  // subscriber, the subscription confirmed). Set before the first connect completes.
  void on_ready(std::function<void()> fn);
  // Fails everything pending, stops and joins the thread; later posts fail at once. Idempotent;
  // the destructor calls it. Call it while the callers' io_contexts still exist.
  void shutdown();

  // Connected and answering (best knowledge).
  bool up() const;
  // Runs `fn` on the client's thread.
  void dispatch(std::function<void()> fn);
  boost::asio::io_context& context() { return io_; }

  // The commands the client sends after every connect, before anything queued: AUTH, SELECT and
  // whatever the owner adds (SCRIPT LOAD); a failed one drops the connection.
  void on_connect(std::vector<std::vector<std::string>> commands);

  // "redis://host:port/db" without the password (logs).
  static std::string describe(const config::RedisConfig& config);

 private:
  struct Impl;
  boost::asio::io_context io_{1};
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

}  // namespace gatehouse::state
