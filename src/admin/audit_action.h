// Appending an admin action to the audit chain: shared by the admin API's files.
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
