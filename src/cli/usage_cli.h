// `gatehouse usage`: totals from the usage records in the store a configuration file names.
#pragma once

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace gatehouse::cli {

class UsageCommand {
 public:
  // Adds --config, --by, --since and --format to the "usage" subcommand.
  void add_to(CLI::App& usage);
  // Prints requests, errors, tokens and cost per group for requests since --since. Exit code 0,
  // or 1 with a message on `err`.
  int run(std::ostream& out, std::ostream& err) const;

 private:
  std::string config_path_;
  std::string by_ = "project";
  std::string since_ = "7d";
  std::string format_ = "table";
};

}  // namespace gatehouse::cli
