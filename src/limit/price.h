// What a request cost, from its usage and its model's price.
#pragma once

#include "config/config.h"
#include "core/usage.h"

namespace gatehouse::limit {

// US dollars: uncached input at input_per_million, cached input at cached_input_per_million
// (input_per_million when unset), output at output_per_million. 0 for a model without a price.
double cost_usd(const config::Price& price, const Usage& usage);

}  // namespace gatehouse::limit
