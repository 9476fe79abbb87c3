// `gatehouse guardrails test --config FILE --guardrail NAME "text"`: what a guardrail finds in a
// text, and the text as it would go on — so users can try their patterns before they ship them.
#pragma once

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace gatehouse::cli {

class GuardrailsCommand {
 public:
  void add_to(CLI::App& guardrails);
  // 0 after printing the result; 1 when the file or the guardrail is wrong.
  int run(std::ostream& out, std::ostream& err) const;

 private:
  std::string config_path_;
  std::string guardrail_;
  std::string text_;
  std::string format_ = "text";
};

}  // namespace gatehouse::cli
