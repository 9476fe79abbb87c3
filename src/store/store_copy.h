// `gatehouse store migrate`: a SQLite store copied, table by table, into an empty PostgreSQL store.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace gatehouse::store {

// Copies every table of the SQLite store at `sqlite_path` (keys with their tags and change
// counter, usage, the inference log, the audit chain with its ids, hashes and recorded head — so
// `gatehouse audit verify` passes on the target — MCP tool calls, pins and approvals, stored
// responses) into the PostgreSQL store at `url`, in one transaction on each side: the source is
// read from one snapshot, and the target gets all of it or none. The source's schema is first
// brought up to date, the target's created. Refuses (an error naming the table) a target that
// already holds rows in any of these tables. `progress` gets one line per table copied. The
// URL's password never appears in a message.
std::optional<std::string> copy_sqlite_to_postgres(
    const std::string& sqlite_path, const std::string& url,
    const std::function<void(const std::string&)>& progress);

}  // namespace gatehouse::store
