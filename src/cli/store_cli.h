// `gatehouse store migrate --from sqlite:FILE --to postgresql://...`: moves a SQLite store into
// an empty PostgreSQL database (store/store_copy.h), so a single gateway can grow into several
// replicas sharing keys, records, the audit chain and stored responses.
#pragma once

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace gatehouse::cli {

class StoreCommand {
 public:
  // Adds migrate (with --from and --to) under the "store" subcommand.
  void add_to(CLI::App& store);
  // migrate: exit 0 when every table was copied, 1 when nothing was (a message says why: the
  // target already holds rows, a store cannot be opened), 2 for a --from or --to it cannot read.
  int run(std::ostream& out, std::ostream& err) const;

 private:
  std::string from_, to_;
};

}  // namespace gatehouse::cli
