#include "shape_common.h"

#include <algorithm>
#include <random>

#include <boost/json/array.hpp>

#include "json_text.h"

namespace mockllm::shape {
namespace json = boost::json;
namespace {

constexpr std::string_view kWords[] = {
    "alpha",   "bravo", "charlie", "delta",  "echo",     "foxtrot", "golf",   "hotel",  "india",
    "juliett", "kilo",  "lima",    "mike",   "november", "oscar",   "papa",   "quebec", "romeo",
    "sierra",  "tango", "uniform", "victor", "whiskey",  "xray",    "yankee", "zulu"};

constexpr std::size_t kEchoCodePoints = 16;

std::uint64_t next_random() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine();
}

bool is_type(const json::object& obj, std::string_view type) {
  const auto* t = obj.if_contains("type");
  return t && t->is_string() && t->get_string() == type;
}

}  // namespace

std::string random_id(std::string_view prefix, int length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string id(prefix);
  id.reserve(prefix.size() + static_cast<std::size_t>(length));
  std::uint64_t bits = 0;
  for (int i = 0; i < length; ++i) {
    if (i % 10 == 0) bits = next_random();  // 10 base-62 digits use 60 of the 64 bits
    id.push_back(kAlphabet[bits % 62]);
    bits /= 62;
  }
  return id;
}

std::string random_uuid() {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  const std::uint64_t halves[] = {next_random(), next_random()};
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 32; ++i) {
    unsigned nibble = (halves[i / 16] >> (4 * (i % 16))) & 0xF;
    if (i == 12) nibble = 4;                   // version 4
    if (i == 16) nibble = 8 | (nibble & 0x3);  // RFC 4122 variant
    if (i == 8 || i == 12 || i == 16 || i == 20) id.push_back('-');
    id.push_back(kHexDigits[nibble]);
  }
  return id;
}

std::string_view token_word(int i) {
  return kWords[static_cast<std::size_t>(i) % std::size(kWords)];
}

std::string_view AnswerText::delta(int i) const {
  const auto k = static_cast<std::size_t>(i);
  const std::size_t begin = k == 0 ? 0 : ends[k - 1];
  return std::string_view(text).substr(begin, ends[k] - begin);
}

bool is_guard_model(std::string_view model) {
  static constexpr std::string_view kGuard = "guard";
  for (std::size_t i = 0; i + kGuard.size() <= model.size(); ++i) {
    std::size_t k = 0;
    while (k < kGuard.size() && (model[i + k] | 0x20) == kGuard[k]) ++k;
    if (k == kGuard.size()) return true;
  }
  return false;
}

std::string_view guard_verdict(std::string_view last_user_text) {
  return last_user_text.find("UNSAFE-CONTENT") != std::string_view::npos ? "unsafe\nS1" : "safe";
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A word and the whitespace after it per delta; leading whitespace goes with the first word.
void split_words(const std::string& text, std::vector<std::size_t>& ends) {
  std::size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  while (i < text.size()) {
    while (i < text.size() && !is_space(text[i])) ++i;
    while (i < text.size() && is_space(text[i])) ++i;
    ends.push_back(i);
  }
  if (ends.empty() && !text.empty()) ends.push_back(text.size());  // whitespace only
}

// `size`-byte pieces, each ending on a code point boundary (at least one code point each).
void split_bytes(const std::string& text, std::size_t size, std::vector<std::size_t>& ends) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = code_point_boundary(text, start + size);
    if (end <= start) {  // one code point is longer than `size`: send it whole
      end = start + 1;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    }
    ends.push_back(end);
    start = end;
  }
}

}  // namespace

