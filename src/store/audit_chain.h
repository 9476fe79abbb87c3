// The audit chain's rules, shared by every record store (SQLite, PostgreSQL): how a row is
// hashed, and how a chain read back in id order is checked. Internal to gh_store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/record_store.h"

namespace gatehouse::store {

// The previous-hash of the first row.
inline constexpr const char* kAuditZeroHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The hash of an audit row: SHA-256 over its id, content and the previous row's hash, each field
// length-prefixed (so no two different rows serialise alike). Lower-case hex.
std::string audit_hash(std::int64_t id, const AuditRecord& r, const std::string& prev_hash);

// Where the next audit row goes, given the table's last row (`id`, `prev`: 0 and kAuditZeroHash
// when empty) and the recorded head ("ID:HASH" in meta 'audit.head', if any): the recorded head
// wins when it is further, so rows deleted from the end stay a visible gap instead of being
// papered over by the next append. Updates `id` and `prev` in place.
void audit_continue_from(const std::optional<std::string>& recorded, std::int64_t& id, std::string& prev);

// Walks a chain read in id order. add() each row until it returns false (the first bad row is
// found), then finish() with the recorded head ("ID:HASH" in meta 'audit.head', if any).
class AuditCheck {
 public:
  bool add(std::int64_t id, const AuditRecord& r, const std::string& prev_hash,
           const std::string& hash);
  AuditVerdict finish(const std::optional<std::string>& head);
  // What the last good row's head is: "ID:HASH" (the next append chains after it).
  std::string head() const { return std::to_string(expected_id_ - 1) + ":" + prev_; }

 private:
  void bad(std::int64_t id, std::string problem);
  AuditVerdict v_;
  std::int64_t expected_id_ = 1;
  std::string prev_ = kAuditZeroHash;
};

}  // namespace gatehouse::store
