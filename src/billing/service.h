// The billing imports of a serving gateway: one thread of its own (off the request workers) with
// its own io_context and upstream pools runs the daily import at billing.databricks.at (UTC), one
// at start when no import succeeded in the last 24 hours, and the imports an administrator asks
// for (POST /admin/v1/billing/import). Replicas sharing a store take the daily import with a
// claim on the store's billing_import row (store/billing_table.h): one of them runs it.
//
// A long-lived service (runtime::Services::billing, kept across reloads while the store is the
// same); configure() gives it each new configuration.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "billing/import.h"
#include "config/config.h"
#include "http/upstream.h"
#include "provider/oauth.h"
#include "store/billing_table.h"

namespace gatehouse::billing {

class BillingService {
 public:
  BillingService(std::shared_ptr<store::BillingTable> table, std::shared_ptr<provider::OAuthSources> oauth);
  // Stops the thread: an import in progress is abandoned (its transaction, if any, not begun or
  // rolled back).
  ~BillingService();
  // The same, early: called by serve once the request workers have stopped (their io_contexts
  // still exist), so nothing of the billing thread outlives them. Safe to call twice.
  void stop();
  BillingService(const BillingService&) = delete;
  BillingService& operator=(const BillingService&) = delete;

  // The configuration imports use from now on (at start and after each reload). Re-arms the daily
  // timer when billing is configured (and, the first time, checks whether an import is due now);
  // stops it when not.
  void configure(std::shared_ptr<const config::Config> config);

  // Whether billing.databricks is configured now.
  bool configured() const;

  // Imports now on the billing thread and resumes the caller on its own executor with the outcome.
  // An import already running makes this one fail at once (ImportOutcome::error says so, busy).
  boost::asio::awaitable<ImportOutcome> import_now();

  // The table imports write and the admin API reads (its calls block: run them off the workers).
  const std::shared_ptr<store::BillingTable>& table() const { return table_; }

  // The message of an import refused because another one is running.
  static constexpr std::string_view kBusy = "an import is already running; try again when it has finished";

 private:
  boost::asio::awaitable<ImportOutcome> run_import();
  boost::asio::awaitable<void> schedule(std::uint64_t generation, bool check_at_start);
  std::shared_ptr<const config::Config> config() const;

  const std::shared_ptr<store::BillingTable> table_;
  const std::shared_ptr<provider::OAuthSources> oauth_;
  // Pointers, to be destroyed in order after the thread stopped: the pools closed, then the
  // io_context (and the coroutine frames it still holds, which may give connections back), then
  // the pools.
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<http::UpstreamPools> pools_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  mutable std::mutex mu_;
  std::shared_ptr<const config::Config> config_;
  // Billing thread only:
  std::optional<config::DatabricksBillingConfig> scheduled_;  // what the timer is armed for
  std::uint64_t generation_ = 0;  // a schedule() loop of an older generation ends
  std::shared_ptr<boost::asio::steady_timer> timer_;
  bool running_ = false;
  bool started_ = false;  // the check at start was made
  std::thread thread_;
};

}  // namespace gatehouse::billing
