// What an output guardrail needs to know of a stream's events beyond their text (api/text.h):
// which runs of text ("channels") an event closes, and how to write a delta event that carries
// text held back from earlier events.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/shape.h"

namespace gatehouse::api {

// The channels (api::TextPiece::channel) a stream event closes: no text can follow in them, so
// text held back for them must be released before this event goes out.
struct ChannelsClosed {
  bool all = false;  // the message is over ([DONE], a usage-only chunk, message_delta/stop,
                     // response.completed / incomplete / failed, an error)
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;  // inclusive [first, last] ranges
  bool closes(std::uint32_t channel) const {
    if (all) return true;
    for (auto [a, b] : ranges) {
      if (channel >= a && channel <= b) return true;
    }
    return false;
  }
};
// Responses: a part's or a call's `.done` event closes its run, response.output_item.done every
// run of its item (by output_index and by item id: a Databricks agent's deltas have no index).
ChannelsClosed channels_closed(ApiShape shape, std::string_view event);

// Whether `bytes` (whole events, as they went to a client) end with a stream's last event in any
// shape: `data: [DONE]`, Anthropic's message_stop, the Responses API's response.completed /
// incomplete / failed. A client that leaves after it is not a 499 in the records: it had the
// whole answer (Codex closes on response.completed before the closing chunk).
bool ends_stream(std::string_view bytes);

// A delta event of `shape` that carries `text` in `channel`, modelled on `like` (an earlier event
// of that channel: its id, model, delta type). When `like` cannot be read as JSON here (invalid
// values event_texts skipped, several data lines), from defaults: the text is never dropped. OpenAI-style
// channels (api/text.cpp): content, a tool call's arguments (a legacy function_call's too: it
// comes back as tool call 0), reasoning_content, refusal. Responses (api/responses_channel.h):
// like's delta type, item_id, output_index, content_index / summary_index and sequence_number
// (the inserted event repeats the number of the delta it continues: it has none of its own),
// an `event:` line when like had one (a Databricks agent's events have none).
std::string text_delta_event(ApiShape shape, std::string_view like, std::uint32_t channel, std::string_view text);

// A Responses stream event with its `sequence_number` set to `n` (the event as it is when it
// has none). For a stream whose events a stage inserted: the client must see the numbers
// strictly increasing.
std::string with_sequence_number(std::string_view event, long long n);

}  // namespace gatehouse::api
