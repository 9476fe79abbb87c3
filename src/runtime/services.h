// The registry of long-lived services: everything that must outlive a config snapshot — the JWT
// verifier and its JWKS refresher, the key store with its watcher and executor, the kill switch,
// rate-limit counters, target health, the budget ledger, the record store and writer, metrics,
// the trace exporter, OAuth token sources and every worker's upstream connection pools. Built
// by app/services.cpp; a reload builds new ones only for what changed (the limiter, health,
// pools and token sources never: a reload never resets a limit or drops a connection). A
// snapshot holds a copy of these handles; all are thread-safe (pools: per worker).
#pragma once

#include <memory>
#include <string>

#include "config/config.h"

namespace gatehouse::identity {
class JwtVerifier;
}
namespace gatehouse::store {
class KeyStore;
class KeyWatcher;
class StoreExecutor;
class RecordStore;
}  // namespace gatehouse::store
namespace gatehouse::limit {
class Limiter;
class Budgets;
}  // namespace gatehouse::limit
namespace gatehouse::record {
class RecordWriter;
class Metrics;
class TraceExporter;
}  // namespace gatehouse::record
namespace gatehouse::route {
class TargetHealth;
}
namespace gatehouse::pipeline {
class KillSwitch;
}
namespace gatehouse::provider {
class OAuthSources;
}
namespace gatehouse::mcp {
class ToolPins;
class Approvals;
class StdioProcesses;
class Sessions;
}  // namespace gatehouse::mcp
namespace gatehouse::responses {
class ResponseState;
}
namespace gatehouse::state {
class SharedState;
}
namespace gatehouse::billing {
class BillingService;
}
namespace gatehouse::runtime {

class WorkerPools;

struct Services {
  std::shared_ptr<const identity::JwtVerifier> jwt;       // null without auth.jwt
  std::shared_ptr<const store::KeyWatcher> stored_keys;   // null without a store
  std::shared_ptr<store::KeyStore> key_store;             // null without a store
  std::shared_ptr<store::StoreExecutor> store_executor;   // runs key_store calls off the workers
  std::shared_ptr<pipeline::KillSwitch> kills;            // never null
  std::shared_ptr<limit::Limiter> limiter;                // never null: rate-limit counters
  std::shared_ptr<route::TargetHealth> health;            // never null: route targets' health
  // null without state.redis: limits, budgets, kills and health shared with other replicas
  std::shared_ptr<state::SharedState> shared;
  std::shared_ptr<limit::Budgets> budgets;                // null without a store
  std::shared_ptr<store::RecordStore> records;            // null without a store
  std::shared_ptr<record::RecordWriter> writer;           // null without a store
  std::shared_ptr<responses::ResponseState> responses;    // null without a store: stored Responses answers
  std::shared_ptr<billing::BillingService> billing;       // null without a store: imported costs (billing:)
  std::shared_ptr<record::Metrics> metrics;               // never null (exposed when metrics.enabled)
  std::shared_ptr<record::TraceExporter> tracer;          // null without tracing
  std::shared_ptr<provider::OAuthSources> oauth;          // never null: one token source per credential
  std::shared_ptr<WorkerPools> pools;                     // never null: upstream connections per worker
  // MCP (null without mcp.servers): pinned tool definitions, held calls, stdio processes, and
  // what the gateway knows of its sessions (mcp/session.h).
  std::shared_ptr<mcp::ToolPins> pins;
  std::shared_ptr<mcp::Approvals> approvals;
  std::shared_ptr<mcp::StdioProcesses> stdio;
  std::shared_ptr<mcp::Sessions> mcp_sessions;
  // What the shared parts were built from (a reload reuses them when these did not change).
  std::shared_ptr<const config::JwtConfig> jwt_config;
  // The store's source (config::StoreConfig::source(): the SQLite file, or the PostgreSQL URL,
  // password included — compared, never printed).
  std::string store_path;
};

}  // namespace gatehouse::runtime
