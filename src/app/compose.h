// The composition root's wiring of one snapshot: the stages in their order, the provider
// adapters, over the long-lived services.
#pragma once

#include <memory>

#include "config/config.h"
#include "pipeline/pipeline.h"
#include "runtime/services.h"
#include "runtime/snapshot.h"

namespace gatehouse::app {

// The stages for `config`, in the one order the gateway applies them (compose.cpp says why each
// stands where it does). `config` must outlive the pipeline (both live in one snapshot).
pipeline::Pipeline build_pipeline(const config::Config& config, const runtime::Services& services);

// The snapshot for `config`: its pipeline, router and provider adapters over `services`.
std::shared_ptr<const runtime::Snapshot> build_snapshot(std::shared_ptr<const config::Config> config,
                                                        runtime::Services services);

}  // namespace gatehouse::app
