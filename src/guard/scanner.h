// The pattern guardrails of one config snapshot, compiled: every pattern of every guardrail in one
// Hyperscan database, scanned in one pass without start-of-match (fast); exact spans are found
// only around the ends that matched, and the built-in recognizers' validators (Luhn, IBAN mod-97,
// SSN rules, libphonenumber) confirm a candidate before it counts. Immutable and shared by every
// thread (each thread keeps its own Hyperscan scratch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "guard/spec.h"

namespace gatehouse::guard {

// One thing one guardrail finds: an entity of a pii or secrets guardrail, a pattern of a regex
// guardrail, the injection heuristics of a prompt_injection guardrail.
struct Rule {
  std::uint32_t guardrail = 0;  // its index in the specs the scanner was built from
  std::string entity;           // EMAIL_ADDRESS, a pattern's name, DATABRICKS_TOKEN, PROMPT_INJECTION
  Action action = Action::kBlock;
};

// A confirmed match: text[start, end) is what rule `rule` found.
struct Match {
  std::size_t start = 0;
  std::size_t end = 0;
  std::uint32_t rule = 0;
};

// Which guardrails apply to a scan: bit i set = guardrail i (at most kMaxGuardrails per config).
using GuardrailSet = std::uint64_t;
inline constexpr std::size_t kMaxGuardrails = 64;

class Scanner {
 public:
  // A pattern the database refused (its guardrail's and pattern's index in the specs), with
  // Hyperscan's message.
  struct BuildError {
    std::size_t guardrail = 0;
    std::size_t pattern = 0;
    std::string message;
  };
  // Compiles every guardrail of `specs` except kModel ones (they are no pattern scan).
  static std::variant<std::shared_ptr<const Scanner>, BuildError> build(std::vector<GuardrailSpec> specs);
  ~Scanner();

  // Appends to `out` the matches in `text` of the rules of the guardrails in `set`, sorted by
  // start; where two overlap, the one that starts first (then the longer) is kept, so masking
  // them in order is well defined -- except that a block match is never dropped for a mask or
  // log match, nor a mask match for a log one (a shadow-mode rule must not unmask text, nor a
  // mask rule hide a block). Thread-safe.
  void scan(std::string_view text, GuardrailSet set, std::vector<Match>& out) const;

  // scan() in two steps, for a stream (stream.h), which must know every confirmed match before
  // overlaps are resolved to decide where it may cut the text. candidates() appends them to
  // `out` (one rule's never overlap one another; any order); resolve() keeps the ones scan()
  // keeps, sorted by start. A stream does not need, nor want to pay validators for, matches
  // that start in text it has released or in text it holds back anyway: candidates() may leave
  // out those that start before `starts_from` (text before it is context: \b, the byte before a
  // match), which the caller knows no match straddles, or from `starts_before` on.
  void candidates(std::string_view text, GuardrailSet set, std::vector<Match>& out,
                  std::size_t starts_from = 0, std::size_t starts_before = SIZE_MAX) const;
  void resolve(std::vector<Match>& matches) const;

  // For a stream: how many bytes at the end of `text` must be held back because a match of a
  // guardrail in `set` may start in them and end in text not seen yet. Every match that starts
  // before text.size() - hold(text) is complete in `text` (scan finds it whole).
  std::size_t hold(std::string_view text, GuardrailSet set) const;
  // The most hold() ever returns for `set` (the stream window: docs/guardrails.md).
  std::size_t window(GuardrailSet set) const;

  const Rule& rule(std::uint32_t i) const { return rules_[i]; }
  const GuardrailSpec& guardrail(std::uint32_t i) const { return specs_[i]; }
  std::size_t guardrail_count() const { return specs_.size(); }

  struct Impl;

 private:
  Scanner() = default;
  std::vector<GuardrailSpec> specs_;
  std::vector<Rule> rules_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gatehouse::guard
