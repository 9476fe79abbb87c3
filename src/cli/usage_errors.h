// Usage errors of the command line, said plainly: an unknown command or option is named, with the
// nearest known one ("unknown option --confg for serve; did you mean --config?"), before CLI11's
// own checks (which would first complain that --config is missing). Usage errors exit 2.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace gatehouse::cli {

constexpr int kUsageError = 2;

// The first unknown command or option in `argv` for `app`'s commands, as a message; nullopt when
// every command and option is known (values are not checked here).
std::optional<std::string> unknown_argument(const CLI::App& app, int argc, const char* const* argv);

}  // namespace gatehouse::cli
