#include "limit/price.h"

#include <algorithm>

namespace gatehouse::limit {

double cost_usd(const config::Price& price, const Usage& usage) {
  if (!price.set) return 0;
  const double cached_rate =
      price.cached_input_per_million >= 0 ? price.cached_input_per_million : price.input_per_million;
  const long long cached = std::clamp(usage.cached_input_tokens, 0LL, usage.input_tokens);
  const double uncached = double(usage.input_tokens - cached);
  return (uncached * price.input_per_million + double(cached) * cached_rate +
          double(usage.output_tokens) * price.output_per_million) /
         1e6;
}

}  // namespace gatehouse::limit
