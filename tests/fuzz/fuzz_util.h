// What the fuzz targets share: failing loudly (libFuzzer keeps the input), the scanners they
// scan with, and a UTF-8 check.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "guard/scanner.h"
#include "http/sse.h"
#include "guard/spec.h"

namespace gatehouse::fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz check failed: %s\n%.*s\n", what,
               int(std::min<std::size_t>(detail.size(), 4000)), detail.data());
  std::abort();
}
#define FUZZ_CHECK(cond, detail)                                \
  do {                                                          \
    if (!(cond)) ::gatehouse::fuzz::fail(#cond, (detail));      \
  } while (0)

// The event's `data:` lines joined with '\n' (what a client parses as JSON).
using http::event_data;

inline bool json_valid(std::string_view s) {
  static simdjson::dom::parser parser;
  simdjson::padded_string padded(s);
  simdjson::dom::element e;
  return parser.parse(padded).get(e) == simdjson::SUCCESS;
}

inline bool valid_utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

inline guard::GuardrailSpec spec(std::string name, guard::Kind kind, guard::Action action) {
  guard::GuardrailSpec g;
  g.name = std::move(name);
  g.kind = kind;
  g.action = action;
  return g;
}

inline guard::PatternSpec pattern(std::string name, std::string regex, guard::Action action, bool caseless = false) {
  guard::PatternSpec p;
  p.name = std::move(name);
  p.regex = std::move(regex);
  p.action = action;
  p.caseless = caseless;
  return p;
}

inline std::shared_ptr<const guard::Scanner> build(std::vector<guard::GuardrailSpec> specs) {
  auto built = guard::Scanner::build(std::move(specs));
  if (auto* e = std::get_if<guard::Scanner::BuildError>(&built)) fail("scanner build", e->message);
  return std::get<std::shared_ptr<const guard::Scanner>>(built);
}

// Every built-in: pii (all entities) masks, secrets block, prompt injection logs.
inline std::vector<guard::GuardrailSpec> builtin_specs() {
  using guard::Action;
  using guard::Kind;
  return {spec("pii", Kind::kPii, Action::kMask), spec("secrets", Kind::kSecrets, Action::kBlock),
          spec("injection", Kind::kPromptInjection, Action::kLog)};
}

// The built-ins and user patterns: an unbounded one, one with \b, a bounded one without a
// literal prefix, a caseless one, a large bounded repeat (probed start by start), of every action.
inline std::vector<guard::GuardrailSpec> all_specs() {
  using guard::Action;
  using guard::Kind;
  auto specs = builtin_specs();
  auto dlp = spec("dlp", Kind::kRegex, Action::kBlock);
  dlp.patterns = {
      pattern("jdbc-connection-string", R"(jdbc:databricks://[^\s]+)", Action::kMask),
      pattern("ticket", R"(\bTICKET-[0-9]{4}\b)", Action::kMask),
      pattern("databricks-pat", R"(dapi[a-f0-9]{32})", Action::kBlock),
      pattern("order", R"([0-9]{3}-[0-9]{3}[A-Z])", Action::kLog),
      pattern("codeword", R"(project\s+(bluebird|redwood))", Action::kBlock, true),
      pattern("long-key", R"(key-[A-Za-z0-9]{20,250})", Action::kMask),
  };
  specs.push_back(std::move(dlp));
  return specs;
}

}  // namespace gatehouse::fuzz
