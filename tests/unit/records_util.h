// Opening a record store in a test: the store, or a recorded failure and null.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/record_store.h"

namespace gatehouse::test_util {

inline std::unique_ptr<store::RecordStore> open_records(const std::string& path) {
  auto opened = store::open_sqlite_records(path);
  if (auto* e = std::get_if<std::string>(&opened)) {
    ADD_FAILURE() << *e;
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<store::RecordStore>>(opened));
}

}  // namespace gatehouse::test_util
