#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/load.h"

namespace gatehouse::config {

// Expands ${NAME} in a scalar. "$${" is a literal "${". On a missing variable or a malformed
// reference returns nullopt and sets `error` to a message naming the variable. A variable that is
// set but empty expands to nothing; its name is added to `empty` when given (where a secret or a
// URL is required, that is an error the caller reports).
std::optional<std::string> expand_env(const std::string& value, const EnvLookup& env,
                                      std::string& error,
                                      std::vector<std::string>* empty = nullptr);

}  // namespace gatehouse::config
