// The long-lived services behind a snapshot (JWT verifier and its JWKS refresher, the key store
// with its watcher and executor, the kill switch). A reload builds new ones only for what changed.
#pragma once

#include <string>
#include <variant>

#include "config/config.h"
#include "pipeline/pipeline.h"

namespace gatehouse::app {

// Services for `config`, reusing those of `previous` (null at start) whose settings are the same.
// Returns what is wrong when one cannot start (an unreadable JWKS file, a store that cannot open).
std::variant<pipeline::Services, std::string> make_services(const config::Config& config,
                                                            const pipeline::Services* previous);

}  // namespace gatehouse::app
