// fuzz_scan: one scan of untrusted text (src/guard/scanner.cpp, recognizers.cpp) with every
// built-in (pii with all entities, secrets, prompt injection) and user patterns (an unbounded
// one, one with \b, a large bounded repeat...). Checks: matches are in range, non-empty, sorted
// and non-overlapping; a second scan finds the same; the block matches are the same whatever
// mask and log guardrails are in the set (a block is never dropped for them); apply_masks keeps
// valid UTF-8 valid; hold() is at most window() and the text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "guard/stream.h"

using namespace gatehouse;

namespace {

const guard::Scanner& scanner() {
  static auto s = fuzz::build(fuzz::all_specs());
  return *s;
}

std::string describe(const guard::Scanner& s, std::string_view text, const std::vector<guard::Match>& ms) {
  std::string out(text);
  out += "\n--- matches:";
  for (const auto& m : ms)
    out += "\n" + s.rule(m.rule).entity + " [" + std::to_string(m.start) + "," + std::to_string(m.end) + ")";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const guard::Scanner& s = scanner();
  const guard::GuardrailSet all = (guard::GuardrailSet{1} << s.guardrail_count()) - 1;

  std::vector<guard::Match> ms;
  s.scan(text, all, ms);
  for (std::size_t i = 0; i < ms.size(); ++i) {
    const auto& m = ms[i];
    FUZZ_CHECK(m.start < m.end && m.end <= text.size(), describe(s, text, ms));
    if (i > 0) FUZZ_CHECK(ms[i - 1].end <= m.start, describe(s, text, ms));
    FUZZ_CHECK(((all >> s.rule(m.rule).guardrail) & 1) != 0, describe(s, text, ms));
  }

  std::vector<guard::Match> again;
  s.scan(text, all, again);
  FUZZ_CHECK(again.size() == ms.size(), describe(s, text, again));
  for (std::size_t i = 0; i < ms.size(); ++i)
    FUZZ_CHECK(again[i].start == ms[i].start && again[i].end == ms[i].end && again[i].rule == ms[i].rule,
               describe(s, text, again));

  // The block matches do not depend on which mask and log guardrails are scanned with them
  // (secrets blocks; dlp has patterns of every action).
  std::vector<guard::Match> blocking;
  s.scan(text, (guard::GuardrailSet{1} << 1) | (guard::GuardrailSet{1} << 3), blocking);
  auto blocks = [&](const std::vector<guard::Match>& v) {
    std::vector<guard::Match> out;
    for (const auto& m : v)
      if (s.rule(m.rule).action == guard::Action::kBlock) out.push_back(m);
    return out;
  };
  const auto b1 = blocks(ms), b2 = blocks(blocking);
  FUZZ_CHECK(b1.size() == b2.size(), describe(s, text, ms) + "\n=== block-only scan:" + describe(s, "", blocking));
  for (std::size_t i = 0; i < b1.size(); ++i)
    FUZZ_CHECK(b1[i].start == b2[i].start && b1[i].end == b2[i].end && b1[i].rule == b2[i].rule,
               describe(s, text, ms) + "\n=== block-only scan:" + describe(s, "", blocking));

  const std::string masked = guard::apply_masks(s, text, ms);
  if (fuzz::valid_utf8(text)) FUZZ_CHECK(fuzz::valid_utf8(masked), describe(s, text, ms));

  // Each guardrail alone: what it finds is in range and sorted; hold() within its bounds.
  for (std::size_t g = 0; g < s.guardrail_count(); ++g) {
    const guard::GuardrailSet one = guard::GuardrailSet{1} << g;
    std::vector<guard::Match> v;
    s.scan(text, one, v);
    for (std::size_t i = 0; i < v.size(); ++i) {
      FUZZ_CHECK(v[i].start < v[i].end && v[i].end <= text.size(), describe(s, text, v));
      if (i > 0) FUZZ_CHECK(v[i - 1].end <= v[i].start, describe(s, text, v));
    }
    const std::size_t h = s.hold(text, one);
    FUZZ_CHECK(h <= text.size() && h <= s.window(one), text);
  }
  const std::size_t h = s.hold(text, all);
  FUZZ_CHECK(h <= text.size() && h <= s.window(all), text);
  return 0;
}
