// Server-sent events framing (text/event-stream): splits a byte stream into whole events as they
// arrive, so each event can be looked at (and later transformed) and flushed on its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::http {

class SseSplitter {
 public:
  // Appends bytes read from the wire and returns the events completed by them, each with its
  // terminating blank line ("\n\n", "\r\n\r\n" or "\r\r"). The views stay valid until the next
  // call to feed().
  const std::vector<std::string_view>& feed(std::string_view bytes);

  // Bytes of an event not yet terminated (an upstream that ended mid-event leaves these).
  std::string_view pending() const { return std::string_view(buf_).substr(consumed_); }

 private:
  std::string buf_;
  std::size_t consumed_ = 0;  // bytes of buf_ already returned as events
  std::size_t scanned_ = 0;   // bytes of buf_ already searched for a terminator
  std::vector<std::string_view> events_;
};

// The `data:` payload of one event (lines joined with '\n'), or empty when it has none.
std::string event_data(std::string_view event);

}  // namespace gatehouse::http
