// YAML file -> validated Config. Every problem found is reported with its place in the file,
// not just the first, so `gatehouse check-config` can list them all.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace gatehouse::config {

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem has no place (file unreadable)
  int column = 0;  // 1-based
  std::string message;
  bool warning = false;           // worth saying, but the file is accepted
  std::string to_string() const;  // "FILE:LINE:COL: message" ("FILE:LINE:COL: warning: message")
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when diagnostics is not empty
  std::vector<Diagnostic> diagnostics;
  // What is accepted but probably not meant (a limit for a key the file does not name); the
  // caller shows them: `serve` logs them, `check-config` prints them.
  std::vector<Diagnostic> warnings;
};

// Looks up an environment variable; tests inject their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

LoadResult load_file(const std::string& path, const EnvLookup& env = process_env());
LoadResult load_string(const std::string& yaml, const std::string& file_name,
                       const EnvLookup& env = process_env());

}  // namespace gatehouse::config
