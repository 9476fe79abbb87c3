#include "store/store_executor.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

namespace gatehouse::store {

StoreExecutor::StoreExecutor(std::shared_ptr<KeyStore> store)
    : store_(std::move(store)), work_(io_.get_executor()) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "gh-store");
    io_.run();
  });
}

StoreExecutor::~StoreExecutor() {
  work_.reset();
  thread_.join();
}

void StoreExecutor::post(std::function<void(KeyStore&)> fn) {
  boost::asio::post(io_, [this, fn = std::move(fn)] {
    try {
      fn(*store_);
    } catch (const std::exception& e) {
      spdlog::error("store call failed: {}", e.what());
    } catch (...) {
      spdlog::error("store call failed");
    }
  });
}

}  // namespace gatehouse::store
