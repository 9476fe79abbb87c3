// Tool names and who may call what: globs over "server/tool", the "{server}__{tool}" names of a
// virtual server, and the canonical form of a tool's definition that pinning compares.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/encoding.h"

namespace gatehouse::mcp {

using gatehouse::glob_match;  // core/encoding.h
// Whether any of `globs` matches "server/tool".
bool any_glob(const std::vector<std::string>& globs, std::string_view server, std::string_view tool);

// A virtual server's name for a tool (or prompt): "{server}__{tool}".
std::string prefixed(std::string_view server, std::string_view tool);
// The server and tool a prefixed name stands for, when `server` is one of `v`'s servers.
std::optional<std::pair<std::string, std::string>> split_prefixed(const config::McpVirtualConfig& v,
                                                                  std::string_view name);
// Many clients (Claude Code, OpenAI's function names) cap tool names at 64 characters.
constexpr std::size_t kClientNameLimit = 64;

// Whether a caller holding `roles` may call server/tool: with roles configured, one of them must
// allow it; without roles (roles_defined false) everyone may.
bool roles_allow(const config::Config& config, const std::vector<const config::RoleConfig*>& roles,
                 std::string_view server, std::string_view tool);

// What pinning compares: the tool's name, title, description, inputSchema, outputSchema and
// annotations, serialised in that order (members of nested objects as the server sent them).
std::string canonical_definition(const boost::json::object& tool);
// Lower-case hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

}  // namespace gatehouse::mcp
