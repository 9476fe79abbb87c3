#include "cli/billing_cli.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <ostream>

#include "billing/import.h"
#include "config/load.h"
#include "store/key_rules.h"
#include "store/store_open.h"

namespace gatehouse::cli {

void BillingCommand::add_to(CLI::App& billing) {
  billing.require_subcommand(1);
  auto* import = billing.add_subcommand(
      "import", "Import the Databricks DBU cost per project and day now (billing.databricks), replacing the covered days");
  import->add_option("-c,--config", config_path_, "YAML configuration file")->required();
}

int BillingCommand::run(std::ostream& out, std::ostream& err) const {
  // The import calls the workspace: the provider's credential must be there (a strict reading).
  auto loaded = config::load_file(config_path_);
  for (const auto& d : loaded.diagnostics) err << d.to_string() << '\n';
  if (!loaded.config) return 1;
  const config::Config& c = *loaded.config;
  if (!c.billing.databricks) {
    err << config_path_ << ": billing.databricks is not configured: nothing to import (docs/billing.md)\n";
    return 1;
  }
  auto opened = store::open_billing(c.store);
  if (auto* e = std::get_if<std::string>(&opened)) {
    err << c.store.field() << ": " << *e << '\n';
    return 1;
  }
  std::unique_ptr<store::BillingTable> table = std::move(std::get<0>(opened));
  // What goes wrong is said once, below, not also by the import's log lines.
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::critical);
  boost::asio::io_context io;
  http::UpstreamPools pools(io);
  provider::OAuthSources oauth;
  billing::ImportOutcome outcome;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, billing::import_costs(c, *table, pools, oauth, store::unix_now()),
                        [&](std::exception_ptr e, billing::ImportOutcome o) {
                          failure = e;
                          outcome = std::move(o);
                        });
  io.run();
  pools.close();
  spdlog::set_level(level);
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
  }
  if (!outcome.ok) {
    err << "billing import of " << outcome.from_day << ".." << outcome.to_day
        << " failed (the imported costs are as they were): " << outcome.error << '\n';
    return 1;
  }
  out << "imported " << outcome.rows << " rows (" << outcome.days << " days with Databricks usage) for "
      << outcome.from_day << ".." << outcome.to_day << '\n';
  return 0;
}

}  // namespace gatehouse::cli
