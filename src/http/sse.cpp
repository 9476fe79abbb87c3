#include "http/sse.h"

namespace gatehouse::http {

const std::vector<std::string_view>& SseSplitter::feed(std::string_view bytes) {
  events_.clear();
  if (consumed_ > 0) {
    // Drop what earlier calls returned; the caller no longer holds views into it.
    buf_.erase(0, consumed_);
    scanned_ -= consumed_;
    consumed_ = 0;
  }
  buf_.append(bytes);
  std::size_t start = 0;
  // An event ends at an empty line: a line terminator (\r\n, \n or \r) directly after another.
  std::size_t i = scanned_;
  while (i < buf_.size()) {
    char c = buf_[i];
    if (c != '\n' && c != '\r') {
      ++i;
      continue;
    }
    // i is the start of a line terminator; find where it ends.
    std::size_t after = i + 1;
    if (c == '\r') {
      if (after == buf_.size()) break;  // might be \r\n split across reads: wait for more
      if (buf_[after] == '\n') ++after;
    }
    if (after == buf_.size()) break;  // need the next byte to know whether a blank line follows
    char d = buf_[after];
    if (d == '\n' || d == '\r') {
      std::size_t end = after + 1;
      if (d == '\r') {
        if (end == buf_.size()) break;
        if (buf_[end] == '\n') ++end;
      }
      events_.emplace_back(buf_.data() + start, end - start);
      start = end;
      i = end;
    } else {
      i = after;
    }
  }
  consumed_ = start;
  scanned_ = i;
  return events_;
}

std::string event_data(std::string_view event) {
  std::string out;
  bool first = true;
  while (!event.empty()) {
    std::size_t eol = event.find_first_of("\r\n");
    std::string_view line = event.substr(0, eol);
    if (line.rfind("data:", 0) == 0) {
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (!first) out += '\n';
      out.append(line);
      first = false;
    }
    if (eol == std::string_view::npos) break;
    event.remove_prefix(eol + 1);
  }
  return out;
}

}  // namespace gatehouse::http
