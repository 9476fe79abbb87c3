// One immutable, consistent view of the configuration and everything built from it. Requests
// pin the snapshot they started with; a reload publishes a new one and the old one dies with
// its last request (RCU by reference count). Built by the composition root (app/snapshot.cpp).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "pipeline/pipeline.h"
#include "provider/adapter.h"
#include "route/router.h"
#include "runtime/services.h"

namespace gatehouse::mcp {
class Upstream;
}
namespace gatehouse::runtime {

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  Services services;
  pipeline::Pipeline pipeline;
  route::Router router;
  std::map<std::string, std::unique_ptr<provider::Adapter>, std::less<>> providers;
  std::string models_json;  // GET /v1/models, rendered once
  std::map<std::string, std::string, std::less<>> model_json;  // GET /v1/models/{id}
  // Every MCP server's transport (mcp/upstream.h), by server name.
  std::map<std::string, std::shared_ptr<mcp::Upstream>, std::less<>> mcp_upstreams;

  Snapshot(std::shared_ptr<const config::Config> c, Services s, pipeline::Pipeline p);

  // GET /v1/models for a caller holding `roles`: only the models they may use.
  std::string models_json_for(const std::vector<const config::RoleConfig*>& roles) const;
};

}  // namespace gatehouse::runtime
