// Finding the text a model reads and writes in a body (api/text.h): one simdjson On Demand walk
// over a padded copy of the body, reading only the members that hold text; everything else is
// skipped by the structural index, not parsed.
//
// Decisions a reader cannot see in the code:
// * Pieces are reported only once the whole body has been walked without error, so a false
//   result has reported nothing. Empty strings are not reported (nothing to scan or mask).
// * Which members of a block are text depends on its `type`, which JSON may place anywhere in
//   the object: members are walked as they come, kept or dropped when the block ends. A block
//   with two `type` keys is refused (false): a provider that reads the last one would otherwise
//   see text the walk decided was not text.
// * Keys are compared unescaped (`"t\u0065xt"` is `text`), as the provider will read them.
// * Thinking (Anthropic `thinking` blocks, Databricks `reasoning` parts, `reasoning_content`) is
//   text in answers and stream events — the client reads it — but not in requests: Anthropic
//   verifies a thinking block sent back against its signature and refuses it if it was changed,
//   and the model only reads back what it wrote itself (already scanned as output). Masking
//   thinking in an answer still breaks that signature when the client sends the block back.
// * Invalid UTF-8 anywhere in the body: false (simdjson refuses the document; so does
//   decode_request). A lone surrogate escape (`\ud800`), which simdjson refuses, is read as
//   U+FFFD so a provider's answer with one is still scanned.
// * A stream event's `data:` lines are joined with '\n' as SSE says; a string token never spans
//   a line, so every piece maps back to one line of the event, multi-line data included.
// * Not re-entrant per thread by design of the buffers, but safe: a call made from inside a
//   callback gets its own parser.
#include "api/text.h"

#include <algorithm>
#include <cassert>
#include <forward_list>
#include <limits>
#include <memory>

#include <simdjson.h>

