// Builds the registry of long-lived services (runtime/services.h). A reload builds new ones only
// for what changed.
#pragma once

#include <string>
#include <variant>

#include "config/config.h"
#include "runtime/services.h"

namespace gatehouse::app {

// Services for `config`, reusing those of `previous` (null at start) whose settings are the same.
// Returns what is wrong when one cannot start (an unreadable JWKS file, a store that cannot open).
std::variant<runtime::Services, std::string> make_services(const config::Config& config,
                                                           const runtime::Services* previous);

}  // namespace gatehouse::app
