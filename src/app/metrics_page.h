// GET /metrics: the registry's series (record/metrics.h) and the gauges sampled at scrape time —
// route target health, the record queue, trace export, build info.
#pragma once

#include <string>

#include "app/snapshot.h"

namespace gatehouse::app {

std::string render_metrics(const Snapshot& snapshot);

}  // namespace gatehouse::app