namespace gatehouse::api {

namespace od = simdjson::ondemand;
using simdjson::error_code;
using simdjson::SUCCESS;

namespace {

constexpr std::size_t kMaxDepth = 128;
// Above this a thread's buffers are released after the call rather than kept for the next one.
constexpr std::size_t kKeepBytes = std::size_t(8) << 20;

// Stream channels within one OpenAI choice (choice k's channels are k * 1024 + these).
constexpr std::uint32_t kChannelsPerChoice = 1024;
constexpr std::uint32_t kContentChannel = 0;
constexpr std::uint32_t kFirstToolChannel = 1;  // tool call t: 1 + t
constexpr std::uint32_t kMaxToolIndex = 1020;   // higher indexes share the last one
constexpr std::uint32_t kReasoningChannel = 1022;
constexpr std::uint32_t kRefusalChannel = 1023;
constexpr std::uint64_t kMaxChoice = std::numeric_limits<std::uint32_t>::max() / kChannelsPerChoice;

// The `type` values that decide which members of a block (content part, content block, document
// source, stream delta, stream event) hold text. A piece found under a member carries the bit
// its block's type must have for it to count.
enum TypeBit : std::uint32_t {
  kAlways = 0,
  kText = 1u << 0,           // a text part or block; a document source of type text
  kRefusal = 1u << 1,        // an OpenAI refusal part
  kReasoning = 1u << 2,      // a Databricks reasoning part (its summary)
  kToolUse = 1u << 3,        // tool_use, server_tool_use, mcp_tool_use: `input`
  kToolResult = 1u << 4,     // tool_result, mcp_tool_result, search_result: `content`
  kDocument = 1u << 5,       // `source`
  kThinking = 1u << 6,       // `thinking`
  kContentSource = 1u << 7,  // a document source of type content: `content`
  kTextDelta = 1u << 8,
  kJsonDelta = 1u << 9,
  kThinkingDelta = 1u << 10,
  kBlockDelta = 1u << 11,  // the content_block_delta event: `delta`
  kBlockStart = 1u << 12,  // the content_block_start event: `content_block`
  kOtherType = 1u << 31,
};

std::uint32_t type_bit(std::string_view t) {
  static constexpr std::pair<std::string_view, std::uint32_t> kTypes[] = {
      {"text", kText},
      {"refusal", kRefusal},
      {"reasoning", kReasoning},
      {"tool_use", kToolUse},
      {"server_tool_use", kToolUse},
      {"mcp_tool_use", kToolUse},
      {"tool_result", kToolResult},
      {"mcp_tool_result", kToolResult},
      {"search_result", kToolResult},
      {"document", kDocument},
      {"thinking", kThinking},
      {"content", kContentSource},
      {"text_delta", kTextDelta},
      {"input_json_delta", kJsonDelta},
      {"thinking_delta", kThinkingDelta},
      {"content_block_delta", kBlockDelta},
      {"content_block_start", kBlockStart},
  };
  for (const auto& [name, bit] : kTypes) {
    if (t == name) return bit;
  }
  return kOtherType;
}

// A piece found by the walk, not yet reported.
struct Found {
  std::size_t offset = 0;  // into the parsed buffer
  std::size_t length = 0;
  std::string_view text;
  std::uint32_t channel = 0;
  std::uint32_t need = kAlways;  // the type bit its block must have
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
  bool busy = false;
};

// The thread's scratch, or a fresh one for a call made from inside a callback.
class ScratchLease {
 public:
  ScratchLease() {
    thread_local Scratch scratch;
    if (scratch.busy) {
      own_ = std::make_unique<Scratch>();
      s_ = own_.get();
    } else {
      s_ = &scratch;
    }
    s_->busy = true;
    s_->found.clear();
    s_->segments.clear();
    s_->buffer.clear();
  }
  ~ScratchLease() {
    s_->busy = false;
    s_->found.clear();
    if (s_->buffer.capacity() > kKeepBytes) std::string().swap(s_->buffer);
    if (s_->parser.capacity() > kKeepBytes) s_->parser = od::parser();
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  Scratch& operator*() { return *s_; }
  Scratch* operator->() { return s_; }

 private:
  Scratch* s_ = nullptr;
  std::unique_ptr<Scratch> own_;
};

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

constexpr std::uint32_t kReplacement = 0xFFFD;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits of a \u escape at token[at] (after "\u"), or -1.
long hex4(std::string_view token, std::size_t at) {
  if (at + 4 > token.size()) return -1;
  long v = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    int d = hex_digit(token[i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// The string token (quotes included) unescaped, a lone surrogate escape as U+FFFD: what simdjson
// refuses but a lenient reader of the body accepts. False for any other bad escape.
bool unescape_lenient(std::string_view token, std::string& out) {
  if (token.size() < 2) return false;
  token = token.substr(1, token.size() - 2);
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    char c = token[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= token.size()) return false;
    switch (token[i]) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '/':
        out.push_back('/');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        long cp = hex4(token, i + 1);
        if (cp < 0) return false;
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {
          long low = i + 2 < token.size() && token[i + 1] == '\\' && token[i + 2] == 'u'
                         ? hex4(token, i + 3)
                         : -1;
          if (low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          } else {
            cp = kReplacement;
          }
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          cp = kReplacement;
        }
        append_utf8(out, std::uint32_t(cp));
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// `s` with every invalid UTF-8 sequence replaced by U+FFFD (each maximal bad prefix once).
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b < 0x80) {
      out.push_back(char(b));
      ++i;
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      if (b == 0xE0) lo = 0xA0;  // no overlongs
      if (b == 0xED) hi = 0x9F;  // no surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    }
    std::size_t good = 0;
    for (std::size_t k = 1; n > 0 && k <= n && i + k < s.size(); ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
      good = k;
    }
    if (n > 0 && good == n) {
      out.append(s.substr(i, n + 1));
      i += n + 1;
    } else {
      append_utf8(out, kReplacement);
      i += good + 1;
    }
  }
  return out;
}

// The walk over one parsed document: what it finds goes to `found`, in body order.
class Walk {
 public:
  Walk(const char* base, std::vector<Found>& found, bool output)
      : base_(base), found_(found), output_(output) {}

  // Top-level members of a request.
  error_code request(od::object& root, ApiShape shape, Operation op) {
    const bool anthropic = shape == ApiShape::kAnthropic;
    const bool chat = anthropic || op != Operation::kEmbeddings;
    const bool embeddings =
        !anthropic && (op == Operation::kEmbeddings || op == Operation::kInvocations);
    for (auto field : root) {
      std::string_view key;
      od::value v;
      if (auto e = member(field, key, v)) return e;
      error_code e = SUCCESS;
      if (chat && key == "messages") {
        e = messages(v, anthropic);
      } else if (anthropic && key == "system") {
        e = anthropic_content(v, 1);
      } else if (embeddings && key == "input") {
        e = embeddings_input(v);
      }
      if (e) return e;
    }
    return SUCCESS;
  }

  // Top-level members of a whole answer.
  error_code answer(od::object& root, ApiShape shape) {
    const bool anthropic = shape == ApiShape::kAnthropic;
    for (auto field : root) {
      std::string_view key;
      od::value v;
      if (auto e = member(field, key, v)) return e;
      error_code e = SUCCESS;
      if (anthropic && key == "content") {
        e = anthropic_content(v, 1);
      } else if (!anthropic && key == "choices") {
        e = choices(v, "message");
      }
      if (e) return e;
    }
    return SUCCESS;
  }

  // A chat.completion.chunk: choices[k].delta.
  error_code openai_chunk(od::object& root) {
    for (auto field : root) {
      std::string_view key;
      od::value v;
      if (auto e = member(field, key, v)) return e;
      if (key == "choices") {
        if (auto e = choices(v, "delta")) return e;
      }
    }
    return SUCCESS;
  }

  // An Anthropic stream event: content_block_delta's delta, content_block_start's block; the
  // channel is the event's index.
  error_code anthropic_event(od::object& root) {
    std::uint32_t types = 0;
    std::uint64_t index = 0;
    for (auto field : root) {
      std::string_view key;
      od::value v;
      if (auto e = member(field, key, v)) return e;
      const std::size_t from = found_.size();
      error_code e = SUCCESS;
      if (key == "type") {
        e = add_type(v, types);
      } else if (key == "index") {
        if (v.get_uint64().get(index)) index = 0;
      } else if (key == "delta" && wanted(types, kBlockDelta)) {
        e = block(v, 1, kBlockDelta);
      } else if (key == "content_block" && wanted(types, kBlockStart)) {
        e = block(v, 1, kBlockStart);
      }
      if (e) return e;
      need(from, key == "delta" ? kBlockDelta : kBlockStart);
    }
    keep(0, types);
    const auto channel =
        std::uint32_t(std::min<std::uint64_t>(index, std::numeric_limits<std::uint32_t>::max()));
    for (Found& f : found_) f.channel = channel;
    return SUCCESS;
  }

 private:
  // The next member of an object: its unescaped key and value.
  static error_code member(simdjson::simdjson_result<od::field> field, std::string_view& key,
                           od::value& v) {
    od::field f;
    if (auto e = std::move(field).get(f)) return e;
    if (auto e = f.unescaped_key().get(key)) return e;
    v = f.value();
    return SUCCESS;
  }

  static error_code type_of(od::value& v, od::json_type& t) { return v.type().get(t); }

  // A string value as a piece (anything else: nothing).
  error_code text(od::value& v, std::uint32_t channel = 0) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::string) return SUCCESS;
    std::string_view token = v.raw_json_token();
    while (!token.empty() && token.back() != '"') token.remove_suffix(1);
    std::string_view s;
    error_code e = v.get_string().get(s);
    if (e == simdjson::STRING_ERROR) {
      std::string& spilled = spill_.emplace_front();
      if (!unescape_lenient(token, spilled)) return e;
      s = spilled;
    } else if (e) {
      return e;
    }
    if (s.empty()) return SUCCESS;
    found_.push_back(Found{std::size_t(token.data() - base_), token.size(), s, channel, kAlways});
    return SUCCESS;
  }

  // A `type` member: its bit added to the block's; a second one makes the block ambiguous.
  static error_code add_type(od::value& v, std::uint32_t& types) {
    if (types != 0) return simdjson::INCORRECT_TYPE;
    std::string_view t;
    types = v.get_string().get(t) == SUCCESS ? type_bit(t) : kOtherType;
    return SUCCESS;
  }

  // Whether a member needing `bit` may hold text given the block's types so far (a type not
  // seen yet may come later: the member is walked and settled at the block's end).
  static bool wanted(std::uint32_t types, std::uint32_t bit) {
    return types == 0 || (types & bit) != 0;
  }

  // The pieces found since `from` need `bit` of the block they are in.
  void need(std::size_t from, std::uint32_t bit) {
    for (std::size_t i = from; i < found_.size(); ++i) found_[i].need = bit;
  }

  // At a block's end: drops the pieces since `from` its types do not make text. A block without
  // a type keeps its `text` (a part a provider would refuse anyway, but text all the same).
  void keep(std::size_t from, std::uint32_t types) {
    std::size_t out = from;
    for (std::size_t i = from; i < found_.size(); ++i) {
      const Found& f = found_[i];
      if (f.need == kAlways || (types & f.need) != 0 || (types == 0 && f.need == kText)) {
        found_[out] = f;
        found_[out].need = kAlways;
        ++out;
      }
    }
    found_.resize(out);
  }

  // The channels of the pieces since `from` moved up by `base`.
  void shift_channels(std::size_t from, std::uint32_t base) {
    for (std::size_t i = from; i < found_.size(); ++i) found_[i].channel += base;
  }

  // ---- OpenAI (and Databricks) shapes.

  error_code messages(od::value& v, bool anthropic) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::array) return SUCCESS;
    od::array a;
    if (auto e = v.get_array().get(a)) return e;
    for (auto el : a) {
      od::value m;
      if (auto e = el.get(m)) return e;
      if (auto e = anthropic ? anthropic_message(m) : openai_message(m)) return e;
    }
    return SUCCESS;
  }

