#include "cli/check_config.h"

#include <ostream>

#include "config/load.h"

namespace gatehouse::cli {

int check_config(const std::string& path, std::ostream& out) {
  auto loaded = config::load_file(path);
  for (const auto& d : loaded.diagnostics) out << d.to_string() << '\n';
  for (const auto& w : loaded.warnings) out << w.to_string() << '\n';
  if (!loaded.config) return 1;
  const auto& c = *loaded.config;
  out << path << ": OK (" << c.providers.size() << " providers, " << c.models.size() << " models, " << c.keys.size()
      << " keys";
  if (c.mcp.enabled()) {
    out << ", " << c.mcp.servers.size() << " MCP servers, " << c.mcp.virtual_servers.size() << " virtual";
  }
  if (c.billing.databricks) {
    out << ", billing from databricks provider '" << c.billing.databricks->provider << "' warehouse "
        << c.billing.databricks->warehouse_id;
  }
  out << ")\n";
  return 0;
}

}  // namespace gatehouse::cli
