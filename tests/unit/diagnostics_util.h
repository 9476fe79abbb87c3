// Looking at config diagnostics in a test.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "config/env.h"
#include "config/load.h"

namespace gatehouse::test_util {

// An environment with no variables set (a test's config names none it relies on).
inline config::EnvLookup no_env() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

// An environment holding exactly `vars`.
inline config::EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The diagnostics as "test.yaml:LINE:COL: message" lines, for failure output and searching.
inline std::string all(const config::LoadResult& r) {
  std::string s;
  for (const auto& d : r.diagnostics) s += d.to_string() + "\n";
  return s;
}

// The one diagnostic containing `needle` (a failure when there is not exactly one).
inline config::Diagnostic only(const config::LoadResult& r, const std::string& needle) {
  config::Diagnostic found;
  int n = 0;
  for (const auto& d : r.diagnostics) {
    if (d.message.find(needle) != std::string::npos) {
      found = d;
      ++n;
    }
  }
  EXPECT_EQ(n, 1) << "looking for '" << needle << "' in:\n" << all(r);
  return found;
}

}  // namespace gatehouse::test_util