  error_code embeddings_input(od::value& v) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t == od::json_type::string) return text(v);
    if (t != od::json_type::array) return SUCCESS;
    od::array a;
    if (auto e = v.get_array().get(a)) return e;
    for (auto el : a) {
      od::value item;
      if (auto e = el.get(item)) return e;
      if (auto e = text(item)) return e;  // token arrays: nothing
    }
    return SUCCESS;
  }

  // choices[k].message (answer) or choices[k].delta (chunk); choice k's channels from k * 1024.
  error_code choices(od::value& v, std::string_view member_name) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::array) return SUCCESS;
    od::array a;
    if (auto e = v.get_array().get(a)) return e;
    std::uint64_t position = 0;
    for (auto el : a) {
      od::value choice;
      if (auto e = el.get(choice)) return e;
      if (auto e = type_of(choice, t)) return e;
      std::uint64_t k = position++;
      if (t != od::json_type::object) continue;
      const std::size_t from = found_.size();
      od::object o;
      if (auto e = choice.get_object().get(o)) return e;
      for (auto field : o) {
        std::string_view key;
        od::value m;
        if (auto e = member(field, key, m)) return e;
        if (key == "index") {
          if (m.get_uint64().get(k)) k = position - 1;
        } else if (key == member_name) {
          if (auto e = openai_message(m)) return e;
        }
      }
      shift_channels(from, std::uint32_t(std::min(k, kMaxChoice - 1)) * kChannelsPerChoice);
    }
    return SUCCESS;
  }

  // A chat message, a choice's message or a chunk's delta.
  error_code openai_message(od::value& v) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::object) return SUCCESS;
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    for (auto field : o) {
      std::string_view key;
      od::value m;
      if (auto e = member(field, key, m)) return e;
      error_code e = SUCCESS;
      if (key == "content") {
        e = openai_content(m);
      } else if (key == "tool_calls") {
        e = tool_calls(m);
      } else if (key == "function_call") {  // the legacy single call: tool channel 0
        const std::size_t from = found_.size();
        e = call_arguments(m, "arguments");
        shift_channels(from, kFirstToolChannel);
      } else if (key == "refusal") {
        e = text(m, kRefusalChannel);
      } else if (output_ && key == "reasoning_content") {
        e = text(m, kReasoningChannel);
      }
      if (e) return e;
    }
    return SUCCESS;
  }

  // `content`: a string or an array of parts.
  error_code openai_content(od::value& v) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t == od::json_type::string) return text(v, kContentChannel);
    if (t != od::json_type::array) return SUCCESS;
    od::array a;
    if (auto e = v.get_array().get(a)) return e;
    for (auto el : a) {
      od::value part;
      if (auto e = el.get(part)) return e;
      if (auto e = openai_part(part)) return e;
    }
    return SUCCESS;
  }

  // A content part: text, refusal; in answers, a Databricks reasoning part's summary texts.
  // Images, audio and files are not text.
  error_code openai_part(od::value& v) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::object) return SUCCESS;
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    const std::size_t block_from = found_.size();
    std::uint32_t types = 0;
    for (auto field : o) {
      std::string_view key;
      od::value m;
      if (auto e = member(field, key, m)) return e;
      const std::size_t from = found_.size();
      error_code e = SUCCESS;
      std::uint32_t bit = kAlways;
      if (key == "type") {
        e = add_type(m, types);
      } else if (key == "text" && wanted(types, kText)) {
        bit = kText;
        e = text(m, kContentChannel);
      } else if (key == "refusal" && wanted(types, kRefusal)) {
        bit = kRefusal;
        e = text(m, kRefusalChannel);
      } else if (output_ && key == "summary" && wanted(types, kReasoning)) {
        bit = kReasoning;
        e = reasoning_summary(m);
      }
      if (e) return e;
      need(from, bit);
    }
    keep(block_from, types);
    return SUCCESS;
  }

  // [{type: summary_text, text}]
  error_code reasoning_summary(od::value& v) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::array) return SUCCESS;
    od::array a;
    if (auto e = v.get_array().get(a)) return e;
    for (auto el : a) {
      od::value item;
      if (auto e = el.get(item)) return e;
      if (auto e = call_arguments(item, "text", kReasoningChannel)) return e;
    }
    return SUCCESS;
  }

  // tool_calls[j]: function.arguments (or a custom tool's custom.input); channel 1 + its index.
  error_code tool_calls(od::value& v) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::array) return SUCCESS;
    od::array a;
    if (auto e = v.get_array().get(a)) return e;
    std::uint64_t position = 0;
    for (auto el : a) {
      od::value call;
      if (auto e = el.get(call)) return e;
      if (auto e = type_of(call, t)) return e;
      std::uint64_t index = position++;
      if (t != od::json_type::object) continue;
      const std::size_t from = found_.size();
      od::object o;
      if (auto e = call.get_object().get(o)) return e;
      for (auto field : o) {
        std::string_view key;
        od::value m;
        if (auto e = member(field, key, m)) return e;
        error_code e = SUCCESS;
        if (key == "index") {
          if (m.get_uint64().get(index)) index = position - 1;
        } else if (key == "function") {
          e = call_arguments(m, "arguments");
        } else if (key == "custom") {
          e = call_arguments(m, "input");
        }
        if (e) return e;
      }
      shift_channels(
          from, kFirstToolChannel + std::uint32_t(std::min<std::uint64_t>(index, kMaxToolIndex)));
    }
    return SUCCESS;
  }

  // The string member `name` of an object (every one, should it repeat).
  error_code call_arguments(od::value& v, std::string_view name, std::uint32_t channel = 0) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::object) return SUCCESS;
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    for (auto field : o) {
      std::string_view key;
      od::value m;
      if (auto e = member(field, key, m)) return e;
      if (key == name) {
        if (auto e = text(m, channel)) return e;
      }
    }
    return SUCCESS;
  }

  // ---- Anthropic.

  error_code anthropic_message(od::value& v) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::object) return SUCCESS;
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    for (auto field : o) {
      std::string_view key;
      od::value m;
      if (auto e = member(field, key, m)) return e;
      if (key == "content") {
        if (auto e = anthropic_content(m, 1)) return e;
      }
    }
    return SUCCESS;
  }

  // `system`, a message's `content`, a tool result's `content`: a string or content blocks.
  error_code anthropic_content(od::value& v, std::size_t depth) {
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t == od::json_type::string) return text(v);
    if (t != od::json_type::array) return SUCCESS;
    od::array a;
    if (auto e = v.get_array().get(a)) return e;
    for (auto el : a) {
      od::value b;
      if (auto e = el.get(b)) return e;
      if (auto e = block(b, depth + 1, kAlways)) return e;
    }
    return SUCCESS;
  }

  // An Anthropic object with a `type`: a content block, a document source, a stream delta or a
  // content_block_start's block. `kind` says which members can be text (kAlways: content block).
  error_code block(od::value& v, std::size_t depth, std::uint32_t kind) {
    if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    if (t != od::json_type::object) return SUCCESS;
    od::object o;
    if (auto e = v.get_object().get(o)) return e;
    const std::size_t block_from = found_.size();
    std::uint32_t types = 0;
    for (auto field : o) {
      std::string_view key;
      od::value m;
      if (auto e = member(field, key, m)) return e;
      if (key == "type") {
        if (auto e = add_type(m, types)) return e;
        continue;
      }
      const std::size_t from = found_.size();
      const std::uint32_t bit = member_bit(kind, key);
      if (bit == kAlways || !wanted(types, bit)) continue;
      error_code e = SUCCESS;
      switch (bit) {
        case kToolUse:
          e = strings_in(m, depth + 1);
          break;
        case kToolResult:
          e = anthropic_content(m, depth + 1);
          break;
        case kDocument:
          e = block(m, depth + 1, kDocument);
          break;
        case kContentSource:
          e = anthropic_content(m, depth + 1);
          break;
        default:
          e = text(m);
          break;
      }
      if (e) return e;
      need(from, bit);
    }
    keep(block_from, types);
    return SUCCESS;
  }

  // Which type a member `key` of a block of `kind` needs to be text (kAlways: never text).
  std::uint32_t member_bit(std::uint32_t kind, std::string_view key) const {
    switch (kind) {
      case kAlways:  // a content block
        if (key == "text") return kText;
        if (key == "input") return kToolUse;
        if (key == "content") return kToolResult;
        if (key == "source") return kDocument;
        if (key == "thinking" && output_) return kThinking;
        return kAlways;
      case kDocument:  // its source
        if (key == "data") return kText;
        if (key == "content") return kContentSource;
        return kAlways;
      case kBlockDelta:
        if (key == "text") return kTextDelta;
        if (key == "partial_json") return kJsonDelta;
        if (key == "thinking") return kThinkingDelta;
        return kAlways;
      case kBlockStart:
        if (key == "text") return kText;
        if (key == "thinking") return kThinking;
        return kAlways;
    }
    return kAlways;
  }

  // Every string value inside a tool_use's `input` (keys are not text).
  error_code strings_in(od::value& v, std::size_t depth) {
    if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
    od::json_type t;
    if (auto e = type_of(v, t)) return e;
    switch (t) {
      case od::json_type::string:
        return text(v);
      case od::json_type::object: {
        od::object o;
        if (auto e = v.get_object().get(o)) return e;
        for (auto field : o) {
          std::string_view key;
          od::value m;
          if (auto e = member(field, key, m)) return e;
          if (auto e = strings_in(m, depth + 1)) return e;
        }
        return SUCCESS;
      }
      case od::json_type::array: {
        od::array a;
        if (auto e = v.get_array().get(a)) return e;
        for (auto el : a) {
          od::value item;
          if (auto e = el.get(item)) return e;
          if (auto e = strings_in(item, depth + 1)) return e;
        }
        return SUCCESS;
      }
      default:
        return SUCCESS;
    }
  }

  const char* base_;
  std::vector<Found>& found_;
  bool output_;
  std::forward_list<std::string> spill_;  // texts unescaped here (lone surrogates)
};

