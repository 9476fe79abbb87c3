// What the record stores (SQLite, PostgreSQL) share of their SQL: the usage column each summary
// groups by. Internal to gh_store.
#pragma once

#include "store/record_store.h"

namespace gatehouse::store {

// The usage table's column for `by` (a fixed name, never a value from outside).
inline const char* group_column(UsageGroup by) {
  switch (by) {
    case UsageGroup::kProject: return "project";
    case UsageGroup::kKey: return "key_name";
    case UsageGroup::kUser: return "user_name";
    case UsageGroup::kModel: return "model";
  }
  return "project";
}

}  // namespace gatehouse::store
