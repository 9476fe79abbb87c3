// The admin API's entries in the audit chain, shared by its endpoints (admin.cpp, billing_api.cpp).
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "pipeline/context.h"
#include "runtime/snapshot.h"

namespace gatehouse::admin {

// Appends an admin action to the audit chain (when there is a store): never dropped; under a
// full record queue the caller waits (back-pressure).
void audit(const runtime::Snapshot& snapshot, const pipeline::RequestContext& ctx, std::string kind,
           std::string subject, boost::json::object detail);

}  // namespace gatehouse::admin
