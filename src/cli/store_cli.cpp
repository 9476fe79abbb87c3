#include "cli/store_cli.h"

#include <CLI/CLI.hpp>

#include <ostream>

#include "cli/usage_errors.h"
#include "config/config.h"
#include "store/store_copy.h"

namespace gatehouse::cli {

void StoreCommand::add_to(CLI::App& store) {
  store.require_subcommand(1);
  auto* migrate = store.add_subcommand(
      "migrate",
      "Copy a SQLite store into an empty PostgreSQL database (keys, records, the audit chain, "
      "MCP tables, stored responses)");
  migrate->add_option("--from", from_, "The SQLite store: sqlite:FILE")->required();
  migrate
      ->add_option(
          "--to", to_,
          "The PostgreSQL database: postgresql://USER[:PASSWORD]@HOST:PORT/DB (without a password, "
          "libpq reads PGPASSWORD or ~/.pgpass)")
      ->required();
}

int StoreCommand::run(std::ostream& out, std::ostream& err) const {
  constexpr std::string_view kSqlite = "sqlite:";
  if (!from_.starts_with(kSqlite) || from_.size() == kSqlite.size()) {
    err << "--from must name a SQLite file as sqlite:FILE, e.g. sqlite:./gatehouse.db\n";
    return kUsageError;
  }
  if (!to_.starts_with("postgresql://") && !to_.starts_with("postgres://")) {
    err << "--to must be a PostgreSQL URL, e.g. "
           "postgresql://gatehouse@db.internal:5432/gatehouse\n";
    return kUsageError;
  }
  const std::string from = from_.substr(kSqlite.size());
  const std::string shown_to = config::redact_url_password(to_);
  out << "copying " << from << " into " << shown_to << '\n';
  auto error = store::copy_sqlite_to_postgres(
      from, to_, [&](const std::string& line) { out << "  " << line << '\n'; });
  if (error) {
    err << *error << '\n';
    return 1;
  }
  out << "done: point the gateways' store at postgres (store: {postgres: URL}) and run `gatehouse "
         "audit verify`\n";
  return 0;
}

}  // namespace gatehouse::cli
