// `gatehouse billing import --config FILE`: imports the Databricks spend now (docs/billing.md),
// as the serving gateway does daily and POST /admin/v1/billing/import does on demand.
#pragma once

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace gatehouse::cli {

class BillingCommand {
 public:
  // Adds import (with --config) under the "billing" subcommand.
  void add_to(CLI::App& billing);
  // import: exit 0 when the import was stored (prints its rows and days), 1 when it failed (a
  // message says why; the imported costs stay as they were) or the config does not allow it.
  int run(std::ostream& out, std::ostream& err) const;

 private:
  std::string config_path_;
};

}  // namespace gatehouse::cli
