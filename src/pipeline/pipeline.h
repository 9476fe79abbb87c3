#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "pipeline/stage.h"

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

// What stages use beyond the config: long-lived, thread-safe services that outlive a snapshot
// (a reload keeps them when their settings did not change; app/services.cpp builds them).
struct Services {
  std::shared_ptr<const identity::JwtVerifier> jwt;       // null without auth.jwt
  std::shared_ptr<const store::KeyWatcher> stored_keys;   // null without a store
  std::shared_ptr<store::KeyStore> key_store;             // null without a store
  std::shared_ptr<store::StoreExecutor> store_executor;   // runs key_store calls off the workers
  std::shared_ptr<KillSwitch> kills;                      // never null
  std::shared_ptr<limit::Limiter> limiter;                // never null: rate-limit counters
  std::shared_ptr<route::TargetHealth> health;            // never null: route targets' health
  std::shared_ptr<limit::Budgets> budgets;                // null without a store
  std::shared_ptr<store::RecordStore> records;            // null without a store
  std::shared_ptr<record::RecordWriter> writer;           // null without a store
  std::shared_ptr<record::Metrics> metrics;               // never null (exposed when metrics.enabled)
  std::shared_ptr<record::TraceExporter> tracer;          // null without tracing
  // What the shared parts were built from (a reload reuses them when these did not change).
  std::shared_ptr<const config::JwtConfig> jwt_config;
  std::string store_path;
};

class Pipeline {
 public:
  // The stages for `config`, in the one order the gateway applies them (see pipeline.cpp).
  // `config` must outlive the pipeline (both live in one snapshot).
  static Pipeline build(const config::Config& config, const Services& services);

  // Runs every stage's on_request in order until one answers.
  Decision on_request(RequestContext& ctx) const;
  // Runs every stage's on_routed in order until one answers.
  Decision on_routed(RequestContext& ctx) const;
  // Runs every stage's on_settled, in reverse order, once the answer is decided (stage.h).
  void on_settled(const RequestContext& ctx) const noexcept;
  // Runs every stage's on_complete, in reverse order (the outermost stage sees everything).
  void on_complete(const RequestContext& ctx) const noexcept;

  std::size_t size() const { return stages_.size(); }

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace gatehouse::pipeline
