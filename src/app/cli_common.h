// What the subcommands that read a configuration file share (keys, usage).
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace gatehouse::app {

// The configuration at `path`, or null after printing its problems to `err`. A command that
// reads the store needs neither provider credentials nor JWT settings, so a file whose only
// problem is unset variables (secrets the operator's shell need not hold) still serves, unless
// the store path or a key's or role's name is built from one.
std::shared_ptr<const config::Config> load_config(const std::string& path, std::ostream& err);

// Rows as aligned columns (two spaces apart), the first row being the header.
void print_table(const std::vector<std::vector<std::string>>& rows, std::ostream& out);

}  // namespace gatehouse::app
