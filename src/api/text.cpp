// Finding the text a model reads and writes in a body (api/text.h): one simdjson On Demand walk
// over a padded copy of the body, reading only the members that hold text; everything else is
// skipped by the structural index, not parsed. This file: the OpenAI, Anthropic and Databricks
// shapes and the calls themselves; the Responses shape's walker is text_responses.cpp; what both
// use, api/text_walk.h.
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
#include <limits>

#include "api/text_walk.h"

namespace gatehouse::api {

using namespace textwalk;

namespace {

// Above this a thread's buffers are released after the call rather than kept for the next one.
constexpr std::size_t kKeepBytes = std::size_t(8) << 20;

// Stream channels within one OpenAI choice (choice k's channels are k * 1024 + these).
constexpr std::uint32_t kChannelsPerChoice = 1024;
constexpr std::uint32_t kContentChannel = 0;
constexpr std::uint32_t kFirstToolChannel = 1;  // tool call t: 1 + t
constexpr std::uint64_t kMaxToolIndex = 1020;   // higher indexes share the last one
constexpr std::uint32_t kReasoningChannel = 1022;
constexpr std::uint32_t kRefusalChannel = 1023;
constexpr std::uint64_t kMaxChoice =
    std::numeric_limits<std::uint32_t>::max() / kChannelsPerChoice - 1;

// The `type` values that decide which members of a block (content part, content block, document
// source, stream delta, stream event) hold text. A piece found under a member carries the bit
// its block's type must have for it to count.
enum TypeBit : std::uint32_t {
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

// Which type a member `key` of a block of `kind` needs to hold text (kAlways: it never does).
// `output`: the body is an answer or an event (thinking counts).
std::uint32_t member_bit(std::uint32_t kind, std::string_view key, bool output) {
  switch (kind) {
    case kAlways:  // an Anthropic content block
      if (key == "text") return kText;
      if (key == "input") return kToolUse;
      if (key == "content") return kToolResult;
      if (key == "source") return kDocument;
      if (key == "thinking" && output) return kThinking;
      return kAlways;
    case kDocument:  // a document's source
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

// The four hex digits of a \u escape at s[at], or -1.
long hex4(std::string_view s, std::size_t at) {
  if (at + 4 > s.size()) return -1;
  long v = 0;
  for (std::size_t i = at; i < at + 4; ++i) {
    const char c = s[i];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
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
    if (token[i] != '\\') {
      out.push_back(token[i]);
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
        if (cp >= 0xD800 && cp < 0xE000) {
          const bool pair = cp < 0xDC00 && token.substr(i + 1, 2) == "\\u";
          const long low = pair ? hex4(token, i + 3) : -1;
          if (low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          } else {
            cp = 0xFFFD;
          }
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

// The walk over one parsed document: what it finds goes to `found`, in body order. `output`: an
// answer or a stream event (thinking is text there).
class Walk : public Finder {
 public:
  using Finder::Finder;

  // Top-level members of a request.
  error_code request(od::value& root, ApiShape shape, Operation op) {
    const bool anthropic = shape == ApiShape::kAnthropic;
    const bool chat = anthropic || op != Operation::kEmbeddings;
    const bool embeddings =
        !anthropic && (op == Operation::kEmbeddings || op == Operation::kInvocations);
    return each_member(root, [&](std::string_view key, od::value& v) {
      if (chat && key == "messages") {
        return each_element(v, [&](std::uint64_t, od::value& m) {
          return anthropic ? anthropic_message(m) : openai_message(m);
        });
      }
      if (anthropic && key == "system") return anthropic_content(v, 1);
      if (embeddings && key == "input") {
        if (is_string(v)) return text(v);
        return each_element(v, [&](std::uint64_t, od::value& item) { return text(item); });
      }
      return SUCCESS;
    });
  }

  // Top-level members of a whole answer: an Anthropic message's content, a chat completion's
  // choices[k].message.
  error_code answer(od::value& root, ApiShape shape) {
    const bool anthropic = shape == ApiShape::kAnthropic;
    return each_member(root, [&](std::string_view key, od::value& v) {
      if (anthropic && key == "content") return anthropic_content(v, 1);
      if (!anthropic && key == "choices") return choices(v, "message");
      return SUCCESS;
    });
  }

  // A chat.completion.chunk: choices[k].delta.
  error_code openai_chunk(od::value& root) {
    return each_member(root, [&](std::string_view key, od::value& v) {
      return key == "choices" ? choices(v, "delta") : SUCCESS;
    });
  }

  // An Anthropic stream event: content_block_delta's delta, content_block_start's block; the
  // channel is the event's index.
  error_code anthropic_event(od::value& root) {
    std::uint32_t types = 0;
    std::uint64_t index = 0;
    const error_code walked = each_member(root, [&](std::string_view key, od::value& v) {
      if (key == "type") return add_type(v, types, type_bit);
      if (key == "index") index = index_of(v, 0);
      const std::uint32_t bit = key == "delta"           ? kBlockDelta
                                : key == "content_block" ? kBlockStart
                                                         : kAlways;
      if (bit == kAlways || !wanted(types, bit)) return SUCCESS;
      const std::size_t from = found_.size();
      if (auto e = block(v, 1, bit)) return e;
      need(from, bit);
      return SUCCESS;
    });
    if (walked) return walked;
    keep(0, types, kText);
    const auto channel = std::uint32_t(std::min<std::uint64_t>(index, ~std::uint32_t(0)));
    for (Found& f : found_) f.channel = channel;
    return SUCCESS;
  }

 private:
  // ---- OpenAI (and Databricks) shapes.

  // choices[k].message (answer) or choices[k].delta (chunk); choice k's channels from k * 1024.
  error_code choices(od::value& v, std::string_view name) {
    return each_element(v, [&](std::uint64_t position, od::value& choice) {
      const std::size_t from = found_.size();
      std::uint64_t k = position;
      const error_code walked = each_member(choice, [&](std::string_view key, od::value& m) {
        if (key == "index") k = index_of(m, position);
        return key == name ? openai_message(m) : SUCCESS;
      });
      shift_channels(from, std::uint32_t(std::min(k, kMaxChoice)) * kChannelsPerChoice);
      return walked;
    });
  }

  // A chat message, a choice's message or a chunk's delta.
  error_code openai_message(od::value& v) {
    return each_member(v, [&](std::string_view key, od::value& m) {
      if (key == "content") {
        if (is_string(m)) return text(m);
        return each_element(m, [&](std::uint64_t, od::value& part) { return openai_part(part); });
      }
      if (key == "tool_calls") return tool_calls(m);
      if (key == "function_call") {  // the legacy single call: tool channel 0
        const std::size_t from = found_.size();
        auto e = strings_named(m, "arguments");
        shift_channels(from, kFirstToolChannel);
        return e;
      }
      if (key == "refusal") return text(m, kRefusalChannel);
      if (output_ && key == "reasoning_content") return text(m, kReasoningChannel);
      return SUCCESS;
    });
  }

  // A content part: text, refusal; in outputs, a Databricks reasoning part's summary texts.
  // Images, audio and files are not text.
  error_code openai_part(od::value& v) {
    const std::size_t block_from = found_.size();
    std::uint32_t types = 0;
    const error_code walked = each_member(v, [&](std::string_view key, od::value& m) {
      if (key == "type") return add_type(m, types, type_bit);
      const std::size_t from = found_.size();
      error_code e = SUCCESS;
      std::uint32_t bit = kAlways;
      if (key == "text" && wanted(types, kText)) {
        bit = kText;
        e = text(m);
      } else if (key == "refusal" && wanted(types, kRefusal)) {
        bit = kRefusal;
        e = text(m, kRefusalChannel);
      } else if (output_ && key == "summary" && wanted(types, kReasoning)) {
        bit = kReasoning;  // [{type: summary_text, text}]
        e = each_element(m, [&](std::uint64_t, od::value& item) {
          return strings_named(item, "text", kReasoningChannel);
        });
      }
      need(from, bit);
      return e;
    });
    if (walked) return walked;
    keep(block_from, types, kText);
    return SUCCESS;
  }

  // tool_calls[j]: function.arguments (or a custom tool's custom.input); channel 1 + its index.
  error_code tool_calls(od::value& v) {
    return each_element(v, [&](std::uint64_t position, od::value& call) {
      const std::size_t from = found_.size();
      std::uint64_t t = position;
      const error_code walked = each_member(call, [&](std::string_view key, od::value& m) {
        if (key == "index") t = index_of(m, position);
        if (key == "function") return strings_named(m, "arguments");
        if (key == "custom") return strings_named(m, "input");
        return SUCCESS;
      });
      shift_channels(from, kFirstToolChannel + std::uint32_t(std::min(t, kMaxToolIndex)));
      return walked;
    });
  }

  // Every string member `name` of an object (all of them, should it repeat).
  error_code strings_named(od::value& v, std::string_view name,
                           std::uint32_t channel = kContentChannel) {
    return each_member(v, [&](std::string_view key, od::value& m) {
      return key == name ? text(m, channel) : SUCCESS;
    });
  }

  // ---- Anthropic.

  error_code anthropic_message(od::value& v) {
    return each_member(v, [&](std::string_view key, od::value& m) {
      return key == "content" ? anthropic_content(m, 1) : SUCCESS;
    });
  }

  // `system`, a message's `content`, a tool result's `content`: a string or content blocks.
  error_code anthropic_content(od::value& v, std::size_t depth) {
    if (is_string(v)) return text(v);
    return each_element(v,
                        [&](std::uint64_t, od::value& b) { return block(b, depth + 1, kAlways); });
  }

  // An Anthropic object with a `type`: a content block (`kind` kAlways), a document's source
  // (kDocument), a stream delta (kBlockDelta) or a content_block_start's block (kBlockStart).
  error_code block(od::value& v, std::size_t depth, std::uint32_t kind) {
    if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
    const std::size_t block_from = found_.size();
    std::uint32_t types = 0;
    const error_code walked = each_member(v, [&](std::string_view key, od::value& m) {
      if (key == "type") return add_type(m, types, type_bit);
      const std::uint32_t bit = member_bit(kind, key, output_);
      if (bit == kAlways || !wanted(types, bit)) return SUCCESS;
      const std::size_t from = found_.size();
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
      need(from, bit);
      return e;
    });
    if (walked) return walked;
    keep(block_from, types, kText);
    return SUCCESS;
  }

  // Every string value inside a tool_use's `input` (keys are not text).
  error_code strings_in(od::value& v, std::size_t depth) {
    if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
    if (is_string(v)) return text(v);
    if (auto e = each_member(
            v, [&](std::string_view, od::value& m) { return strings_in(m, depth + 1); })) {
      return e;
    }
    return each_element(
        v, [&](std::uint64_t, od::value& item) { return strings_in(item, depth + 1); });
  }

};

// Parses s.buffer (already filled) as one JSON object and walks it with `walk_root(base, root)`;
// calls `fn` for what it found once the whole document is known to be good. Offsets are mapped
// through s.segments when there are any (a stream event's data lines).
template <class F>
bool walk_and_report(Scratch& s, bool channels, const TextFn& fn, F&& walk_root) {
  const std::size_t size = s.buffer.size();
  s.buffer.reserve(size + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (s.parser.iterate(s.buffer.data(), size, s.buffer.capacity()).get(doc)) return false;
  od::json_type t;
  if (doc.type().get(t) || t != od::json_type::object) return false;
  od::value root;
  if (doc.get_value().get(root)) return false;
  if (walk_root(static_cast<const char*>(s.buffer.data()), root)) return false;
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
    fn(TextPiece{f.text, f.offset, f.length, channels ? f.channel : 0, f.whole});
  }
  return true;
}
// Fills s.buffer with the event's `data:` lines joined with '\n' (SSE), and s.segments with where
// each line sits. Lines end with \r\n, \n or \r.
void join_data_lines(std::string_view event, Scratch& s) {
  for (std::size_t at = 0; at < event.size();) {
    // Two memchr searches: find_first_of tests every byte against the set, one call per byte.
    std::size_t eol = std::min(event.find('\n', at), event.find('\r', at));
    if (eol == std::string_view::npos) eol = event.size();
    const std::string_view line = event.substr(at, eol - at);
    if (line.starts_with("data:") || line == "data") {
      std::size_t value_at = std::min(at + 5, eol);
      if (value_at < eol && event[value_at] == ' ') ++value_at;
      if (!s.segments.empty()) s.buffer.push_back('\n');
      s.segments.push_back(Segment{value_at, s.buffer.size(), eol - value_at});
      s.buffer.append(event.substr(value_at, eol - value_at));
    }
    at = eol;
    if (at < event.size() && event[at] == '\r') ++at;
    if (at < event.size() && event[at] == '\n') ++at;
  }
}

}  // namespace

namespace textwalk {

ScratchLease::ScratchLease() {
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
  s_->spill.clear();
  s_->buffer.clear();
}

ScratchLease::~ScratchLease() {
  s_->busy = false;
  s_->found.clear();
  s_->spill.clear();
  if (s_->buffer.capacity() > kKeepBytes) std::string().swap(s_->buffer);
  if (s_->parser.capacity() > kKeepBytes) s_->parser = od::parser();
}

error_code Finder::text(od::value& v, std::uint32_t channel) {
  if (!is_string(v)) return SUCCESS;
  std::string_view token = v.raw_json_token();
  while (!token.empty() && token.back() != '"') token.remove_suffix(1);
  std::string_view s;
  const error_code e = v.get_string().get(s);
  if (e == simdjson::STRING_ERROR) {
    std::string& spilled = spill_.emplace_front();
    if (!unescape_lenient(token, spilled)) return e;
    s = spilled;
  } else if (e) {
    return e;
  }
  if (s.empty()) return SUCCESS;
  found_.push_back(Found{std::size_t(token.data() - base_), token.size(), s, channel});
  return SUCCESS;
}

}  // namespace textwalk

bool request_texts(ApiShape shape, Operation op, std::string_view body, const TextFn& fn) {
  ScratchLease s;
  s->buffer.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  s->buffer.assign(body);
  // The operation decides for a Databricks agent's invocation, whose body is a Responses request.
  if (op == Operation::kResponses || body_shape(shape) == ApiShape::kResponses) {
    return walk_and_report(*s, false, fn, [&](const char* base, od::value& root) {
      return responses_request(*s, base, root);
    });
  }
  const ApiShape walked = body_shape(shape);
  return walk_and_report(*s, false, fn, [&](const char* base, od::value& root) {
    return Walk(base, *s, false).request(root, walked, op);
  });
}

bool response_texts(ApiShape shape, std::string_view body, const TextFn& fn) {
  ScratchLease s;
  s->buffer.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  s->buffer.assign(body);
  const ApiShape walked = body_shape(shape);
  if (walked == ApiShape::kResponses) {
    return walk_and_report(*s, false, fn, [&](const char* base, od::value& root) {
      return responses_answer(*s, base, root);
    });
  }
  return walk_and_report(*s, false, fn, [&](const char* base, od::value& root) {
    return Walk(base, *s, true).answer(root, walked);
  });
}

bool event_texts(ApiShape shape, std::string_view event, const TextFn& fn) {
  ScratchLease s;
  s->buffer.reserve(event.size() + simdjson::SIMDJSON_PADDING);
  join_data_lines(event, *s);
  std::string_view data = s->buffer;
  const std::size_t first = data.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return true;  // no data: a comment, a bare event line
  data = data.substr(first, data.find_last_not_of(" \t\r\n") + 1 - first);
  if (data == "[DONE]") return true;
  switch (body_shape(shape)) {
    case ApiShape::kAnthropic:
      return walk_and_report(*s, true, fn, [&](const char* base, od::value& root) {
        return Walk(base, *s, true).anthropic_event(root);
      });
    case ApiShape::kResponses:
      return walk_and_report(*s, true, fn, [&](const char* base, od::value& root) {
        return responses_event(*s, base, root);
      });
    default:
      return walk_and_report(*s, true, fn, [&](const char* base, od::value& root) {
        return Walk(base, *s, true).openai_chunk(root);
      });
  }
}

}  // namespace gatehouse::api
