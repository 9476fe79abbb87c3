#include "store/store_executor.h"

#include <pthread.h>

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

}  // namespace gatehouse::store
