#pragma once

#include <iosfwd>
#include <string>

namespace gatehouse::cli {

// `gatehouse check-config FILE`: validates a configuration file, printing FILE:LINE:COL: message
// per problem to `out`. Returns the exit code.
int check_config(const std::string& path, std::ostream& out);

}  // namespace gatehouse::cli
