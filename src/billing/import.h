// One billing import: the query run on the configured warehouse through the Statement Execution
// API (submit, poll while PENDING/RUNNING within a bounded time, read every chunk), its rows
// stored in place of the covered days' rows in one transaction, and the outcome recorded as the
// last import. Used by the serving process (billing/service.h) and `gatehouse billing import`.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "http/upstream.h"
#include "provider/oauth.h"
#include "store/billing_table.h"

namespace gatehouse::billing {

struct ImportOutcome {
  bool ok = false;
  std::int64_t rows = 0;  // day-and-project rows stored
  std::int64_t days = 0;  // days with usage among them
  std::string from_day, to_day;
  std::string error;      // why it failed; never holds a credential
};

// How long an import may take at most (submit, polls, chunks), and the first poll's delay (it
// doubles up to 5 s).
struct ImportLimits {
  std::chrono::milliseconds total{10 * 60 * 1000};
  std::chrono::milliseconds first_poll{200};
};

// Imports the `config.billing.databricks` days ending today (UTC, `now` in unix seconds) with the
// provider's host and credential (its token, or an OAuth M2M token from `oauth`), on the calling
// io_context with `pools` (that context's). Records the outcome in `table` whatever it is; a
// failure leaves the imported rows as they were. `table` calls block: run on a thread that may.
boost::asio::awaitable<ImportOutcome> import_costs(const config::Config& config, store::BillingTable& table,
                                                  http::UpstreamPools& pools, provider::OAuthSources& oauth,
                                                  std::int64_t now, ImportLimits limits = {});

}  // namespace gatehouse::billing
