// GET /metrics: the registry's series (record/metrics.h) and the gauges sampled at scrape time —
// route target health, the record queue, trace export, build info.
#pragma once

#include <string>

#include "runtime/snapshot.h"

namespace gatehouse::admin {

std::string render_metrics(const runtime::Snapshot& snapshot);

}  // namespace gatehouse::admin
