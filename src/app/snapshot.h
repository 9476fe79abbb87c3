// One immutable, consistent view of the configuration and everything built from it. Requests
// pin the snapshot they started with; a reload publishes a new one and the old one dies with
// its last request (RCU by reference count).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "pipeline/pipeline.h"
#include "provider/adapter.h"
#include "route/router.h"

namespace gatehouse::app {

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  pipeline::Pipeline pipeline;
  route::Router router;
  std::map<std::string, std::unique_ptr<provider::Adapter>, std::less<>> providers;
  pipeline::Services services;
  std::string models_json;  // GET /v1/models, rendered once
  std::map<std::string, std::string, std::less<>> model_json;  // GET /v1/models/{id}

  Snapshot(std::shared_ptr<const config::Config> c, pipeline::Services s);

  // GET /v1/models for a caller holding `roles`: only the models they may use.
  std::string models_json_for(const std::vector<const config::RoleConfig*>& roles) const;
};

std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config,
                                               pipeline::Services services);

}  // namespace gatehouse::app