AnswerText answer_text(const Control& control, const std::string* guard_input,
                       std::optional<std::int64_t> limit) {
  AnswerText a;
  if (!control.reply && !guard_input) {
    // The generated words; a cut answer's last word has no trailing space.
    int tokens = control.tokens;
    if (limit && *limit < tokens) {
      tokens = static_cast<int>(*limit);
      a.cut = true;
    }
    a.ends.reserve(static_cast<std::size_t>(tokens));
    for (int i = 0; i < tokens; ++i) {
      a.text += token_word(i);
      if (i + 1 < tokens) a.text += ' ';
      a.ends.push_back(a.text.size());
    }
    return a;
  }
  if (control.reply) {
    a.text = *control.reply;
  } else {
    a.text = std::string(guard_verdict(*guard_input));
  }
  if (control.reply && !control.reply_chunks.empty()) {
    std::size_t end = 0;
    for (const auto& chunk : control.reply_chunks) a.ends.push_back(end += chunk.size());
  } else if (control.reply && control.reply_chunk > 0) {
    split_bytes(a.text, static_cast<std::size_t>(control.reply_chunk), a.ends);
  } else {
    split_words(a.text, a.ends);
  }
  if (limit && *limit < a.tokens()) {
    a.ends.resize(static_cast<std::size_t>(*limit));
    a.text.resize(a.ends.empty() ? 0 : a.ends.back());
    a.cut = true;
  }
  return a;
}

void append_text(const json::value& content, std::string& out) {
  if (const auto* s = content.if_string()) {
    out.append(s->data(), s->size());
    return;
  }
  const auto* parts = content.if_array();
  if (!parts) return;
  for (const auto& part : *parts) {
    const auto* obj = part.if_object();
    if (!obj) continue;
    if (is_type(*obj, "text")) {
      const auto* text = obj->if_contains("text");
      if (text && text->is_string())
        out.append(text->get_string().data(), text->get_string().size());
    } else if (is_type(*obj, "tool_result")) {
      // Its content is a string or text blocks; never a tool_result again, so no deep recursion.
      if (const auto* inner = obj->if_contains("content"); inner && !inner->is_array()) {
        append_text(*inner, out);
      } else if (inner) {
        for (const auto& block : inner->get_array()) {
          const auto* b = block.if_object();
          const auto* text = b && is_type(*b, "text") ? b->if_contains("text") : nullptr;
          if (text && text->is_string()) {
            out.append(text->get_string().data(), text->get_string().size());
          }
        }
      }
    }
  }
}

std::size_t text_code_points(const json::value& content) {
  if (const auto* s = content.if_string()) return count_code_points(*s);
  std::string text;
  append_text(content, text);
  return count_code_points(text);
}

int prompt_tokens_for(std::size_t code_points) {
  return static_cast<int>(std::max<std::size_t>(1, code_points / 4));
}

bool optional_int(const json::object& obj, std::string_view key, std::int64_t lo, std::int64_t hi,
                  std::optional<std::int64_t>& out) {
  const auto* v = obj.if_contains(key);
  if (!v || v->is_null()) return true;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(hi)) {
    n = static_cast<std::int64_t>(v->get_uint64());
  } else {
    return false;
  }
  if (n < lo || n > hi) return false;
  out = n;
  return true;
}

bool optional_bool(const json::object& obj, std::string_view key, bool& out) {
  const auto* v = obj.if_contains(key);
  if (!v || v->is_null()) return true;
  if (!v->is_bool()) return false;
  out = v->get_bool();
  return true;
}

std::vector<std::string_view> argument_pieces(std::string_view args) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (int k = 1; k <= 3; ++k) {
    std::size_t end = k == 3 ? args.size() : code_point_boundary(args, args.size() * k / 3);
    if (end > start) pieces.push_back(args.substr(start, end - start));
    start = std::max(start, end);
  }
  return pieces;
}

std::string echo_arguments(std::string_view text) {
  std::string args = "{\"echo\":";
  append_json_string(args, prefix_code_points(text, kEchoCodePoints));
  args += "}";
  return args;
}

Reply injected(const Control& control, Reply shaped) {
  Reply reply;
  if (control.error_body) {
    reply.status = static_cast<unsigned>(control.status);
    reply.content_type = control.error_content_type;
    reply.body = *control.error_body;
    reply.headers = std::move(shaped.headers);  // e.g. Anthropic's request-id
  } else {
    reply = std::move(shaped);
  }
  if (control.retry_after >= 0) {
    reply.headers.emplace_back("Retry-After", std::to_string(control.retry_after));
  }
  return reply;
}

}  // namespace mockllm::shape
