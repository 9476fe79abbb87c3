// `gatehouse keys create|list|revoke`: the keys kept in the store that a configuration file names
// (store.sqlite or store.postgres). Running gateways sharing that store see a change within about a second.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace gatehouse::cli {

class KeysCommand {
 public:
  // Adds create, list and revoke, with their options, under `keys` (the "keys" subcommand).
  void add_to(CLI::App& keys);

  // Runs the subcommand the command line chose, after parsing. Returns the exit code: 0 done,
  // 1 refused or failed (with a message on `err`). Only `keys create` prints a secret: once, as
  // the last line on `out`.
  int run(std::ostream& out, std::ostream& err) const;

 private:
  int create(std::ostream& out, std::ostream& err) const;
  int list(std::ostream& out, std::ostream& err) const;
  int revoke(std::ostream& out, std::ostream& err) const;

  CLI::App* create_cmd_ = nullptr;
  CLI::App* list_cmd_ = nullptr;
  CLI::App* revoke_cmd_ = nullptr;
  std::string config_path_;
  std::string name_;
  std::string role_;
  std::string project_;
  std::string expires_;
  std::vector<std::string> tags_;
  std::string format_ = "table";
};

}  // namespace gatehouse::cli
