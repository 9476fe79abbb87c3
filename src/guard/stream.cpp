#include "guard/stream.h"

#include <algorithm>
#include <cstdint>

namespace gatehouse::guard {

namespace {

// Bytes kept before the release point, so that the next scan sees what precedes new text (\b,
// a validator's look at the byte before a match, where a pattern's earlier matches ended).
constexpr std::size_t kStreamContext = 256;
// Bytes after a match that decide it (Scanner::hold counts them too): \b, validators, `$`.
constexpr std::size_t kDecidingBytes = 2;
// The most a run holds back: a match still growing past this many unreleased bytes (an unbounded
// pattern's, over minified JSON with no whitespace) is decided where it stands, so a stream costs
// at most this much rescanning per event and this much memory (README.md: what a longer match
// does). Above the longest built-in (a PEM key block, 8,326 bytes).
constexpr std::size_t kMaxHeld = 16u << 10;

// How many bytes at the end of `t` begin a UTF-8 character that is not complete yet: they wait
// for the next piece, so a match never ends inside a character cut by the stream.
std::size_t incomplete_tail(std::string_view t) {
  for (std::size_t k = 1; k <= 3 && k <= t.size(); ++k) {
    const auto c = static_cast<unsigned char>(t[t.size() - k]);
    if ((c & 0xC0) == 0x80) continue;
    const std::size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                            : c >= 0xE0 && c <= 0xEF ? 3
                            : c >= 0xF0 && c <= 0xF4 ? 4
                                                     : 1;
    return len > k ? k : 0;
  }
  return 0;
}

// Appends text[from, to) to `out` with the mask-action matches in it replaced by their label;
// offsets are the run's, `base` the run offset of text[0].
void append_masked(std::string& out, const Scanner& s, std::string_view text, std::size_t base,
                   std::size_t from, std::size_t to, const std::vector<Match>& matches) {
  std::size_t at = from;
  for (const Match& m : matches) {
    if (m.start < at || m.end > to) continue;
    if (s.rule(m.rule).action != Action::kMask) continue;
    out.append(text.substr(at - base, m.start - at));
    out += '<';
    out += s.rule(m.rule).entity;
    out += '>';
    at = m.end;
  }
  out.append(text.substr(at - base, to - at));
}

}  // namespace

std::string apply_masks(const Scanner& s, std::string_view text,
                        const std::vector<Match>& matches) {
  std::string out;
  out.reserve(text.size());
  append_masked(out, s, text, 0, 0, text.size(), matches);
  return out;
}

TextStream::Step TextStream::feed(const Scanner& s, GuardrailSet set, std::string_view piece) {
  if (!blocked_) buf_.append(piece);
  return decide(s, set, false);
}

TextStream::Step TextStream::finish(const Scanner& s, GuardrailSet set) {
  return decide(s, set, true);
}

TextStream::Step TextStream::decide(const Scanner& s, GuardrailSet set, bool last) {
  Step step;
  if (blocked_) {
    step.blocked = true;
    return step;
  }
  const std::size_t n = base_ + buf_.size();
  const std::size_t complete = std::max(released_, last ? n : n - incomplete_tail(buf_));
  // Everything seen is decided at the end of the run, and when too much is held.
  const bool all = last || complete - released_ > kMaxHeld;
  const std::string_view view(buf_.data(), complete - base_);

  // Where no match can start in unseen text (Scanner::hold); matches that start after it are
  // undecided whatever they are, so they are not even looked for.
  const std::size_t hold_from =
      all ? complete : complete - std::min(view.size(), s.hold(view, set));
  found_.clear();
  s.candidates(view, set, found_, released_ - base_, all ? SIZE_MAX : hold_from - base_);
  std::size_t kept = 0;
  for (Match m : found_) {
    m.start += base_;
    m.end += base_;
    if (m.end <= released_) continue;  // decided in an earlier step
    // A match that began in released text: earlier steps saw no match there (README.md: only a
    // pattern whose matches overlap one another can do this); its unreleased part still counts.
    m.start = std::max(m.start, released_);
    found_[kept++] = m;
  }
  found_.resize(kept);

  // Release up to there, and never inside a match: one that is still growing is held whole.
  std::size_t cut = std::max(hold_from, released_);
  // Nor inside a character: a pattern without a literal prefix holds a fixed number of bytes,
  // which may end inside one, and each release goes into a JSON string of its own (half a
  // character there reaches the client as U+FFFD). Invalid sequences are left as they are.
  auto continuation = [&](std::size_t at) {
    return (static_cast<unsigned char>(buf_[at - base_]) & 0xC0) == 0x80;
  };
  if (cut < complete) {
    std::size_t at = cut;
    for (int k = 0; k < 3 && at > released_ && continuation(at); ++k) --at;
    if (!continuation(at)) cut = at;
  }
  // A match that reaches the end of the text seen (or the bytes that decide it) may still grow,
  // even when it started before the hold: an unbounded pattern's long match.
  const std::size_t open_from = all ? SIZE_MAX : complete - std::min(complete, kDecidingBytes);
  for (bool moved = true; moved;) {
    moved = false;
    for (const Match& m : found_)
      if (m.start < cut && (m.end > cut || m.end > open_from)) cut = m.start, moved = true;
  }
  // The matches that end before the cut overlap no other (none straddles it), so resolving them
  // alone decides them as resolving the whole text would.
  auto undecided =
      std::partition(found_.begin(), found_.end(), [&](const Match& m) { return m.end <= cut; });
  found_.erase(undecided, found_.end());
  s.resolve(found_);

  std::size_t upto = cut;
  auto block = std::find_if(found_.begin(), found_.end(), [&](const Match& m) {
    return s.rule(m.rule).action == Action::kBlock;
  });
  if (block != found_.end()) {
    upto = block->start;
    found_.erase(block + 1, found_.end());
    blocked_ = step.blocked = true;
  }
  append_masked(step.release, s, buf_, base_, released_, upto, found_);
  step.hits = found_;
  released_ = upto;

  const std::size_t context = std::min(kStreamContext, s.window(set));
  if (released_ > base_ + context) {
    const std::size_t drop = released_ - context - base_;
    buf_.erase(0, drop);
    base_ += drop;
  }
  return step;
}

}  // namespace gatehouse::guard
