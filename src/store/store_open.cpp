#include "store/store_open.h"

namespace gatehouse::store {

namespace {

// Picks the engine `cfg` names.
template <class T>
std::variant<std::unique_ptr<T>, std::string> pick(
    const config::StoreConfig& cfg,
    std::variant<std::unique_ptr<T>, std::string> (*sqlite)(const std::string&),
    std::variant<std::unique_ptr<T>, std::string> (*postgres)(const std::string&)) {
  if (!cfg.postgres_url.empty()) return postgres(cfg.postgres_url);
  if (!cfg.sqlite_path.empty()) return sqlite(cfg.sqlite_path);
  return std::string("no store named (add store: {sqlite: PATH} or store: {postgres: URL})");
}

}  // namespace

std::variant<std::unique_ptr<KeyStore>, std::string> open_key_store(
    const config::StoreConfig& cfg) {
  return pick<KeyStore>(cfg, open_sqlite, open_postgres);
}
std::variant<std::unique_ptr<RecordStore>, std::string> open_records(
    const config::StoreConfig& cfg) {
  return pick<RecordStore>(cfg, open_sqlite_records, open_postgres_records);
}
std::variant<std::unique_ptr<ResponseTable>, std::string> open_responses(
    const config::StoreConfig& cfg) {
  return pick<ResponseTable>(cfg, open_sqlite_responses, open_postgres_responses);
}
std::variant<std::unique_ptr<PinTable>, std::string> open_pins(const config::StoreConfig& cfg) {
  return pick<PinTable>(cfg, open_sqlite_pins, open_postgres_pins);
}
std::variant<std::unique_ptr<ApprovalTable>, std::string> open_approvals(
    const config::StoreConfig& cfg) {
  return pick<ApprovalTable>(cfg, open_sqlite_approvals, open_postgres_approvals);
}

std::variant<std::unique_ptr<BillingTable>, std::string> open_billing(const config::StoreConfig& cfg) {
  return pick<BillingTable>(cfg, open_sqlite_billing, open_postgres_billing);
}

}  // namespace gatehouse::store
