#include "mcp/tools.h"

#include <algorithm>
#include <boost/json.hpp>

#include "core/trace_context.h"

namespace gatehouse::mcp {

bool any_glob(const std::vector<std::string>& globs, std::string_view server, std::string_view tool) {
  std::string full;
  full.reserve(server.size() + 1 + tool.size());
  full.append(server).append("/").append(tool);
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return glob_match(g, full); });
}

std::string prefixed(std::string_view server, std::string_view tool) {
  std::string s;
  s.reserve(server.size() + 2 + tool.size());
  s.append(server).append("__").append(tool);
  return s;
}

std::optional<std::pair<std::string, std::string>> split_prefixed(const config::McpVirtualConfig& v,
                                                                  std::string_view name) {
  // Server names never contain "__" (config), so the first "__" ends the server part.
  const auto at = name.find("__");
  if (at == std::string_view::npos) return std::nullopt;
  std::string server(name.substr(0, at));
  if (std::find(v.servers.begin(), v.servers.end(), server) == v.servers.end()) return std::nullopt;
  return std::make_pair(std::move(server), std::string(name.substr(at + 2)));
}

bool roles_allow(const config::Config& config, const std::vector<const config::RoleConfig*>& roles,
                 std::string_view server, std::string_view tool) {
  if (!config.roles_defined) return true;
  return std::any_of(roles.begin(), roles.end(),
                     [&](const config::RoleConfig* r) { return r && any_glob(r->tools, server, tool); });
}

std::string canonical_definition(const boost::json::object& tool) {
  boost::json::object out;
  for (const char* k : {"name", "title", "description", "inputSchema", "outputSchema", "annotations"}) {
    if (auto* v = tool.if_contains(k)) out[k] = *v;
  }
  return boost::json::serialize(out);
}

std::string sha256_hex(std::string_view text) { return to_hex(config::sha256(text)); }

}  // namespace gatehouse::mcp
