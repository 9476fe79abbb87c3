// Scanning text that arrives in pieces (a streamed answer): what may go to the client now, with
// masks applied, and what must wait because a match may still be completing in it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "guard/scanner.h"

namespace gatehouse::guard {

// One run of streamed text (a choice's content, a tool call's arguments) scanned as it flows.
// The text released over all steps is apply_masks(whole, scan(whole)): a value split across
// pieces is masked whole, and nothing of a block match is ever released. Text is held back only
// while a match may start in it and end in text not seen yet (Scanner::hold), and while a
// match that started earlier is still growing. README.md lists where a stream can differ from
// one scan of the whole text (patterns whose matches overlap one another, or match across gaps
// wider than the window). Not thread-safe: one per run.
class TextStream {
 public:
  struct Step {
    std::string release;      // text that may go to the client now, with masks applied
    std::vector<Match> hits;  // matches decided in this step (offsets are into the whole run so
                              // far; rule ids), each reported once
    bool blocked = false;     // a block-action match was found: nothing of it was released (the
                              // text before it was); the caller ends the stream
  };
  // Adds `piece` (the next text of the run) and decides what can be released.
  Step feed(const Scanner& s, GuardrailSet set, std::string_view piece);
  // The run has ended: everything held is decided and released.
  Step finish(const Scanner& s, GuardrailSet set);
  // Bytes fed but not released yet.
  std::size_t held() const { return base_ + buf_.size() - released_; }

 private:
  Step decide(const Scanner& s, GuardrailSet set, bool last);

  std::string buf_;       // the run from base_ on: some context before released_, then held text
  std::size_t base_ = 0;  // offset in the run of buf_[0]
  std::size_t released_ = 0;  // offset in the run up to which text has gone out
  bool blocked_ = false;
  std::vector<Match> found_;  // reused between steps
};

// `text` with each kMask-action match replaced by "<" + entity + ">" (matches sorted,
// non-overlapping, as scan() returns them).
std::string apply_masks(const Scanner& s, std::string_view text, const std::vector<Match>& matches);

}  // namespace gatehouse::guard
