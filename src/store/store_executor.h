// Store calls off the request path: one thread, with its own io_context, runs them in order; a
// coroutine on a worker co_awaits the result and resumes on its own worker.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <type_traits>

#include "store/key_store.h"

namespace gatehouse::store {

class StoreExecutor {
 public:
  explicit StoreExecutor(std::shared_ptr<KeyStore> store);
  // Runs the calls already queued, then stops the thread. Callers' io_contexts still running get
  // their results; the results for stopped ones are dropped with their coroutines.
  ~StoreExecutor();
  StoreExecutor(const StoreExecutor&) = delete;
  StoreExecutor& operator=(const StoreExecutor&) = delete;

  // Runs fn(store) on the store thread and resumes the awaiting coroutine on its own executor
  // with the result; the caller's io_context counts the call as outstanding work until then. An
  // exception fn throws is rethrown in the coroutine. Calls run one at a time, in the order made.
  template <class T>
  boost::asio::awaitable<T> run(std::function<T(KeyStore&)> fn) {
    static_assert(std::is_default_constructible_v<T> && std::is_move_constructible_v<T>,
                  "the result travels as a completion argument");
    auto initiation = [this](auto handler, std::function<T(KeyStore&)> fn) {
      auto caller = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                        boost::asio::execution::outstanding_work.tracked);
      boost::asio::post(io_, [this, fn = std::move(fn), handler = std::move(handler),
                              caller = std::move(caller)]() mutable {
        std::exception_ptr error;
        T result{};
        try {
          result = fn(*store_);
        } catch (...) {
          error = std::current_exception();
        }
        boost::asio::post(
            caller, [handler = std::move(handler), error, result = std::move(result)]() mutable {
              std::move(handler)(error, std::move(result));
            });
      });
    };
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                       void(std::exception_ptr, T)>(
        std::move(initiation), boost::asio::use_awaitable, std::move(fn));
  }

  // Runs fn(store) on the store thread, in order with the calls around it, and waits for nothing:
  // for writes whose result only the store thread needs (mcp/pins.cpp). An exception fn throws is
  // logged and dropped.
  void post(std::function<void(KeyStore&)> fn);

  // The store thread's id (tests).
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  const std::shared_ptr<KeyStore> store_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace gatehouse::store
