// The walk that finds text in a body (api/text.h), shared by the walkers of each shape: text.cpp
// (OpenAI, Anthropic, Databricks) and text_responses.cpp (Responses). Internal to gh_api: only
// its .cpp files include it (it brings simdjson, which gh_api links privately, with the target
// flags set on those files in CMakeLists.txt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <forward_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "api/text.h"

namespace gatehouse::api::textwalk {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

constexpr std::size_t kMaxDepth = 128;

// The `type` values of a block decide which of its members hold text. A walker gives each type
// it knows a bit (its own table) and marks each piece it finds under a member with the bit its
// block's type must have for the piece to count. kAlways: the piece counts whatever the type.
// kOtherType: a type the table does not know (or a `type` that is not a string).
constexpr std::uint32_t kAlways = 0;
constexpr std::uint32_t kOtherType = 1u << 31;

// A piece found by the walk, not yet reported.
struct Found {
  std::size_t offset = 0;  // into the parsed buffer
  std::size_t length = 0;
  std::string_view text;
  std::uint32_t channel = 0;
  std::uint32_t need = kAlways;  // the type bit its block must have
  bool whole = false;            // TextPiece::whole
};

// One `data:` line of an event: where it sits in the event and in the parsed buffer.
struct Segment {
  std::size_t event_at = 0;
  std::size_t buffer_at = 0;
  std::size_t length = 0;
};

// A thread's reusable state: after the first calls, steady traffic allocates nothing here.
struct Scratch {
  od::parser parser;
  std::string buffer;  // the padded copy simdjson reads
  std::vector<Found> found;
  std::vector<Segment> segments;
  std::forward_list<std::string> spill;  // texts unescaped by the walk itself (lone surrogates)
  bool busy = false;
};

// The thread's scratch, or a fresh one for a call made from inside a callback (text.cpp).
class ScratchLease {
 public:
  ScratchLease();
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  Scratch& operator*() { return *s_; }
  Scratch* operator->() { return s_; }

 private:
  Scratch* s_ = nullptr;
  std::unique_ptr<Scratch> own_;
};

// The next member of an object: its unescaped key and its value.
inline error_code member(simdjson::simdjson_result<od::field> field, std::string_view& key, od::value& v) {
  od::field f;
  if (auto e = std::move(field).get(f)) return e;
  if (auto e = f.unescaped_key().get(key)) return e;
  v = f.value();
  return SUCCESS;
}

// fn(key, value) for each member of `v` when it is an object (anything else: nothing).
template <class F>
error_code each_member(od::value& v, F&& fn) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t != od::json_type::object) return SUCCESS;
  od::object o;
  if (auto e = v.get_object().get(o)) return e;
  for (auto field : o) {
    std::string_view key;
    od::value m;
    if (auto e = member(field, key, m)) return e;
    if (auto e = fn(key, m)) return e;
  }
  return SUCCESS;
}

// fn(position, element) for each element of `v` when it is an array (anything else: nothing).
template <class F>
error_code each_element(od::value& v, F&& fn) {
  od::json_type t;
  if (auto e = v.type().get(t)) return e;
  if (t != od::json_type::array) return SUCCESS;
  od::array a;
  if (auto e = v.get_array().get(a)) return e;
  std::uint64_t position = 0;
  for (auto el : a) {
    od::value item;
    if (auto e = el.get(item)) return e;
    if (auto e = fn(position++, item)) return e;
  }
  return SUCCESS;
}

inline bool is_string(od::value& v) {
  od::json_type t;
  return v.type().get(t) == SUCCESS && t == od::json_type::string;
}

// An `index` member, or `fallback` when it is not a non-negative integer.
inline std::uint64_t index_of(od::value& v, std::uint64_t fallback) {
  std::uint64_t i = 0;
  return v.get_uint64().get(i) == SUCCESS ? i : fallback;
}

// What every walker does with what it finds: string values become pieces, blocks keep the pieces
// their type makes text. `output`: the body is an answer or a stream event (thinking counts).
class Finder {
 public:
  Finder(const char* base, Scratch& s, bool output)
      : base_(base), found_(s.found), spill_(s.spill), output_(output) {}

 protected:
  using Classify = std::uint32_t (*)(std::string_view type);

  // A string value as a piece (anything else: nothing). Empty strings are not reported.
  error_code text(od::value& v, std::uint32_t channel = 0);

  // A `type` member: its bit (from `classify`) becomes the block's; a second one makes the block
  // ambiguous (refused: a provider that reads the last one would see text the walk dropped).
  static error_code add_type(od::value& v, std::uint32_t& types, Classify classify) {
    if (types != 0) return simdjson::INCORRECT_TYPE;
    std::string_view t;
    types = v.get_string().get(t) == SUCCESS ? classify(t) : kOtherType;
    return SUCCESS;
  }

  // Whether a member needing `bit` may hold text given the block's type so far (none yet: it
  // may come later, so the member is walked and settled at the block's end).
  static bool wanted(std::uint32_t types, std::uint32_t bit) {
    return types == 0 || (types & bit) != 0;
  }

  // The pieces found since `from` need `bit` in the type of the block they are in.
  void need(std::size_t from, std::uint32_t bit) {
    for (std::size_t i = from; i < found_.size(); ++i) found_[i].need = bit;
  }

  // At a block's end: drops the pieces since `from` its type does not make text. A block without
  // a type counts as one whose type has the bits `untyped` (what the shape takes such a block
  // for: a text part, a Responses message).
  void keep(std::size_t from, std::uint32_t types, std::uint32_t untyped) {
    if (types == 0) types = untyped;
    std::size_t out = from;
    for (std::size_t i = from; i < found_.size(); ++i) {
      const std::uint32_t need = found_[i].need;
      if (need == kAlways || (types & need) != 0) {
        found_[out] = found_[i];
        found_[out++].need = kAlways;
      }
    }
    found_.resize(out);
  }

  // The channels of the pieces since `from` moved up by `base`.
  void shift_channels(std::size_t from, std::uint32_t base) {
    for (std::size_t i = from; i < found_.size(); ++i) found_[i].channel += base;
  }

  const char* base_;
  std::vector<Found>& found_;
  std::forward_list<std::string>& spill_;
  bool output_;
};

// The Responses walkers (text_responses.cpp), each over a parsed document's root object whose
// buffer starts at `base`; what they find goes to s.found.
error_code responses_request(Scratch& s, const char* base, od::value& root);
error_code responses_answer(Scratch& s, const char* base, od::value& root);
error_code responses_event(Scratch& s, const char* base, od::value& root);

}  // namespace gatehouse::api::textwalk