// Parses s.buffer (already filled) as one JSON object and walks it with `walk_root`; calls `fn`
// for what it found once the whole document is known to be good. Offsets are mapped through
// s.segments when there are any (a stream event's data lines).
template <class F>
bool walk_and_report(Scratch& s, bool output, bool channels, const TextFn& fn, F&& walk_root) {
  const std::size_t size = s.buffer.size();
  s.buffer.reserve(size + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (s.parser.iterate(s.buffer.data(), size, s.buffer.capacity()).get(doc)) return false;
  od::object root;
  if (doc.get_object().get(root)) return false;
  Walk walk(s.buffer.data(), s.found, output);
  if (walk_root(walk, root)) return false;
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == SUCCESS) return false;  // data after the object
  if (!s.segments.empty()) {
    for (Found& f : s.found) {
      auto seg =
          std::upper_bound(s.segments.begin(), s.segments.end(), f.offset,
                           [](std::size_t at, const Segment& g) { return at < g.buffer_at; });
      if (seg == s.segments.begin()) return false;
      --seg;
      if (f.offset + f.length > seg->buffer_at + seg->length) return false;  // across lines
      f.offset = seg->event_at + (f.offset - seg->buffer_at);
    }
  }
  for (const Found& f : s.found) {
    fn(TextPiece{f.text, f.offset, f.length, channels ? f.channel : 0});
  }
  return true;
}

}  // namespace

