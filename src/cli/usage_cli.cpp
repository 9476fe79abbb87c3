#include "cli/usage_cli.h"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <cstdio>
#include <ostream>

#include "cli/cli_common.h"
#include "store/record_store.h"

namespace gatehouse::cli {

namespace {

std::string money(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", usd);
  return buf;
}

// A CSV field, quoted when it needs to be (RFC 4180).
std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void UsageCommand::add_to(CLI::App& usage) {
  usage.add_option("-c,--config", config_path_, "The gateway's YAML configuration (its store: sqlite or postgres)")->required();
  usage.add_option("--by", by_, "Group by project (default), key, user or model")
      ->check(CLI::IsMember({"project", "key", "user", "model"}));
  usage.add_option("--since", since_, "Requests of the last 90m, 12h, 7d (default), ...");
  usage.add_option("--format", format_, "table (default), csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
}

int UsageCommand::run(std::ostream& out, std::ostream& err) const {
  const auto since_ms = since_start_ms(since_, err);
  if (!since_ms) return 1;
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  auto opened = open_records(*c, config_path_, "usage is recorded", err);
  if (!opened) return 1;
  auto& records = *opened;
  const store::UsageGroup by = by_ == "key"     ? store::UsageGroup::kKey
                               : by_ == "user"  ? store::UsageGroup::kUser
                               : by_ == "model" ? store::UsageGroup::kModel
                                                : store::UsageGroup::kProject;
  auto summary = records.summarize_usage(by, *since_ms);
  if (auto* e = std::get_if<std::string>(&summary)) {
    err << *e << '\n';
    return 1;
  }
  const auto& rows = std::get<0>(summary);

  if (format_ == "json") {
    boost::json::array arr;
    for (const auto& r : rows) {
      arr.push_back(boost::json::object{{by_, r.group},
                                        {"requests", r.requests},
                                        {"errors", r.errors},
                                        {"input_tokens", r.input_tokens},
                                        {"output_tokens", r.output_tokens},
                                        {"cost_usd", r.cost_usd}});
    }
    out << json_text(arr) << '\n';
    return 0;
  }
  if (format_ == "csv") {
    out << by_ << ",requests,errors,input_tokens,output_tokens,cost_usd\n";
    for (const auto& r : rows) {
      out << csv(r.group) << ',' << r.requests << ',' << r.errors << ',' << r.input_tokens << ','
          << r.output_tokens << ',' << money(r.cost_usd) << '\n';
    }
    return 0;
  }
  if (rows.empty()) {
    out << "no requests in the last " << since_ << '\n';
    return 0;
  }
  std::string header = by_;
  for (char& ch : header) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  std::vector<std::vector<std::string>> table;
  table.push_back({header, "REQUESTS", "ERRORS", "INPUT_TOKENS", "OUTPUT_TOKENS", "COST_USD"});
  for (const auto& r : rows) {
    table.push_back({r.group.empty() ? "-" : r.group, std::to_string(r.requests), std::to_string(r.errors),
                     std::to_string(r.input_tokens), std::to_string(r.output_tokens), money(r.cost_usd)});
  }
  print_table(table, out);
  return 0;
}

}  // namespace gatehouse::cli
