// fuzz_stream: text scanned as it streams in pieces (src/guard/stream.cpp, hold.cpp).
//
// Input: byte 0 says how many cuts (0-31) follow; each of the next bytes is a piece's length
// (0-255); the rest is the text, and what the cuts leave is the last piece. Two scanners:
//  * the built-ins only (pii masks, secrets block, injection logs), where the text released
//    over all steps must be exactly apply_masks(whole, scan(whole)) — up to the first block
//    match, where the stream must stop having released nothing of it — and the hits reported
//    must be scan(whole)'s (src/guard/README.md: the exceptions need user patterns);
//  * the built-ins and user patterns (an unbounded one among them), where only self-consistency
//    holds: the release is the whole text up to where it stopped with the hits it reported
//    masked, and a block stops it at the block match's start.
// With both: each release of valid UTF-8 text is valid UTF-8 on its own (it goes into a JSON
// string of its own event), hits are sorted and non-overlapping, nothing is held after finish().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "guard/stream.h"

using namespace gatehouse;

namespace {

struct Run {
  std::string release;
  std::vector<guard::Match> hits;
  bool blocked = false;
  std::vector<std::string> steps;
};

std::string describe(const guard::Scanner& s, const std::vector<std::string_view>& pieces,
                     const std::vector<guard::Match>& want, const Run& got) {
  std::string out = "pieces:";
  for (auto p : pieces) out += "\n  [" + std::string(p) + "]";
  out += "\nexpected matches:";
  for (const auto& m : want)
    out += "\n  " + s.rule(m.rule).entity + " [" + std::to_string(m.start) + "," + std::to_string(m.end) + ")";
  out += "\nstream hits:";
  for (const auto& m : got.hits)
    out += "\n  " + s.rule(m.rule).entity + " [" + std::to_string(m.start) + "," + std::to_string(m.end) + ")";
  out += "\nreleased" + std::string(got.blocked ? " (blocked)" : "") + ":";
  for (const auto& r : got.steps) out += "\n  [" + r + "]";
  return out;
}

Run stream(const guard::Scanner& s, guard::GuardrailSet set, const std::vector<std::string_view>& pieces,
           bool whole_utf8) {
  guard::TextStream ts;
  Run run;
  auto take = [&](guard::TextStream::Step& step) {
    if (whole_utf8) FUZZ_CHECK(fuzz::valid_utf8(step.release), step.release);
    FUZZ_CHECK(!run.blocked || (step.release.empty() && step.hits.empty()), step.release);
    run.release += step.release;
    run.steps.push_back(step.release);
    run.hits.insert(run.hits.end(), step.hits.begin(), step.hits.end());
    run.blocked = run.blocked || step.blocked;
  };
  for (auto p : pieces) {
    auto step = ts.feed(s, set, p);
    take(step);
  }
  auto last = ts.finish(s, set);
  take(last);
  if (!run.blocked) FUZZ_CHECK(ts.held() == 0, run.release);
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t cuts = std::min<std::size_t>(data[0] % 32, size - 1);
  const std::string_view whole(reinterpret_cast<const char*>(data) + 1 + cuts, size - 1 - cuts);
  std::vector<std::string_view> pieces;
  std::size_t at = 0;
  for (std::size_t i = 0; i < cuts; ++i) {
    const std::size_t n = std::min<std::size_t>(data[1 + i], whole.size() - at);
    pieces.push_back(whole.substr(at, n));
    at += n;
  }
  pieces.push_back(whole.substr(at));
  const bool utf8 = fuzz::valid_utf8(whole);

  // Built-ins: exactly what one scan of the whole text gives.
  {
    static auto scanner = fuzz::build(fuzz::builtin_specs());
    const guard::Scanner& s = *scanner;
    const guard::GuardrailSet set = (guard::GuardrailSet{1} << s.guardrail_count()) - 1;
    std::vector<guard::Match> want;
    s.scan(whole, set, want);
    std::size_t end = whole.size();
    bool block = false;
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (s.rule(want[i].rule).action == guard::Action::kBlock) {
        end = want[i].start;
        want.resize(i + 1);
        block = true;
        break;
      }
    }
    const Run got = stream(s, set, pieces, utf8);
    std::vector<guard::Match> before;  // the matches released (all but the block)
    for (const auto& m : want)
      if (m.end <= end) before.push_back(m);
    const std::string expected = guard::apply_masks(s, whole.substr(0, end), before);
    FUZZ_CHECK(got.blocked == block, describe(s, pieces, want, got));
    FUZZ_CHECK(got.release == expected, describe(s, pieces, want, got) + "\nexpected: [" + expected + "]");
    FUZZ_CHECK(got.hits.size() == want.size(), describe(s, pieces, want, got));
    for (std::size_t i = 0; i < want.size(); ++i)
      FUZZ_CHECK(got.hits[i].start == want[i].start && got.hits[i].end == want[i].end &&
                     got.hits[i].rule == want[i].rule,
                 describe(s, pieces, want, got));
  }

  // Built-ins and user patterns: consistent with what it reported.
  {
    static auto scanner = fuzz::build(fuzz::all_specs());
    const guard::Scanner& s = *scanner;
    const guard::GuardrailSet set = (guard::GuardrailSet{1} << s.guardrail_count()) - 1;
    const Run got = stream(s, set, pieces, utf8);
    std::size_t end = whole.size();
    for (std::size_t i = 0; i < got.hits.size(); ++i) {
      const auto& m = got.hits[i];
      FUZZ_CHECK(m.start < m.end && m.end <= whole.size(), describe(s, pieces, {}, got));
      if (i > 0) FUZZ_CHECK(got.hits[i - 1].end <= m.start, describe(s, pieces, {}, got));
      const bool is_block = s.rule(m.rule).action == guard::Action::kBlock;
      FUZZ_CHECK(is_block == (got.blocked && i + 1 == got.hits.size()), describe(s, pieces, {}, got));
      if (is_block) end = m.start;
    }
    std::vector<guard::Match> before(got.hits.begin(), got.hits.end() - (got.blocked ? 1 : 0));
    const std::string expected = guard::apply_masks(s, whole.substr(0, end), before);
    FUZZ_CHECK(got.release == expected, describe(s, pieces, {}, got) + "\nexpected: [" + expected + "]");
  }
  return 0;
}
