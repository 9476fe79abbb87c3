// The stream channels of the Responses shape (api::TextPiece::channel): which run of text a
// delta event continues, computed from the event alone, the same way by event_texts
// (text_responses.cpp), channels_closed and text_delta_event (text_event.cpp). Internal to gh_api.
//
// A run is one content part (output_index, content_index), one reasoning summary part
// (output_index, summary_index) or one call's arguments (output_index) of an output item:
//
//   channel = item's first channel + part
//   item's first channel = output_index * 64                    (output_index given)
//                        = 2^31 + (FNV-1a(item_id) mod 2^25) * 64  (no output_index: item_id)
//                        = 0                                    (neither)
//   part = content_index (0-47; a call's arguments: 0), or 48 + summary_index (48-63)
//
// Databricks agents (MLflow ResponsesAgent) send `response.output_text.delta` with an item_id
// and no output_index: hashing the id keeps interleaved items apart without state, and lets the
// `response.output_item.done` that carries `item.id` close exactly that item. Two items of one
// stream share channels only if their ids collide in 25 bits (then their texts are scanned as
// one run: a match may span them; nothing is lost). Events that close a run close both of its
// possible channels (by output_index and by item id), so a stream that gives output_index on
// some events and not on others still closes its runs. Indexes past the ranges share the last
// channel of theirs.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gatehouse::api::responses {

constexpr std::uint32_t kItemChannels = 64;      // channels per output item
constexpr std::uint32_t kSummaryPart = 48;       // summary part k: 48 + k
constexpr std::uint64_t kMaxContentIndex = kSummaryPart - 1;
constexpr std::uint64_t kMaxSummaryIndex = kItemChannels - 1 - kSummaryPart;
constexpr std::uint64_t kMaxOutputIndex = (1u << 25) - 1;
constexpr std::uint32_t kHashedItems = 1u << 31;  // items known by their id only

// The first channel of an output item.
inline std::uint32_t item_channel(std::optional<std::uint64_t> output_index, std::optional<std::string_view> item_id) {
  if (output_index) {
    const std::uint64_t i = *output_index < kMaxOutputIndex ? *output_index : kMaxOutputIndex;
    return std::uint32_t(i) * kItemChannels;
  }
  if (!item_id) return 0;
  std::uint32_t h = 2166136261u;  // FNV-1a: fixed across processes and builds, unlike std::hash
  for (unsigned char c : *item_id) h = (h ^ c) * 16777619u;
  return kHashedItems + (h & std::uint32_t(kMaxOutputIndex)) * kItemChannels;
}

// A run's channel within its item: a content part's index, or a summary part's.
inline std::uint32_t part_channel(bool summary, std::uint64_t index) {
  if (summary) return kSummaryPart + std::uint32_t(index < kMaxSummaryIndex ? index : kMaxSummaryIndex);
  return std::uint32_t(index < kMaxContentIndex ? index : kMaxContentIndex);
}

}  // namespace gatehouse::api::responses
