// One way to open the store a configuration names (store.sqlite or store.postgres): every
// front end (the gateway's services, the CLI, the MCP gateway) calls these, never an engine's
// own opener, so a new engine is added here once.
//
// Each call opens its own connection (SQLite: its own handle on the file; PostgreSQL: its own
// libpq connection), as the engine-specific openers below do. Errors name the store; a
// PostgreSQL URL's password never appears in them.
#pragma once

#include <memory>
#include <string>
#include <variant>

#include "config/config.h"
#include "store/billing_table.h"
#include "store/key_store.h"
#include "store/mcp_tables.h"
#include "store/record_store.h"
#include "store/response_table.h"

namespace gatehouse::store {

// The store `cfg` names; an error message when it names none or it cannot be opened.
std::variant<std::unique_ptr<KeyStore>, std::string> open_key_store(const config::StoreConfig& cfg);
std::variant<std::unique_ptr<RecordStore>, std::string> open_records(
    const config::StoreConfig& cfg);
std::variant<std::unique_ptr<ResponseTable>, std::string> open_responses(
    const config::StoreConfig& cfg);
std::variant<std::unique_ptr<PinTable>, std::string> open_pins(const config::StoreConfig& cfg);
std::variant<std::unique_ptr<ApprovalTable>, std::string> open_approvals(
    const config::StoreConfig& cfg);
std::variant<std::unique_ptr<BillingTable>, std::string> open_billing(const config::StoreConfig& cfg);

// The PostgreSQL store at `url` (libpq connection URL): connects, creates or upgrades the
// schema (in a transaction under pg_advisory_xact_lock, so replicas starting together do not
// race) and prepares for calls. Same semantics as the SQLite openers; a connection that breaks
// is re-established once per call.
std::variant<std::unique_ptr<KeyStore>, std::string> open_postgres(const std::string& url);
std::variant<std::unique_ptr<RecordStore>, std::string> open_postgres_records(
    const std::string& url);
std::variant<std::unique_ptr<ResponseTable>, std::string> open_postgres_responses(
    const std::string& url);
std::variant<std::unique_ptr<PinTable>, std::string> open_postgres_pins(const std::string& url);
std::variant<std::unique_ptr<ApprovalTable>, std::string> open_postgres_approvals(
    const std::string& url);
std::variant<std::unique_ptr<BillingTable>, std::string> open_postgres_billing(const std::string& url);

}  // namespace gatehouse::store
