// What the subcommands that read a configuration file share (keys, usage, logs, audit).
#pragma once

#include <boost/json/value.hpp>

#include <iosfwd>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "store/record_store.h"

namespace gatehouse::cli {

// The configuration at `path`, or null after printing its problems to `err`. A command that
// reads the store needs neither provider credentials nor JWT settings, so a file whose only
// problem is unset variables (secrets the operator's shell need not hold) still serves, unless
// the store path or a key's or role's name is built from one.
std::shared_ptr<const config::Config> load_config(const std::string& path, std::ostream& err);

// The configuration's record store, or null after saying why on `err` (no store: `what`
// are kept only with one, e.g. "records are kept").
std::unique_ptr<store::RecordStore> open_records(const config::Config& c, const std::string& path,
                                                 std::string_view what, std::ostream& err);

// The start, in Unix ms, of the window `since` (90m, 12h, 7d) that ends now; nullopt after
// saying on `err` that it is not a duration.
std::optional<std::int64_t> since_start_ms(const std::string& since, std::ostream& err);

// `v` as JSON text with every floating-point number written as a plain decimal (0.000684, 0,
// 12.5): Boost.JSON writes 6.84E-4 and 0E0, which spreadsheets and eyes misread.
std::string json_text(const boost::json::value& v);

// A JSON value when `text` is JSON (bodies, arguments, definitions), else the text itself; null
// when it is empty.
boost::json::value json_or_text(const std::string& text);

// Unix milliseconds as an ISO-8601 UTC time (seconds precision).
std::string utc_ms(std::int64_t ms);

// Rows as aligned columns (two spaces apart), the first row being the header.
void print_table(const std::vector<std::vector<std::string>>& rows, std::ostream& out);

}  // namespace gatehouse::cli