bool request_texts(ApiShape shape, Operation op, std::string_view body, const TextFn& fn) {
  ScratchLease s;
  s->buffer.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  s->buffer.assign(body);
  const ApiShape walked = body_shape(shape);
  return walk_and_report(*s, false, false, fn,
                         [&](Walk& w, od::object& root) { return w.request(root, walked, op); });
}

bool response_texts(ApiShape shape, std::string_view body, const TextFn& fn) {
  ScratchLease s;
  s->buffer.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  s->buffer.assign(body);
  const ApiShape walked = body_shape(shape);
  return walk_and_report(*s, true, false, fn,
                         [&](Walk& w, od::object& root) { return w.answer(root, walked); });
}

bool event_texts(ApiShape shape, std::string_view event, const TextFn& fn) {
  ScratchLease s;
  s->buffer.reserve(event.size() + simdjson::SIMDJSON_PADDING);
  // The data lines, joined with '\n' (SSE); lines end with \r\n, \n or \r.
  for (std::size_t at = 0; at < event.size();) {
    std::size_t eol = event.find_first_of("\r\n", at);
    if (eol == std::string_view::npos) eol = event.size();
    std::string_view line = event.substr(at, eol - at);
    std::size_t value_at = at;
    bool data = false;
    if (line.starts_with("data:")) {
      data = true;
      value_at += 5;
      if (value_at < eol && event[value_at] == ' ') ++value_at;
    } else if (line == "data") {
      data = true;
      value_at = eol;
    }
    if (data) {
      if (!s->segments.empty()) s->buffer.push_back('\n');
      s->segments.push_back(Segment{value_at, s->buffer.size(), eol - value_at});
      s->buffer.append(event.substr(value_at, eol - value_at));
    }
    at = eol;
    if (at < event.size() && event[at] == '\r') ++at;
    if (at < event.size() && event[at] == '\n') ++at;
  }
  std::string_view data = s->buffer;
  const auto space = data.find_first_not_of(" \t\r\n");
  if (space == std::string_view::npos) return true;  // no data (a comment, a bare event line)
  data.remove_prefix(space);
  data = data.substr(0, data.find_last_not_of(" \t\r\n") + 1);
  if (data == "[DONE]") return true;
  if (body_shape(shape) == ApiShape::kAnthropic) {
    return walk_and_report(*s, true, true, fn,
                           [](Walk& w, od::object& root) { return w.anthropic_event(root); });
  }
  return walk_and_report(*s, true, true, fn,
                         [](Walk& w, od::object& root) { return w.openai_chunk(root); });
}

std::string apply_text_edits(std::string_view body, std::vector<TextEdit> edits) {
  std::sort(edits.begin(), edits.end(),
            [](const TextEdit& a, const TextEdit& b) { return a.offset < b.offset; });
  std::size_t grow = 0;
  for (const TextEdit& e : edits) grow += e.text.size() + e.text.size() / 8 + 2;
  std::string out;
  out.reserve(body.size() + grow);
  std::size_t at = 0;
  for (const TextEdit& e : edits) {
    // Overlapping or outside the body: a caller's bug. Skipped rather than read out of bounds.
    const bool fits =
        e.offset >= at && e.offset <= body.size() && e.length <= body.size() - e.offset;
    assert(fits && "apply_text_edits: edits overlap or lie outside the body");
    if (!fits) continue;
    out.append(body.substr(at, e.offset - at));
    // A mask cut inside a multi-byte character must not make the body invalid JSON.
    out.append(simdjson::validate_utf8(e.text) ? json_quote(e.text)
                                               : json_quote(valid_utf8(e.text)));
    at = e.offset + e.length;
  }
  out.append(body.substr(at));
  return out;
}

}  // namespace gatehouse::api
