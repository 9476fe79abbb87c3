#include "cli/usage_errors.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <string_view>
#include <vector>

namespace gatehouse::cli {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean X?" for the known name nearest to `given`, when one is near enough.
std::string suggestion(std::string_view given, const std::vector<std::string>& known) {
  const std::string* best = nullptr;
  std::size_t best_distance = 3;  // at most two edits away
  for (const auto& k : known) {
    if (std::size_t d = edit_distance(given, k); d < best_distance) {
      best_distance = d;
      best = &k;
    }
  }
  return best ? "; did you mean " + *best + "?" : std::string();
}

const CLI::Option* find_option(const CLI::App& app, std::string_view arg) {
  for (const CLI::Option* o : app.get_options()) {
    if (arg.starts_with("--") && o->check_lname(std::string(arg.substr(2)))) return o;
    if (!arg.starts_with("--") && arg.size() == 2 && o->check_sname(std::string(arg.substr(1)))) return o;
  }
  return nullptr;
}

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

std::string where(const CLI::App& app) {
  return app.get_parent() ? " for " + app.get_name() : std::string();
}

}  // namespace

std::optional<std::string> unknown_argument(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* current = &app;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.starts_with("-") && arg.size() > 1) {
      std::string_view name = arg.substr(0, arg.find('='));
      const CLI::Option* o = find_option(*current, name);
      if (!o && current != &app) o = find_option(app, name);  // --help, --version
      if (!o) return "unknown option " + std::string(name) + where(*current) + suggestion(name, option_names(*current));
      if (o->get_expected_min() > 0 && name.size() == arg.size()) ++i;  // its value follows
      continue;
    }
    auto subcommands = current->get_subcommands([](const CLI::App*) { return true; });
    if (subcommands.empty()) continue;  // a positional argument
    auto it = std::find_if(subcommands.begin(), subcommands.end(), [&](const CLI::App* s) { return s->check_name(std::string(arg)); });
    if (it == subcommands.end()) {
      std::vector<std::string> names;
      for (const auto* s : subcommands) names.push_back(s->get_name());
      return "unknown command '" + std::string(arg) + "'" + where(*current) + suggestion(arg, names);
    }
    current = *it;
  }
  return std::nullopt;
}

}  // namespace gatehouse::cli
