#pragma once

#include <optional>
#include <string>

#include "config/load.h"

namespace gatehouse::config {

// Expands ${NAME} in a scalar. "$${" is a literal "${". On a missing variable or a malformed
// reference returns nullopt and sets `error` to a message naming the variable.
std::optional<std::string> expand_env(const std::string& value, const EnvLookup& env,
                                      std::string& error);

}  // namespace gatehouse::config
