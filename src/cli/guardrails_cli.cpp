#include "cli/guardrails_cli.h"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <iostream>
#include <iterator>
#include <ostream>

#include "cli/cli_common.h"
#include "pipeline/guard.h"

namespace gatehouse::cli {

namespace json = boost::json;

void GuardrailsCommand::add_to(CLI::App& guardrails) {
  guardrails.require_subcommand(1);
  auto* test = guardrails.add_subcommand("test", "Show what a guardrail finds in a text and what would go on");
  test->add_option("-c,--config", config_path_, "The gateway's YAML configuration")->required();
  test->add_option("-g,--guardrail", guardrail_, "The guardrail's name (under guardrails:)")->required();
  test->add_option("text", text_, "The text to scan ('-' reads it from standard input)")->required();
  test->add_option("--format", format_, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
}

int GuardrailsCommand::run(std::ostream& out, std::ostream& err) const {
  auto c = load_config(config_path_, err);
  if (!c) return 1;
  std::string text = text_;
  if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto report = pipeline::test_guardrail(*c, guardrail_, text);
  if (auto* e = std::get_if<Error>(&report)) {
    err << "error: " << e->message << "\n";
    return 1;
  }
  const std::string& body = std::get<std::string>(report);
  if (format_ == "json") {
    out << body << "\n";
    return 0;
  }
  json::value v = json::parse(body);
  const auto& o = v.get_object();
  const auto& matches = o.at("matches").get_array();
  out << "guardrail " << o.at("guardrail").get_string().c_str() << " (" << o.at("kind").get_string().c_str()
      << "): " << matches.size() << (matches.size() == 1 ? " match" : " matches") << "\n";
  std::vector<std::vector<std::string>> rows{{"ENTITY", "ACTION", "SPAN", "TEXT"}};
  for (const auto& m : matches) {
    const auto& mo = m.get_object();
    rows.push_back({std::string(mo.at("entity").get_string()), std::string(mo.at("action").get_string()),
                    "[" + std::to_string(mo.at("start").to_number<std::int64_t>()) + "," +
                        std::to_string(mo.at("end").to_number<std::int64_t>()) + ")",
                    std::string(mo.at("text").get_string())});
  }
  if (!matches.empty()) print_table(rows, out);
  out << "result: " << o.at("result").get_string().c_str() << "\n";
  if (o.at("output").is_string()) out << "output: " << o.at("output").get_string().c_str() << "\n";
  return 0;
}

}  // namespace gatehouse::cli
