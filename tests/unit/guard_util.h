// Helpers of the guard tests: building scanners from a few specs, and what a scan found as
// (entity, matched text) pairs that read well in an assertion.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "guard/scanner.h"
#include "guard/spec.h"

namespace gatehouse::guard::testing {

inline std::shared_ptr<const Scanner> build(std::vector<GuardrailSpec> specs) {
  auto built = Scanner::build(std::move(specs));
  if (auto* e = std::get_if<Scanner::BuildError>(&built)) {
    ADD_FAILURE() << "build failed: guardrail " << e->guardrail << " pattern " << e->pattern << ": "
                  << e->message;
    return nullptr;
  }
  return std::get<std::shared_ptr<const Scanner>>(built);
}

inline GuardrailSpec pii(std::vector<std::string> entities = {}, Action action = Action::kMask,
                         std::string name = "pii") {
  GuardrailSpec g;
  g.name = std::move(name);
  g.kind = Kind::kPii;
  g.action = action;
  g.entities = std::move(entities);
  return g;
}

inline GuardrailSpec secrets(std::vector<std::string> kinds = {}, Action action = Action::kBlock) {
  GuardrailSpec g;
  g.name = "secrets";
  g.kind = Kind::kSecrets;
  g.action = action;
  g.entities = std::move(kinds);
  return g;
}

inline GuardrailSpec injection(Action action = Action::kBlock) {
  GuardrailSpec g;
  g.name = "injection";
  g.kind = Kind::kPromptInjection;
  g.action = action;
  return g;
}

inline GuardrailSpec regex(std::string name, std::vector<PatternSpec> patterns,
                           Action action = Action::kBlock) {
  GuardrailSpec g;
  g.name = std::move(name);
  g.kind = Kind::kRegex;
  g.action = action;
  g.patterns = std::move(patterns);
  return g;
}

inline PatternSpec pattern(std::string name, std::string re, std::optional<Action> action = {},
                           bool caseless = false) {
  PatternSpec p;
  p.name = std::move(name);
  p.regex = std::move(re);
  p.action = action;
  p.caseless = caseless;
  return p;
}

using Found = std::vector<std::pair<std::string, std::string>>;

inline Found found(const Scanner& s, std::string_view text, GuardrailSet set = ~GuardrailSet(0)) {
  std::vector<Match> matches;
  s.scan(text, set, matches);
  Found out;
  for (const Match& m : matches)
    out.emplace_back(s.rule(m.rule).entity, std::string(text.substr(m.start, m.end - m.start)));
  return out;
}

}  // namespace gatehouse::guard::testing
