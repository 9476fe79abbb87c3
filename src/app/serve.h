#pragma once

#include <string>

namespace gatehouse::app {

// Serves the gateway with the configuration at `path` until SIGTERM/SIGINT; SIGHUP reloads it.
// Returns the process's exit code (1: the configuration or the listener failed).
int serve(const std::string& path);

}  // namespace gatehouse::app
