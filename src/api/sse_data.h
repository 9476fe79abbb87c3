// The JSON of a stream event's `data:` line, for the readers in gh_api that look at one event at
// a time (usage, guardrails). Internal to gh_api (http::event_data joins several data lines; gh_api
// does not depend on http).
#pragma once

#include <string>
#include <string_view>

namespace gatehouse::api {

// The payload of an event's first `data:` line (spaces after the colon and a trailing '\r'
// removed), or empty when it has none.
std::string_view event_data_line(std::string_view event);

// The payload of all of an event's `data:` lines joined with '\n', as SSE reads them and as
// api::event_texts does (lines end with CRLF, LF or CR): the one line's payload itself when there
// is one, else the lines joined in `storage`.
std::string_view event_data(std::string_view event, std::string& storage);

}  // namespace gatehouse::api
